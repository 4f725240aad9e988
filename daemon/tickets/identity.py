"""Identification helpers for §5.8: INN, OGRN/OGRNIP and logins found in a letter.

Numbers are accepted only when their official check digits hold (Federal Tax
Service algorithms: weighted sums mod 11 for the INN, the number mod 11 or 13
for OGRN/OGRNIP), as python-stdnum computes them (the OGRNIP here: see
`valid_ogrn`). The check digit is a remainder taken mod 10 of a remainder mod 11
(or 13), so a mistyped digit that moves the inner remainder between 0
and 10 (or 1 and 11, 2 and 12 for OGRNIP) goes unnoticed; nothing in the
official algorithm can catch that, and the registry match that follows does.

The finders scan free text (body, signature, headers) and return each valid
number once, in order of appearance. A number is never cut out of a longer
run of digits (a bank account, a phone number); a number right after its
label («ИНН», «ОГРН», «ОГРНИП») may be written in groups separated by spaces
or hyphens.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from stdnum.ru import inn as stdnum_inn
from stdnum.ru import ogrn as stdnum_ogrn


def valid_inn(s: str) -> bool:
    """A 10-digit (organisation) or 12-digit (person) INN with valid check digits
    (python-stdnum's `ru.inn`). The first two digits are a region code, never 00."""
    if not (s.isascii() and s.isdigit() and len(s) in (10, 12)) or s.startswith("00"):
        return False
    return bool(stdnum_inn.is_valid(s))


def valid_ogrn(s: str) -> bool:
    """A 13-digit OGRN (first digit 1 or 5) or a 15-digit OGRNIP (first digit 3)
    whose last digit is the rest of the number mod 11 (mod 13 for OGRNIP), mod 10.

    The OGRN is python-stdnum's `ru.ogrn`. The OGRNIP is checked here: stdnum 2.2
    takes its check digit as the remainder mod 13 without the final mod 10, so it
    refuses every OGRNIP whose remainder is 10, 11 or 12 — 3 in 13 valid ones (23%;
    tests/unit/tickets/test_identity.py generates them). stdnum also takes the other
    first digits of the state register's record numbers (a record, not an
    organisation): not an OGRN a letter would name, so refused here."""
    if not (s.isascii() and s.isdigit()):
        return False
    if len(s) == 13 and s[0] in "15":
        return bool(stdnum_ogrn.is_valid(s))
    if len(s) == 15 and s[0] == "3":
        return int(s[:14]) % 13 % 10 == int(s[14])
    return False


# A labelled number: the label, an optional "/КПП"-style tail and punctuation, then
# digits possibly grouped by single spaces or hyphens.
_GROUPED = r"(\d(?:[ \u00a0\-]?\d){8,15})(?!\d)"
_INN_LABEL = re.compile(r"(?<![^\W\d_])(?:ИНН|INN)(?:\s*/\s*КПП)?[\s:№#.\-–—]*" + _GROUPED,
                        re.IGNORECASE)
_OGRN_LABEL = re.compile(r"(?<![^\W\d_])(?:ОГРНИП|ОГРН|OGRNIP|OGRN)[\s:№#.\-–—]*" + _GROUPED,
                         re.IGNORECASE)
_BARE = re.compile(r"(?<!\d)\d+(?!\d)")


def _find(text: str, label: re.Pattern[str], lengths: tuple[int, ...],
          valid: Callable[[str], bool]) -> list[str]:
    found: list[tuple[int, str]] = []
    for m in label.finditer(text):
        digits = re.sub(r"\D", "", m.group(1))
        if len(digits) in lengths and valid(digits):
            found.append((m.start(1), digits))
    for m in _BARE.finditer(text):
        if len(m.group()) in lengths and valid(m.group()):
            found.append((m.start(), m.group()))
    found.sort()
    return list(dict.fromkeys(d for _, d in found))


def find_inns(text: str) -> list[str]:
    """Checksum-valid INNs in the text, each once, in order of appearance."""
    return _find(text, _INN_LABEL, (10, 12), valid_inn)


def find_ogrns(text: str) -> list[str]:
    """Checksum-valid OGRNs and OGRNIPs in the text, each once, in order of appearance."""
    return _find(text, _OGRN_LABEL, (13, 15), valid_ogrn)


_LOGIN = re.compile(
    r"(?<![^\W\d_])(?:логин(?:а|ом)?|login|учётн(?:ая|ой|ую) запис(?:ь|и)"
    r"|учетн(?:ая|ой|ую) запис(?:ь|и)|пользовател(?:ь|я))"
    r"(?:\s+(?:в|для|на)\s+[^\W\d_]+)?"  # «логин в системе:», «пользователь в ЛК —»
    r"\s*(?::|\s[—–-]\s?|[—–])\s*"
    r"[«\"'“„]?([\w.@+\-\\]*\w)",
    re.IGNORECASE)
_NOT_LOGINS = {"нет", "не", "отсутствует", "любой", "пароль", "password", "none", "n"}


def find_logins(text: str) -> list[str]:
    """Logins given after «логин», «login», «учётная запись» or «пользователь» and a
    colon or a dash; each once, in order of appearance, as written."""
    found = (m.group(1) for m in _LOGIN.finditer(text))
    return list(dict.fromkeys(x for x in found if x.lower() not in _NOT_LOGINS))
