"""Shortcuts in the lenient header access the robot check, the bounce reader and
the letter parser share (`daemon.mail.bounces`) give what the long way gives."""

from __future__ import annotations

from email.utils import getaddresses

from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.mail.addresses import safe_getaddresses as _safe_getaddresses
from daemon.mail.bounces import _addresses, _strip_comments, plain_address


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="ab ;=\"\t", max_size=30))
def test_a_value_without_a_comment_is_kept_as_the_walk_keeps_it(value: str) -> None:
    # The shortcut (no "(" and no "\\": the value itself) against the walk, which an
    # empty comment at the end forces without changing what it keeps.
    assert _strip_comments(value) == value == _strip_comments(value + "()")


_ATOM = st.text(alphabet="aZ09_+-.", min_size=1, max_size=8)
_ADDRESS = st.builds(lambda local, domain: f"{local}@{domain}", _ATOM, _ATOM)
_NAME = st.text(alphabet=" \t\r\n\xa0aZ.=?/+-é\\\"()<>@,:;[]", max_size=12)
_VALUE = st.builds(lambda address, name, bracket: f"{name}<{address}>" if bracket else address,
                   _ADDRESS, _NAME, st.booleans())


@settings(max_examples=3000, deadline=None)
@given(_VALUE)
def test_a_plain_address_is_read_as_the_parser_reads_it(value: str) -> None:
    pair = plain_address(value)
    if pair is not None:
        assert getaddresses([value]) == [pair]
    unfolded = " ".join(value.split())
    assert _addresses([value]) == [a for _, a in getaddresses([unfolded]) if a]


@settings(max_examples=1000, deadline=None)
@given(st.lists(_VALUE, max_size=3))
def test_header_values_read_as_the_parser_reads_them(values: list[str]) -> None:
    assert _safe_getaddresses(values) == getaddresses(values)


def test_plain_and_other_addresses() -> None:
    assert plain_address("=?UTF-8?B?0JjQstCw0L0=?=\r\n  I. <c@d>") == (
        "=?UTF-8?B?0JjQstCw0L0=?= I.", "c@d")
    assert plain_address('"Ivan" <c@d>') is None
    assert _addresses(["Ivan.Petrov+tag@mail.example.ru"]) == ["Ivan.Petrov+tag@mail.example.ru"]
    assert _addresses(["  a@b  ", "=?UTF-8?B?0JjQstCw0L0=?= <c@d>", "Ivan I. <e@f>"]) == [
        "a@b", "c@d", "e@f"]
    assert _addresses(["<a@b>", "Ivan <c@d>, e@f", "MAILER-DAEMON", '"x, y" <g@h>']) == [
        "a@b", "c@d", "e@f", "MAILER-DAEMON", "g@h"]
