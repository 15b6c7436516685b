"""Person and office keys survive Persian spelling variation (property tests)."""

from hypothesis import assume, given, strategies as st

from persian_ie.data.names import HONORIFICS, OFFICE_QUALIFIERS, edit_distance, office_key, person_key

LETTERS = "ابپتثجچحخدذرزژسشصضطظعغفقکگلمنوهی"
WORD = st.text(alphabet=LETTERS, min_size=2, max_size=8)
ARABIC = {"ی": "ي", "ک": "ك"}


def _variant(words: list[str], seps: list[str], arabic: bool, diacritic: bool) -> str:
    out = words[0]
    for sep, word in zip(seps, words[1:]):
        out += sep + word
    if arabic:
        out = "".join(ARABIC.get(ch, ch) for ch in out)
    if diacritic:
        out = out[:1] + "\u064e" + out[1:]
    return out


@given(st.lists(WORD, min_size=1, max_size=4), st.data(), st.booleans(), st.booleans(),
       st.sampled_from(["", "دکتر ", "مهندس ", "حجت‌الاسلام ", "حجت الاسلام ", "سردار ", "سید ", "آقای دکتر "]))
def test_person_key_ignores_spelling_variation(words, data, arabic, diacritic, honorific):
    seps = data.draw(st.lists(st.sampled_from([" ", "\u200c", ""]), min_size=len(words) - 1, max_size=len(words) - 1))
    assume(not any(w in {h.replace(" ", "") for h in HONORIFICS} for w in words))
    assume(not any(a + b in {h.replace(" ", "") for h in HONORIFICS} for a, b in zip(words, words[1:])))
    assert person_key(honorific + _variant(words, seps, arabic, diacritic)) == person_key(" ".join(words))


def test_person_key_examples():
    assert person_key("احمد معصومی‌فر") == person_key("احمد معصومي فر") == person_key("دکتر احمد معصومیفر")
    assert person_key("سید محمد خاتمی") == person_key("محمد خاتمی")
    assert person_key("علی ۱۲") == person_key("علی 12") == person_key("علی ١٢")
    assert person_key("احمد معصومی‌فر") != person_key("احمد مسعودی‌فر")
    assert person_key("دکتر") == "دکتر"  # a lone honorific is not emptied


@given(st.lists(WORD, min_size=1, max_size=3), st.sampled_from(["سابق", "جدید", "وقت"]), st.booleans())
def test_office_key_drops_qualifiers_keeps_place(words, qualifier, arabic):
    assume(not set(words) & OFFICE_QUALIFIERS)
    office = "شهردار " + " ".join(words)
    assert office_key(f"شهردار {qualifier} " + " ".join(words)) == office_key(office)
    assert office_key(_variant([office], [], arabic, False)) == office_key(office)
    assert " ".join(words) in office_key(office)


def test_office_key_completion_and_distance():
    assert office_key("شهردار", "مشهد") == office_key("شهردار مشهد")
    assert office_key("شهردار مشهد", "مشهد") == "شهردار مشهد"
    assert office_key("شهردار مشهد") != office_key("شهردار تهران")
    assert edit_distance("مسعودیفر", "معصومیفر") == 3
    assert edit_distance("abc", "abc") == 0 and edit_distance("a", "abcdefgh", 4) == 4


def test_first_names_that_look_like_ranks_stay():
    assert person_key("امیر حسینی") != person_key("حسینی")
