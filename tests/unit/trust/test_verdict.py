"""One verdict from the methods' results: pass, fail or none (daemon/trust/verdict.py)."""

from __future__ import annotations

import pytest

from daemon.trust.verdict import UNCHECKED, AuthVerdict, Method, judge

D = "romashka.example"


@pytest.mark.parametrize(("results", "verdict"), [
    ([], "none"),
    ([Method("dmarc", "pass", D)], "pass"),
    ([Method("dmarc", "fail", D)], "fail"),
    ([Method("dmarc", "fail", D, "none")], "fail"),
    ([Method("dmarc", "none", D)], "none"),
    ([Method("dmarc", "temperror", D)], "none"),
    ([Method("dkim", "pass", D)], "pass"),
    ([Method("dkim", "pass", "mail." + D)], "pass"),
    ([Method("spf", "pass", D)], "pass"),
    ([Method("dkim", "pass", "mailer.example")], "none"),  # a list server's own signature
    ([Method("spf", "fail", D), Method("dkim", "fail", D)], "none"),
    # a published strict policy and nothing aligned passed: forged
    ([Method("dmarc", "temperror", D, "reject"), Method("dkim", "fail", D)], "fail"),
    ([Method("dmarc", "temperror", D, "quarantine")], "fail"),
    ([Method("dmarc", "temperror", D, "reject"), Method("dkim", "pass", D)], "pass"),
    ([Method("dmarc", "pass", "other.example"), Method("dkim", "pass", D)], "pass"),
    ([Method("dmarc", "pass", "other.example")], "none"),  # about another From
])
def test_judge(results: list[Method], verdict: str) -> None:
    assert judge(results, D, "mta").verdict == verdict


def test_the_verdict_keeps_what_staff_see() -> None:
    v = judge([Method("spf", "softfail", D), Method("dkim", "pass", D),
               Method("dkim", "fail", "x.example"), Method("dmarc", "pass", D, "reject")],
              D, "own")
    assert (v.spf, v.dkim, v.dmarc, v.policy, v.source, v.aligned) == (
        "softfail", "pass", "pass", "reject", "own", True)
    assert AuthVerdict.from_dict(v.as_dict()) == v
    assert AuthVerdict.from_dict(None) == UNCHECKED and not UNCHECKED.proven
