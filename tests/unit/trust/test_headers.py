"""Only the Authentication-Results our own MTA added count (RFC 8601 §5, issue 21)."""

from __future__ import annotations

import pytest

from daemon.trust.headers import is_from_outside, methods, ours
from daemon.trust.verdict import Method, judge

TRUSTED = ["mx.example.ru"]
OUTSIDE = ("Received", "from mail.client.example (mail.client.example [203.0.113.5]) "
           "by mx.example.ru (Postfix) with ESMTPS id 4X; Mon, 30 Nov 2026 10:00:00 +0300")
LOCAL = ("Received", "from localhost (localhost [127.0.0.1]) by mx.example.ru (Postfix) "
         "with ESMTP id 5Y")
FILTER = ("Received", "from filter.example.ru (filter.example.ru [10.0.0.7]) by mx.example.ru")


def ar(value: str) -> tuple[str, str]:
    return ("Authentication-Results", value)


def verdict(items: list[tuple[str, str]], sender_domain: str = "example.ru",
            internal: tuple[str, ...] = ()) -> str:
    return judge(methods(ours(items, TRUSTED, internal)), sender_domain, "mta").verdict


@pytest.mark.parametrize(("header", "result"), [
    ("mx.example.ru; dkim=pass header.d=example.ru", "pass"),
    ("mx.example.ru; dkim=pass (2048-bit key) header.d=example.ru header.s=mail", "pass"),
    ("mx.example.ru; dkim=pass header.i=@example.ru", "pass"),
    ("mx.example.ru; spf=pass smtp.mailfrom=agent1@example.ru", "pass"),
    ("mx.example.ru; spf=pass smtp.mailfrom=example.ru", "pass"),
    ("mx.example.ru; dmarc=pass header.from=example.ru", "pass"),
    ("MX.EXAMPLE.RU; DKIM=PASS header.d=EXAMPLE.RU", "pass"),
    ("mx.example.ru 1; spf=fail smtp.mailfrom=example.ru; dkim=pass header.d=example.ru", "pass"),
    # a pass about someone else's domain proves nothing about our sender
    ("mx.example.ru; spf=pass smtp.mailfrom=attacker@evil.example", "none"),
    ("mx.example.ru; dkim=pass header.d=evil.example", "none"),
    ("mx.example.ru; dkim=pass header.d=notexample.ru", "none"),
    ("mx.example.ru; dkim=pass header.d=ru", "none"),  # a public suffix aligns nothing
    ("mx.example.ru; spf=pass", "none"),
    ("mx.example.ru; dkim=fail header.d=example.ru; spf=softfail smtp.mailfrom=example.ru",
     "none"),
    ("mx.example.ru; dkim=none", "none"),
    ("mx.example.ru; dmarc=fail (p=none dis=none) header.from=example.ru", "fail"),
    ("mx.example.ru; dmarc=fail (p=reject dis=reject) header.from=example.ru", "fail"),
    # DMARC decides over a stray aligned pass it has already weighed
    ("mx.example.ru; dkim=pass header.d=example.ru; dmarc=fail header.from=example.ru", "fail"),
    ("mx.example.ru; dmarc=none header.from=example.ru", "none"),
    # an authserv-id we do not run may have been written by anyone
    ("mx.evil.example; dkim=pass header.d=example.ru", "none"),
    ("mx.example.ru; ;;; garbage ===", "none"),
    ("", "none"),
])
def test_results_of_our_mta(header: str, result: str) -> None:
    assert verdict([ar(header), OUTSIDE]) == result


def test_a_subdomain_sender_aligns_with_its_parent() -> None:
    assert verdict([ar("mx.example.ru; dkim=pass header.d=example.ru")],
                   "staff.example.ru") == "pass"


def test_a_forgery_below_our_received_cannot_outvote_a_fail() -> None:
    items = [ar("mx.example.ru; dmarc=fail (p=reject) header.from=example.ru"), OUTSIDE,
             ar("mx.example.ru; dmarc=pass header.from=example.ru")]
    assert verdict(items) == "fail"
    assert verdict([OUTSIDE, ar("mx.example.ru; dmarc=pass header.from=example.ru")]) == "none"


def test_our_own_hops_are_passed_over() -> None:
    # A content filter's re-injection: our MTA's header sits below its local hop.
    items = [LOCAL, ar("mx.example.ru; dmarc=pass header.from=example.ru"), OUTSIDE]
    assert verdict(items) == "pass"
    relayed = [FILTER, ar("mx.example.ru; dmarc=pass header.from=example.ru"), OUTSIDE]
    assert verdict(relayed) == "none"  # 10.0.0.7 is not ours until config says so
    assert verdict(relayed, internal=("10.0.0.7",)) == "pass"
    assert verdict(relayed, internal=("filter.example.ru",)) == "pass"


@pytest.mark.parametrize(("received", "outside"), [
    (OUTSIDE[1], True), (LOCAL[1], False),
    ("from [::1] (localhost [IPv6:::1]) by mx", False),
    ("by mx.example.ru (Postfix, from userid 1000) id 6Z", False),
    ("from unknown (HELO evil) ([198.51.100.9]) by mx.example.ru", True),
])
def test_received_from_outside(received: str, outside: bool) -> None:
    assert is_from_outside(received, ()) is outside


def test_the_dmarc_policy_is_read_from_its_comment() -> None:
    assert methods(["mx.example.ru; dmarc=fail (p=quarantine dis=none) header.from=a.ru"]) == [
        Method("dmarc", "fail", "a.ru", "quarantine")]
    assert methods(["mx; dmarc=fail reason=\"x\" header.from=a.ru (policy=reject)"])[0].policy \
        == "reject"


def test_no_trusted_id_trusts_nothing() -> None:
    assert ours([ar("mx.example.ru; dmarc=pass header.from=example.ru")], [], ()) == []


def test_smtp_auth_at_our_own_mta_names_the_submitter() -> None:
    v = judge(methods(ours([ar("mx.example.ru; auth=pass smtp.auth=agent1@example.ru")],
                           TRUSTED, ())), "example.ru", "mta")
    assert v.verdict == "none" and v.submitted_by("agent1@example.ru")
    assert not v.submitted_by("agent2@example.ru")
    short = judge(methods([("mx.example.ru; auth=pass smtp.auth=agent1")]), "example.ru", "mta")
    assert short.submitted_by("Agent1@example.ru")
    failed = judge(methods(["mx.example.ru; auth=fail smtp.auth=agent1"]), "example.ru", "mta")
    assert not failed.submitted_by("agent1@example.ru")
