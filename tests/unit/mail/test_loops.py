"""Never answer robots: auto-replies, lists, bounces and ourselves are recognised;
people are not mistaken for robots; a bounce of our letter tells which letter it was."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage, Message

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daemon.mail.loops import (
    REASONS,
    BounceInfo,
    auto_reply_reason,
    bounce_of,
    is_reply_loop,
    over_hourly_cap,
    reply_pairs,
)

OURS = frozenset({"techsupport@example.ru", "support-alias@example.ru"})

HUMAN = {
    "From": "Иван Петров <ivan@romashka.example>",
    "To": "techsupport@example.ru",
    "Subject": "Не работает вход",
    "Message-ID": "<1@romashka.example>",
    "Content-Type": "text/plain; charset=utf-8",
}


def reason(extra: dict[str, str], envelope: str | None = None) -> str | None:
    headers = {**HUMAN, **extra}
    return auto_reply_reason(headers, envelope, OURS)


# ---------------------------------------------------------------- people


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"Auto-Submitted": "no"},
        {"Auto-Submitted": "No"},
        {"Auto-Submitted": " no (sent by a person) "},
        {"Precedence": "first-class"},
        {"Precedence": "normal"},
        {"X-Autoreply": "no"},
        {"X-Auto-Response-Suppress": "DR, RN, NRN"},  # receipts only: not about replies
        {"X-Loop": "someone-else@example.org"},
        {"X-Priority": "1", "Importance": "high"},
        {"Return-Path": "<ivan@romashka.example>"},
        {"From": "Postmaster Fan <postmaster-fan@romashka.example>"},
        {"From": "techsupport@other.example"},  # our local part, another domain
        {"Content-Type": "multipart/mixed; boundary=x"},
        {"Content-Type": "text/html; charset=utf-8"},
        {"Subject": "Delivery status notification: как узнать статус отправки?"},
        {"List-Id": ""},
        {"Thread-Index": "AdZ...", "X-MS-Has-Attach": "yes", "X-Mailer": "Microsoft Outlook 16.0"},
        {"From": '"Petrov, Ivan" <ivan@romashka.example>'},  # a quoted name, not local part
        {"From": '"System Administrator" <admin@romashka.example>'},  # a person's sysadmin
        {"From": "ivan.microsoftexchange@romashka.example"},
        {"X-MS-Exchange-Inbox-Rules-Loop": ""},
        {"X-MS-Exchange-Organization-SCL": "1"},
    ],
)
def test_a_person_is_answered(extra: dict[str, str]) -> None:
    assert reason(extra) is None


def test_a_person_with_an_envelope_is_answered() -> None:
    assert reason({}, envelope="ivan@romashka.example") is None
    assert reason({}, envelope="<ivan@romashka.example>") is None


# ---------------------------------------------------------------- robots


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"Auto-Submitted": "auto-replied"}, "auto-submitted"),
        ({"Auto-Submitted": "auto-generated"}, "auto-submitted"),
        ({"Auto-Submitted": "auto-notified"}, "auto-submitted"),
        ({"Auto-Submitted": "Auto-Replied (vacation)"}, "auto-submitted"),
        ({"Auto-Submitted": "auto-replied; owner-email=\"x@y\""}, "auto-submitted"),
        ({"Auto-Submitted": "  AUTO-REPLIED  "}, "auto-submitted"),
        ({"Auto-Submitted": "(comment only) auto-generated"}, "auto-submitted"),
        ({"X-Autoreply": "yes"}, "x-autoreply"),
        ({"X-Autoreply": "YES"}, "x-autoreply"),
        ({"X-Autoreply": ""}, "x-autoreply"),
        ({"X-Autorespond": "Out of office"}, "x-autorespond"),
        ({"Precedence": "bulk"}, "precedence-bulk"),
        ({"Precedence": "BULK"}, "precedence-bulk"),
        ({"Precedence": " bulk (newsletter)"}, "precedence-bulk"),
        ({"Precedence": "junk"}, "precedence-junk"),
        ({"Precedence": "list"}, "precedence-list"),
        ({"Precedence": "auto_reply"}, "precedence-auto-reply"),
        ({"List-Id": "Support users <users.lists.example.org>"}, "list-id"),
        ({"List-Unsubscribe": "<mailto:unsubscribe@news.example>"}, "list-unsubscribe"),
        ({"X-Auto-Response-Suppress": "All"}, "x-auto-response-suppress"),
        ({"X-Auto-Response-Suppress": "OOF"}, "x-auto-response-suppress"),
        ({"X-Auto-Response-Suppress": "DR, OOF, AutoReply"}, "x-auto-response-suppress"),
        ({"X-Auto-Response-Suppress": "autoreply"}, "x-auto-response-suppress"),
        ({"Content-Type": "multipart/report; report-type=delivery-status; boundary=x"},
         "delivery-report"),
        ({"Content-Type": "Multipart/Report; boundary=x;\r\n report-type=\"delivery-status\""},
         "delivery-report"),
        ({"Content-Type": "multipart/report; boundary=x"}, "delivery-report"),
        ({"Content-Type": "message/delivery-status"}, "delivery-report"),
        ({"Content-Type": "multipart/report; report-type=feedback-report; boundary=x"},
         "feedback-report"),
        ({"Content-Type": "multipart/report; report-type=disposition-notification; b=x"},
         "read-receipt"),
        ({"From": "MAILER-DAEMON@mx.example.org"}, "mailer-daemon"),
        ({"From": "Mail Delivery System <Mailer-Daemon@mx.example.org>"}, "mailer-daemon"),
        ({"From": "Mail Delivery Subsystem <mailer-daemon@googlemail.com>"}, "mailer-daemon"),
        ({"From": "postmaster@romashka.example"}, "mailer-daemon"),
        ({"From": "MAILER-DAEMON <>"}, "mailer-daemon"),
        ({"From": "<>"}, "mailer-daemon"),
        ({"From": "\"postmaster@\" <broken postmaster@host>"}, "mailer-daemon"),
        ({"Sender": "MAILER-DAEMON@mx.example.org"}, "mailer-daemon"),
        ({"From": "techsupport@example.ru"}, "our-own-address"),
        ({"From": "Техподдержка <TechSupport@Example.RU>"}, "our-own-address"),
        ({"From": "techsupport+ticket13@example.ru"}, "our-own-address"),
        ({"From": "support-alias@example.ru"}, "our-own-address"),
        ({"Sender": "techsupport@example.ru"}, "our-own-address"),
        ({"X-Loop": "techsupport@example.ru"}, "x-loop"),
        ({"X-Loop": "<TECHSUPPORT@example.ru>"}, "x-loop"),
        ({"Return-Path": "<>"}, "null-return-path"),
        ({"Return-Path": "< >"}, "null-return-path"),
        ({"Return-Path": "<MAILER-DAEMON@mx.example.org>"}, "mailer-daemon"),
        ({"From": '"System Administrator"@mail.romashka.example'}, "system-sender"),
        ({"From": '"System Administrator" @mail.romashka.example'}, "system-sender"),
        ({"Sender": '"Mail Admin"@mx.example.org'}, "system-sender"),
        ({"From": "Microsoft Outlook <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e"
                  "@romashka.example>"}, "system-sender"),
        ({"X-MS-Exchange-Inbox-Rules-Loop": "a.ivanova@romashka.example"},
         "exchange-rules-loop"),
        ({"x-ms-exchange-inbox-rules-loop": "ivan@romashka.example"}, "exchange-rules-loop"),
    ],
)
def test_a_robot_is_not_answered(extra: dict[str, str], expected: str) -> None:
    assert expected in REASONS
    assert reason(extra) == expected


@pytest.mark.parametrize(
    ("envelope", "expected"),
    [
        ("", "null-return-path"),
        ("<>", "null-return-path"),
        ("MAILER-DAEMON", "mailer-daemon"),
        ("mailer-daemon@mx.example.org", "mailer-daemon"),
        ("postmaster@mx.example.org", "mailer-daemon"),
        ("techsupport@example.ru", "our-own-address"),
        ("<techsupport@example.ru>", "our-own-address"),
    ],
)
def test_the_envelope_sender_counts(envelope: str, expected: str) -> None:
    assert reason({}, envelope=envelope) == expected


def test_the_envelope_wins_over_return_path() -> None:
    # The SMTP listener knows the envelope; a Return-Path header it received was
    # written by someone else.
    assert reason({"Return-Path": "<>"}, envelope="ivan@romashka.example") is None
    assert reason({"Return-Path": "<ivan@romashka.example>"}, envelope="") == "null-return-path"


def test_without_an_envelope_the_topmost_return_path_counts() -> None:
    message = _message(HUMAN)
    message["Return-Path"] = "<ivan@romashka.example>"
    message["Return-Path"] = "<>"
    assert auto_reply_reason(message, None, OURS) is None
    message = _message(HUMAN)
    message["Return-Path"] = "<>"
    message["Return-Path"] = "<ivan@romashka.example>"
    assert auto_reply_reason(message, None, OURS) == "null-return-path"


def test_strongest_evidence_is_reported_first() -> None:
    # An Exchange out-of-office reply carries several signals.
    assert reason({"Auto-Submitted": "auto-replied", "X-Auto-Response-Suppress": "All",
                   "Precedence": "bulk"}) == "auto-submitted"
    ours = "techsupport@example.ru"
    assert reason({"From": ours, "X-Loop": ours}) == "x-loop"
    assert reason({"Auto-Submitted": "auto-replied"}, envelope="") == "null-return-path"


def test_our_addresses_may_be_given_in_any_form() -> None:
    headers = dict(HUMAN, From="techsupport@example.ru")
    named = ["Support <TechSupport@example.ru>"]
    assert auto_reply_reason(headers, None, named) == "our-own-address"
    assert auto_reply_reason(headers, None, []) is None


def test_header_values_may_be_lists() -> None:
    headers: dict[str, object] = dict(HUMAN)
    headers["Auto-Submitted"] = ["no", "auto-replied"]
    assert auto_reply_reason(headers, None, OURS) == "auto-submitted"


# ---------------------------------------------------------------- real-looking robots


YANDEX_VACATION = """\
Return-Path: <ivan@yandex.example>
From: =?utf-8?B?0JjQstCw0L0=?= <ivan@yandex.example>
To: techsupport@example.ru
Subject: =?utf-8?B?0J7RgtCy0LXRgjog0KPRiNC10Lsg0LIg0L7RgtC/0YPRgdC6?=
Auto-Submitted: auto-replied
Message-Id: <123@yandex.example>
Content-Type: text/plain; charset=utf-8

Я в отпуске до 1 декабря.
""".encode()

EXCHANGE_OOF = b"""\
From: Petrov Ivan <i.petrov@corp.example>
To: Techsupport <techsupport@example.ru>
Subject: Automatic reply: [SD-000013] Problem
Thread-Topic: [SD-000013] Problem
Auto-Submitted: auto-generated
X-Auto-Response-Suppress: All
X-MS-Exchange-Inbox-Rules-Loop: i.petrov@corp.example
Content-Type: text/plain; charset="us-ascii"

I am out of office.
"""

MAILMAN_POST = b"""\
From: Someone <someone@example.org>
To: users@lists.example.org
Subject: [users] Question
List-Id: Users of Product <users.lists.example.org>
List-Unsubscribe: <mailto:users-leave@lists.example.org>
Precedence: list
Content-Type: text/plain

Hi all
"""

NEWSLETTER = b"""\
From: Shop <news@shop.example>
To: techsupport@example.ru
Subject: Black Friday!
List-Unsubscribe: <https://shop.example/u?x=1>, <mailto:u@shop.example>
List-Unsubscribe-Post: List-Unsubscribe=One-Click
Content-Type: text/html

<p>Sale</p>
"""

OUTLOOK_HUMAN = b"""\
From: =?koi8-r?B?6dfBzg==?= <ivan@romashka.example>
To: "techsupport@example.ru" <techsupport@example.ru>
Subject: RE: [SD-000013] Problem
Thread-Index: AdZsomething
X-MS-Has-Attach:
X-MS-TNEF-Correlator:
Content-Language: ru-RU
Content-Type: text/plain; charset="koi8-r"

Thanks
"""


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (YANDEX_VACATION, "auto-submitted"),
        (EXCHANGE_OOF, "auto-submitted"),
        (MAILMAN_POST, "precedence-list"),
        (NEWSLETTER, "list-unsubscribe"),
        (OUTLOOK_HUMAN, None),
    ],
)
@pytest.mark.parametrize("policy", [email.policy.compat32, email.policy.default])
def test_real_looking_letters(
    raw: bytes, expected: str | None, policy: email.policy.Policy
) -> None:
    message = email.message_from_bytes(raw.replace(b"\n", b"\r\n"), policy=policy)
    assert auto_reply_reason(message, None, OURS) == expected


def _message(headers: dict[str, str]) -> Message:
    message = Message()
    for name, value in headers.items():
        message[name] = value
    return message


_ROBOT_HEADERS = st.sampled_from([
    ("Auto-Submitted", "auto-replied"),
    ("X-Autoreply", "yes"),
    ("Precedence", "bulk"),
    ("List-Id", "<x.example>"),
    ("X-Auto-Response-Suppress", "OOF"),
    ("From", "MAILER-DAEMON@x.example"),
    ("X-Loop", "techsupport@example.ru"),
    ("Content-Type", "multipart/report; report-type=delivery-status"),
])


def _any_case(name: str, flips: list[bool]) -> str:
    return "".join(c.upper() if flip else c.lower() for c, flip in zip(name, flips, strict=False))


@given(st.lists(_ROBOT_HEADERS, max_size=4, unique=True), st.lists(st.booleans(), min_size=30,
                                                                     max_size=30))
def test_header_names_are_case_insensitive_and_sources_agree(
    robot: list[tuple[str, str]], flips: list[bool]
) -> None:
    headers = dict(HUMAN)
    headers.update(robot)
    expected = auto_reply_reason(headers, None, OURS)
    assert (expected is None) == (not robot)
    recased = {_any_case(name, flips): value for name, value in headers.items()}
    assert auto_reply_reason(recased, None, OURS) == expected
    assert auto_reply_reason(_message(recased), None, OURS) == expected
    parsed = email.message_from_bytes(_message(recased).as_bytes(), policy=email.policy.default)
    assert auto_reply_reason(parsed, None, OURS) == expected


@given(st.dictionaries(st.text(min_size=1, max_size=20), st.text(max_size=50), max_size=8),
       st.one_of(st.none(), st.text(max_size=30)))
def test_never_raises_on_junk(headers: dict[str, str], envelope: str | None) -> None:
    result = auto_reply_reason(headers, envelope, OURS)
    assert result is None or result in REASONS


# ---------------------------------------------------------------- bounces

POSTFIX_DSN = b"""\
Return-Path: <>
From: MAILER-DAEMON@mx.client.example (Mail Delivery System)
To: techsupport@example.ru
Subject: Undelivered Mail Returned to Sender
Auto-Submitted: auto-replied
Message-Id: <20261124153000.ABC@mx.client.example>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="B1"

--B1
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

--B1
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.client.example
X-Postfix-Queue-ID: ABC
Original-Envelope-Id: ack-13-1
Arrival-Date: Tue, 24 Nov 2026 15:30:00 +0300 (MSK)

Final-Recipient: rfc822; nobody@client.example
Original-Recipient: rfc822;Nobody@client.example
Action: failed
Status: 5.1.1
Remote-MTA: dns; mx2.client.example
Diagnostic-Code: smtp; 550 5.1.1 <nobody@client.example>: Recipient address
    rejected: User unknown in local recipient table

--B1
Content-Description: Undelivered Message
Content-Type: message/rfc822

From: techsupport@example.ru
To: nobody@client.example
Subject: =?utf-8?b?W1NELTAwMDAxM10g0JLQsNGI0LAg0LfQsNGP0LLQutCw?=
Message-ID: <ack.13.1@example.ru>
Auto-Submitted: auto-replied

Body of our acknowledgement.

--B1--
"""


def _parse(raw: bytes, policy: email.policy.Policy = email.policy.compat32) -> Message:
    return email.message_from_bytes(raw.replace(b"\n", b"\r\n"), policy=policy)


@pytest.mark.parametrize("policy", [email.policy.compat32, email.policy.default])
def test_bounce_of_a_postfix_dsn(policy: email.policy.Policy) -> None:
    message = _parse(POSTFIX_DSN, policy)
    assert auto_reply_reason(message, "", OURS) == "null-return-path"
    info = bounce_of(message)
    assert info is not None
    assert info.kind == "dsn"
    assert info.original_message_id == "<ack.13.1@example.ru>"
    assert info.original_subject == "[SD-000013] Ваша заявка"
    assert info.original_envelope_id == "ack-13-1"
    assert info.reporting_mta == "mx.client.example"
    assert info.final_recipient == "nobody@client.example"
    assert info.status == "5.1.1"
    assert info.action == "failed"
    assert info.failed
    assert info.diagnostic.startswith(
        "550 5.1.1 <nobody@client.example>: Recipient address rejected")
    assert "\n" not in info.diagnostic
    [recipient] = info.recipients
    assert recipient.original_recipient == "Nobody@client.example"


def test_bounce_with_headers_only_and_several_recipients() -> None:
    raw = POSTFIX_DSN.replace(
        b"Content-Type: message/rfc822", b"Content-Type: text/rfc822-headers"
    ).replace(
        b"Action: failed\nStatus: 5.1.1\n",
        b"Action: failed\nStatus: 5.1.1\n\nFinal-Recipient: rfc822; late@client.example\n"
        b"Action: delayed\nStatus: 4.4.1\n",
    )
    info = bounce_of(_parse(raw))
    assert info is not None
    assert info.original_message_id == "<ack.13.1@example.ru>"
    assert [r.final_recipient for r in info.recipients] == [
        "nobody@client.example", "late@client.example"]
    assert [r.action for r in info.recipients] == ["failed", "delayed"]
    assert info.final_recipient == "nobody@client.example"


def test_a_delay_warning_is_not_a_failure() -> None:
    raw = POSTFIX_DSN.replace(b"Action: failed\nStatus: 5.1.1", b"Action: delayed\nStatus: 4.4.1")
    info = bounce_of(_parse(raw))
    assert info is not None
    assert info.action == "delayed" and info.status == "4.4.1"
    assert not info.failed


def test_the_failed_recipient_is_the_primary_one() -> None:
    raw = POSTFIX_DSN.replace(
        b"Final-Recipient: rfc822; nobody@client.example\nOriginal-Recipient: "
        b"rfc822;Nobody@client.example\nAction: failed",
        b"Final-Recipient: rfc822; ok@client.example\nAction: delivered\nStatus: 2.0.0\n\n"
        b"Final-Recipient: rfc822; nobody@client.example\nAction: failed",
    )
    info = bounce_of(_parse(raw))
    assert info is not None
    assert info.final_recipient == "nobody@client.example"
    assert info.failed


def test_bounce_built_with_the_stdlib() -> None:
    # A DSN assembled part by part, the status part left as text.
    report = EmailMessage()
    report["From"] = "Mail Delivery Subsystem <mailer-daemon@googlemail.com>"
    report["Subject"] = "Delivery Status Notification (Failure)"
    report.set_content("Address not found")
    report.make_mixed()
    report.replace_header("Content-Type", "multipart/report; report-type=delivery-status")
    status = Message()
    status["Content-Type"] = "message/global-delivery-status"
    status.set_payload(
        "Reporting-MTA: dns; googlemail.com\n\n"
        "Final-Recipient: rfc822; нет@клиент.example\nAction: failed\n"
        "Status: 5.1.1 (bad destination mailbox address)\n"
    )
    report.attach(status)  # type: ignore[arg-type]
    headers = Message()
    headers["Content-Type"] = "text/rfc822-headers"
    headers.set_payload("Message-ID: <ack.13.2@example.ru>\nSubject: [SD-000013] x\n")
    report.attach(headers)  # type: ignore[arg-type]
    info = bounce_of(report)
    assert info is not None
    assert info.original_message_id == "<ack.13.2@example.ru>"
    assert info.final_recipient == "нет@клиент.example"
    assert info.status == "5.1.1"


QMAIL_BOUNCE = b"""\
Return-Path: <>
From: MAILER-DAEMON@mail.client.example
To: techsupport@example.ru
Subject: failure notice
Message-ID: <own.bounce.id@mail.client.example>

Hi. This is the qmail-send program at mail.client.example.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<nobody@client.example>:
Sorry, no mailbox here by that name. (#5.1.1)

--- Below this line is a copy of the message.

Return-Path: <techsupport@example.ru>
From: techsupport@example.ru
To: nobody@client.example
Subject: [SD-000013] Your request
Message-ID: <ack.13.3@example.ru>

Body.
"""

EXIM_BOUNCE = b"""\
From: Mail Delivery System <Mailer-Daemon@mx.client.example>
To: techsupport@example.ru
Subject: Mail delivery failed: returning message to sender
X-Failed-Recipients: nobody@client.example
Auto-Submitted: auto-replied
Message-Id: <E1x@mx.client.example>

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  nobody@client.example
    550 5.1.1 User unknown

------ This is a copy of the message, including all the headers. ------

From: techsupport@example.ru
Message-ID: <ack.13.4@example.ru>
Subject: [SD-000013] x
"""

EXCHANGE_NDR_TEXT = b"""\
From: postmaster@corp.example
To: techsupport@example.ru
Subject: Undeliverable: [SD-000013] x
Content-Type: text/plain

Delivery has failed to these recipients or groups:
nobody@corp.example
Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound'

Original message headers:

Received: from mx.example.ru
Message-ID: <ack.13.5@example.ru>
Subject: [SD-000013] x
"""


@pytest.mark.parametrize(
    ("raw", "message_id", "recipient", "status"),
    [
        (QMAIL_BOUNCE, "<ack.13.3@example.ru>", None, "5.1.1"),
        (EXIM_BOUNCE, "<ack.13.4@example.ru>", "nobody@client.example", "5.1.1"),
        (EXCHANGE_NDR_TEXT, "<ack.13.5@example.ru>", None, "5.1.10"),
    ],
)
def test_free_text_bounces(raw: bytes, message_id: str, recipient: str | None, status: str) -> None:
    message = _parse(raw)
    assert auto_reply_reason(message, None, OURS) is not None
    info = bounce_of(message)
    assert info is not None
    assert info.kind == "text"
    assert info.original_message_id == message_id
    assert info.final_recipient == recipient
    assert info.status == status
    assert info.failed


def test_a_free_text_delay_warning() -> None:
    raw = EXIM_BOUNCE.replace(b"Mail delivery failed: returning message to sender",
                              b"Warning: message 1x delayed 24 hours")
    info = bounce_of(_parse(raw))
    assert info is not None
    assert not info.failed


@pytest.mark.parametrize(
    "raw",
    [
        OUTLOOK_HUMAN,
        YANDEX_VACATION,
        EXCHANGE_OOF,
        NEWSLETTER,
        # A person asking about delivery is not a bounce.
        b"From: ivan@romashka.example\nSubject: Undelivered mail from you?\n\nHello",
        # A read receipt and an abuse report are reports, not bounces.
        b"From: ivan@romashka.example\nContent-Type: multipart/report; "
        b"report-type=disposition-notification; boundary=b\n\n--b\nContent-Type: "
        b"message/disposition-notification\n\nOriginal-Message-ID: <ack.13.1@example.ru>\n"
        b"Disposition: manual-action/MDN-sent-manually; displayed\n\n--b--\n",
        b"From: abuse@mail.example\nContent-Type: multipart/report; "
        b"report-type=feedback-report; boundary=b\n\n--b\nContent-Type: "
        b"message/feedback-report\n\nFeedback-Type: abuse\n\n--b--\n",
    ],
)
def test_not_a_bounce(raw: bytes) -> None:
    assert bounce_of(_parse(raw)) is None


def test_a_bounce_that_returns_nothing() -> None:
    raw = (b"From: MAILER-DAEMON@mx.example\nSubject: Undelivered Mail\n"
           b"Message-ID: <own@mx.example>\n\nGone.\n")
    info = bounce_of(_parse(raw))
    assert info == BounceInfo(original_message_id=None, kind="text")
    assert info.final_recipient is None and info.status == "" and info.diagnostic == ""
    assert info.failed


@pytest.mark.parametrize(
    "raw",
    [
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n"
        b"--b\nContent-Type: message/delivery-status\n\n\n\n--b--\n",
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n"
        b"--b\nContent-Type: message/delivery-status\nContent-Transfer-Encoding: base64\n\n"
        b"!!!\n--b\nContent-Type: message/rfc822\n\n--b--\n",
        b"Content-Type: multipart/report; report-type=delivery-status\n\nno parts at all",
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n"
        b"--b\nContent-Type: message/delivery-status\n\nFinal-Recipient: \x00\xff\nStatus: \n",
        b"From: <>\nContent-Type: text/plain; charset=x-nonexistent\n\nMessage-ID: <a@b>\n",
    ],
)
def test_broken_reports_do_not_raise(raw: bytes) -> None:
    info = bounce_of(_parse(raw))
    assert info is None or isinstance(info, BounceInfo)


@given(st.binary(max_size=400))
def test_bounce_of_never_raises(raw: bytes) -> None:
    bounce_of(email.message_from_bytes(b"Content-Type: multipart/report; "
                                       b"report-type=delivery-status; boundary=b\n\n--b\n"
                                       + raw))


# ---------------------------------------------------------------- the hourly cap

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("minutes_ago", "cap", "over"),
    [
        ([], 3, False),
        ([1, 2], 3, False),
        ([1, 2, 3], 3, True),
        ([1, 2, 59], 3, True),
        ([1, 2, 60], 3, False),  # exactly an hour ago is outside the hour
        ([1, 2, 61, 120, 600], 3, False),
        ([-5, 1, 2], 3, True),  # stamped in the future (clock stepped back) still counts
        ([1], 1, True),
        ([], 0, True),  # a cap of 0 allows nothing
        ([], -1, True),
    ],
)
def test_over_hourly_cap(minutes_ago: list[int], cap: int, over: bool) -> None:
    times = [NOW - timedelta(minutes=m) for m in minutes_ago]
    assert over_hourly_cap(times, NOW, cap) is over


_times = st.lists(st.integers(min_value=-600, max_value=10_000), max_size=30).map(
    lambda seconds: [NOW - timedelta(seconds=s) for s in seconds]
)


@given(_times, st.integers(min_value=1, max_value=40))
def test_over_hourly_cap_counts_the_last_hour(times: list[datetime], cap: int) -> None:
    recent = [t for t in times if NOW - t < timedelta(hours=1)]
    assert over_hourly_cap(times, NOW, cap) == (len(recent) >= cap)


@given(_times, st.integers(min_value=1, max_value=40), st.integers(min_value=0, max_value=3600))
def test_sending_more_never_lifts_the_cap(times: list[datetime], cap: int, ago: int) -> None:
    if over_hourly_cap(times, NOW, cap):
        assert over_hourly_cap([*times, NOW - timedelta(seconds=ago)], NOW, cap)
        assert over_hourly_cap(times, NOW, cap - 1)


# ---------------------------------------------------------------- reply loops

T0 = datetime(2026, 11, 10, 8, 25, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def exchange(gaps: list[float | None], spacing: float = 600) -> list[tuple[datetime,
                                                                             datetime | None]]:
    """Our letters `spacing` s apart, each answered after its gap (None: not answered)."""
    ours = [at(i * spacing) for i in range(len(gaps))]
    theirs = [at(i * spacing + g) for i, g in enumerate(gaps) if g is not None]
    return reply_pairs(ours, theirs)


@pytest.mark.parametrize(("gaps", "loop"), [
    ([5, 5, 5, 5, 5], True),
    ([60, 60, 60, 60, 60], True),  # "within a minute" includes the minute
    ([3, 3, 3, 3, 3, 3, 3], True),
    ([600 - 1, 5, 5, 5, 5, 5], True),  # the last five count
    ([5, 5, 5, 5], False),  # four times is not five
    ([5, 5, 61, 5, 5], False),
    ([5, 5, None, 5, 5], False),  # one letter of ours not answered at all
    ([5, 5, 5, 5, 5, None], False),  # the last one not answered (yet)
    ([5, 5, 5, 5, 300], False),
    ([], False),
])
def test_a_reply_loop_is_five_answers_within_a_minute(gaps: list[float | None],
                                                      loop: bool) -> None:
    assert is_reply_loop(exchange(gaps)) is loop


def test_an_answer_belongs_to_the_letter_it_follows() -> None:
    # Each answer came the moment our next letter (its acknowledgement) was written.
    ours = [at(0), at(10), at(20)]
    theirs = [at(10), at(20), at(30)]
    assert reply_pairs(ours, theirs) == [(at(0), at(10)), (at(10), at(20)), (at(20), at(30))]
    # An answer before our letter, or two answers to one, count once, for the right one.
    assert reply_pairs([at(10), at(100)], [at(5), at(20), at(30), at(110)]) == \
        [(at(10), at(20)), (at(100), at(110))]
    assert reply_pairs([at(100), at(0)], [at(120), at(30)]) == \
        [(at(0), at(30)), (at(100), at(120))]


def test_runs_and_window_may_be_given() -> None:
    pairs = exchange([5, 5, 5])
    assert is_reply_loop(pairs, runs=3)
    assert not is_reply_loop(pairs, runs=3, within=timedelta(seconds=4))
    assert not is_reply_loop(pairs, runs=0)


@given(st.lists(st.one_of(st.none(), st.integers(0, 200)), max_size=12))
def test_a_reply_loop_needs_every_one_of_the_last_five(gaps: list[int | None]) -> None:
    quick = [g is not None and 0 < g <= 60 for g in gaps]
    assert is_reply_loop(exchange(list(gaps))) is (len(gaps) >= 5 and all(quick[-5:]))
