"""Addresses and Message-IDs read from a letter's headers, as we could write them back.

An address is kept only when it is one our outgoing letters could carry unchanged
(no controls, no spaces, at most SMTP's length); a Message-ID only when it is
printable ASCII. Pure functions; `letter.parse` calls them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
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


_BARE_ADDR = re.compile(r"[^\s<>()\[\]\\,;:\"@]+@[^\s<>()\[\]\\,;:\"@]+")


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
