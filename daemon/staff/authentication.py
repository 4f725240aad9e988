"""Is a letter from a staff address really from our MTA-verified staff member?

We trust only Authentication-Results headers whose authserv-id is configured
(RFC 8601 §5: others may be forged by anyone upstream), and ask for a passing
result that is *about the sender's domain*: dkim=pass with header.d (or
header.i) in it, spf=pass with smtp.mailfrom in it, or dmarc=pass with
header.from in it. A bare spf=pass proves only that some envelope sender was
allowed to send, which any attacker's own domain can arrange.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

_METHOD = re.compile(r"^\s*(dkim|spf|dmarc)\s*=\s*(\w+)(.*)$", re.I | re.S)
_PROP = re.compile(r"\b(header\.d|header\.i|header\.from|smtp\.mailfrom)\s*=\s*([^\s;()]+)", re.I)


def _aligned(domain: str, sender_domain: str) -> bool:
    """Relaxed alignment (RFC 7489 §3.1): the same domain, or a parent of it."""
    domain = domain.lower().lstrip("@").rpartition("@")[2].rstrip(".")
    return bool(domain) and (sender_domain == domain or sender_domain.endswith("." + domain))


def authenticated(headers: Sequence[object], trusted_ids: Collection[str], sender: str) -> bool:
    sender_domain = sender.lower().rpartition("@")[2]
    if not sender_domain:
        return False
    trusted = {t.lower() for t in trusted_ids}
    for h in headers:
        value = re.sub(r"\s+", " ", str(h)).strip()
        head, _, rest = value.partition(";")
        if head.strip().split(" ", 1)[0].lower() not in trusted:
            continue
        for clause in rest.split(";"):
            m = _METHOD.match(clause)
            if not m or m.group(2).lower() != "pass":
                continue
            method = m.group(1).lower()
            props = {k.lower(): v for k, v in _PROP.findall(m.group(3))}
            wanted = {"dkim": ("header.d", "header.i"), "spf": ("smtp.mailfrom",),
                      "dmarc": ("header.from",)}[method]
            if any(_aligned(props[k], sender_domain) for k in wanted if k in props):
                return True
    return False
