"""Is a letter from a staff address really from our MTA-verified staff member?

We trust only Authentication-Results headers whose authserv-id is configured
(RFC 8601 §5: others may be forged by anyone upstream), and ask for dkim=pass,
or spf=pass / dmarc=pass for the sender's domain.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

_RESULT = re.compile(r"\b(dkim|spf|dmarc)\s*=\s*(\w+)", re.I)


def authenticated(headers: Sequence[object], trusted_ids: Collection[str], sender: str) -> bool:
    trusted = {t.lower() for t in trusted_ids}
    for h in headers:
        value = re.sub(r"\s+", " ", str(h)).strip()
        authserv = value.split(";", 1)[0].strip().split(" ", 1)[0].lower()
        if authserv not in trusted:
            continue
        results = {m.group(1).lower(): m.group(2).lower() for m in _RESULT.finditer(value)}
        if "pass" in (results.get("dkim"), results.get("spf"), results.get("dmarc")):
            return bool(sender)
    return False
