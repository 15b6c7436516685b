"""The PROPOSAL windows added to the corpus: pinned splits, windows never in
test, every window an exact piece of its article."""

import json

import pytest

from persian_ie.data.build_corpus import addition_ids, pinned_splits, window_split
from persian_ie.data.document import read_documents

from conftest import CORPORA, CORPUS, ROOT

ANNOTATION = ROOT / "data" / "annotation"


def _corpus_splits() -> dict[str, str]:
    return {d.id: split for split in ("train", "dev", "test") for d in read_documents(CORPUS / f"{split}.jsonl")}


def test_first_corpus_keeps_its_pinned_split_and_windows_stay_out_of_test():
    pinned = json.loads((ANNOTATION / "splits.json").read_text("utf-8"))
    windows = {w["id"] for w in json.loads((ANNOTATION / "windows.json").read_text("utf-8"))["windows"]}
    actual = _corpus_splits()
    assert all(actual[doc_id] == split for doc_id, split in pinned.items())
    window_docs = [doc_id for doc_id in actual if doc_id not in pinned and doc_id not in addition_ids(ANNOTATION)]
    assert window_docs and set(window_docs) <= windows
    assert {actual[doc_id] for doc_id in window_docs} <= {"train", "dev"}
    assert {doc_id for doc_id, split in actual.items() if split == "test"} == {d for d, s in pinned.items() if s == "test"}


def test_pinned_splits_refuse_an_unknown_document_and_deal_windows_by_article():
    windows = {"a-w1": {"article": "a"}, "a-w2": {"article": "a"}}
    splits = pinned_splits(["x", "a-w1", "a-w2"], {"x": "test"}, windows)
    assert splits["x"] == "test" and splits["a-w1"] == splits["a-w2"] == window_split("a") != "test"
    with pytest.raises(SystemExit):
        pinned_splits(["new-doc"], {"x": "test"}, windows)


def test_added_articles_are_dealt_to_train_or_dev_and_never_to_test():
    additions = addition_ids(ANNOTATION)
    assert len(additions) >= 90
    splits = pinned_splits(sorted(additions), {}, {}, additions)
    assert set(splits.values()) == {"train", "dev"}
    actual = _corpus_splits()
    assert all(actual[doc_id] == splits[doc_id] for doc_id in additions if doc_id in actual)


def test_window_documents_are_exact_pieces_of_their_articles():
    articles_path = CORPORA / "farsnews" / "articles.jsonl"
    if not articles_path.exists():
        pytest.skip("Fars News articles not available")
    from persian_ie.data.readers import farsnews_text

    needed = {}
    for split in ("train", "dev"):
        for doc in read_documents(CORPUS / f"{split}.jsonl"):
            if "article" in doc.meta:
                needed[doc.id] = doc
    with open(articles_path, encoding="utf-8") as fh:
        texts = {a["id"]: farsnews_text(a) for a in map(json.loads, fh)}
    assert needed
    for doc in needed.values():
        start, end = doc.meta["window_start"], doc.meta["window_end"]
        assert texts[doc.meta["article"]][start:end] == doc.text, doc.id


def test_every_window_is_annotated_and_passes_its_check():
    from persian_ie.data.annotation_tools import check_ann_file
    from persian_ie.data.schema import load_schema

    windows = json.loads((ANNOTATION / "windows.json").read_text("utf-8"))["windows"]
    files = sorted((ANNOTATION / "windows").glob("*.ann"))
    assert {f.stem for f in files} == {w["id"] for w in windows}
    failures = [str(f) for f in files if not check_ann_file(f, load_schema(), ANNOTATION / "texts").ok]
    assert failures == []
    double = json.loads((ANNOTATION / "windows_double.json").read_text("utf-8"))["windows"]
    assert len(double) == 8 and set(double) <= {w["id"] for w in windows}


def test_double_annotated_windows_are_adjudicated_and_the_corpus_takes_the_adjudicated_file():
    from persian_ie.data.annotation_tools import check_ann_file, choose_sources
    from persian_ie.data.build_corpus import SOURCE_FOLDERS
    from persian_ie.data.schema import load_schema

    double = set(json.loads((ANNOTATION / "windows_double.json").read_text("utf-8"))["windows"])
    for folder in ("windows_pass_b", "windows_adjudicated"):
        files = sorted((ANNOTATION / folder).glob("*.ann"))
        assert {f.stem for f in files} == double, folder
        assert [str(f) for f in files if not check_ann_file(f, load_schema(), ANNOTATION / "texts").ok] == []
    sources = choose_sources(ANNOTATION, SOURCE_FOLDERS)
    assert {doc_id for doc_id, path in sources.items() if path.parent.name == "windows_adjudicated"} == double
    corpus = {d.id: d for split in ("train", "dev") for d in read_documents(CORPUS / f"{split}.jsonl")}
    for doc_id in sorted(double):
        adjudicated = check_ann_file(ANNOTATION / "windows_adjudicated" / f"{doc_id}.ann", load_schema(), ANNOTATION / "texts").doc
        built = corpus[doc_id]
        assert sorted((s.label, s.start, s.end) for s in built.spans) == sorted((s.label, s.start, s.end) for s in adjudicated.spans), doc_id
