"""A spam verdict, and what the desk does with it (regulation §5.11). Pure.

A scanner (rspamd, spamd) or our MTA's headers give a `SpamVerdict`: the backend,
its score, its action word and the main symbols. `decide` turns it into what
happens to the letter:

- **pass**: below `hold_score` (or no verdict at all): a ticket and an answer, as
  ever; the verdict is kept with the letter for staff to see;
- **hold**: at or above `hold_score`, or the backend itself said reject: no ticket,
  no answer; the letter waits whole in the quarantine for staff;
- **reject**: at or above `reject_score`: held as well, and deleted from the
  quarantine after `[spam] keep_days`.

A proven registered client (DMARC passed for an address the registry knows, issue
11) is never held below `reject_score`: a client's letter a filter misjudges is
scored, flagged for staff and answered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PASS, HOLD, REJECT = "pass", "hold", "reject"
MAIN_SYMBOLS = 8  # how many symbols staff see: the heaviest first


@dataclass(frozen=True)
class SpamVerdict:
    backend: str  # rspamd | spamassassin | headers | off
    score: float | None = None  # None: the backend gave no number (headers: a flag only)
    action: str = ""  # the backend's word: rspamd's action, "spam"/"ham", "not checked"
    symbols: tuple[str, ...] = ()  # the main rules that fired, heaviest first
    is_spam: bool = False  # the backend's own yes (rspamd reject, spamd's "True", X-Spam-Flag)
    checked: bool = True  # False: the scanner was away past [spam] max_wait
    error: str = ""  # why it was not checked
    extra: dict[str, Any] = field(default_factory=dict)  # held_at, released_at, ...

    def as_dict(self) -> dict[str, Any]:
        return {"backend": self.backend, "score": self.score, "action": self.action,
                "symbols": list(self.symbols), "is_spam": self.is_spam,
                "checked": self.checked, "error": self.error, **self.extra}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SpamVerdict:
        known = {"backend", "score", "action", "symbols", "is_spam", "checked", "error"}
        return cls(backend=str(data.get("backend", "")), score=data.get("score"),
                   action=str(data.get("action", "")),
                   symbols=tuple(data.get("symbols") or ()),
                   is_spam=bool(data.get("is_spam")), checked=bool(data.get("checked", True)),
                   error=str(data.get("error", "")),
                   extra={k: v for k, v in data.items() if k not in known})

    def with_extra(self, **extra: Any) -> SpamVerdict:
        return SpamVerdict(self.backend, self.score, self.action, self.symbols, self.is_spam,
                           self.checked, self.error, {**self.extra, **extra})


def not_checked(backend: str, error: str) -> SpamVerdict:
    return SpamVerdict(backend, None, "not checked", (), False, False, error)


def decide(verdict: SpamVerdict | None, hold_score: float, reject_score: float, *,
           proven_client: bool = False) -> str:
    """pass | hold | reject (see the module)."""
    if verdict is None or not verdict.checked:
        return PASS
    score = verdict.score
    if score is not None and score >= reject_score:
        return REJECT
    if proven_client:
        return PASS
    if verdict.is_spam or (score is not None and score >= hold_score):
        return HOLD
    return PASS


def main_symbols(scored: dict[str, float], limit: int = MAIN_SYMBOLS) -> tuple[str, ...]:
    """The symbols that weigh most, heaviest first ("GTUBE", "BAYES_SPAM(5.1)")."""
    ranked = sorted(scored.items(), key=lambda kv: (-abs(kv[1]), kv[0]))
    return tuple(f"{name}({score:g})" if score else name for name, score in ranked[:limit])


def from_rspamd(reply: dict[str, Any]) -> SpamVerdict:
    """rspamd's /checkv2 JSON (https://rspamd.com/doc/developers/protocol.html)."""
    symbols = reply.get("symbols") or {}
    scored = {str(name): float((s or {}).get("score", 0.0))
              for name, s in symbols.items() if isinstance(s, dict)}
    action = str(reply.get("action", ""))
    return SpamVerdict("rspamd", round(float(reply.get("score", 0.0)), 2), action,
                       main_symbols(scored), is_spam=action == "reject")


def from_spamd(spam_header: str, symbols: str) -> SpamVerdict:
    """spamd's answer to SYMBOLS: "Spam: True ; 1000.0 / 5.0" and the rule names."""
    flag, _, scores = spam_header.partition(";")
    is_spam = flag.strip().lower() in ("true", "yes")
    try:
        score = round(float(scores.split("/")[0]), 2)
    except ValueError:
        score = None
    names = tuple(n.strip() for n in symbols.replace("\r", "").replace("\n", ",").split(",")
                  if n.strip())
    return SpamVerdict("spamassassin", score, "spam" if is_spam else "ham",
                       names[:MAIN_SYMBOLS], is_spam=is_spam)
