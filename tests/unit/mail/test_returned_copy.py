"""A bounce whose Message-ID leads nowhere still names its ticket: the TID in the
returned copy, and the addresses it failed for."""

from __future__ import annotations

import email

import pytest

from daemon.mail.bounces import bounce_of
from daemon.mail.returned_copy import returned_copy

HEAD = "From: MAILER-DAEMON@mx.romashka.example\nTo: techsupport@example.ru\n"


def copy_of(raw: str, machine: bool = False) -> tuple[int | None, frozenset[str]]:
    message = email.message_from_string(raw)
    info = bounce_of(message, machine=machine)
    assert info is not None
    found = returned_copy(message, info, "SD")
    return found.tid, found.addresses


def test_the_tid_in_the_returned_subject() -> None:
    raw = (HEAD + "Subject: Undelivered Mail Returned to Sender\n"
           "Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n"
           "--b\nContent-Type: text/plain\n\nIt failed.\n"
           "--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx\n\n"
           "Final-Recipient: rfc822; A.Ivanova@romashka.example\nAction: failed\n"
           "Status: 5.1.1\n"
           "--b\nContent-Type: text/rfc822-headers\n\n"
           "From: techsupport@example.ru\nTo: a.ivanova@romashka.example\n"
           "Subject: =?utf-8?b?W1NELTAwMDAxM10g0J7RiNC40LHQutCw?=\n"
           "Message-ID: <rewritten-by-a-gateway@romashka.example>\n"
           "--b--\n")
    tid, addresses = copy_of(raw)
    assert tid == 1
    assert "a.ivanova@romashka.example" in addresses


@pytest.mark.parametrize("body", [
    pytest.param("Your message\n\n  Subject: Re: [SD-000013] Ошибка\n\nwas not delivered to:"
                 "\n\n  a.ivanova@romashka.example\n", id="domino-subject-line"),
    pytest.param("Your message\n\n  To: a.ivanova@romashka.example\n  Subject:\n   [SD-000013]"
                 " Ошибка\n\ndid not reach the following recipient(s):\n", id="folded"),
    pytest.param("Hi. This is the qmail-send program.\n<a.ivanova@romashka.example>:\n"
                 "Sorry.\n--- Below this line is a copy of the message.\n\n"
                 "Номер обращения (TID): SD-000013\n", id="tid-in-the-returned-text"),
    pytest.param("> Subject: =?utf-8?q?=5BSD-000013=5D_Ok?=\n<a.ivanova@romashka.example>\n",
                 id="quoted-encoded-subject"),
])
def test_the_tid_in_a_free_text_bounce(body: str) -> None:
    tid, addresses = copy_of(HEAD + "Subject: failure notice\n\n" + body)
    assert tid == 1
    assert "a.ivanova@romashka.example" in addresses


def test_a_wrong_check_digit_is_no_tid() -> None:
    tid, _ = copy_of(HEAD + "Subject: failure notice\n\nSubject: [SD-000014] x\n"
                     "<a@romashka.example>\n")
    assert tid is None


def test_failed_recipients_header_and_returned_to_are_named() -> None:
    raw = (HEAD + "Subject: Returned mail\nX-Failed-Recipients: b@romashka.example\n"
           "Content-Type: multipart/mixed; boundary=b\n\n"
           "--b\nContent-Type: text/plain\n\nfailed\n"
           "--b\nContent-Type: message/rfc822\n\n"
           "From: techsupport@example.ru\nTo: C@Romashka.example\n"
           "Subject: [SD-000021] Тема\n\nx\n--b--\n")
    tid, addresses = copy_of(raw)
    assert tid == 2
    assert {"b@romashka.example", "c@romashka.example"} <= addresses


def test_a_bounce_known_by_its_words_is_read_without_a_bounce_like_sender() -> None:
    raw = ("From: Notes <notes@romashka.example>\nSubject: Message\n\n"
           "Your message\n\n  Subject: [SD-000013] x\n\nwas not delivered to:\n\n"
           "  a.ivanova@romashka.example\n")
    assert bounce_of(email.message_from_string(raw)) is None
    tid, addresses = copy_of(raw, machine=True)
    assert tid == 1 and "a.ivanova@romashka.example" in addresses
