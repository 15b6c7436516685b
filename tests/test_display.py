"""The HTML viewer (data/display.py) without a browser: text kept exactly,
nested layers, crossing spans, gold differences, bad input, the CLI."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest

from persian_ie.cli import main
from persian_ie.data.display import render, render_fragment
from persian_ie.data.document import Document, Relation, Span, read_documents

from conftest import CORPUS

SEED_ID = "shabestan-1730839"


class Node:
    def __init__(self, tag, attrs, parent=None):
        self.tag, self.attrs, self.parent, self.children = tag, dict(attrs), parent, []

    def text(self) -> str:
        if self.tag == "script":
            return ""
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def iter(self):
        yield self
        for c in self.children:
            if isinstance(c, Node):
                yield from c.iter()

    def classes(self) -> set:
        return set(self.attrs.get("class", "").split())

    def ancestors(self):
        node = self.parent
        while node is not None:
            yield node
            node = node.parent


class TreeBuilder(HTMLParser):
    VOID = {"meta", "br", "img", "link", "input", "hr", "line", "rect", "circle"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = self.node = Node("#root", [])

    def handle_starttag(self, tag, attrs):
        node = Node(tag, attrs, self.node)
        self.node.children.append(node)
        if tag not in self.VOID:
            self.node = node

    def handle_startendtag(self, tag, attrs):
        self.node.children.append(Node(tag, attrs, self.node))

    def handle_endtag(self, tag):
        node = self.node
        while node is not None and node.tag != tag:
            node = node.parent
        assert node is not None, f"unbalanced </{tag}>"
        self.node = node.parent

    def handle_data(self, data):
        self.node.children.append(data)


def parse(page: str) -> Node:
    builder = TreeBuilder()
    builder.feed(page)
    return builder.root


def doc_sections(root: Node) -> list[Node]:
    return [n for n in root.iter() if "pie-doc" in n.classes()]


def text_node(section: Node) -> Node:
    return next(n for n in section.iter() if "pie-text" in n.classes())


def span_elements(section: Node, key: str) -> list[Node]:
    return [n for n in section.iter() if n.tag == "span" and n.attrs.get("data-s") == key]


@pytest.fixture(scope="module")
def seed() -> Document:
    return next(d for d in read_documents(CORPUS / "test.jsonl") if d.id == SEED_ID)


def test_text_is_unchanged_and_every_span_drawn_with_nesting(seed):
    section = doc_sections(parse(render([seed])))[0]
    assert text_node(section).text() == seed.text  # newlines kept
    for span in seed.spans:
        parts = span_elements(section, span.id)
        assert parts, span.id
        assert "".join(p.text() for p in parts) == seed.text[span.start:span.end]
    # a TITLE around its CITY: the CITY element sits inside the TITLE element
    title = next(s for s in seed.spans if s.label == "TITLE" and any(
        c.label == "CITY" and s.start <= c.start and c.end <= s.end for c in seed.spans))
    city = next(c for c in seed.spans if c.label == "CITY" and title.start <= c.start and c.end <= title.end)
    (city_el,) = span_elements(section, city.id)
    assert any(a.attrs.get("data-s") == title.id for a in city_el.ancestors())
    assert "ch-fill" in city_el.classes() and "ch-line" in span_elements(section, title.id)[0].classes()


def test_zwnj_digits_and_markup_characters_are_kept():
    text = "وزارت\u200cامور خارجه در ۱۴۰۲ گفت: <b>«غزه\u200cای» & 3 > 2</b>"
    doc = Document("z", text, [Span("s1", 0, 16, "ORG")])
    section = doc_sections(parse(render([doc])))[0]
    assert text_node(section).text() == text
    assert span_elements(section, "s1")[0].text() == "وزارت\u200cامور خارجه"


def test_page_is_self_contained_and_rtl(seed):
    page = render([seed])
    assert '<html dir="rtl" lang="fa">' in page
    for external in ("<link", " src=", "@import", "url(", "http://", "https://"):
        assert external not in page


def test_crossing_spans_become_fragments_with_the_text_intact():
    text = "شهردار مشهد و غزه امروز"
    doc = Document("x", text, [Span("a", 0, 11, "TITLE"), Span("b", 7, 17, "PROPOSAL")])
    section = doc_sections(parse(render([doc])))[0]
    assert text_node(section).text() == text
    parts = span_elements(section, "a") + span_elements(section, "b")
    assert len(parts) == 3  # one of the two is cut where the other ends
    assert "".join(p.text() for p in span_elements(section, "b")) == text[7:17]
    # only the last fragment carries the end-of-span marker
    assert ["frag" in p.classes() for p in span_elements(section, "b")] == [True, False]


def test_facts_table_links_back_to_spans(seed):
    section = doc_sections(parse(render([seed])))[0]
    tables = {n.attrs["data-label"]: n for n in section.iter() if n.tag == "table"}
    assert set(tables) == {"TITLE", "PROPOSAL"}
    links = [n.attrs["data-goto"] for n in tables["PROPOSAL"].iter() if "pie-link" in n.classes()]
    proposer = next(r.tail for r in seed.relations if r.type == "proposer")
    assert proposer in links and all(span_elements(section, key) for key in links)


def test_gold_differences_are_marked_by_kind():
    text = "شهردار مشهد و رئیس سازمان ملل در تهران دیدار کردند"

    def at(words, label, span_id):
        start = text.index(words)
        return Span(span_id, start, start + len(words), label)

    gold = Document("d", text, [at("شهردار مشهد", "TITLE", "g1"), at("مشهد", "CITY", "g2"), at("رئیس سازمان ملل", "TITLE", "g3"),
                                at("سازمان ملل", "ORG", "g4"), at("تهران", "CITY", "g5")])
    pred = Document("d", text, [at("شهردار مشهد", "TITLE", "p1"), at("مشهد", "ORG", "p2"), at("رئیس سازمان", "TITLE", "p3"),
                                at("سازمان ملل", "ORG", "p4"), at("دیدار", "PER", "p5")])
    section = doc_sections(parse(render([pred], gold=[gold])))[0]

    def kinds(key):
        return {c for n in span_elements(section, key) for c in n.classes() if c.startswith("k-")}

    assert kinds("p1") == {"k-correct"} and kinds("p4") == {"k-correct"}
    assert kinds("p2") == {"k-type"}
    assert kinds("p3") == {"k-boundary"}
    assert kinds("p5") == {"k-spurious"}
    assert kinds("g:g5") == {"k-miss"}  # the missed gold span is drawn too
    data = json.loads(next(n for n in section.iter() if n.tag == "script").children[0])
    assert data["spans"]["p2"]["other"] == {"label": "CITY", "text": "مشهد"}


def test_repr_html_is_a_fragment(seed):
    fragment = seed._repr_html_()
    assert fragment == render_fragment([seed])
    assert "<html" not in fragment and 'class="pie pie-doc"' in fragment and "<script>" in fragment


def write_jsonl(path, rows):
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")


def test_bad_input_is_named_and_the_rest_is_drawn(tmp_path, capsys):
    text = "شهردار مشهد امروز گفت"
    good = {"id": "good", "text": text, "spans": [{"id": "s1", "start": 0, "end": 11, "label": "TITLE"}], "relations": []}
    past_end = {"id": "past-end", "text": text, "spans": [{"id": "s1", "start": 7, "end": 99, "label": "CITY"}], "relations": []}
    overlap = {"id": "overlapping", "text": text, "relations": [],
               "spans": [{"id": "s1", "start": 0, "end": 11, "label": "CITY"}, {"id": "s2", "start": 7, "end": 17, "label": "ORG"}]}
    pred = tmp_path / "pred.jsonl"
    write_jsonl(pred, [good, "this is not json", past_end, {"text": "no id"}, overlap])
    out = tmp_path / "page.html"
    assert main(["show", str(pred), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"{pred}:2: json:" in err and f"{pred}:4: json:" in err
    assert "doc=past-end span=s1: span-bounds" in err
    assert "doc=overlapping span=s2: overlap" in err
    sections = {s.attrs["id"]: s for s in doc_sections(parse(out.read_text("utf-8")))}
    assert set(sections) == {"d-good", "d-past-end", "d-overlapping"}
    assert span_elements(sections["d-good"], "s1") and not span_elements(sections["d-past-end"], "s1")
    assert span_elements(sections["d-overlapping"], "s1") and not span_elements(sections["d-overlapping"], "s2")
    assert "doc=overlapping span=s2: overlap" in out.read_text("utf-8")  # the page lists the problems too


def test_show_ids_limit_and_gold(tmp_path, capsys):
    gold = CORPUS / "test.jsonl"
    out = tmp_path / "page.html"
    assert main(["show", str(gold), "--out", str(out), "--limit", "3"]) == 0
    assert len(doc_sections(parse(out.read_text("utf-8")))) == 3
    docs = read_documents(gold)
    pred = tmp_path / "pred.jsonl"
    first = docs[0]
    dropped = first.spans[0]
    shown = Document(first.id, first.text, first.spans[1:], [r for r in first.relations if dropped.id not in (r.head, r.tail)])
    write_jsonl(pred, [shown.to_dict(include_text=False), docs[1].to_dict()])
    assert main(["show", str(pred), "--gold", str(gold), "--ids", first.id, "--out", str(out)]) == 0
    (section,) = doc_sections(parse(out.read_text("utf-8")))
    assert text_node(section).text() == first.text  # a --no-text prediction takes the gold text
    assert span_elements(section, f"g:{dropped.id}")  # drawn as missed
    assert "wrote" in capsys.readouterr().out


def test_relations_are_in_the_page_data(seed):
    doc = Document("r", "شهردار مشهد قلندر", [Span("t", 0, 11, "TITLE"), Span("p", 12, 17, "PER")], [Relation("holder", "t", "p")])
    section = doc_sections(parse(render([doc])))[0]
    data = json.loads(next(n for n in section.iter() if n.tag == "script").children[0])
    assert data["relations"] == [["holder", "t", "p"]]
