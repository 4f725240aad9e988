"""The guard's scan, made cheaper, decides as before.

Line counts take one pass over a letter without bare CRs and count exactly what
three passes (LF, CR, CRLF) count. Delimiter lines are told apart from other lines
starting with "--" one by one, then by the letter's own regex: both ways find the
same lines, so `inspect` decides the same on any letter."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.mail import guard
from daemon.mail.guard import _lines, _Scan


def three_passes(raw: bytes, pos: int, end: int) -> int:
    return raw.count(b"\n", pos, end) + raw.count(b"\r", pos, end) - raw.count(b"\r\n", pos, end)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from([b"\r\n", b"\n", b"\r", b"x", b"--"]), max_size=40).map(b"".join),
       st.integers(0, 90), st.integers(0, 90))
def test_one_pass_counts_as_three(raw: bytes, a: int, b: int) -> None:
    bare_cr = _Scan(raw).bare_cr
    assert bare_cr == (raw.count(b"\r") != raw.count(b"\r\n"))
    pos, end = min(a, b, len(raw)), min(max(a, b), len(raw))
    assert _lines(raw, pos, end, bare_cr) == three_passes(raw, pos, end)


def test_a_span_ending_inside_a_crlf() -> None:
    raw = b"a\r\nb\r\n"
    assert _lines(raw, 0, 2, False) == 1  # "a\r": the CR breaks the line
    assert _lines(raw, 2, 6, False) == 2  # "\nb\r\n"
    assert _lines(raw, 3, 3, False) == 0


# Boundaries that are prefixes of each other, end in "--", hold a blank or are empty;
# lines that are delimiters of them, almost delimiters, signatures and text.
_BOUNDARIES = ["a", "a--", "ab", "b c", "", "x=_1.2"]
_LINES = st.one_of(
    st.sampled_from(["x", "-- ", "--", "----", "", "Content-Type: text/plain",
                     "Content-Type: message/rfc822"]),
    st.builds(lambda kind, b: f'Content-Type: multipart/{kind}; boundary="{b}"',
              st.sampled_from(["mixed", "alternative", "digest"]), st.sampled_from(_BOUNDARIES)),
    st.builds(lambda b, end, blanks: f"--{b}{end}{blanks}", st.sampled_from(_BOUNDARIES),
              st.sampled_from(["", "--", "-", "--x", "x"]), st.sampled_from(["", " ", " \t"])),
)
_BREAKS = st.sampled_from(["\r\n", "\n", "\r"])


@st.composite
def letters(draw: st.DrawFn) -> bytes:
    top = draw(st.sampled_from(_BOUNDARIES))
    lines = draw(st.lists(st.tuples(_LINES, _BREAKS), max_size=30))
    body = "".join(line + brk for line, brk in lines)
    brk = draw(_BREAKS)
    return (f'Subject: x{brk}Content-Type: multipart/mixed; boundary="{top}"{brk}{brk}'
            + body).encode()


@settings(max_examples=1500, deadline=None)
@given(letters())
def test_delimiters_found_as_by_the_letters_own_regex(raw: bytes) -> None:
    found = guard.inspect(raw)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(guard, "MAX_DASH_MISSES", -1)  # the letter's own regex only
        assert guard.inspect(raw) == found


def test_many_lines_like_delimiters_hand_over_to_the_regex() -> None:
    body = b"--a-\r\n" * 1000 + b"--a\r\nContent-Type: text/plain\r\n\r\nhi\r\n--a--\r\n"
    raw = b'Content-Type: multipart/mixed; boundary="a"\r\n\r\n' + body
    scan = _Scan(raw)
    scan.run(raw.index(b"\r\n\r\n") + 4, [raw[:raw.index(b"\r\n") + 2]])
    assert scan.misses == guard.MAX_DASH_MISSES + 1
    assert scan.parts == 1 and not scan.over
