"""One verdict a letter: is it from the domain its From header names?

A header is a claim, a verdict is evidence (STYLE.md). The evidence is the results
of SPF, DKIM and DMARC, as our MTA wrote them in Authentication-Results or as our
own checks found them (`Method`s); `judge` makes one `AuthVerdict` of them:

- **pass**: DMARC passed, or, with no DMARC pass or fail, an SPF or DKIM pass aligned
  with the From domain (`domains.aligned`): the From domain is proven;
- **fail**: DMARC failed, or the domain publishes p=reject/quarantine and nothing
  aligned passed: the From domain is disproved, the letter is likely forged;
- **none**: nothing proves or disproves it (no checks, no DMARC record, a DNS
  answer that did not come in time).

Pure: every decision that hangs on a sender (the level, staff commands, new
participants, the answers sent) takes the verdict, and it is stored beside the
letter for staff to see.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

from daemon.trust.domains import aligned, normalise

PASS, FAIL, NONE = "pass", "fail", "none"
STRICT_POLICIES = frozenset({"reject", "quarantine"})


class Method(NamedTuple):
    """One method's result for one domain."""

    method: str  # spf | dkim | dmarc
    result: str  # pass | fail | softfail | neutral | none | temperror | permerror | policy
    domain: str = ""  # SPF: the MAIL FROM (or HELO) domain; DKIM: d=; DMARC: the From domain
    policy: str = ""  # DMARC: the policy the From domain publishes, when known


@dataclass(frozen=True)
class AuthVerdict:
    verdict: str = NONE  # pass | fail | none
    spf: str = NONE  # the best SPF result
    dkim: str = NONE  # the best DKIM result (pass if any signature passed)
    dmarc: str = NONE
    policy: str = ""  # none | quarantine | reject | "" (unknown)
    domain: str = ""  # the From domain judged
    source: str = ""  # "mta" (Authentication-Results of our MTA) | "own" | "" (unchecked)
    aligned: bool = False  # an SPF or DKIM pass aligned with the From domain
    submitter: str = ""  # the login our MTA's SMTP AUTH passed (auth=pass smtp.auth=…)

    def submitted_by(self, address: str) -> bool:
        """Did `address` log in to our own MTA to send it (a staff member writing
        through our submission port, where there is no DKIM to verify yet)?"""
        login = self.submitter
        return bool(login and address) and login in (address.lower(),
                                                     address.lower().partition("@")[0])

    @property
    def proven(self) -> bool:
        return self.verdict == PASS

    @property
    def forged(self) -> bool:
        return self.verdict == FAIL

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> AuthVerdict:
        known = {k: v for k, v in (data or {}).items() if k in cls.__dataclass_fields__}
        return cls(**known)


UNCHECKED = AuthVerdict()

# Results ranked from the best evidence down, for the one word staff see per method.
_RANK = ("pass", "fail", "softfail", "neutral", "policy", "permerror", "temperror", "none")


def _best(results: Iterable[str]) -> str:
    found = set(results)
    return next((r for r in _RANK if r in found), NONE if not found else sorted(found)[0])


def judge(methods: Iterable[Method], from_domain: str, source: str) -> AuthVerdict:
    """The verdict on a From domain from the methods' results (see the module)."""
    domain = normalise(from_domain)
    methods = list(methods)
    dmarcs = [m for m in methods if m.method == "dmarc"
              and (not m.domain or normalise(m.domain) == domain)]
    dmarc = dmarcs[0] if dmarcs else None
    policy = next((m.policy for m in dmarcs if m.policy), "")
    is_aligned = bool(domain) and any(
        m.method in ("spf", "dkim") and m.result == PASS and aligned(m.domain, domain)
        for m in methods)
    decided = dmarc.result if dmarc is not None and dmarc.result in (PASS, FAIL) else ""
    if decided == PASS or not decided and is_aligned:
        verdict = PASS
    elif decided == FAIL or policy in STRICT_POLICIES and not is_aligned:
        verdict = FAIL
    else:
        verdict = NONE
    return AuthVerdict(
        verdict=verdict,
        spf=_best(m.result for m in methods if m.method == "spf"),
        dkim=_best(m.result for m in methods if m.method == "dkim"),
        dmarc=dmarc.result if dmarc is not None else NONE,
        policy=policy, domain=domain, source=source, aligned=is_aligned,
        submitter=next((m.domain for m in methods if m.method == "auth" and m.result == PASS
                        and source == "mta"), ""))
