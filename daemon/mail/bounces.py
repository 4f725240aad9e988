"""Reading bounces: what a delivery failure report says about the letter it returns.

When a letter of ours cannot be delivered, the remote mail system sends back a report:
a standard delivery status notification (RFC 3464: multipart/report with a
message/delivery-status part and the returned letter or its headers), or one of the
older free-text bounces that qmail, Domino and some Exim set-ups still write.
`bounce_of` takes either apart into a `BounceInfo` - the Message-ID of our letter, the
failed recipients with their status codes and the remote server's words - so that the
pipeline can record the bounce on its ticket. It never raises. The lenient header
access at the top (raw header pairs, comments, addresses, the null reverse-path) is
shared with the robot check in `daemon.mail.loops`. All pure: values in, values out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email.message import Message
from email.parser import HeaderParser
from email.utils import getaddresses
from typing import TypeAlias

from daemon.mail.header_decode import decode_subject

__all__ = [
    "BounceInfo",
    "BounceRecipient",
    "bounce_of",
]

HeaderSource: TypeAlias = Mapping[str, object] | Message

_DAEMON_LOCALPARTS = frozenset({"mailer-daemon", "mailer_daemon", "mailerdaemon", "postmaster"})


# ---------------------------------------------------------------- header access
# Shared with the robot check in daemon/mail/loops.py, which imports them from here.


def _header_pairs(headers: HeaderSource) -> list[tuple[str, str]]:
    """(lower-case name, value) pairs from a Message or a mapping.

    For a Message we take the raw values: the policy's header parser can choke on
    malformed headers, and a robot check must not fail on exactly the letters that
    are most likely robots. Mapping values may be lists (several headers of a name).
    """
    items: Iterable[tuple[str, object]]
    items = headers.raw_items() if isinstance(headers, Message) else headers.items()
    pairs: list[tuple[str, str]] = []
    for name, value in items:
        values = value if isinstance(value, list | tuple) else [value]
        for one in values:
            if one is not None:
                pairs.append((str(name).strip().lower(), str(one)))
    return pairs


def _values(pairs: list[tuple[str, str]], name: str) -> list[str]:
    return [value for key, value in pairs if key == name]


def _strip_comments(value: str) -> str:
    """The value without RFC 5322 comments: "auto-replied (vacation)" -> "auto-replied"."""
    if "(" not in value and "\\" not in value:
        return value  # most values: no comment, and no walk (~1 us a character)
    out: list[str] = []
    depth = 0
    escaped = False
    for ch in value:
        if escaped:
            escaped = False
            if depth == 0:
                out.append(ch)
        elif ch == "\\":
            escaped = True
        elif ch == "(":
            depth += 1
        elif ch == ")" and depth:
            depth -= 1
        elif depth == 0:
            out.append(ch)
    return "".join(out)


def _token(value: str) -> str:
    """The leading keyword of a structured value, lower-case, without parameters."""
    return " ".join(_strip_comments(value).split(";", 1)[0].split()).lower()


def _address_key(address: str) -> str:
    """An address reduced for comparison: lower-case, no brackets, no "+detail"."""
    address = address.strip().strip("<>").strip().lower()
    local, at, domain = address.rpartition("@")
    if not at:
        return address.split("+", 1)[0]
    return f"{local.split('+', 1)[0]}@{domain}"


# An address alone (SMTP envelopes, our own configured addresses), or after a name
# without quotes, comments or specials (most From and To headers): read here as the
# stdlib's address parser reads it (tests/unit/test_header_fast_paths.py), which
# costs ~30 us a header.
_PLAIN = r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*@[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*"
_PLAIN_ADDRESS = re.compile(rf"({_PLAIN})|([^()<>@,:;\"\[\]\\]*)<({_PLAIN})>")
_FWS = re.compile(r"[ \t\r\n]+")  # what the parser skips between a name's words


def plain_address(value: str) -> tuple[str, str] | None:
    """(name, address) of a header value that is a plain address, alone or after a
    plain name, exactly as `email.utils.getaddresses` gives it; else None."""
    plain = _PLAIN_ADDRESS.fullmatch(value)
    if plain is None:
        return None
    if plain[1]:
        return "", plain[1]
    return " ".join(word for word in _FWS.split(plain[2]) if word), plain[3]


def _addresses(values: Iterable[str]) -> list[str]:
    """The bare addresses in address headers; garbage is skipped, never raised."""
    found: list[str] = []
    for value in values:
        value = _unfold(value)
        if plain := plain_address(value):
            found.append(plain[1])
            continue
        try:
            pairs = getaddresses([value])
        except (TypeError, ValueError, IndexError):
            continue
        found.extend(addr for _, addr in pairs if addr)
    return found


def _unfold(value: str) -> str:
    """Folded white space as one space; a byte the parser could not decode (a lone
    surrogate, which no database or encoder takes) as U+FFFD."""
    text = " ".join(value.split())
    if any("\ud800" <= ch <= "\udfff" for ch in text):
        text = "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in text)
    return text


def _localpart(address: str) -> str:
    return _address_key(address).rpartition("@")[0] or _address_key(address)


def _is_null_path(path: str) -> bool:
    return _strip_comments(path).strip().strip("<>").strip() == ""


# ---------------------------------------------------------------- bounces


@dataclass(frozen=True)
class BounceRecipient:
    """One per-recipient block of a delivery status notification (RFC 3464 2.3)."""

    final_recipient: str  # the address, its "rfc822;" type removed
    action: str = ""  # failed | delayed | delivered | relayed | expanded, lower-case
    status: str = ""  # the enhanced status code, "5.1.1" (RFC 3463)
    diagnostic: str = ""  # the remote server's words, "smtp;" type removed
    original_recipient: str = ""


@dataclass(frozen=True)
class BounceInfo:
    """What a bounce says about the letter of ours that it returns.

    `original_message_id` keeps its angle brackets, like every Message-ID we store.
    `kind` is "dsn" for a standard report (multipart/report; report-type=
    delivery-status) and "text" for the older free-text bounces (qmail, Domino, some
    Exim set-ups), from which less can be read.
    """

    original_message_id: str | None
    recipients: tuple[BounceRecipient, ...] = ()
    original_subject: str | None = None
    original_envelope_id: str | None = None
    reporting_mta: str = ""
    kind: str = "dsn"

    @property
    def primary(self) -> BounceRecipient | None:
        """The recipient that failed, else the first one reported."""
        for recipient in self.recipients:
            if recipient.action == "failed":
                return recipient
        return self.recipients[0] if self.recipients else None

    @property
    def final_recipient(self) -> str | None:
        return (self.primary.final_recipient or None) if self.primary else None

    @property
    def status(self) -> str:
        return self.primary.status if self.primary else ""

    @property
    def action(self) -> str:
        return self.primary.action if self.primary else ""

    @property
    def diagnostic(self) -> str:
        return self.primary.diagnostic if self.primary else ""

    @property
    def failed(self) -> bool:
        """True when delivery failed for good; False for "delayed" and other notices."""
        if not self.recipients:
            return True  # a free-text bounce without details: MTAs write them on failure
        for recipient in self.recipients:
            if recipient.action == "failed":
                return True
            if not recipient.action and not recipient.status.startswith("4"):
                return True
        return False


_STATUS_RE = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")
# Indentation within the line only: a class holding \n would rescan every blank line below.
_MESSAGE_ID_LINE = re.compile(r"^[ \t\r\f\v>]*+message-id:\s*(<[^<>\s]+>)",
                              re.IGNORECASE | re.MULTILINE)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|undelivered|delivery (status notification|failure|failed|problem)|"
    r"failure notice|mail delivery failed|returned mail|delivery has failed|"
    r"could not be delivered|недоставлен|не доставлено|не удалось доставить|"
    r"возвращенное|возвращённое",
    re.IGNORECASE,
)
_DELAY_SUBJECT = re.compile(r"delay|warning|задерж|предупрежд", re.IGNORECASE)
_MAX_TEXT = 200_000  # characters of a free-text bounce we search; bounces can be huge


def bounce_of(message: Message, *, machine: bool = False) -> BounceInfo | None:
    """The bounce details of a delivery failure report, or None for anything else.

    A standard DSN (RFC 3464) gives per-recipient Final-Recipient, Action, Status and
    Diagnostic-Code, and returns the original letter or its headers, whose Message-ID
    identifies our letter. An older free-text bounce (recognised by its sender or its
    subject) gives what can be found: the returned letter's Message-ID, the recipients
    in X-Failed-Recipients, the first status code in the text. `machine`: the caller
    already knows a mail system wrote it (`daemon.mail.robot_text` read its words), so
    a free-text bounce needs no bounce-like sender or subject. Never raises.
    """
    try:
        if message.get_content_type() == "multipart/report":
            report_type = str(message.get_param("report-type", "") or "").lower()
            if report_type in ("disposition-notification", "feedback-report"):
                return None  # read receipts and abuse reports are not bounces
            info = _dsn(message)
            if info is not None:
                return info
        return _text_bounce(message, machine)
    except (LookupError, ValueError, TypeError, AttributeError, IndexError):
        # A malformed report must never stop the pipeline; it is then simply not
        # recorded as a bounce, and the robot check still keeps it unanswered.
        return None


def _dsn(message: Message) -> BounceInfo | None:
    status_part = None
    for part in message.walk():
        if part.get_content_type() in ("message/delivery-status",
                                       "message/global-delivery-status"):
            status_part = part
            break
    if status_part is None:
        return None
    blocks = _status_blocks(status_part)
    per_message = blocks[0] if blocks else {}
    recipients = tuple(
        _recipient(block) for block in blocks
        if {"final-recipient", "original-recipient", "action", "status"} & block.keys()
    )
    original = _returned_headers(message)
    message_id = _first_message_id(original.get("message-id", "") if original else "")
    for name in ("original-message-id", "x-original-message-id"):
        message_id = message_id or _first_message_id(per_message.get(name, ""))
    if message_id is None:
        # Exchange and Office 365 paste the returned headers into the text part.
        message_id = _message_id_in_text(message)
    return BounceInfo(
        original_message_id=message_id,
        recipients=recipients,
        original_subject=_subject(original),
        original_envelope_id=per_message.get("original-envelope-id", "").strip() or None,
        reporting_mta=_typed_value(per_message.get("reporting-mta", "")),
        kind="dsn",
    )


def _status_blocks(part: Message) -> list[dict[str, str]]:
    """The field blocks of a message/delivery-status part as lower-cased dicts.

    The stdlib parser splits message/delivery-status into one Message per block; a
    part it left as text (message/global-delivery-status, or a report built by hand)
    is split on blank lines here.
    """
    payload = part.get_payload()
    messages: list[Message] = []
    if isinstance(payload, list):
        messages = [m for m in payload if isinstance(m, Message)]
    else:
        text = _part_text(part)
        for chunk in re.split(r"\r?\n[ \t]*\r?\n", text.strip()):
            if chunk.strip():
                messages.append(HeaderParser().parsestr(chunk.strip() + "\n"))
    blocks = []
    for block in messages:
        fields: dict[str, str] = {}
        for name, value in _header_pairs(block):
            fields.setdefault(name, _unfold(value))
        blocks.append(fields)
    return blocks


def _typed_value(value: str) -> str:
    """``rfc822; a@b`` -> ``a@b``; ``smtp; 550 …`` -> ``550 …`` (RFC 3464 2.1.2)."""
    kind, semicolon, rest = value.partition(";")
    text = rest if semicolon and re.fullmatch(r"\s*[\w.-]+\s*", kind) else value
    return _unfold(text).strip().strip("<>").strip()


def _recipient(block: dict[str, str]) -> BounceRecipient:
    status = block.get("status", "")
    code = _STATUS_RE.search(status)
    return BounceRecipient(
        final_recipient=_typed_value(block.get("final-recipient", ""))
        or _typed_value(block.get("original-recipient", "")),
        action=_token(block.get("action", "")),
        status=code[1] if code else _token(status),
        diagnostic=_typed_value(block.get("diagnostic-code", ""))[:1000],
        original_recipient=_typed_value(block.get("original-recipient", "")),
    )


def _returned_headers(message: Message) -> dict[str, str] | None:
    """Header fields of the letter a report returns (message/rfc822 or headers only)."""
    for part in message.walk():
        ctype = part.get_content_type()
        if ctype in ("message/rfc822", "message/global", "message/partial"):
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload else None
            if isinstance(inner, Message):
                return _first_fields(inner)
            return _parse_headers(part)
        if ctype in ("text/rfc822-headers", "message/global-headers"):
            return _parse_headers(part)
    return None


def _parse_headers(part: Message) -> dict[str, str]:
    text = _part_text(part)
    return _first_fields(HeaderParser().parsestr(text.lstrip("\r\n"), headersonly=True))


def _part_text(part: Message) -> str:
    """A leaf part's payload as text, its transfer encoding undone, never raising."""
    payload = part.get_payload()
    encoding = str(part.get("content-transfer-encoding", "")).strip().lower()
    if isinstance(payload, str) and encoding in ("", "7bit", "8bit", "binary"):
        # Undecoded already; 8-bit bytes sit in it as surrogate escapes. (Asking the
        # stdlib to "decode" such a payload gives raw-unicode-escape bytes instead.)
        raw = payload.encode("utf-8", "surrogateescape")
    else:
        decoded = part.get_payload(decode=True)
        raw = decoded if isinstance(decoded, bytes) else b""
    charset = part.get_content_charset() or "utf-8"
    try:
        return raw.decode(charset, "replace")
    except LookupError:
        return raw.decode("utf-8", "replace")


def _first_fields(message: Message) -> dict[str, str]:
    fields: dict[str, str] = {}
    for name, value in _header_pairs(message):
        fields.setdefault(name, value)
    return fields


def _first_message_id(value: str) -> str | None:
    # raw 8-bit bytes arrive as surrogate escapes, which no database can store
    value = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    match = re.search(r"<[^<>\s]+>", value)
    if match:
        return match[0][:998]
    bare = value.strip()
    # Some MTAs write Original-Message-ID without brackets; give it ours.
    return f"<{bare[:996]}>" if bare and " " not in bare and "@" in bare else None


def _subject(fields: dict[str, str] | None) -> str | None:
    if not fields or "subject" not in fields:
        return None
    return decode_subject(fields["subject"])


def _text_bounce(message: Message, machine: bool = False) -> BounceInfo | None:
    """A free-text bounce: recognised by its sender or subject, read as far as can be."""
    pairs = _header_pairs(message)
    senders = _addresses(_values(pairs, "from") + _values(pairs, "return-path"))
    subject = decode_subject(" ".join(_values(pairs, "subject")))
    from_daemon = machine or any(_localpart(a) in _DAEMON_LOCALPARTS for a in senders)
    null_path = any(_is_null_path(v) for v in _values(pairs, "return-path"))
    if not (from_daemon or null_path or _BOUNCE_SUBJECT.search(subject)):
        return None
    original = _returned_headers(message)
    message_id = _first_message_id(original.get("message-id", "")) if original else None
    text = _body_text(message)
    message_id = message_id or _message_id_in_text(message, text)
    if message_id is None and original is None and not (from_daemon or null_path):
        return None  # a person's letter that merely talks about delivery
    code = _STATUS_RE.search(text)
    delayed = bool(_DELAY_SUBJECT.search(subject))
    status = code[1] if code else ""
    failed_to = _addresses(_values(pairs, "x-failed-recipients"))
    recipients = tuple(
        BounceRecipient(final_recipient=a, action="delayed" if delayed else "", status=status)
        for a in failed_to
    ) or ((BounceRecipient("", "delayed" if delayed else "", status),)
          if status or delayed else ())
    return BounceInfo(
        original_message_id=message_id,
        recipients=recipients,
        original_subject=_subject(original),
        kind="text",
    )


def _message_id_in_text(message: Message, text: str | None = None) -> str | None:
    """The first Message-ID line in the letter's text that is not its own."""
    own_id = _first_message_id(" ".join(_values(_header_pairs(message), "message-id")))
    for match in _MESSAGE_ID_LINE.finditer(_body_text(message) if text is None else text):
        if match[1] != own_id:
            return match[1][:998]
    return None


def _body_text(message: Message) -> str:
    """The text of a letter's leaf parts, decoded leniently, up to `_MAX_TEXT` characters.

    Text parts but HTML, and message/* parts left as text (message/partial, the
    headers of a returned letter), where bounces keep what they quote.
    """
    chunks: list[str] = []
    size = 0
    for part in message.walk():
        if part.is_multipart() or part.get_content_maintype() not in ("text", "message"):
            continue
        if part.get_content_type() == "text/html":
            continue
        text = _part_text(part)
        chunks.append(text)
        size += len(text)
        if size >= _MAX_TEXT:
            break
    return "\n".join(chunks)[:_MAX_TEXT]
