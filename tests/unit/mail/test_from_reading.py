"""One reading of From (issues 11 and 21): the addr-spec RFC 5322 and DMARC read,
repaired where a mailer broke it plainly, and no identity where it deceives."""

from __future__ import annotations

import base64

import pytest

from daemon.mail.addresses import (
    ADDRESS_IN_NAME,
    FOLDED_QUOTED_NAME,
    SEVERAL,
    mailbox_key,
    read_from,
)
from daemon.mail.header_decode import decode_subject


def word(text: str) -> str:
    return "=?utf-8?B?" + base64.b64encode(text.encode()).decode() + "?="


@pytest.mark.parametrize(("value", "address", "name", "repaired", "problem"), [
    ("Иван <IVAN@client.example>", "ivan@client.example", "Иван", "", ""),
    ("ivan@client.example", "ivan@client.example", "", "", ""),
    ('"ivan@client.example" <ivan@client.example>', "ivan@client.example",
     "ivan@client.example", "", ""),
    ("O'Brien, \"Pat\" <pat@client.example>", "pat@client.example", "O'Brien, Pat", "", ""),
    ("(Ivan) ivan@client.example", "ivan@client.example", "Ivan", "", ""),
    # what 1C, compat32 scripts and PHP mailers write: the whole From in one word
    (word("Бухгалтерия <buh@romashka.example>"), "buh@romashka.example", "Бухгалтерия",
     "encoded-words", ""),
    ("Petrov Ivan petrov@client.example", "petrov@client.example", "Petrov Ivan",
     "bare-in-name", ""),
    (word("Иван ivan@client.example"), "ivan@client.example", "Иван", "bare-in-name", ""),
    # deception: the angle address is the sender, and it identifies nobody
    ("ivan.petrov@distate.example <attacker@evil.example>", "attacker@evil.example",
     "ivan.petrov@distate.example", "", ADDRESS_IN_NAME),
    (f'"{word("Иван")} ivan.petrov@distate.example" <attacker@evil.example>',
     "attacker@evil.example", None, "", ADDRESS_IN_NAME),
    ('"Anna Ivanova\r\n <a.ivanova@romashka.example>" <attacker@evil.example>',
     "attacker@evil.example", None, "", FOLDED_QUOTED_NAME),
    ("a@b.example, c@d.example", "a@b.example", "", "", SEVERAL),
    # a header smuggled into a folded From names nobody to answer
    ("\r\n Bcc: victim@evil.example", "", None, "", ""),
    ("Cc: victim@evil.example", "", None, "", ""),
    # nothing to read
    ("Scanner", "", "Scanner", "", ""), ("", "", "", "", ""),
    (word("Форма на сайте"), "", "Форма на сайте", "", ""),
    ("<a\u0085b@evil.example>", "", None, "", ""),  # cannot be written back
])
def test_read_from(value: str, address: str, name: str | None, repaired: str,
                   problem: str) -> None:
    r = read_from([value], decode_subject)
    assert (r.address, r.repaired, r.problem) == (address, repaired, problem)
    if name is not None:
        assert decode_subject(r.name) == name
    assert "=?" not in r.address


def test_two_from_headers_are_several() -> None:
    assert read_from(["a@b.example", "c@d.example"], decode_subject).problem == SEVERAL


@pytest.mark.parametrize(("address", "key"), [
    ("Victim+1@Victim.example", "victim@victim.example"), ("victim@victim.example",
                                                           "victim@victim.example"),
    ("+only@x.example", "+only@x.example"), ("a+b+c@x.example", "a@x.example"),
    ("noat", "noat"),
])
def test_mailbox_key_folds_case_and_tags(address: str, key: str) -> None:
    assert mailbox_key(address) == key
