"""The spam verdict our own MTA already wrote (`[spam] backend = "headers"`). Pure.

Postfix with rspamd's milter (or SpamAssassin's) writes X-Spam-Flag, X-Spam-Status,
X-Rspamd-Action, X-Spamd-Result and the like. A client can write them too, so they
are believed by the same rule as Authentication-Results (`daemon.trust.headers`,
issue 11): only above the first Received header for a hop from outside our own
relays, that is, added by our MTA after it took the letter. The same header lower
down is the sender's claim and counts for nothing, either way: `X-Spam-Flag: NO`
on a spammer's letter does not let it through, and a `YES` a prankster wrote on a
client's letter does not hold it.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable

from daemon.scan.verdict import SpamVerdict, main_symbols
from daemon.trust.headers import is_from_outside

SPAM_HEADERS = frozenset({"x-spam-flag", "x-spam-status", "x-spam-score", "x-spam",
                          "x-rspamd-action", "x-rspamd-score", "x-spamd-result"})
_YES = frozenset({"yes", "true", "spam"})
_SCORE = re.compile(r"\bscore\s*=\s*(-?\d+(?:\.\d+)?)", re.I)
_TESTS = re.compile(r"\btests\s*=\s*([\w,\s]*?)(?:\s+\w+=|$)", re.I)
_RESULT = re.compile(r"^\s*\w+\s*:\s*(true|false)\s*\[\s*(-?[\d.]+)\s*/", re.I)
_SYMBOL = re.compile(r";\s*([A-Z0-9_]+)\((-?[\d.]+)\)")


def believed(headers: Iterable[tuple[str, str]], internal_hosts: Collection[str] = ()
             ) -> list[tuple[str, str]]:
    """The spam headers our MTA added: above the first Received from outside."""
    found = []
    for name, value in headers:
        key = name.lower()
        if key == "received" and is_from_outside(str(value), internal_hosts):
            break
        if key in SPAM_HEADERS:
            found.append((key, " ".join(str(value).split())))
    return found


def _number(text: str) -> float | None:
    try:
        return round(float(text), 2)
    except ValueError:
        return None


def verdict(headers: Iterable[tuple[str, str]], internal_hosts: Collection[str] = ()
            ) -> SpamVerdict:
    """The verdict in our MTA's headers; "no verdict" when it wrote none."""
    ours = believed(headers, internal_hosts)
    if not ours:
        return SpamVerdict("headers", None, "no verdict")
    score: float | None = None
    flags: list[bool] = []
    action = ""
    symbols: tuple[str, ...] = ()
    for key, value in ours:
        first = value.split(",")[0].split()[0].lower() if value.split() else ""
        if key in ("x-spam-flag", "x-spam"):
            flags.append(first in _YES)
        elif key == "x-spam-status":
            flags.append(first.rstrip(",") in _YES)
            if (m := _SCORE.search(value)) and score is None:
                score = _number(m.group(1))
            if (t := _TESTS.search(value)) and not symbols:
                symbols = tuple(n.strip() for n in t.group(1).split(",") if n.strip())[:8]
        elif key in ("x-spam-score", "x-rspamd-score") and score is None:
            score = _number(value.split()[0]) if value.split() else None
        elif key == "x-rspamd-action":
            action = value.lower()
            flags.append(action == "reject")
        elif key == "x-spamd-result":
            if m := _RESULT.match(value):
                flags.append(m.group(1).lower() == "true")
                score = _number(m.group(2)) if score is None else score
            scored = {n: float(s) for n, s in _SYMBOL.findall(value)}
            symbols = symbols or main_symbols(scored)
    is_spam = any(flags)
    return SpamVerdict("headers", score, action or ("spam" if is_spam else "ham"), symbols,
                       is_spam=is_spam)
