"""Organisational domains (RFC 7489 §3.2) by the Public Suffix List, and DMARC alignment.

The list is the one the `publicsuffixlist` package bundles (no download at run
time); it is read once per process, when an alignment is first asked about
(~0.1 s), so a letter whose verdict our MTA already wrote never pays for it.
`header.d=example` does not align `distate.example`: `example` is a public
suffix, an organisational domain of nothing.
"""

from __future__ import annotations

from functools import cache

from publicsuffixlist import PublicSuffixList


@cache
def _list() -> PublicSuffixList:
    return PublicSuffixList()


def normalise(domain: str) -> str:
    """A domain as compared: lower case, no trailing dot, no angle brackets or @."""
    return domain.strip().strip("<>").rpartition("@")[2].strip().rstrip(".").lower()


def org_domain(domain: str) -> str | None:
    """The organisational domain of `domain`, or None when it is a public suffix
    itself (or empty)."""
    domain = normalise(domain)
    return _list().privatesuffix(domain) if domain else None


def aligned(authenticated: str, from_domain: str, *, strict: bool = False) -> bool:
    """Does a domain that passed DKIM (d=) or SPF (MAIL FROM) align with the From
    domain? Strict: the same domain; relaxed: the same organisational domain."""
    a, f = normalise(authenticated), normalise(from_domain)
    if not a or not f:
        return False
    if strict:
        return a == f
    org = org_domain(f)
    return org is not None and org == org_domain(a)
