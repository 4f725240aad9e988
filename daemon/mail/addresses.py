"""Addresses and Message-IDs read from a letter's headers, as we could write them back.

An address is kept only when it is one our outgoing letters could carry unchanged
(no controls, no spaces, at most SMTP's length); a Message-ID only when it is
printable ASCII. Pure functions; `letter.parse` calls them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.header import Header
from email.utils import getaddresses

from daemon.mail import guard
from daemon.mail.bounces import plain_address
from daemon.mail.header_decode import address_text

# A Message-ID is printable ASCII (RFC 5322 msg-id). Anything else in one (a NUL, a
# line break, raw 8-bit bytes) must not reach our In-Reply-To and References, where
# the header cleaning would split it, or a database (PostgreSQL refuses NUL, nothing
# encodes the surrogate escapes raw bytes arrive as); such an id is not taken.
_MSGID = re.compile(r"<[\x21-\x3b\x3d\x3f-\x7e]+>")
_BARE_ID = re.compile(r"[\x21-\x7e]+")


def message_ids(value: object) -> list[str]:
    """Message-IDs in a header (In-Reply-To, References), angle brackets kept."""
    return _MSGID.findall(str(value)) if value else []


def clean_message_id(value: object) -> str | None:
    """The first <id> in a Message-ID header; without brackets, its first word when
    that is printable ASCII; else None."""
    ids = message_ids(value)
    if ids:
        return ids[0][:998]
    words = str(value or "").split()
    return words[0][:998] if words and _BARE_ID.fullmatch(words[0]) else None


# Each address is tried from the start of its run of address characters only: tried
# from every character of a long run without an "@", the search was quadratic (a From
# of 120,000 letters took 5 s).
_BARE_ADDR = re.compile(r"(?<![^\s<>()\[\]\\,;:\"@])"
                        r"[^\s<>()\[\]\\,;:\"@]+@[^\s<>()\[\]\\,;:\"@]+")


def safe_getaddresses(values: Sequence[str | Header]) -> list[tuple[str, str]]:
    """getaddresses; for a pathological header (the stdlib recurses once per word,
    so thousands of encoded words raise RecursionError) the bare addresses in it.
    Plain values (most) are read without the parser, as it reads them; raw 8-bit
    ones (an internationalised address) are decoded first."""
    strings = [address_text(v) for v in values]
    plain = [pair for s in strings if (pair := plain_address(s)) is not None]
    if len(plain) == len(strings):
        return plain
    try:
        return getaddresses(strings)
    except RecursionError:
        return [("", a) for a in _BARE_ADDR.findall(" ".join(strings))]


def safe_parseaddr(value: str | Header) -> tuple[str, str]:
    pairs = safe_getaddresses([value])
    return pairs[0] if pairs else ("", "")


# Controls and spaces (folds included); U+FFFD: a byte already lost on the way in.
_UNUSABLE = re.compile("[\x00-\x20\x7f\ufffd]")


MAX_ADDRESS = 254  # RFC 5321: a path is at most 256 octets, angle brackets included


def usable_address(addr: str) -> str:
    """An address we could write back to, lower-cased, or "". One with a control
    character or a space in it (a NUL, a folded quoted local part) would reach the
    outbox changed by the header cleaning, or be refused by the database (PostgreSQL
    and NUL); one longer than SMTP allows would be cut short on the way out."""
    addr = addr.strip().lower()
    too_long = len(addr.encode()) > MAX_ADDRESS  # octets: an address may be UTF-8
    # Not printable: Unicode's controls and separators (U+0085, U+2028, NBSP), which
    # the outgoing header's cleaning would turn into spaces.
    return "" if too_long or _UNUSABLE.search(addr) or not addr.isprintable() else addr


def usable_addresses(values: Sequence[str | Header]) -> list[str]:
    found = [a for a in (usable_address(a) for _, a in safe_getaddresses(values)) if "@" in a]
    return found[:guard.MAX_ADDRESSES]


def mailbox_key(address: str) -> str:
    """The mailbox an address delivers to, for counting letters to it: lower case, a
    `+tag` of the local part dropped (`ivan+1@x` and `IVAN+2@x` are one mailbox)."""
    local, at, domain = address.strip().lower().rpartition("@")
    if not at:
        return domain
    return f"{local.split('+', 1)[0] or local}@{domain}"


# ---------------------------------------------------------------- who From names

SEVERAL = "several-addresses"  # From holds more than one mailbox (or From twice)
ADDRESS_IN_NAME = "address-in-name"  # the display name shows another address
FOLDED_QUOTED_NAME = "folded-quoted-name"  # a quoted display name broken over lines

_FOLD_IN_QUOTES = re.compile(r'"(?:[^"\\]|\\.)*?\r?\n[ \t](?:[^"\\]|\\.)*"', re.S)
_ADDR_SPEC = re.compile(r"[^\s<>()\[\]\\,;:\"@]+@[^\s<>()\[\]\\,;:\"@]+\Z")


@dataclass(frozen=True)
class Mailbox:
    display: str  # what a mail client shows beside the address: phrase and comments
    angle: str  # the address in angle brackets, or ""
    bare: str  # the mailbox's text when it has no angle brackets


@dataclass(frozen=True)
class FromReading:
    """Who a letter's From header names, read as RFC 5322 (and so DMARC) reads it: the
    addr-spec, in angle brackets when there are any. `problem` says why the header
    identifies nobody even though an address was read (it is still where an answer
    can go); `repaired` how an address was found when the plain reading gave none."""

    address: str = ""
    name: str = ""
    repaired: str = ""  # "" | "encoded-words" | "bare-in-name"
    problem: str = ""  # "" | SEVERAL | ADDRESS_IN_NAME | FOLDED_QUOTED_NAME


def mailboxes(text: str) -> list[Mailbox]:
    """A From value's mailboxes: commas outside quotes, comments and angle brackets
    separate them; quoted strings and comments are display text."""
    boxes: list[Mailbox] = []
    display: list[str] = []
    outside: list[str] = []
    angle: list[str] = []
    quoted = escaped = False
    depth = 0  # comment nesting
    in_angle = False

    def close() -> None:
        bare = "".join(outside).strip()
        if bare or angle or display:
            boxes.append(Mailbox(" ".join("".join(display).split()), "".join(angle).strip(),
                                 "" if angle else bare))
        for part in (display, outside, angle):
            part.clear()

    for ch in text:
        if escaped:
            (angle if in_angle else display).append(ch)
            escaped = False
        elif ch == "\\" and (quoted or depth):
            escaped = True
        elif quoted:
            quoted = ch != '"'
            if quoted:
                display.append(ch)
        elif depth:
            depth += {"(": 1, ")": -1}.get(ch, 0)
            display.append(ch if depth else " ")
        elif ch == '"':
            quoted = True
        elif ch == "(":
            depth = 1
        elif in_angle:
            in_angle = ch != ">"
            if in_angle:
                angle.append(ch)
        elif ch == "<":
            in_angle = True
        elif ch == ",":
            close()
        else:
            display.append(ch)
            outside.append(ch)
    close()
    return boxes


def _with_addresses(boxes: list[Mailbox]) -> list[Mailbox]:
    """The mailboxes that hold an address; a comma-separated piece with none (the
    unquoted comma of `O'Brien, Pat <pat@…>`) is display text of the next one."""
    out: list[Mailbox] = []
    carry: list[str] = []
    for box in boxes:
        if not box.angle and "@" not in box.bare:
            carry.append(box.display)
            continue
        if carry:
            box = Mailbox(", ".join([*carry, box.display]).strip(", "), box.angle, box.bare)
            carry = []
        out.append(box)
    if carry:
        if out:
            last = out[-1]
            out[-1] = Mailbox(", ".join([last.display, *carry]).strip(", "), last.angle,
                              last.bare)
        else:
            out.append(Mailbox(", ".join(carry), "", ""))
    return out


def _address_of(box: Mailbox) -> str:
    candidate = box.angle or box.bare
    address = usable_address(candidate) if _ADDR_SPEC.match(candidate.strip()) else ""
    return "" if "=?" in address else address


def read_from(values: Sequence[str | Header], decode: Callable[[str], str]) -> FromReading:
    """Who the From header(s) name (see `FromReading`); `decode` decodes encoded-words."""
    if not values:
        return FromReading()
    raw = address_text(values[0])
    text = _unfold(raw)
    boxes = _with_addresses(mailboxes(text))
    problem = SEVERAL if len(values) > 1 or len(boxes) > 1 else ""
    if not problem and _FOLD_IN_QUOTES.search(raw):
        problem = FOLDED_QUOTED_NAME
    first = boxes[0] if boxes else Mailbox("", "", "")
    address = _address_of(first)
    if address:
        shown = decode(first.display)
        if not problem and any(a.lower() != address for a in _BARE_ADDR.findall(shown)):
            problem = ADDRESS_IN_NAME
        return FromReading(address, _name(values[0], address, shown), "", problem)
    if first.angle and "=?" not in text:
        return FromReading("", decode(text), "", problem)  # one we cannot write back
    decoded = _unfold(decode(text))
    if decoded != text:
        again = _with_addresses(mailboxes(decoded))
        if len(again) == 1 and (address := _address_of(again[0])):
            return FromReading(address, again[0].display, "encoded-words", problem)
    if _FIELD_LIKE.match(decoded):  # «From: \r\n Bcc: victim@…»: a header smuggled into
        return FromReading("", decoded, "", problem)  # the fold, not a name: no repair
    found = list(dict.fromkeys(a for a in (usable_address(b) for b in
                                            _BARE_ADDR.findall(decoded)) if a))
    if len(found) == 1:
        (address,) = found
        name = " ".join(decoded.replace(address, " ", 1).replace("<>", " ").split())
        return FromReading(address, name.strip('"'), "bare-in-name", problem)
    if found:  # garbage naming several: answer the first, believe none
        return FromReading(found[0], "", "bare-in-name", SEVERAL)
    return FromReading("", decoded, "", problem)


def _unfold(text: str) -> str:
    """Folds and runs of ASCII white space as one space (not Unicode's: U+0085 or
    NBSP in an address make it one we cannot write back, not two words)."""
    return _ASCII_SPACE.sub(" ", text).strip()


_ASCII_SPACE = re.compile(r"[ \t\r\n]+")
_FIELD_LIKE = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,40}:\s")  # what a header line begins with


def _name(value: str | Header, address: str, shown: str) -> str:
    """The display name as the stdlib reads it when it reads the same address (what
    letters have always been addressed by); else the display text we read."""
    name, stdlib_address = safe_parseaddr(value)
    return name if usable_address(stdlib_address) == address else shown.strip()
