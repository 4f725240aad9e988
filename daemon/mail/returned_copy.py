"""What a bounce returns of our letter, when its Message-ID does not lead to it.

Many mail systems return our letter with a Message-ID of their own, quote only its
subject and recipients (Domino, Exchange 5.5, qmail cutting the copy short), or lose
the headers in an HTML rendering. Every letter we send carries the ticket's TID in
its subject (and our acknowledgements in their text), so the returned copy still
names the ticket. `returned_copy` finds that TID - in the returned subject, a quoted
``Subject:`` line, the returned letter's text, else anywhere in the report - and the
addresses the report names (failed recipients, the returned To/Cc, addresses in its
text), which the caller checks against the letters it sent on that ticket: a TID
alone is easy to guess, a letter of ours to a named address is not.

Pure: values in, values out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message

from daemon.mail.bounces import (
    BounceInfo,
    _addresses,
    _body_text,
    _header_pairs,
    _returned_headers,
    _values,
)
from daemon.mail.header_decode import decode_subject
from daemon.mail.threading_tid import find_tid

__all__ = ["ReturnedCopy", "returned_copy"]

_SUBJECT_LINE = re.compile(
    r"^[ \t>]*(?:subject|тема)[ \t]*:[ \t]*(.*(?:\r?\n[ \t]+\S.*)*)",
    re.IGNORECASE | re.MULTILINE)
# The lookbehind starts a match only where a run of address characters starts: without
# it a long run holding no @ is scanned again from each of its characters (quadratic).
_EMAIL = re.compile(r"(?<![\w.+'-])[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")
_MAX_ADDRESSES = 200


@dataclass(frozen=True)
class ReturnedCopy:
    tid: int | None  # the ticket number the returned letter names
    addresses: frozenset[str]  # every address the report names, lower-case


def returned_copy(message: Message, info: BounceInfo, prefix: str) -> ReturnedCopy:
    """The TID and the addresses a bounce names (see the module's docstring)."""
    text = _body_text(message)
    return ReturnedCopy(_tid(info, text, prefix), frozenset(_named(message, info, text)))


def _tid(info: BounceInfo, text: str, prefix: str) -> int | None:
    if info.original_subject:
        number = find_tid(info.original_subject, prefix)
        if number is not None:
            return number
    for match in _SUBJECT_LINE.finditer(text):
        number = find_tid(decode_subject(match[1]), prefix)
        if number is not None:
            return number
    return find_tid(text, prefix)


def _named(message: Message, info: BounceInfo, text: str) -> set[str]:
    found = [r.final_recipient for r in info.recipients]
    found += [r.original_recipient for r in info.recipients]
    pairs = _header_pairs(message)
    found += _addresses(_values(pairs, "x-failed-recipients"))
    returned = _returned_headers(message) or {}
    found += _addresses([returned.get("to", ""), returned.get("cc", "")])
    found += _EMAIL.findall(text[:50_000])[:_MAX_ADDRESSES]
    return {a.strip().strip("<>").strip().lower() for a in found if a and "@" in a}
