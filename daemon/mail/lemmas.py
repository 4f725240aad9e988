"""Words of a letter as lemmas: «подписью», «подписи» and «подпись» are one word.

Pure: text in, words out. Russian words are reduced to their dictionary forms
with pymorphy3 and the OpenCorpora dictionaries it ships as a package (nothing
is downloaded at run time); a word it does not know gets its guessed forms, so
«КриптоПро» and «криптопро» still meet. Every form a word may have counts (a set
per word), because a letter seldom gives enough context to choose one.

Clients write with what their keyboard has: a word that mixes Latin and Cyrillic
letters («KpиптoПpo», «Oшибкa») is read with the Latin look-alikes taken as the
Cyrillic letters they look like; «ё» is «е». A typo of one letter (a letter
missed, doubled, swapped or wrong) in a word of six letters or more is forgiven
by `near`, which the rule matcher asks only for words that matched nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache, lru_cache
from typing import Any

_WORD = re.compile(r"[0-9A-Za-zА-Яа-яЁё]+")
_CYRILLIC = re.compile(r"[а-яё]")
_LATIN = re.compile(r"[a-z]")
# Latin letters that look like Cyrillic ones, lower case (the text is lowered first).
_LOOKALIKE = str.maketrans("aceopxykmthb", "асеорхукмтнв")
MAX_CHARS = 20_000  # a letter's first 20 000 characters decide; the rest is quotes and logs


@cache
def _analyzer() -> Any:
    # Imported on first use: `supportd check-config` and most commands never need it.
    import pymorphy3

    return pymorphy3.MorphAnalyzer(lang="ru")


def words(text: str) -> list[str]:
    """The words of a text, lower case, «ё» as «е», mixed-script words in Cyrillic."""
    out = []
    for m in _WORD.finditer(text[:MAX_CHARS].lower().replace("ё", "е")):
        w = m.group(0)
        if _CYRILLIC.search(w) and _LATIN.search(w):
            w = w.translate(_LOOKALIKE)
        out.append(w)
    return out


@lru_cache(maxsize=200_000)
def forms(word: str) -> frozenset[str]:
    """Every dictionary form a (lower-case) word may have; itself for a word that is
    not Russian (Latin letters, digits)."""
    if not _CYRILLIC.search(word):
        return frozenset({word})
    found = {p.normal_form.replace("ё", "е") for p in _analyzer().parse(word)[:4]}
    return frozenset(found or {word})


def lemma(word: str) -> str:
    """One dictionary form of a word: the likeliest (for rule terms)."""
    if not _CYRILLIC.search(word):
        return word
    return str(_analyzer().parse(word)[0].normal_form).replace("ё", "е")


def lemmas(text: str) -> list[frozenset[str]]:
    """The forms of each word of a text, in order."""
    return [forms(w) for w in words(text)]


def term(text: str) -> tuple[str, ...]:
    """A rule's word or phrase as the lemmas it must meet, in order ("" → ())."""
    return tuple(lemma(w) for w in words(text))


def deletions(word: str) -> set[str]:
    """The word with one letter taken out, each way (a typo index's keys)."""
    return {word[:i] + word[i + 1:] for i in range(len(word))}


def within_one(a: str, b: str) -> bool:
    """One typo apart: a letter inserted, missed, replaced, or two neighbours swapped."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la == lb:
        diff = [i for i in range(la) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return (len(diff) == 2 and diff[1] == diff[0] + 1
                and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]])
    short, long_ = (a, b) if la < lb else (b, a)
    i = next((k for k in range(len(short)) if short[k] != long_[k]), len(short))
    return short[i:] == long_[i + 1:]


TYPO_MIN = 6  # shorter words are too often another real word one letter away


def near(word: str, index: dict[str, set[str]]) -> set[str]:
    """Known words one typo from `word`, found through a deletion index (`typo_index`)."""
    if len(word) < TYPO_MIN:
        return set()
    found: set[str] = set()
    for key in (word, *deletions(word)):
        found.update(c for c in index.get(key, ()) if within_one(word, c))
    return found


def typo_index(known: Iterable[str]) -> dict[str, set[str]]:
    """Each known word (of TYPO_MIN letters or more) under itself and its deletions."""
    index: dict[str, set[str]] = {}
    for w in known:
        if len(w) >= TYPO_MIN:
            for key in (w, *deletions(w)):
                index.setdefault(key, set()).add(w)
    return index
