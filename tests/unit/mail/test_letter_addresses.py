"""Address headers with raw 8-bit bytes (RFC 6532, or a legacy MUA's charset).

The stdlib (compat32) gives such a value as a `Header` whose `str()` has U+FFFD for
every byte: the address itself was lost, the ticket's requester and the
acknowledgement's recipient were garbage. `letter.parse` decodes them first.
"""

from __future__ import annotations

import pytest

from daemon.mail.letter import parse


def letter(*headers: str) -> bytes:
    head = "\r\n".join([*headers, "To: techsupport@example.ru", "Subject: test",
                        "Message-ID: <a1@client.example>"])
    return (head + "\r\n\r\nЗдравствуйте!\r\n").encode("utf-8")


def test_utf8_addresses_come_out_as_written() -> None:
    p = parse(letter("From: Пётр Смирнов <Пётр.Смирнов@почта.рф>",
                     "Cc: Бухгалтерия <бух@почта.рф>, it@romashka.example",
                     "Reply-To: <ответы@почта.рф>"))
    assert (p.from_name, p.from_addr) == ("Пётр Смирнов", "пётр.смирнов@почта.рф")
    assert p.cc == ["бух@почта.рф", "it@romashka.example"]
    assert p.reply_to == "ответы@почта.рф"


def test_an_encoded_display_name_beside_a_utf8_address() -> None:
    p = parse(letter("From: =?UTF-8?B?0J/RkdGC0YA=?= <пётр@почта.рф>"))
    assert (p.from_name, p.from_addr) == ("Пётр", "пётр@почта.рф")


def test_a_legacy_charset_in_a_display_name_keeps_the_ascii_address() -> None:
    raw = letter("From: X <ivan@client.example>").replace(
        b"From: X", "From: Иван Петров".encode("cp1251"))
    p = parse(raw)
    assert (p.from_name, p.from_addr) == ("Иван Петров", "ivan@client.example")


@pytest.mark.parametrize("value", [
    "From: <\ufffd\ufffd@client.example>",  # lost before it reached us
    "From: <" + "я" * 120 + "@почта.рф>",  # 254 characters but 375 octets: too long
    "From: <a\u0085b@evil.example>",  # a Unicode line break: a space on the way out
    "From: <a\u2028b@почта.рф>",
    "From: <a\u00a0b@почта.рф>",
])
def test_an_address_that_cannot_be_written_back_is_none(value: str) -> None:
    assert parse(letter(value)).from_addr == ""
