"""Write the gold person ids (test.jsonl, across.jsonl) for eval/clustering.py.

How the ids were made (be honest about it): a first grouping by script, the
compact last space-separated word of each PER mention within an article
(a rule deliberately unlike the facts clustering), then every article with
two or more PER mentions read by hand (mention list + context) and the
groups corrected with MERGES below. Across articles, SAME_PERSON names the
surnames that are one person wherever they occur in the sample (checked by
the article dates and contexts); every other full name is one person per
distinct spelling-folded full name, and a surname alone of a common name
(هاشمی، حسینی، ...) stays a person of its own article.

Run: python data/annotation/person_ids/make_person_ids.py
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from persian_ie.data.document import read_documents
from persian_ie.data.names import fold, person_key

HERE = Path(__file__).resolve().parent
CORPUS = HERE.parents[1] / "corpus"

# Within-article corrections after reading each article (span ids of one person).
MERGES = {
    "farsnews-8308170249": [["s22", "s34", "s40", "s43"]],  # عبدالمهدی الکربلایی / کربلایی
    "farsnews-8403280202": [["s1", "s4", "s9", "s11", "s13", "s15", "s19", "s21", "s23"]],  # احمدی‌نژاد / احمدی نژاد
    "farsnews-8710250888": [["s4", "s12", "s13"]],  # محمدعلی موسوی‌مبارکه / موسوی
    "farsnews-8408150415": [["s10", "s24", "s29"]],  # پیرموذن / پیر موذن
    "shabestan-1730839": [["s13", "s20", "s30"], ["s36", "s53"]],  # معصومی‌فر (and the typo مسعودی فر); قلندر (شریف)
    "farsnews-13910231001082": [["s5", "s27", "s30"]],  # صیادشیرازی / صیّاد شیرازی
    "farsnews-13940828001060-w1": [["s3", "s5"]],  # حجت‌الله رضیعی / حجت‌الله
}
# Mentions the last-word rule put together that are other people (one span id each).
SPLITS = {
    "farsnews-13901217001196": ["s11"],  # ملکی تبریزی is not محمد عابد تبریزی
    "farsnews-13940828001060-w1": ["s1"],  # صحبت‌الله رضیعی is not حجت‌الله رضیعی
}
# Surnames that are one person across the sample (famous, unambiguous in these years' news).
SAME_PERSON = {"ترامپ", "بوش", "احمدینژاد", "آصفی", "اوباما", "چاوز", "اردوغان", "پامپئو", "لاریجانی",
               "لاوروف", "کامرون", "اسد", "علاوی", "چلبی", "پسکوف", "روحانی", "خمینی", "براون", "آدامز"}
ACROSS_SURNAMES = SAME_PERSON | {"هاشمی", "حسینی", "کریمی", "جعفری", "موسوی", "سلیمانی", "رضایی", "نجفی"}


def _last(text: str) -> str:
    words = fold(text.replace("(", " ").replace(")", " "), "").split()
    return words[-1] if words else ""


def local_groups(doc) -> dict[str, str]:
    """span id → a person label local to the document."""
    ids = {s.id: _last(doc.text[s.start:s.end]) for s in doc.spans if s.label == "PER"}
    for span_id in SPLITS.get(doc.id, []):
        ids[span_id] = "split:" + span_id
    for group in MERGES.get(doc.id, []):
        for span_id in group:
            ids[span_id] = "merge:" + group[0]
    return ids


def global_ids(doc, local: dict[str, str]) -> dict[str, str]:
    """span id → an archive-wide person label (rules in the module docstring)."""
    members = defaultdict(list)
    for span_id, label in local.items():
        members[label].append(span_id)
    by_id = doc.span_by_id()
    out = {}
    for label, spans in members.items():
        names = [doc.text[by_id[s].start:by_id[s].end] for s in spans]
        full = max(names, key=lambda t: (len(fold(t).split()), len(t)))
        surname = _last(full)
        if surname == "نژاد" and "احمدی" in fold(full):  # احمدی نژاد written with a space
            person = "surname:احمدینژاد"
        elif surname in SAME_PERSON:
            person = "surname:" + surname
        elif len(fold(full).split()) > 1:
            person = "name:" + person_key(full)
        else:
            person = f"local:{doc.id}:{label}"
        for s in spans:
            out[s] = person
    return out


def main() -> None:
    test = read_documents(CORPUS / "test.jsonl")
    with open(HERE / "test.jsonl", "w", encoding="utf-8") as fh:
        for doc in test:
            fh.write(json.dumps({"id": doc.id, "person_ids": local_groups(doc)}, ensure_ascii=False) + "\n")
    sample = []
    for split in ("train", "dev", "test"):
        for doc in read_documents(CORPUS / f"{split}.jsonl"):
            if any(_last(doc.text[s.start:s.end]) in ACROSS_SURNAMES for s in doc.spans if s.label == "PER"):
                sample.append(doc)
    with open(HERE / "across.jsonl", "w", encoding="utf-8") as fh:
        for doc in sample:
            fh.write(json.dumps({"id": doc.id, "person_ids": global_ids(doc, local_groups(doc))}, ensure_ascii=False) + "\n")
    print(f"test.jsonl: {len(test)} articles; across.jsonl: {len(sample)} articles")


if __name__ == "__main__":
    main()
