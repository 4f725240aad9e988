"""DMARC records and our own DMARC evaluation (RFC 7489 §6.3, §6.6)."""

from __future__ import annotations

import pytest

from daemon.trust.dmarc import DmarcRecord, evaluate, parse_record
from daemon.trust.verdict import Method


@pytest.mark.parametrize(("texts", "record"), [
    (["v=DMARC1; p=reject"], DmarcRecord("reject")),
    (["v=DMARC1;p=quarantine;sp=none;adkim=s;aspf=s;rua=mailto:x@y"],
     DmarcRecord("quarantine", "none", "s", "s")),
    (["V=dmarc1; P=Reject; pct=50"], DmarcRecord("reject")),
    (["v=spf1 -all", "v=DMARC1; p=none"], DmarcRecord("none")),
    ([], None), (["v=spf1 -all"], None),
    (["v=DMARC1; p=reject", "v=DMARC1; p=none"], None),  # two records: none
    (["v=DMARC1; p=bogus"], None), (["v=DMARC1"], None),
    (["v=DMARC1; p=reject; sp=bogus"], DmarcRecord("reject")),
])
def test_parse_record(texts: list[str], record: DmarcRecord | None) -> None:
    assert parse_record(texts) == record


F = "romashka.example"


@pytest.mark.parametrize(("record", "at_org", "results", "result", "policy"), [
    (None, False, [Method("dkim", "pass", F)], "none", ""),
    (DmarcRecord("reject"), False, [Method("dkim", "pass", F)], "pass", "reject"),
    (DmarcRecord("reject"), False, [Method("spf", "pass", "bounce." + F)], "pass", "reject"),
    (DmarcRecord("reject", aspf="s"), False, [Method("spf", "pass", "bounce." + F)],
     "fail", "reject"),
    (DmarcRecord("reject", adkim="s"), False, [Method("dkim", "pass", "mail." + F)],
     "fail", "reject"),
    (DmarcRecord("quarantine"), False, [Method("dkim", "fail", F),
                                        Method("spf", "pass", "evil.example")],
     "fail", "quarantine"),
    (DmarcRecord("reject", sp="none"), True, [], "fail", "none"),
    (DmarcRecord("reject"), True, [], "fail", "reject"),
])
def test_evaluate(record: DmarcRecord | None, at_org: bool, results: list[Method],
                  result: str, policy: str) -> None:
    m = evaluate(F, record, at_org_domain=at_org, results=results)
    assert (m.method, m.result, m.domain, m.policy) == ("dmarc", result, F, policy)
