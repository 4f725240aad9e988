"""DMARC (RFC 7489) evaluated by ourselves, when our MTA wrote no verdict: pure parts.

`parse_record` reads a domain's `_dmarc` TXT record; `evaluate` gives the DMARC
result for a From domain from the SPF and DKIM results and the record: pass when
an SPF or DKIM pass aligns (relaxed or strict, as the record asks), fail when a
record exists and nothing aligned passed, none without a record. Where the record
was found at the organisational domain, its `sp=` is the policy of a subdomain.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from daemon.trust.domains import aligned
from daemon.trust.verdict import FAIL, NONE, PASS, Method

_POLICIES = ("none", "quarantine", "reject")


@dataclass(frozen=True)
class DmarcRecord:
    p: str = "none"
    sp: str = ""  # the subdomains' policy; empty: as p
    adkim: str = "r"  # r(elaxed) | s(trict)
    aspf: str = "r"


def parse_record(texts: Iterable[str]) -> DmarcRecord | None:
    """The one DMARC record among a name's TXT strings, or None (none, several, or
    one without a valid p=: RFC 7489 §6.6.3 says to act as if there were none)."""
    records = [t for t in texts if t.strip().lower().startswith("v=dmarc1")]
    if len(records) != 1:
        return None
    tags: dict[str, str] = {}
    for part in records[0].split(";"):
        key, sep, value = part.partition("=")
        if sep:
            tags.setdefault(key.strip().lower(), value.strip().lower())
    p, sp = tags.get("p", ""), tags.get("sp", "")
    if p not in _POLICIES:
        return None
    return DmarcRecord(p=p, sp=sp if sp in _POLICIES else "",
                       adkim="s" if tags.get("adkim") == "s" else "r",
                       aspf="s" if tags.get("aspf") == "s" else "r")


def evaluate(from_domain: str, record: DmarcRecord | None, *, at_org_domain: bool,
             results: Iterable[Method]) -> Method:
    """The DMARC result for `from_domain`; `at_org_domain`: the record was found at the
    organisational domain, not at the From domain itself."""
    if record is None:
        return Method("dmarc", NONE, from_domain)
    policy = (record.sp or record.p) if at_org_domain else record.p
    for m in results:
        if m.result != PASS:
            continue
        if m.method == "dkim" and aligned(m.domain, from_domain, strict=record.adkim == "s"):
            return Method("dmarc", PASS, from_domain, policy)
        if m.method == "spf" and aligned(m.domain, from_domain, strict=record.aspf == "s"):
            return Method("dmarc", PASS, from_domain, policy)
    return Method("dmarc", FAIL, from_domain, policy)
