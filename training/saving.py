"""Writing the best model of a run, with its model card; adding a trained part to a saved model."""

from __future__ import annotations

from pathlib import Path

from persian_ie.models.io import load_pretrained, replace_pretrained, save_pretrained

LICENCE_NOTES = {
    "peyma": "PEYMA (Shahshahani et al. 2018): free for research use only; cite arXiv:1801.09936.",
    "parstwiner": "ParsTwiNER: MIT licence.",
    "farsnews": "Fars News article texts (c) Fars News, collected for research and teaching; attribution by article link.",
}


def model_card(cfg, best_f1: float) -> str:
    sources = [str(p) for p in cfg.data.train] + [a.path if hasattr(a, "path") else a["path"] for a in cfg.data.auxiliary]
    notes = sorted({note for key, note in LICENCE_NOTES.items() for s in sources if key in s.lower()} | ({LICENCE_NOTES["farsnews"]} if any("corpus" in s for s in sources) else set()))
    lines = [
        f"# persian-ie model: {cfg.name or cfg.output_dir}",
        "",
        f"- Base encoder: `{cfg.model.base}`",
        f"- Label schema: `{cfg.data.schema}`",
        f"- Best dev strict micro-F1: {best_f1:.4f}" if best_f1 >= 0 else "- No dev set was used",
        "- Training data: " + ", ".join(f"`{s}`" for s in sources),
        "",
        "## Licences of the training data",
        "",
        *(f"- {n}" for n in notes or ["(see the data sources above)"]),
        "",
        "A model trained on research-only data (PEYMA) inherits that restriction.",
    ]
    return "\n".join(lines) + "\n"


def save_run_model(model, tokenizer, directory, cfg, best_f1: float):
    return save_pretrained(model, tokenizer, directory, model_card(cfg, best_f1))


def add_trained_part(model_dir, out_dir, train_part) -> dict:
    """Load the model in ``model_dir`` with every weight frozen, let ``train_part(model, tokenizer)``
    attach and train a new part (the relation head, the span refiner) and return its summary, then
    save the whole model with its card to ``out_dir`` (``model_dir`` itself after span training:
    the loaded model stays on disk until the new one is whole). The summary gains ``model_dir``."""
    model, tokenizer = load_pretrained(model_dir)
    for param in model.parameters():  # the encoder, span heads and any earlier part stay as they are
        param.requires_grad_(False)
    summary = train_part(model, tokenizer)
    card = Path(model_dir) / "README.md"
    card_text = card.read_text("utf-8") if card.exists() else None
    out_dir = Path(out_dir)
    if out_dir.resolve() == Path(model_dir).resolve():
        replace_pretrained(model, tokenizer, out_dir, card_text)
    else:
        save_pretrained(model, tokenizer, out_dir, card_text)
    summary["model_dir"] = str(out_dir)
    return summary
