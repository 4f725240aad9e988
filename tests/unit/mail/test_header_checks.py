"""The header diagnostics the parser takes from mail-parser (`letter._HeaderChecks`)
are the ones its own `_reset` gives: the same defect categories, or the same error,
for every fixture letter and for address, date and Received headers made to be
broken. Fails first when a new mail-parser reads headers otherwise."""

from __future__ import annotations

import email
from email.message import Message
from pathlib import Path

import mailparser
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.mail.header_checks import HeaderChecks as _HeaderChecks

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "eml"


class _Reset(mailparser.MailParser):
    """mail-parser's own header diagnostics (4.8), without its body pass."""

    def parse(self) -> _Reset:
        self._reset()
        return self


def outcome(checks: type[mailparser.MailParser], msg: Message) -> object:
    try:
        return sorted(checks(msg).defects_categories)
    except Exception as exc:
        return type(exc).__name__


def assert_alike(msg: Message) -> None:
    assert outcome(_HeaderChecks, msg) == outcome(_Reset, msg)


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.eml")), ids=lambda p: p.name)
def test_fixture_letters(path: Path) -> None:
    assert_alike(email.message_from_bytes(path.read_bytes()))


_ADDRESS = st.sampled_from([
    "a@b.example", "<a@b.example>", "Ivan <a@b.example>", '"I, P" <a@b.example>',
    "=?utf-8?b?0JjQstCw0L0=?= <a@b.example>", "=?bogus?q?x?= <a@b.example>",
    "a@b.example (comment", "<a@b.example", "a@", "@b", "Ivan", "a@b, <c@d>", "g: a@b;",
    "=?utf-8?q?" + "x" * 80 + "?= <a@b>", "x <a@b> <c@d>", "\udcff <a@b>", ""])
_DATE = st.sampled_from([
    "Mon, 23 Nov 2026 06:00:22 +0000", "23 Nov 2026 06:00:22", "yesterday", "",
    "Mon, 31 Feb 2026 25:61:00 +9999", "Mon, 23 Nov 2026 06:00:22 +0000 (UTC)"])
_RECEIVED = st.sampled_from([
    "from a (a [192.0.2.1]) by b with ESMTP id 1; Mon, 23 Nov 2026 06:00:22 +0000",
    "by b; yesterday", "from a by b", "garbage", "", "from \udcff by b; Mon, 23 Nov 2026",
    "from a (unclosed by b; Mon, 23 Nov 2026 06:00:22 +0000"])
_FIELDS = st.lists(st.one_of(
    st.tuples(st.sampled_from(["From", "To", "Cc", "Bcc", "Reply-To", "Delivered-To"]),
              _ADDRESS),
    st.tuples(st.sampled_from(["Date", "Resent-Date"]), _DATE),
    st.tuples(st.just("Received"), _RECEIVED),
    st.tuples(st.just("Subject"), st.just("x"))), max_size=6)


@settings(max_examples=300, deadline=None)
@given(_FIELDS)
def test_broken_headers(fields: list[tuple[str, str]]) -> None:
    raw = "".join(f"{name}: {value}\r\n" for name, value in fields) + "\r\nbody\r\n"
    assert_alike(email.message_from_bytes(raw.encode("utf-8", "surrogateescape")))
