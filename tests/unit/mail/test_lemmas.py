"""Words as lemmas (daemon.mail.lemmas): forms, mixed scripts, one-letter typos."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from daemon.mail.lemmas import deletions, forms, lemma, near, term, typo_index, within_one, words


def test_forms_of_one_word_meet() -> None:
    assert {"подпись"} <= forms("подписью") & forms("подписи") & forms("подпись")
    assert lemma("установки") == "установка"


def test_latin_look_alikes_in_a_cyrillic_word_are_read_as_cyrillic() -> None:
    assert words("KpиптoПpo и Oшибкa, ёлка") == ["криптопро", "и", "ошибка", "елка"]
    assert words("CryptoPro 1С") == ["cryptopro", "1с"]  # all-Latin stays Latin


def test_a_term_is_its_lemmas_and_a_wordless_term_is_empty() -> None:
    assert term("Электронной подписью") == ("электронный", "подпись")
    assert term("— !!!") == ()


def test_one_typo_is_forgiven_in_long_words_only() -> None:
    index = typo_index(["обновление", "подпись", "сбой"])
    assert near("обнавление", index) == {"обновление"}
    assert near("подписсь", index) == {"подпись"}
    assert near("обнвлеине", index) == set()  # two typos
    assert near("сбоп", index) == set()  # too short to guess


@given(st.text(alphabet="абвгде", min_size=1, max_size=8),
       st.text(alphabet="абвгде", min_size=1, max_size=8))
def test_within_one_is_symmetric(a: str, b: str) -> None:
    assert within_one(a, b) == within_one(b, a)


@given(st.text(alphabet="абвгде", min_size=2, max_size=10), st.data())
def test_every_deletion_is_within_one(word: str, data: st.DataObject) -> None:
    for d in deletions(word):
        assert within_one(word, d)
    i = data.draw(st.integers(0, len(word) - 2))
    swapped = word[:i] + word[i + 1] + word[i] + word[i + 2:]
    assert within_one(word, swapped)
