"""Normalization keeps exact offsets into the original text (property tests)."""

from hypothesis import given, settings
from hypothesis import strategies as st

from persian_ie.data.normalize import Normalizer, NormalizerConfig
from persian_ie.data.tokenize import tokenize

MESSY = list("آابپتثجچحخدذرزژسشصضطظعغفقکگلمنوهیيكىة") + list("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩0123456789") + [
    "\u200c", "\u200b", "\u200d", "\u00ac", "\u00ad", "\u0640", "\u064b", "\u064e", "\u0650", "\u0651", "\u0670",
    " ", " ", "\u00a0", "\u200f", "\u200e", "\t", "\n", ".", "،", "«", "»", "(", ")", "؟", "-", "x", "Y",
]
messy_text = st.lists(st.sampled_from(MESSY), max_size=80).map("".join)


def test_example_offsets_survive():
    text = "شهردار مشهد، آقاي قلندر شريف ، پيشنهاد خواهرخواندگي با غزه‌اي را داد ۱۴۰۲"
    norm = Normalizer()(text)
    assert "آقای قلندر شریف" in norm.text
    assert norm.text.endswith("1402")
    start = norm.text.index("قلندر شریف")
    o_start, o_end = norm.to_original(start, start + len("قلندر شریف"))
    assert text[o_start:o_end] == "قلندر شريف"


def test_each_rule():
    n = Normalizer()
    assert n("كيك").text == "کیک"
    assert n("مـــشهد").text == "مشهد"
    assert n("مُحَمَّد").text == "محمد"
    assert n("٣۴5").text == "345"
    assert n("می\u200bخواهم").text == "می\u200cخواهم"
    assert n("a\u00a0 \u200f b").text == "a b"
    assert Normalizer(NormalizerConfig(digits="persian"))("12").text == "۱۲"
    assert Normalizer(NormalizerConfig(digits="keep"))("1۲").text == "1۲"


@settings(max_examples=300, deadline=None)
@given(messy_text)
def test_round_trip_maps_every_char_to_its_origin(text):
    n = Normalizer()
    norm = n(text)
    assert len(norm.index) == len(norm.text)
    assert list(norm.index) == sorted(set(norm.index))  # strictly increasing: order kept, nothing invented
    for ch, i in zip(norm.text, norm.index):
        # each normalized char is the normalization of exactly the char it came from
        assert n(text[i]).text in (ch, ch.strip() or ch, "") or ch == " "


@settings(max_examples=300, deadline=None)
@given(messy_text)
def test_tokens_map_back_to_original(text):
    n = Normalizer()
    tokenized = tokenize(text, n)
    for tok in tokenized.tokens:
        piece = text[tok.start:tok.end]
        assert n(piece).text.strip("\u200c ") == tok.text
    starts = [t.start for t in tokenized.tokens]
    assert starts == sorted(starts)
