"""Shortcuts in the lenient header access the robot check and the bounce reader
share (`daemon.bounces`) give what the long way gives."""

from __future__ import annotations

from email.utils import getaddresses

from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.bounces import _PLAIN_ADDRESS, _addresses, _strip_comments


def walked(value: str) -> str:
    """`_strip_comments` without its shortcut."""
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


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="ab ;=()\\\"\t", max_size=30))
def test_comments_stripped_as_by_the_walk(value: str) -> None:
    assert _strip_comments(value) == walked(value)


_ATOM = st.text(alphabet="aZ09_+-.", min_size=1, max_size=8)
_ADDRESS = st.builds(lambda local, domain: f"{local}@{domain}", _ATOM, _ATOM)
_NAME = st.text(alphabet=" aZ.=?/+-é\\\"()<>@,:;[]", max_size=12)


@settings(max_examples=3000, deadline=None)
@given(_ADDRESS, _NAME, st.booleans())
def test_a_plain_address_is_what_the_parser_reads(address: str, name: str, bracket: bool
                                                  ) -> None:
    value = f"{name}<{address}>" if bracket else address
    expected = [a for _, a in getaddresses([" ".join(value.split())]) if a]
    assert _addresses([value]) == expected
    if _PLAIN_ADDRESS.fullmatch(" ".join(value.split())):
        assert expected == [address]


def test_plain_and_other_addresses() -> None:
    assert _addresses(["Ivan.Petrov+tag@mail.example.ru"]) == ["Ivan.Petrov+tag@mail.example.ru"]
    assert _addresses(["  a@b  ", "=?UTF-8?B?0JjQstCw0L0=?= <c@d>", "Ivan I. <e@f>"]) == [
        "a@b", "c@d", "e@f"]
    assert _addresses(["<a@b>", "Ivan <c@d>, e@f", "MAILER-DAEMON", '"x, y" <g@h>']) == [
        "a@b", "c@d", "e@f", "MAILER-DAEMON", "g@h"]
