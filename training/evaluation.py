"""Dev/test evaluation during and after training, through the eval harness."""

from __future__ import annotations

import json
from pathlib import Path

from persian_ie.eval.report import evaluate_documents, to_markdown
from persian_ie.models.predictor import Predictor


def evaluate_model(model, tokenizer, docs, schema, device, bootstrap: int = 0) -> dict:
    """Strict report of ``model`` on ``docs`` (model selection reads ``micro.f1``)."""
    was_training = model.training
    predictor = Predictor(model, tokenizer, device=str(device))
    predictions = predictor.predict_documents(docs)
    if was_training:
        model.train()
    return evaluate_documents(docs, predictions, schema, bootstrap=bootstrap, with_seqeval=False)


def write_reports(predictor: Predictor, docs, schema, stem: Path, bootstrap: int) -> dict:
    """Predict ``docs``, write ``stem.json``, ``stem.md`` and ``stem.predictions.jsonl``."""
    from persian_ie.data.document import write_documents

    predictions = predictor.predict_documents(docs)
    write_documents(Path(f"{stem}.predictions.jsonl"), predictions)
    report = evaluate_documents(docs, predictions, schema, bootstrap=bootstrap)
    Path(f"{stem}.json").write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    Path(f"{stem}.md").write_text(to_markdown(report), encoding="utf-8")
    return report
