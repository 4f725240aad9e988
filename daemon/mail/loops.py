"""Never answer robots (SPEC "Loops and abuse", "Life of a letter" step 2).

Two automatic systems that answer each other's letters can exchange thousands of them
in an hour: our acknowledgement to a vacation responder, its reply to our
acknowledgement, and so on. So before we answer anything we ask `auto_reply_reason`
whether a person wrote it, reading the signals RFC 3834 and two decades of mail
software left in the headers; a bounce of one of our letters is taken apart by
`bounce_of` (in `daemon.mail.bounces`, re-exported here) so that the pipeline can record it
on its ticket; and `over_hourly_cap` is the last fuse should a robot slip through
anyway; `reply_pairs` and `is_reply_loop` tell a sender that answers each of our
letters on a ticket within a minute, time after time: a robot in a loop with us,
whatever its headers say. All pure: values in, values out.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime, timedelta

from daemon.mail.bounces import (
    _DAEMON_LOCALPARTS,
    BounceInfo,
    BounceRecipient,
    HeaderSource,
    _address_key,
    _addresses,
    _header_pairs,
    _is_null_path,
    _localpart,
    _strip_comments,
    _token,
    _unfold,
    _values,
    bounce_of,
)

__all__ = [
    "REASONS",
    "BounceInfo",
    "BounceRecipient",
    "auto_reply_reason",
    "bounce_of",
    "is_reply_loop",
    "over_hourly_cap",
    "reply_pairs",
]

# Every string `auto_reply_reason` may return, strongest evidence first: the order in
# which they are checked, so a letter with several signals reports the first.
REASONS = (
    "x-loop",  # X-Loop names our address: a letter we sent came back round
    "our-own-address",  # From, Sender or the envelope sender is one of our addresses
    "null-return-path",  # MAIL FROM:<> / Return-Path: <>: bounces and reports (RFC 5321)
    "mailer-daemon",  # from MAILER-DAEMON or postmaster
    "system-sender",  # "System Administrator"@host, MicrosoftExchange<hex>@host: NDRs
    "delivery-report",  # multipart/report, delivery status (RFC 3464) or unknown type
    "feedback-report",  # multipart/report; report-type=feedback-report (ARF, RFC 5965)
    "read-receipt",  # multipart/report; report-type=disposition-notification (RFC 8098)
    "auto-submitted",  # Auto-Submitted other than "no" (RFC 3834)
    "x-autoreply",  # X-Autoreply (Yandex, Mail.ru, many vacation scripts)
    "x-autorespond",  # X-Autorespond
    "exchange-rules-loop",  # X-MS-Exchange-Inbox-Rules-Loop: an Exchange inbox rule sent it
    "precedence-bulk",  # Precedence: bulk (mass mail)
    "precedence-junk",  # Precedence: junk
    "precedence-list",  # Precedence: list (mailing lists)
    "precedence-auto-reply",  # Precedence: auto_reply (old vacation programs)
    "list-id",  # List-Id: a mailing list (RFC 2919)
    "list-unsubscribe",  # List-Unsubscribe without List-Id: newsletters, marketing
    "x-auto-response-suppress",  # the sender asks not to be auto-answered (Outlook)
)

_PRECEDENCE = {"bulk": "bulk", "junk": "junk", "list": "list", "auto_reply": "auto-reply",
               "auto-reply": "auto-reply"}
_NEGATIVE = frozenset({"no", "false", "0", "off"})
# Outlook's X-Auto-Response-Suppress tokens that mean "no out-of-office, no auto-reply"
# (MS-OXCMAIL 2.2.3.2.14); DR/NDR/RN/NRN only concern receipts and reports.
_SUPPRESS_TOKENS = frozenset({"all", "oof", "autoreply"})


# ---------------------------------------------------------------- the robot check


def auto_reply_reason(
    headers: HeaderSource,
    envelope_from: str | None,
    our_addresses: Collection[str],
) -> str | None:
    """Why this letter must not be answered automatically, or None for a person.

    `headers` is a stdlib Message or a mapping of header names (any case) to values.
    `envelope_from` is the SMTP reverse-path: ``""`` or ``"<>"`` is the null sender
    of bounces, None means the source does not know it (IMAP, a pipe without it),
    and then the Return-Path header stands in. `our_addresses` are the support
    address and its aliases. The reasons are `REASONS`, checked in that order.

    List-Unsubscribe on its own counts as list mail: a person writing to support
    never sends it, newsletters and marketing systems always do. X-Auto-Response-
    Suppress does not prove a robot wrote the letter, but its sender asks not to be
    auto-answered, and automatic systems (ticket trackers, Exchange itself on its
    out-of-office replies) are who send it.
    """
    pairs = _header_pairs(headers)
    ours = {_address_key(a) for a in _addresses(our_addresses)}

    for reason, found in _checks(pairs, envelope_from, ours):
        if found:
            return reason
    return None


def _checks(
    pairs: list[tuple[str, str]], envelope_from: str | None, ours: set[str]
) -> Iterable[tuple[str, bool]]:
    """(reason, verdict) in the order of `REASONS`, computed lazily."""
    senders = _addresses(_values(pairs, "from") + _values(pairs, "sender"))
    reverse_path = envelope_from
    if reverse_path is None:
        return_paths = _values(pairs, "return-path")
        # The topmost Return-Path is the one the final delivery agent wrote.
        reverse_path = return_paths[0] if return_paths else None
    envelope = [] if reverse_path is None else _addresses([reverse_path])

    yield "x-loop", any(_address_key(a) in ours for a in _addresses(_values(pairs, "x-loop")))
    yield "our-own-address", any(_address_key(a) in ours for a in senders + envelope)
    yield "null-return-path", reverse_path is not None and _is_null_path(reverse_path)
    yield "mailer-daemon", (
        any(_localpart(a) in _DAEMON_LOCALPARTS for a in senders + envelope)
        or _daemon_named(_values(pairs, "from") + _values(pairs, "sender"))
    )
    yield "system-sender", _system_mailbox(_values(pairs, "from") + _values(pairs, "sender"))
    report = _report_reason(_values(pairs, "content-type"))
    yield "delivery-report", report == "delivery-report"
    yield "feedback-report", report == "feedback-report"
    yield "read-receipt", report == "read-receipt"
    yield "auto-submitted", any(_token(v) != "no" for v in _values(pairs, "auto-submitted"))
    yield "x-autoreply", _flag_set(_values(pairs, "x-autoreply"))
    yield "x-autorespond", _flag_set(_values(pairs, "x-autorespond"))
    yield "exchange-rules-loop", any(
        v.strip() for v in _values(pairs, "x-ms-exchange-inbox-rules-loop"))
    precedence = {_PRECEDENCE.get(_token(v), "") for v in _values(pairs, "precedence")}
    for kind in ("bulk", "junk", "list", "auto-reply"):
        yield f"precedence-{kind}", kind in precedence
    yield "list-id", any(v.strip() for v in _values(pairs, "list-id"))
    yield "list-unsubscribe", any(v.strip() for v in _values(pairs, "list-unsubscribe"))
    yield "x-auto-response-suppress", any(
        _SUPPRESS_TOKENS & set(re.split(r"[\s,;]+", _strip_comments(v).lower()))
        for v in _values(pairs, "x-auto-response-suppress")
    )


_DAEMON_IN_TEXT = re.compile(
    r"(?<![\w.+-])(?:mailer[-_]?daemon|postmaster)(?:@|\s*$)|<\s*>", re.IGNORECASE
)


def _daemon_named(values: list[str]) -> bool:
    """From headers too broken for the address parser: ``MAILER-DAEMON <>``,
    ``"postmaster@" <junk postmaster@host>``, a bare ``<>``."""
    return any(_DAEMON_IN_TEXT.search(_strip_comments(v).replace('"', " ")) for v in values)


# A quoted local part with a space in it ("System Administrator"@host: Exchange's
# non-delivery reports) or Exchange's system mailbox, MicrosoftExchange and 32 hex
# digits. No person's address looks like either.
_SYSTEM_MAILBOX = re.compile(
    r'"[^"@]*\s[^"@]*"\s*@|(?<![\w.+-])microsoftexchange[0-9a-f]{32}@', re.IGNORECASE)


def _system_mailbox(values: list[str]) -> bool:
    return any(_SYSTEM_MAILBOX.search(_unfold(v)) for v in values)


def _flag_set(values: list[str]) -> bool:
    """X-Autoreply style headers: present means yes, unless they say no outright."""
    return any(_token(v) not in _NEGATIVE for v in values)


def _report_reason(content_types: list[str]) -> str | None:
    """The reason a top-level Content-Type gives, for the report kinds of RFC 6522."""
    if not content_types:
        return None
    value = _strip_comments(content_types[0])
    media = _token(value)
    if media in ("message/delivery-status", "message/global-delivery-status"):
        return "delivery-report"
    if media != "multipart/report":
        return None
    match = re.search(r"""report-type\s*=\s*"?\s*([\w.-]+)""", value, re.IGNORECASE)
    report_type = match[1].lower() if match else ""
    if report_type == "feedback-report":
        return "feedback-report"
    if report_type == "disposition-notification":
        return "read-receipt"
    return "delivery-report"  # delivery-status, or a report we do not know: a machine's


# ---------------------------------------------------------------- the hourly fuse


def over_hourly_cap(sent_times: Sequence[datetime], now: datetime, cap: int) -> bool:
    """True when `cap` automatic letters already went to an address in the last hour.

    Then one more would break the limit, so the caller must not send it. The hour is
    the hour up to `now`; letters stamped after `now` (a clock stepped back) count too,
    because a fuse should fail towards silence. A cap of 0 or less allows nothing.
    All datetimes must be alike: all aware (best, UTC) or all naive.
    """
    if cap <= 0:
        return True
    since = now - timedelta(hours=1)
    recent = 0
    for at in sent_times:
        if at > since:
            recent += 1
            if recent >= cap:
                return True
    return False


# ---------------------------------------------------------------- reply loops

LOOP_RUNS = 5  # answers in a row
LOOP_WITHIN = timedelta(minutes=1)  # each this soon after our letter


def reply_pairs(ours: Sequence[datetime], theirs: Sequence[datetime]
                ) -> list[tuple[datetime, datetime | None]]:
    """Each of our letters (when it left) with the sender's answer to it, or None.

    The answer to our letter is the sender's first letter after it and no later than
    our next letter: an answer that came at the very moment of our next letter (which
    answered it) is still the earlier letter's. Both sequences may come in any order.
    """
    ours_sorted, theirs_sorted = sorted(ours), sorted(theirs)
    pairs: list[tuple[datetime, datetime | None]] = []
    for i, sent in enumerate(ours_sorted):
        until = ours_sorted[i + 1] if i + 1 < len(ours_sorted) else None
        answer = next((r for r in theirs_sorted
                       if r > sent and (until is None or r <= until)), None)
        pairs.append((sent, answer))
    return pairs


def is_reply_loop(pairs: Sequence[tuple[datetime, datetime | None]], runs: int = LOOP_RUNS,
                  within: timedelta = LOOP_WITHIN) -> bool:
    """True when the last `runs` of our letters were each answered within `within`.

    `pairs` are (our letter, their answer or None), oldest first, as `reply_pairs`
    makes them. A person answers an acknowledgement once, perhaps twice, and not within
    a minute each time; a robot that strips every auto-reply header answers each one
    at once. Fewer than `runs` letters of ours are never a loop.
    """
    if runs <= 0 or len(pairs) < runs:
        return False
    return all(answer is not None and timedelta(0) < answer - sent <= within
               for sent, answer in pairs[-runs:])
