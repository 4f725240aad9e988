"""DSN fields read from bytes that are not UTF-8 (daemon/mail/bounces.py)."""

from __future__ import annotations

import email

from daemon.mail.bounces import bounce_of


def test_a_byte_the_parser_could_not_decode_is_a_replacement_character() -> None:
    raw = (b"From: MAILER-DAEMON@mx.client.example\r\nTo: techsupport@example.ru\r\n"
           b"Subject: Undelivered Mail Returned to Sender\r\n"
           b'Content-Type: multipart/report; report-type=delivery-status; boundary="R"\r\n\r\n'
           b"--R\r\nContent-Type: text/plain\r\n\r\nI'm sorry.\r\n--R\r\n"
           b"Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
           b"Final-Recipient: \xa0rfc822; ivan@client.example\r\nAction: failed\r\n"
           b"Status: 5.1.1\r\n\r\n--R--\r\n")
    info = bounce_of(email.message_from_bytes(raw))
    assert info is not None
    recipient = info.final_recipient or ""
    assert "ivan@client.example" in recipient
    recipient.encode("utf-8")  # what the database does with it: no lone surrogate
