"""Organisational domains and DMARC alignment by the Public Suffix List."""

from __future__ import annotations

import pytest

from daemon.trust.domains import aligned, normalise, org_domain


@pytest.mark.parametrize(("domain", "org"), [
    ("distate.example", "distate.example"), ("mail.distate.example", "distate.example"),
    ("romashka.ru", "romashka.ru"), ("a.b.romashka.ru", "romashka.ru"),
    ("romashka.co.uk", "romashka.co.uk"), ("mx.romashka.co.uk", "romashka.co.uk"),
    ("почта.рф", "почта.рф"), ("ivan.github.io", "ivan.github.io"),
    ("example", None), ("ru", None), ("co.uk", None), ("", None),
    ("MAIL.Romashka.RU.", "romashka.ru"),
])
def test_organisational_domains(domain: str, org: str | None) -> None:
    assert org_domain(domain) == org


@pytest.mark.parametrize(("authenticated", "from_domain", "relaxed", "strict"), [
    ("distate.example", "distate.example", True, True),
    ("mail.distate.example", "distate.example", True, False),
    ("distate.example", "support.distate.example", True, False),
    ("example", "distate.example", False, False),  # a public suffix aligns nothing
    ("ru", "romashka.ru", False, False),
    ("evil.example", "distate.example", False, False),
    ("notdistate.example", "distate.example", False, False),
    ("distate.example.evil.example", "distate.example", False, False),
    ("alice.github.io", "bob.github.io", False, False),  # private suffixes count too
    ("", "distate.example", False, False), ("distate.example", "", False, False),
    ("@Distate.Example", "distate.example", True, True),
])
def test_alignment(authenticated: str, from_domain: str, relaxed: bool, strict: bool) -> None:
    assert aligned(authenticated, from_domain) is relaxed
    assert aligned(authenticated, from_domain, strict=True) is strict


def test_normalise_takes_what_headers_write() -> None:
    assert normalise(" <Agent1@Example.RU> ") == "example.ru"
    assert normalise("example.ru.") == "example.ru"
