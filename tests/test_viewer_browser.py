"""The viewer in a real browser: headless Chromium (Debian's ``chromium``)
driven by Playwright for Python, pointed at the system browser so no browser
build is downloaded. ``.ci/run`` installs chromium when it is missing; here
the test skips without it, and fails under CI=true.

The page is the seed article's gold annotation drawn as predictions (no
trained model needed): nested TITLE/CITY spans and PROPOSAL relations.

Run as a script to take a screenshot of any page:
``python tests/test_viewer_browser.py PAGE.html OUT.png [WIDTH HEIGHT]``.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

SEED_ID = "shabestan-1730839"
VIEWPORT = {"width": 1000, "height": 900}


def chromium_path() -> str | None:
    return os.environ.get("PIE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def launch(playwright):
    # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start
    return playwright.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])


@pytest.fixture(scope="module")
def browser():
    missing = []
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing.append("the Python package playwright (pip install -e '.[test]')")
    if not chromium_path():
        missing.append("the chromium browser (apt-get install chromium)")
    if missing:
        reason = "browser test needs " + " and ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


@pytest.fixture(scope="module")
def seed_page(tmp_path_factory):
    """The seed article's page, written by ``persian-ie show``."""
    from persian_ie.cli import main
    from persian_ie.data.document import read_documents, write_documents

    from conftest import CORPUS

    seed = next(d for d in read_documents(CORPUS / "test.jsonl") if d.id == SEED_ID)
    folder = tmp_path_factory.mktemp("viewer")
    write_documents(folder / "seed.jsonl", [seed])
    assert main(["show", str(folder / "seed.jsonl"), "--out", str(folder / "seed.html")]) == 0
    return seed, folder / "seed.html"


BOXES_JS = """keys => Object.fromEntries(keys.map(k => {
  const els = [...document.querySelectorAll('.pie-doc .sp')].filter(e => e.dataset.s === k);
  if (!els.length) return [k, null];
  const first = els[0].getClientRects()[0], last = [...els[els.length - 1].getClientRects()].pop();
  const all = els[0].getBoundingClientRect();
  const box = r => ({left: r.left, right: r.right, top: r.top, bottom: r.bottom});
  return [k, {first: box(first), last: box(last), all: box(all)}];
}))"""


OVERLAPS_JS = """() => {
  // span boxes on different lines that intersect: frames or underlines reaching the next line
  const boxes = [];
  document.querySelectorAll('.pie-doc .sp').forEach(e => [...e.getClientRects()].forEach(r => boxes.push(r)));
  const lh = parseFloat(getComputedStyle(document.querySelector('.pie-text')).lineHeight);
  let overlaps = 0;
  for (const a of boxes) for (const b of boxes) {
    if (a === b || Math.abs((a.top + a.bottom) / 2 - (b.top + b.bottom) / 2) < lh / 2) continue;
    if (Math.min(a.bottom, b.bottom) > Math.max(a.top, b.top) && Math.min(a.right, b.right) > Math.max(a.left, b.left)) overlaps++;
  }
  return overlaps;
}"""


def test_deep_nesting_never_overlaps_the_next_line(browser, tmp_path):
    from persian_ie.data.display import render
    from persian_ie.data.document import Document, Span

    unit = "پیشنهاد شهردار مشهد برای همکاری با غزه داده شد و "
    spans = []
    for k in range(12):  # PROPOSAL > TITLE > CITY, wrapped over many lines
        for words, label in (("پیشنهاد شهردار مشهد برای همکاری با غزه", "PROPOSAL"), ("شهردار مشهد", "TITLE"), ("مشهد", "CITY"), ("غزه", "CITY")):
            start = k * len(unit) + unit.index(words)
            spans.append(Span(f"s{len(spans) + 1}", start, start + len(words), label))
    path = tmp_path / "deep.html"
    path.write_text(render([Document("deep", unit * 12, spans)]), encoding="utf-8")
    for width in (1000, 420):
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.goto(path.as_uri())
        assert page.evaluate(OVERLAPS_JS) == 0, width
        page.close()


def test_seed_page_in_chromium(browser, seed_page, tmp_path):
    from persian_ie.data.tokenize import tokenize

    seed, html_path = seed_page
    page = browser.new_page(viewport=VIEWPORT)
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(html_path.as_uri())

    assert page.evaluate("getComputedStyle(document.querySelector('.pie-text')).direction") == "rtl"
    assert page.evaluate("document.querySelector('.pie-text').textContent") == seed.text

    # the first sentence's spans run right to left in text order
    start, end = tokenize(seed.text).sentence_offsets()[0]
    first = sorted((s for s in seed.spans if start <= s.start and s.end <= end), key=lambda s: s.start)
    boxes = page.evaluate(BOXES_JS, [s.id for s in seed.spans])
    same_line = 0
    for a, b in zip(first, first[1:]):
        if b.start < a.end:  # nested: b inside a
            assert boxes[a.id]["all"]["left"] <= boxes[b.id]["all"]["left"] <= boxes[b.id]["all"]["right"] <= boxes[a.id]["all"]["right"] + 0.5
            continue
        a_end, b_start = boxes[a.id]["last"], boxes[b.id]["first"]
        if abs((a_end["top"] + a_end["bottom"]) / 2 - (b_start["top"] + b_start["bottom"]) / 2) < 12:
            same_line += 1
            assert b_start["right"] <= a_end["left"] + 0.5, (a.id, b.id, a_end, b_start)
        else:
            assert b_start["top"] > a_end["top"], (a.id, b.id)
    assert same_line >= 2, "the first sentence should put several spans on one line"
    assert page.evaluate(OVERLAPS_JS) == 0

    # a TITLE around a CITY: both drawn, the city inside the title's underline
    title = next(s for s in seed.spans if s.label == "TITLE" and any(c.label == "CITY" and s.start <= c.start and c.end <= s.end for c in seed.spans))
    city = next(c for c in seed.spans if c.label == "CITY" and title.start <= c.start and c.end <= title.end)
    styles = page.evaluate("""([t, c]) => {
      const el = k => [...document.querySelectorAll('.pie-doc .sp')].find(e => e.dataset.s === k);
      const ts = getComputedStyle(el(t)), cs = getComputedStyle(el(c));
      return {underline: parseFloat(ts.borderBottomWidth), fill: cs.backgroundColor, cityInTitle: el(t).contains(el(c))};
    }""", [title.id, city.id])
    assert styles["underline"] >= 2 and styles["fill"] not in ("rgba(0, 0, 0, 0)", "transparent") and styles["cityInTitle"]
    t_box, c_box = boxes[title.id]["all"], boxes[city.id]["all"]
    assert c_box["right"] - c_box["left"] > 5 and t_box["left"] <= c_box["left"] and c_box["right"] <= t_box["right"] + 0.5
    assert t_box["bottom"] > c_box["bottom"]  # the underline sits below the city's fill

    # clicking a PROPOSAL (on a word of its own, not on a span inside it) highlights its proposer and parties
    proposal = next(s for s in seed.spans if s.label == "PROPOSAL"
                    and {r.type for r in seed.relations if r.head == s.id} == {"proposer", "party"})
    linked = {r.tail for r in seed.relations if r.head == proposal.id}
    point = page.evaluate("""k => {
      const el = [...document.querySelectorAll('.pie-doc .sp')].find(e => e.dataset.s === k);
      el.scrollIntoView({block: 'center'});
      const node = [...el.childNodes].find(n => n.nodeType === 3 && n.textContent.trim());
      const range = document.createRange();
      const word = node.textContent.search(/\\S+/);
      range.setStart(node, word); range.setEnd(node, word + node.textContent.slice(word).search(/\\s|$/));
      const r = range.getBoundingClientRect();
      return {x: (r.left + r.right) / 2, y: (r.top + r.bottom) / 2};
    }""", proposal.id)
    page.mouse.click(point["x"], point["y"])
    state = page.evaluate("""() => ({
      sel: [...new Set([...document.querySelectorAll('.pie-doc .sp.sel')].map(e => e.dataset.s))],
      linked: [...new Set([...document.querySelectorAll('.pie-doc .sp.linked')].map(e => e.dataset.s))],
      outline: [...document.querySelectorAll('.pie-doc .sp.linked')].map(e => getComputedStyle(e).outlineStyle),
      tip: document.querySelector('.pie-tip') && !document.querySelector('.pie-tip').hidden
           ? document.querySelector('.pie-tip').innerText : null,
    })""")
    assert state["sel"] == [proposal.id]
    assert set(state["linked"]) == linked
    assert set(state["outline"]) == {"dashed"}
    proposer = next(r.tail for r in seed.relations if r.head == proposal.id and r.type == "proposer")
    proposer_span = seed.span_by_id()[proposer]
    assert state["tip"] and seed.text[proposer_span.start:proposer_span.end] in state["tip"]

    # a facts-table link selects its span; hovering another span previews it
    page.keyboard.press("Escape")
    link = page.locator(".pie-facts .pie-link").first
    target = link.get_attribute("data-goto")
    link.click()
    assert page.evaluate("[...new Set([...document.querySelectorAll('.pie-doc .sp.sel')].map(e => e.dataset.s))]") == [target]
    page.keyboard.press("Escape")
    page.evaluate("document.querySelector('.pie-doc .sp.ch-fill').scrollIntoView({block: 'center'})")
    page.locator(".pie-doc .sp.ch-fill").first.hover()
    assert page.evaluate("document.querySelectorAll('.pie-doc .sp.sel').length") >= 1
    assert "(" in page.locator(".pie-tip").inner_text()  # "شهر (CITY) «...»"

    shot = tmp_path / "seed.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    if os.environ.get("PIE_SCREENSHOT_DIR"):
        shutil.copy(shot, Path(os.environ["PIE_SCREENSHOT_DIR"]) / "viewer-seed-test.png")
    assert errors == []
    page.close()


def screenshot(html_path: str, png_path: str, width: int = 1000, height: int = 900) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch(p)
        page = b.new_page(viewport={"width": width, "height": height})
        page.goto(Path(html_path).resolve().as_uri())
        page.screenshot(path=png_path)
        b.close()


if __name__ == "__main__":
    screenshot(sys.argv[1], sys.argv[2], *(int(a) for a in sys.argv[3:5]))
