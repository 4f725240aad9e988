"""Ticket IDs and subjects: a client's reply finds its ticket, a typo finds none."""

from __future__ import annotations

import base64
import email
import email.policy
import unicodedata
from email.header import Header, decode_header, make_header

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from daemon.mail.threading_tid import (
    NO_SUBJECT,
    damm_check_digit,
    decode_subject,
    find_tid,
    format_tid,
    normalize_subject,
    parse_tid,
    strip_reply_prefixes,
    tagged_subject,
)

# ---------------------------------------------------------------- Damm and format


@pytest.mark.parametrize(
    ("digits", "check"),
    [
        ("", 0),
        ("0", 0),
        ("572", 4),  # the worked example of the Damm algorithm
        ("5724", 0),  # a number with its check digit checks to 0
        ("00001", 3),
        ("00002", 1),
        ("00003", 7),
        ("123456", 6),
    ],
)
def test_damm_check_digit(digits: str, check: int) -> None:
    assert damm_check_digit(digits) == check


@pytest.mark.parametrize("bad", ["12a", "１２", "1 2", "-1", "٣"])
def test_damm_check_digit_wants_ascii_digits(bad: str) -> None:
    with pytest.raises(ValueError):
        damm_check_digit(bad)


@pytest.mark.parametrize(
    ("number", "prefix", "tid"),
    [
        (1, "SD", "SD-000013"),
        (2, "SD", "SD-000021"),
        (3, "SD", "SD-000037"),
        (10, "SD", "SD-000101"),
        (99999, "SD", "SD-999999"),
        (100000, "SD", "SD-1000002"),  # wider than five digits when larger
        (123456, "SD", "SD-1234566"),
        (1, "HD", "HD-000013"),
    ],
)
def test_format_tid(number: int, prefix: str, tid: str) -> None:
    assert format_tid(number, prefix) == tid


@pytest.mark.parametrize("number", [0, -1, 10**15])
def test_format_tid_refuses_impossible_numbers(number: int) -> None:
    with pytest.raises(ValueError):
        format_tid(number)


# ---------------------------------------------------------------- parse_tid


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("SD-000013", 1),
        ("  SD-000013\n", 1),
        ("[SD-000013]", 1),
        ("[ SD-000013 ]", 1),
        ("#SD-000013", 1),
        ("sd-000013", 1),
        ("Sd-000021", 2),
        ("SD–000013", 1),  # en dash from autocorrect
        ("SD — 000013", 1),
        ("ＳＤ－００００１３", 1),  # full width
        ("SD 000013", 1),
        ("SD000013", 1),
        ("SD-1234566", 123456),
        ("SD-1000002", 100000),
    ],
)
def test_parse_tid_accepts_a_tid(text: str, number: int) -> None:
    assert parse_tid(text) == number


@pytest.mark.parametrize(
    "text",
    [
        "",
        "SD-",
        "SD-000014",  # wrong check digit
        "SD-000031",  # adjacent digits swapped
        "SD-0000013",  # not the canonical width (a doubled zero)
        "SD-00013",  # a dropped zero
        "SD-000000",  # ticket 0 does not exist (and 0 is its own check digit)
        "SD-000013x",
        "x SD-000013",
        "SD-000013 SD-000021",
        "HD-000013",  # another desk's prefix
        "SSD-000013",
        "SD--000013",
        "SD-000013]",  # brackets come in pairs
        "[SD-000013",
        "SD-" + "1" * 30,
        "SD-٠٠٠٠١٣",  # Arabic-Indic digits are not ours
    ],
)
def test_parse_tid_rejects_anything_else(text: str) -> None:
    assert parse_tid(text) is None


def test_parse_tid_with_another_prefix() -> None:
    assert parse_tid("HD-000013", prefix="HD") == 1
    assert parse_tid("SD-000013", prefix="HD") is None


@given(st.integers(min_value=1, max_value=10**15 - 1))
def test_parse_inverts_format(number: int) -> None:
    assert parse_tid(format_tid(number)) == number


@given(st.integers(min_value=1, max_value=10**15 - 1), st.sampled_from(["SD", "HD", "TS", "X"]))
def test_parse_inverts_format_for_any_prefix(number: int, prefix: str) -> None:
    tid = format_tid(number, prefix)
    assert parse_tid(tid, prefix) == number
    assert find_tid(f"Re: [{tid}] x", prefix) == number


def _typos(digits: str) -> list[str]:
    """Every single-digit substitution and every adjacent transposition of `digits`."""
    out = []
    for i, old in enumerate(digits):
        out += [digits[:i] + new + digits[i + 1 :] for new in "0123456789" if new != old]
    for i in range(len(digits) - 1):
        if digits[i] != digits[i + 1]:
            out.append(digits[:i] + digits[i + 1] + digits[i] + digits[i + 2 :])
    return out


def test_every_typo_of_the_first_tickets_is_rejected() -> None:
    # Exhaustive for tickets 1..3000: 59 typos each, none of them a valid TID, so a
    # mistyped TID never attaches a letter to somebody else's ticket.
    for number in range(1, 3001):
        digits = format_tid(number)[3:]
        for typo in _typos(digits):
            assert parse_tid("SD-" + typo) is None, (number, typo)
            assert find_tid(f"Re: [SD-{typo}] вопрос") is None, (number, typo)


@given(st.integers(min_value=1, max_value=10**15 - 1), st.data())
def test_any_typo_of_any_ticket_is_rejected(number: int, data: st.DataObject) -> None:
    digits = format_tid(number)[3:]
    typo = data.draw(st.sampled_from(_typos(digits)))
    assert parse_tid("SD-" + typo) is None
    assert find_tid(f"Re: [SD-{typo}]") is None


# ---------------------------------------------------------------- find_tid


@pytest.mark.parametrize(
    ("subject", "number"),
    [
        ("[SD-000013] Не работает вход", 1),
        ("Re: [SD-000013] Не работает вход", 1),
        ("RE: Fwd: AW: [SD-000021] x", 2),
        ("Не работает вход [SD-000013]", 1),
        ("SD-000013 без скобок", 1),
        ("Re: SD-000013", 1),
        ("[ SD-000013 ] пробелы в скобках", 1),
        ("[\u00a0SD-000013\u00a0]", 1),
        ("[\u3000SD-000013\u3000]", 1),
        ("#SD-000013", 1),
        ("Заявка №SD-000013", 1),
        ("sd-000013 строчными", 1),
        ("【ＳＤ－００００１３】", 1),
        ("Re:[SD-000013]слитно", 1),
        ("(SD-000013)", 1),
        ("SD‑000013", 1),  # non-breaking hyphen
        ("SD−000013", 1),  # minus sign
        ("Тема SD-000013, ещё текст", 1),
        ("[SD-1234566] большой номер", 123456),
        # A wrong check digit is not a TID; a valid one later still counts.
        ("[SD-000014] опечатка, а вот верный SD-000021", 2),
        # Several valid TIDs: the first one wins (our tag stands first).
        ("[SD-000021] Re: как в SD-000013", 2),
        ("Fwd: [SD-000037] Re: [SD-000013]", 3),
    ],
)
def test_find_tid_finds_it(subject: str, number: int) -> None:
    assert find_tid(subject) == number


@pytest.mark.parametrize(
    "subject",
    [
        "",
        "Не работает вход",
        "[SD-000014] опечатка",
        "[SD-000031] переставлены цифры",
        "SSD-000013 диск",  # glued to a word: not our prefix
        "ASD-000013",
        "SD-0000131",  # the digits go on
        "SD-00001",
        "SD-0000013",
        "Ошибка 000013",
        "[HD-000013] чужой префикс",
        "SD-" + "9" * 40,
        "SD-",
    ],
)
def test_find_tid_finds_nothing(subject: str) -> None:
    assert find_tid(subject) is None


def test_find_tid_with_another_prefix() -> None:
    assert find_tid("[HD-000013] x", prefix="HD") == 1
    assert find_tid("[SD-000013] x", prefix="HD") is None


# ---------------------------------------------------------------- strip_reply_prefixes


@pytest.mark.parametrize(
    ("subject", "stripped"),
    [
        ("Re: Вопрос", "Вопрос"),
        ("RE: Вопрос", "Вопрос"),
        ("re: Вопрос", "Вопрос"),
        ("Re[2]: Вопрос", "Вопрос"),
        ("Re(2): Вопрос", "Вопрос"),
        ("Re^3: Вопрос", "Вопрос"),
        ("Re [2] : Вопрос", "Вопрос"),
        ("Fwd: Вопрос", "Вопрос"),
        ("FWD: Вопрос", "Вопрос"),
        ("Fw: Вопрос", "Вопрос"),
        ("FW: Вопрос", "Вопрос"),
        ("Fwd[3]: Вопрос", "Вопрос"),
        ("AW: Frage", "Frage"),
        ("WG: Frage", "Frage"),
        ("SV: Fråga", "Fråga"),
        ("VS: Kysymys", "Kysymys"),
        ("Antw: Vraag", "Vraag"),
        ("Odp: Pytanie", "Pytanie"),
        ("Ha: Вопрос", "Вопрос"),
        ("На: Вопрос", "Вопрос"),
        ("Отв: Вопрос", "Вопрос"),
        ("ОТВ: Вопрос", "Вопрос"),
        ("Ответ: Вопрос", "Вопрос"),
        ("Пересл: Вопрос", "Вопрос"),
        ("Переслано: Вопрос", "Вопрос"),
        ("Відп: Питання", "Питання"),
        ("RIF: Domanda", "Domanda"),
        ("TR: Question", "Question"),
        ("RV: Pregunta", "Pregunta"),
        ("Re : Вопрос", "Вопрос"),
        ("Re：Вопрос", "Вопрос"),
        ("RE：　Вопрос", "Вопрос"),
        ("Re:Вопрос", "Вопрос"),
        ("Re: RE: Fwd: AW: Отв: Ответ: Вопрос", "Вопрос"),
        ("Re: Re[2]: FW: Пересл: Re(3): Вопрос", "Вопрос"),
        ("  Re:   Re:\tВопрос  ", "Вопрос"),
        ("Re:\r\n Вопрос\r\n\tпродолжение", "Вопрос продолжение"),  # folded header
        ("Re: Вопрос\x00с\x1bмусором", "Вопрос с мусором"),
        ("Re: Вопрос: подвопрос", "Вопрос: подвопрос"),
        ("Re: [SD-000013] Re: Вопрос", "[SD-000013] Re: Вопрос"),  # a tag stops it
        ("Re:", ""),
        ("", ""),
        ("Вопрос", "Вопрос"),
        # Words that merely start like a prefix are left alone.
        ("Rex: dinosaur", "Rex: dinosaur"),
        ("Report: Q3", "Report: Q3"),
        ("Ответственный: Иванов", "Ответственный: Иванов"),
        ("Re без двоеточия", "Re без двоеточия"),
        ("Вопрос Re: не в начале", "Вопрос Re: не в начале"),
    ],
)
def test_strip_reply_prefixes(subject: str, stripped: str) -> None:
    assert strip_reply_prefixes(subject) == stripped


_WORDS = [
    "Re", "RE", "re", "rE", "Fwd", "FWD", "fwd", "Fw", "FW", "AW", "WG", "SV", "Sv", "VS",
    "Antw", "Odp", "Ha", "На", "Отв", "ОТВ", "Ответ", "ОТВЕТ", "Пересл", "Переслано",
    "Відп", "RIF", "TR", "RV", "RES", "ENC", "YNT",
]
_one_prefix = st.builds(
    lambda word, counter, before, colon, after: word + counter + before + colon + after,
    st.sampled_from(_WORDS),
    st.sampled_from(["", "[2]", "(2)", "[13]", "^2", " [3]", "( 4 )"]),
    st.sampled_from(["", " ", "\t", "\u00a0"]),
    st.sampled_from([":", "："]),
    st.sampled_from(["", " ", "  ", "\u00a0", "\r\n ", "\t", "\u3000"]),
)
prefix_chains = st.lists(_one_prefix, min_size=1, max_size=6).map("".join)

# Subjects: arbitrary text, and text built from the pieces real subjects are made of,
# so that prefixes, tags and odd spaces meet each other often.
_pieces = st.sampled_from(
    ["Re:", "Fwd: ", "Отв:", " ", "\r\n ", "\t", "[", "]", "#", "SD", "-", "SD-000013",
     "[SD-000021]", "[SD-000014]", "SD-000037 ", "Вопрос", "x", "：", "(2)", "\x00", "\u200b"]
)
subjects = st.one_of(st.text(), st.lists(_pieces | st.text(max_size=3), max_size=12).map("".join))


@given(subjects)
@example("Re\x00: x")
def test_strip_reply_prefixes_is_idempotent(subject: str) -> None:
    once = strip_reply_prefixes(subject)
    assert strip_reply_prefixes(once) == once


@given(prefix_chains, subjects)
def test_strip_reply_prefixes_removes_any_chain(chain: str, subject: str) -> None:
    assert strip_reply_prefixes(chain + subject) == strip_reply_prefixes(subject)


# ---------------------------------------------------------------- normalize_subject


@pytest.mark.parametrize(
    ("subject", "normalized"),
    [
        ("Не работает вход", "Не работает вход"),
        ("Re: [SD-000013] Не работает вход", "Не работает вход"),
        ("[SD-000013] Re: Fwd: Не работает вход", "Не работает вход"),
        ("RE: Отв: [SD-000013] Re[2]: Не работает   вход", "Не работает вход"),
        ("Re: SD-000013 Не работает вход", "Не работает вход"),
        ("Re: #SD-000013: Не работает вход", "Не работает вход"),
        ("Re: [SD-000013] : Не работает вход", ": Не работает вход"),
        ("Не работает вход [SD-000013]", "Не работает вход"),
        ("Не работает [ SD-000013 ] вход", "Не работает вход"),
        ("Re[SD-000013]: Re: вход", "вход"),
        # A mention in the text is not a tag; an invalid TID is just text.
        ("Re: как в SD-000013", "как в SD-000013"),
        ("Re: [SD-000014] опечатка", "[SD-000014] опечатка"),
        ("Re: [HD-000013] чужой", "[HD-000013] чужой"),
        ("Re:\r\n\t[SD-000013]\r\n Вопрос", "Вопрос"),
        ("[SD-000013]", ""),
        ("SD-000013 ] x", "] x"),
        ("Re: ", ""),
    ],
)
def test_normalize_subject(subject: str, normalized: str) -> None:
    assert normalize_subject(subject) == normalized


def test_normalize_subject_with_another_prefix() -> None:
    assert normalize_subject("Re: [HD-000013] x", prefix="HD") == "x"
    assert normalize_subject("Re: [SD-000013] x", prefix="HD") == "[SD-000013] x"


@given(prefix_chains, subjects)
def test_normalize_subject_ignores_any_prefix_chain(chain: str, subject: str) -> None:
    assert normalize_subject(chain + subject) == normalize_subject(subject)


@given(st.lists(prefix_chains | st.just("[SD-000013] ") | st.just("SD-000021 "), max_size=5),
       subjects)
def test_normalize_subject_ignores_prefixes_and_tags_mixed(front: list[str], subject: str) -> None:
    assert normalize_subject("".join(front) + " " + subject) == normalize_subject(subject)


@given(subjects)
def test_normalize_subject_is_idempotent(subject: str) -> None:
    once = normalize_subject(subject)
    assert normalize_subject(once) == once


# ---------------------------------------------------------------- tagged_subject


@pytest.mark.parametrize(
    ("subject", "tagged"),
    [
        ("Не работает вход", "[SD-000013] Не работает вход"),
        ("Re: Не работает вход", "[SD-000013] Не работает вход"),
        ("Re: [SD-000013] Re: Не работает вход", "[SD-000013] Не работает вход"),
        ("Fwd: [SD-000021] чужой тег", "[SD-000013] чужой тег"),
        ("Re: как в SD-000021", "[SD-000013] как в SD-000021"),
        ("", f"[SD-000013] {NO_SUBJECT}"),
        ("Re: ", f"[SD-000013] {NO_SUBJECT}"),
        ("  \r\n ", f"[SD-000013] {NO_SUBJECT}"),
        ("Вход\r\nBcc: victim@example.org", "[SD-000013] Вход Bcc: victim@example.org"),
        ("Вход\nX-Injected: 1\r\n\r\nbody", "[SD-000013] Вход X-Injected: 1 body"),
        ("Вход\u2028\u2029\x85\x0b\x0c\x00end", "[SD-000013] Вход end"),
    ],
)
def test_tagged_subject(subject: str, tagged: str) -> None:
    assert tagged_subject("SD-000013", subject) == tagged


def test_tagged_subject_keeps_the_prefix_of_the_tid() -> None:
    assert tagged_subject("HD-000013", "Re: [HD-000013] x") == "[HD-000013] x"


def _other_tid(number: int, style: int) -> str:
    tid = format_tid(number)
    return [f"[{tid}]", tid, f"#{tid}", tid.lower(), f" [ {tid} ] "][style]


# Arbitrary text, possibly carrying other tickets' valid TIDs in any spelling: our tag
# still wins because tagged_subject puts it first and find_tid takes the first.
texts_with_tids = st.lists(
    st.one_of(
        st.text(max_size=8),
        st.builds(_other_tid, st.integers(1, 10**9), st.integers(0, 4)),
        _pieces,
    ),
    max_size=8,
).map("".join)


@given(st.integers(1, 10**14), st.one_of(st.text(), texts_with_tids))
def test_find_tid_finds_our_tag_in_anything_we_send(number: int, subject: str) -> None:
    assert find_tid(tagged_subject(format_tid(number), subject)) == number


@given(st.one_of(st.text(), texts_with_tids))
def test_tagged_subject_is_one_clean_line(subject: str) -> None:
    tagged = tagged_subject("SD-000013", subject)
    assert tagged.startswith("[SD-000013] ")
    assert not any(unicodedata.category(c) in ("Cc", "Zl", "Zp", "Cs") for c in tagged)
    assert tagged == tagged.strip() and "  " not in tagged


@given(st.one_of(st.text(), texts_with_tids))
def test_tagging_twice_changes_nothing(subject: str) -> None:
    once = tagged_subject("SD-000013", subject)
    assert tagged_subject("SD-000013", once) == once


@given(st.one_of(st.text(), texts_with_tids))
def test_tagged_subject_normalizes_back(subject: str) -> None:
    assume(normalize_subject(subject))
    assert normalize_subject(tagged_subject("SD-000013", subject)) == normalize_subject(subject)


# ---------------------------------------------------------------- decode_subject


def _word(charset: str, data: bytes, encoding: str = "B") -> str:
    if encoding == "B":
        return f"=?{charset}?B?{base64.b64encode(data).decode()}?="
    return f"=?{charset}?Q?{''.join(f'={b:02X}' for b in data)}?="


LONG = "Не работает подпись документов в \"Организатор ЭДО v.3\", срочно нужна помощь!"


@pytest.mark.parametrize("charset", ["utf-8", "koi8-r", "windows-1251", "iso-8859-5"])
def test_decode_subject_of_stdlib_encoded_headers(charset: str) -> None:
    encoded = Header(LONG, charset).encode()
    assert "\n" in encoded  # long enough to be folded into several words
    assert decode_subject(encoded) == LONG
    assert decode_subject("Re: " + encoded) == "Re: " + LONG


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [
        ("Plain subject", "Plain subject"),
        ("Уже раскодировано", "Уже раскодировано"),
        ("=?utf-8?q?=D0=9F=D1=80=D0=B8=D0=B2=D0=B5=D1=82?=", "Привет"),
        ("=?UTF-8?Q?Hello_world?=", "Hello world"),
        ("=?utf-8?b?0J/RgNC40LLQtdGC?= world", "Привет world"),
        ("hello =?utf-8?b?0J/RgNC40LLQtdGC?=", "hello Привет"),
        ("a =?utf-8?q?b?= c =?utf-8?q?d?= e", "a b c d e"),
        # Whitespace between adjacent encoded-words is not text (RFC 2047 6.2).
        ("=?utf-8?q?a?= =?utf-8?q?b?=", "ab"),
        ("=?utf-8?q?a?=\r\n =?utf-8?q?b?=", "ab"),
        ("=?utf-8?q?a_?= =?utf-8?q?b?=", "a b"),
        # Different charsets side by side.
        (_word("koi8-r", "При".encode("koi8-r")) + " " + _word("utf-8", "вет".encode()), "Привет"),
        # A multi-byte character split across two words, in B and in Q.
        (_word("utf-8", "Привет".encode()[:3]) + " " + _word("UTF-8", "Привет".encode()[3:]),
         "Привет"),
        (_word("utf-8", "Привет".encode()[:5], "Q") + "\r\n\t"
         + _word("utf-8", "Привет".encode()[5:], "Q"), "Привет"),
        # Folded lines without encoded words.
        ("Очень длинная\r\n тема\r\n\tписьма", "Очень длинная тема письма"),
        # RFC 2231 language in the charset.
        ("=?utf-8*ru?q?=D0=94=D0=B0?=", "Да"),
        # Missing base64 padding.
        ("=?utf-8?b?0J/RgNC40LLQtdGC?=", "Привет"),
        # Cut short in the middle of a character: the rest survives.
        ("=?utf-8?b?0J/RgNC40LLQtdG?= x", "Приве\ufffd x"),
        # An encoded CR LF cannot smuggle a header through.
        ("=?utf-8?q?a=0D=0ABcc=3A_x?=", "a Bcc: x"),
        ("=?utf-8?q?a?= b\r\n", "a b"),
    ],
)
def test_decode_subject(raw: str, decoded: str) -> None:
    assert decode_subject(raw) == decoded


CYRILLIC = "Не работает вход в систему Ошибка ЭДО"


@pytest.mark.parametrize(
    ("label", "data"),
    [
        # Mislabelled: the bytes are windows-1251, the label says otherwise.
        ("koi8-r", CYRILLIC.encode("cp1251")),
        ("utf-8", CYRILLIC.encode("cp1251")),
        ("us-ascii", CYRILLIC.encode("cp1251")),
        ("iso-8859-1", CYRILLIC.encode("cp1251")),
        ("windows-1252", CYRILLIC.encode("cp1251")),
        # The bytes are KOI8-R.
        ("windows-1251", CYRILLIC.encode("koi8-r")),
        ("utf-8", CYRILLIC.encode("koi8-r")),
        ("iso-8859-1", CYRILLIC.encode("koi8-r")),
        # UTF-8 under a single-byte label.
        ("windows-1251", CYRILLIC.encode("utf-8")),
        ("koi8-r", CYRILLIC.encode("utf-8")),
        # Unknown, empty, invented and hostile labels.
        ("x-unknown", CYRILLIC.encode("cp1251")),
        ("unknown-8bit", CYRILLIC.encode("koi8-r")),
        ("", CYRILLIC.encode("cp1251")),
        ("win-1251", CYRILLIC.encode("cp1251")),
        ("x-no-such-charset", CYRILLIC.encode("koi8-r")),
        ("zlib", CYRILLIC.encode("cp1251")),
        ("base64", CYRILLIC.encode("cp1251")),
        ("cp866", CYRILLIC.encode("cp866")),
        ("ibm866", CYRILLIC.encode("cp866")),
    ],
)
@pytest.mark.parametrize("encoding", ["B", "Q"])
def test_decode_subject_survives_wrong_charsets(label: str, data: bytes, encoding: str) -> None:
    assert decode_subject(_word(label, data, encoding)) == CYRILLIC


@pytest.mark.parametrize(
    ("text", "charset"),
    [
        ("Grüße aus München", "iso-8859-1"),
        ("Prix: 10 € — café", "windows-1252"),
        ("日本語の件名", "iso-2022-jp"),
        ("中文主题", "gb2312"),
        ("Zażółć gęślą jaźń", "iso-8859-2"),
    ],
)
def test_decode_subject_believes_right_labels(text: str, charset: str) -> None:
    assert decode_subject(_word(charset, text.encode(charset))) == text


def test_decode_subject_raw_8bit_from_the_parser() -> None:
    raw = (b"Subject: Re: " + "Ошибка входа".encode("cp1251")
           + b" =?utf-8?b?0J/RgNC40LLQtdGC?=\r\n\r\nbody")
    for policy in (email.policy.compat32, email.policy.default):
        message = email.message_from_bytes(raw, policy=policy)
        [value] = [v for k, v in message.raw_items() if k == "Subject"]
        assert decode_subject(value) == "Re: Ошибка входа Привет"
    compat = email.message_from_bytes(raw, policy=email.policy.compat32)
    assert isinstance(compat["Subject"], Header)
    assert decode_subject(compat["Subject"]) == "Re: Ошибка входа Привет"


def test_decode_subject_keeps_undecodable_words() -> None:
    assert decode_subject("=?utf-8?b?@?= x") == "x"  # nothing left of the payload
    assert decode_subject("=?utf-8?q?=ZZ?=") == "=ZZ"
    assert decode_subject("=?utf-8?x?abc?=") == "=?utf-8?x?abc?="  # not an encoded-word


@given(st.text())
def test_decode_subject_of_utf8_headers_matches_the_stdlib(text: str) -> None:
    encoded = Header(text, "utf-8").encode()
    stdlib = str(make_header(decode_header(encoded)))
    assert decode_subject(encoded) == _squeezed(stdlib) == _squeezed(text)


def _squeezed(text: str) -> str:
    """What decode_subject promises on top of decoding: one line, single spaces."""
    text = "".join(c for c in text if c not in "\u200b\u2060\ufeff")
    return " ".join("".join(" " if unicodedata.category(c) == "Cc" else c for c in text).split())


_natural_words = st.lists(
    st.text("абвгдеёжзийклмнопрстуфхцчшщъыьэюя", min_size=1, max_size=10).flatmap(
        lambda w: st.sampled_from([w, w.capitalize(), w.upper()])
    ),
    min_size=1,
    max_size=8,
).map(" ".join)


@settings(max_examples=200)
@given(_natural_words, st.sampled_from(["koi8-r", "windows-1251", "utf-8"]),
       st.sampled_from(["B", "Q"]))
def test_decode_subject_believes_a_right_cyrillic_label(text: str, charset: str,
                                                       encoding: str) -> None:
    # Words as people write them (lower case, Capitalised, CAPITALS): the label's
    # reading shows no anomaly, so it is believed, whatever the letters.
    assert decode_subject(_word(charset, text.encode(charset), encoding)) == text


@given(st.text())
def test_decode_subject_never_raises_on_raw_text(raw: str) -> None:
    decode_subject(raw)


@given(st.sampled_from(["utf-8", "koi8-r", "x-junk", "", "utf-8*ru", "cp1251"]),
       st.sampled_from("BbQq"), st.text(alphabet=st.characters(max_codepoint=0x7F)))
def test_decode_subject_never_raises_on_encoded_junk(charset: str, encoding: str,
                                                     payload: str) -> None:
    result = decode_subject(f"x =?{charset}?{encoding}?{payload}?= y")
    assert "\r" not in result and "\n" not in result


@given(st.binary(max_size=40), st.sampled_from(["utf-8", "koi8-r", "us-ascii", "x-unknown"]))
def test_decode_subject_never_raises_on_any_bytes(data: bytes, charset: str) -> None:
    result = decode_subject(_word(charset, data))
    assert not any(unicodedata.category(c) in ("Cc", "Cs") for c in result)
