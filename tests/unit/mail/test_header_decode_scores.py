"""The charset guess's scores, worked out from bytes, equal the character-by-character
definition they replace (kept here as the reference), for every charset the guess
weighs and for any bytes: the same readings win as before."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.mail.header_decode import (
    _CYRILLIC_LABELS,
    _FALLBACKS,
    _LATIN_LABELS,
    _LETTER_SCORE,
    _RU_FREQ,
    _TYPOGRAPHY,
    _WORD_RE,
    _anomalies,
    _decode_bytes,
    _frequency,
    _is_cyrillic,
)


def reference_anomalies(text: str) -> float:
    count = 0.0
    for ch in text:
        if ch < "\x80" or ch.isalpha() or ch in _TYPOGRAPHY:
            continue
        count += 1.0
    accented = letters = 0
    for word in _WORD_RE.findall(text):
        cyrillic = sum(1 for c in word if _is_cyrillic(c))
        if cyrillic and cyrillic < len(word):
            count += 1.0
        count += sum(1 for a, b in zip(word, word[1:], strict=False)
                     if a.islower() and b.isupper())
        count += 0.5 * sum(1 for c in word if _is_cyrillic(c) and c.lower() not in _RU_FREQ
                           and c.lower() not in "іїєґ")
        letters += len(word)
        accented += sum(1 for c in word if not c.isascii() and not _is_cyrillic(c))
    if accented >= 3 and accented * 5 > letters * 2:
        count += 1.0
    return count


def reference_frequency(text: str) -> float:
    return sum(_LETTER_SCORE.get(ch.lower(), 0.0) for ch in text)


def check(data: bytes) -> None:
    for name in sorted(_LATIN_LABELS | _CYRILLIC_LABELS | set(_FALLBACKS)):
        try:
            text = data.decode(name)
        except UnicodeError:
            continue
        assert _anomalies(data, name) == reference_anomalies(text), (name, data)
        assert _frequency(data, name) == reference_frequency(text), (name, data)


# Bytes that make words: letters of every charset, ASCII letters, digits, spaces,
# punctuation, and the high half where box drawing and C1 controls live.
_BYTES = st.one_of(st.binary(max_size=64), st.lists(
    st.sampled_from(b"aZ _-.,1\r\n\t" + bytes(range(0x80, 0x100))), max_size=200).map(bytes))


@settings(max_examples=400, deadline=None)
@given(_BYTES)
def test_scores_equal_the_character_definition(data: bytes) -> None:
    check(data)


def test_every_byte_alone_and_in_words() -> None:
    for b in range(256):
        for data in (bytes([b]), bytes([b, b]), b"a" + bytes([b]) + b"Z",
                     bytes([b]) + b"\xc0\xe0 \xf0", b"\xe0" + bytes([b]) + b"\xc0 x"):
            check(data)


def test_text_in_each_charset_reads_as_before() -> None:
    text = "Здравствуйте! Прошу ВОССТАНОВИТЬ доступ к iPhone, счёт №15 — «срочно»."
    for name in ("cp1251", "koi8-r", "cp866", "iso8859-5", "mac-cyrillic"):
        data = text.encode(name, "replace")
        check(data)
        assert _decode_bytes(data, None) == data.decode(_decode_bytes_codec(data))


def _decode_bytes_codec(data: bytes) -> str:
    """The charset whose reading the reference ranking picks, as `_decode_bytes` ranks."""
    best = None
    chosen = ""
    for rank, name in enumerate(("cp1251", "koi8-r", "cp866", "latin-1")):
        try:
            text = data.decode(name)
        except UnicodeError:
            continue
        key = (reference_anomalies(text), -reference_frequency(text), rank)
        if best is None or key < best:
            best, chosen = key, name
    return chosen
