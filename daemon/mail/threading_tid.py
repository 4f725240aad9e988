"""Ticket IDs (TIDs) and the subjects that carry them (SPEC "Life of a letter", steps 2 and 4).

A TID is the ticket number zero-padded to five digits (wider when larger) with one
Damm check digit appended, behind a prefix: ticket 1 is ``SD-000013``. The Damm digit
catches every single-digit typo and every swap of two adjacent digits, so a client who
mistypes a TID never lands in somebody else's ticket: a TID that fails the check is
simply not a TID. Besides the check digit we insist on the canonical width, which also
rejects most dropped or doubled digits.

Clients mangle subjects: reply and forward prefixes in a dozen languages, repeated and
mixed, full-width characters from Asian keyboards, en-dashes from word processors,
brackets lost or padded with spaces. The functions here find the TID through all that,
and produce the clean subject we store and the tagged subject we send. Everything is
pure: strings in, strings out; nothing here raises on bad input except the formatting
of an impossible ticket number.

Decoding the raw header value (RFC 2047 encoded-words, guessed charsets) comes first
and lives in `daemon.mail.header_decode`; `decode_subject` is re-exported here for callers
that read subjects from this module.
"""

from __future__ import annotations

import re
from functools import lru_cache

from daemon.mail.header_decode import _squeeze, decode_subject

__all__ = [
    "DEFAULT_PREFIX",
    "NO_SUBJECT",
    "damm_check_digit",
    "decode_subject",
    "find_tid",
    "format_tid",
    "normalize_subject",
    "parse_tid",
    "strip_reply_prefixes",
    "tagged_subject",
]

DEFAULT_PREFIX = "SD"
NO_SUBJECT = "(без темы)"
_WIDTH = 5  # digits of the ticket number before the check digit, at least
_MAX_DIGITS = 16  # longest digit run we read as a TID; keeps int() cheap and bounded

# The Damm algorithm's quasigroup of order 10 (Damm 2004): a table with a zero
# diagonal that is weakly totally anti-symmetric, hence every single substitution and
# every adjacent transposition changes the final interim digit.
_DAMM = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)


def damm_check_digit(digits: str) -> int:
    """The Damm check digit of a string of ASCII digits.

    Run over a number with its check digit appended, the result is 0 exactly when the
    check digit is right. Raises ValueError on anything but ASCII digits.
    """
    interim = 0
    for ch in digits:
        if not "0" <= ch <= "9":
            raise ValueError(f"not an ASCII digit: {ch!r}")
        interim = _DAMM[interim][ord(ch) - 48]
    return interim


def format_tid(number: int, prefix: str = DEFAULT_PREFIX) -> str:
    """``SD-000013`` for ticket 1: prefix, hyphen, padded number, check digit."""
    if not 1 <= number < 10 ** (_MAX_DIGITS - 1):
        raise ValueError(f"no TID for ticket number {number}")
    body = f"{number:0{_WIDTH}d}"
    return f"{prefix}-{body}{damm_check_digit(body)}"


def _number_of(digits: str) -> int | None:
    """The ticket number of a TID's digit run (check digit last), or None.

    Accepts only what `format_tid` writes: a valid check digit and the canonical width
    (five digits, or more without a leading zero), so ``SD-0000013`` is rejected.
    """
    digits = digits.translate(_FULLWIDTH_DIGITS)
    body = digits[:-1]
    if len(body) < _WIDTH or (len(body) > _WIDTH and body[0] == "0"):
        return None
    if damm_check_digit(digits) != 0:
        return None
    number = int(body)
    return number if number >= 1 else None


# ---------------------------------------------------------------- finding TIDs

_FULLWIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")
_DIGIT = "[0-9０-９]"
# Hyphen look-alikes: autocorrect turns "-" into en/em dashes, Asian keyboards type
# the full-width hyphen; "_" shows up when people copy TIDs out of file names.
_DASH = "[-‐‑‒–—―−﹣－_]"
_OPEN = "[\\[［【〔(（]"
_CLOSE = "[\\]］】〕)）]"
_HASH = "[#＃№]"


def _fold_char(ch: str) -> str:
    """A character class matching an ASCII character in either case and full width."""
    variants = {ch}
    for c in (ch.lower(), ch.upper()):
        variants.add(c)
        if "!" <= c <= "~":
            variants.add(chr(ord(c) + 0xFEE0))  # the full-width form
    if len(variants) == 1:
        return re.escape(ch)
    return "[" + "".join(re.escape(v) for v in sorted(variants)) + "]"


@lru_cache(maxsize=16)
def _tid_token(prefix: str) -> str:
    """Regex source for one TID written by a human; group ``digits`` holds the digits.

    Not glued to a preceding letter or digit (``SSD-…`` is not ours), then the prefix
    in any case, at most one dash with optional spaces around it, and a digit run that
    does not go on into more digits.
    """
    letters = "".join(_fold_char(c) for c in prefix)
    return (
        rf"(?<!\w){letters}\s*(?:{_DASH}\s*)?"
        rf"(?P<digits>{_DIGIT}{{{_WIDTH + 1},{_MAX_DIGITS}}})(?!{_DIGIT})"
    )


@lru_cache(maxsize=16)
def _tid_re(prefix: str) -> re.Pattern[str]:
    return re.compile(_tid_token(prefix))


@lru_cache(maxsize=16)
def _bracketed_tag_re(prefix: str) -> re.Pattern[str]:
    """A TID inside brackets anywhere: ``[SD-000013]``, ``[ #SD-000013 ]``, ``【…】``."""
    return re.compile(rf"{_OPEN}\s*(?:{_HASH}\s*)?{_tid_token(prefix)}\s*{_CLOSE}")


@lru_cache(maxsize=16)
def _leading_tag_re(prefix: str) -> re.Pattern[str]:
    """A TID opening the subject, with or without brackets, ``#``, a colon right after.

    Only a colon glued to the tag goes with it ("SD-000013: x"); "[SD-000013] : x"
    keeps its colon, or a subject of ":" alone would not survive being tagged.
    """
    return re.compile(
        rf"\s*(?P<open>{_OPEN}\s*)?(?:{_HASH}\s*)?{_tid_token(prefix)}(?(open)\s*{_CLOSE})"
        r"[:：]?\s*"
    )


def find_tid(subject: str, prefix: str = DEFAULT_PREFIX) -> int | None:
    """The ticket number of the first valid TID in a decoded subject, or None.

    Brackets, ``#``, case, full-width characters, dash look-alikes and stray spaces
    are all tolerated; a wrong check digit or a non-canonical width is not a TID.

    The *first* valid TID wins because that is where our own tag stands: we put it at
    the very start (`tagged_subject`), reply prefixes only ever go in front of it, and
    a client who mentions another ticket does so further right ("[SD-000021] Re: as in
    SD-000013"). So the leftmost TID is the thread the letter replies to.
    """
    for match in _tid_re(prefix).finditer(subject):
        number = _number_of(match["digits"])
        if number is not None:
            return number
    return None


def parse_tid(text: str, prefix: str = DEFAULT_PREFIX) -> int | None:
    """The ticket number when `text` is one TID and nothing else (``#merge SD-000013``).

    Surrounding whitespace, brackets and ``#`` are allowed, and the same spellings as
    `find_tid`; anything else, or a bad check digit, gives None.
    """
    match = _parse_re(prefix).fullmatch(text)
    return _number_of(match["digits"]) if match else None


@lru_cache(maxsize=16)
def _parse_re(prefix: str) -> re.Pattern[str]:
    return re.compile(
        rf"\s*(?P<open>{_OPEN}\s*)?(?:{_HASH}\s*)?{_tid_token(prefix)}(?(open)\s*{_CLOSE})\s*"
    )


# ---------------------------------------------------------------- subjects

# Reply and forward prefixes of mail clients in the languages our clients use. Outlook
# localises them (AW/WG German, SV Scandinavian, VS Finnish, Antw Dutch, Odp Polish,
# RIF Italian, RES/ENC Portuguese, RV Spanish, TR French, YNT Turkish); Russian clients
# write Отв/Ответ/Пересл/Переслано, Ukrainian ones Відп. Longer words come first so
# that the alternation never stops at a shorter one (Отв before Ответ).
_PREFIX_WORDS = (
    "re", "fwd", "fw", "aw", "wg", "sv", "vs", "antw", "odp", "ha", "на", "rif", "res",
    "rv", "enc", "tr", "ynt", "отв", "ответ", "отг", "відп", "відповідь", "пересл",
    "переслано", "пересылка",
)
_PREFIX_RE = re.compile(
    r"(?:"
    + "|".join(re.escape(w) for w in sorted(set(_PREFIX_WORDS), key=len, reverse=True))
    + r")"
    # Counters: Re[2]:, Re(2):, Eudora's Re^2:; then a colon, also the full-width
    # one, possibly after a space ("Re :", the French typographic habit).
    + r"\s*(?:\[\s*\d+\s*\]|\(\s*\d+\s*\)|\^\s*\d+)?\s*[:：﹕]\s*",
    re.IGNORECASE,
)


def strip_reply_prefixes(subject: str) -> str:
    """The subject without any leading Re:/Fwd:/Отв:… prefixes, whitespace collapsed.

    Removes any number of them, repeated and mixed, with counters (``Re[2]:``) and odd
    spacing. Control characters and folding whitespace become single spaces. A TID tag
    between prefixes stops the stripping; `normalize_subject` goes through tags too.
    """
    # Squeeze first so that the prefix pattern sees plain spaces; stripping afterwards
    # only eats whole prefixes with their trailing space, so the result stays squeezed
    # and a second call changes nothing.
    text = _squeeze(subject)
    position = 0
    while match := _PREFIX_RE.match(text, position):
        position = match.end()
    return text[position:]


def _without_tags(subject: str, prefix: str) -> str:
    """Strip prefixes and TID tags until nothing changes.

    A tag is a valid TID in brackets anywhere, or a valid TID opening the subject,
    among the prefixes (brackets lost, ``#SD-000013``). A bare TID in the middle of
    the text is a mention ("as in SD-000013") and stays. Invalid TIDs are ordinary
    text. Removing a bracketed tag can expose a prefix ("Re[SD-000013]: x" becomes
    "Re : x"), hence the loop; it settles in two or three rounds.
    """

    def drop_valid(match: re.Match[str]) -> str:
        return " " if _number_of(match["digits"]) is not None else match[0]

    leading, bracketed = _leading_tag_re(prefix), _bracketed_tag_re(prefix)
    text = _squeeze(subject)
    while True:
        position = 0
        while True:
            match = _PREFIX_RE.match(text, position) or leading.match(text, position)
            if match is None or (
                match.re is leading and _number_of(match["digits"]) is None
            ):
                break
            position = match.end()
        stripped = _squeeze(bracketed.sub(drop_valid, text[position:]))
        if stripped == text:
            return text
        text = stripped  # shorter than before, so the loop ends


def normalize_subject(subject: str, prefix: str = DEFAULT_PREFIX) -> str:
    """The subject a ticket stores and duplicate detection compares.

    No reply prefixes, no TID tags (see `_without_tags`), single spaces, no control
    characters. Idempotent, and indifferent to any chain of prefixes put in front.
    """
    return _without_tags(subject, prefix)


def tagged_subject(tid: str, subject: str) -> str:
    """The subject of a letter we send: ``[SD-000013] Original subject``.

    The original loses its reply prefixes and any old tag of ours, and becomes
    ``(без темы)`` when nothing is left. Control characters, CR and LF above all, turn
    into spaces, so nothing a client typed can inject a header.
    """
    tid = _squeeze(tid)
    prefix = tid.rpartition("-")[0] or DEFAULT_PREFIX
    body = _without_tags(subject, prefix) or NO_SUBJECT
    return f"[{tid}] {body}"
