"""Staff letters: only a trusted, aligned authentication result lets a reply through."""

from __future__ import annotations

import pytest

from daemon.staff.authentication import authenticated

TRUSTED = ["mx.example.ru"]


@pytest.mark.parametrize(("header", "ok"), [
    ("mx.example.ru; dkim=pass header.d=example.ru", True),
    ("mx.example.ru; dkim=pass (2048-bit key) header.d=example.ru header.s=mail", True),
    ("mx.example.ru; dkim=pass header.i=@example.ru", True),
    ("mx.example.ru; spf=pass smtp.mailfrom=agent1@example.ru", True),
    ("mx.example.ru; spf=pass smtp.mailfrom=example.ru", True),
    ("mx.example.ru; dmarc=pass header.from=example.ru", True),
    ("MX.EXAMPLE.RU; DKIM=PASS header.d=EXAMPLE.RU", True),
    ("mx.example.ru 1; spf=fail smtp.mailfrom=example.ru; dkim=pass header.d=example.ru", True),
    # a pass about someone else's domain proves nothing about our staff member
    ("mx.example.ru; spf=pass smtp.mailfrom=attacker@evil.example", False),
    ("mx.example.ru; dkim=pass header.d=evil.example", False),
    ("mx.example.ru; dkim=pass header.d=notexample.ru", False),
    ("mx.example.ru; spf=pass", False),
    ("mx.example.ru; dkim=fail header.d=example.ru; spf=softfail smtp.mailfrom=example.ru", False),
    ("mx.example.ru; dkim=none", False),
    # an authserv-id we do not run may have been written by anyone
    ("mx.evil.example; dkim=pass header.d=example.ru", False),
    ("", False),
])
def test_only_aligned_passing_results_from_our_mta_count(header: str, ok: bool) -> None:
    assert authenticated([header], TRUSTED, "agent1@example.ru") is ok


def test_a_subdomain_sender_aligns_with_its_parent() -> None:
    assert authenticated(["mx.example.ru; dkim=pass header.d=example.ru"], TRUSTED,
                         "agent1@staff.example.ru")


def test_no_sender_no_trust() -> None:
    assert not authenticated(["mx.example.ru; dkim=pass header.d=example.ru"], TRUSTED, "")
