"""Accounting for every letter the soak sent, one by one: Postfix's queue id (from
smtpd's 250) -> the maillog's `status=sent (... queued as SPOOL-ID)` -> supportd's
`inbound` row of that spool id (outcome and reason); or Postfix's `status=bounced`;
or, refused at SMTP time, Postfix's `NOQUEUE: reject` line (found by the
connection's unique HELO name). Anything else is "missing", with examples.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from bench.soak_jobs.desk import Database
from bench.soak_jobs.mix import Mix
from bench.soak_jobs.send import Sent
from bench.soak_jobs.watch import Maillog

QUEUED_AS = re.compile(r"queued as (\S+?)\)?$")


class _Ledger:
    """What the letters came to: outcomes overall and per kind, the reasons recorded,
    examples of what went astray (at most 5 of each), and the inbound rows matched."""

    def __init__(self, log: Maillog, inbound: dict[str, tuple[Any, ...]], spool: Path) -> None:
        self.log, self.inbound, self.spool = log, inbound, spool
        self.shunted = ({p.name for p in (spool / "shunt").glob("*")}
                        if (spool / "shunt").exists() else set())
        self.matched: set[str] = set()
        self.per_kind: dict[str, Counter[str]] = defaultdict(Counter)
        self.outcomes: Counter[str] = Counter()
        self.examples: dict[str, list[str]] = defaultdict(list)
        self.empty_reason: Counter[str] = Counter()
        self.reasons: dict[str, Counter[str]] = defaultdict(Counter)
        self.missing = 0

    def note(self, key: str, text: str) -> None:
        if len(self.examples[key]) < 5:
            self.examples[key].append(text)

    def refused(self, s: Sent, who: str) -> str:
        """A letter Postfix gave no queue id: refused at SMTP time, or missing."""
        reason = self.log.rejects.get(s.helo) if s.helo else None
        if reason:
            self.reasons["postfix:refused"][short_reason(reason)] += 1
            return "postfix:refused"
        self.note("missing", f"{who}: SMTP {s.code} {s.reply!r}, no reject line in maillog")
        return "missing"

    def delivered(self, s: Sent, who: str, text: str) -> str:
        """A letter Postfix delivered to supportd: its inbound row, or its shunt."""
        m = QUEUED_AS.search(text)
        spool_id = m.group(1) if m else ""
        row = self.inbound.get(spool_id)
        if row is not None:
            self.matched.add(spool_id)
            got: str = row[1]
            self.reasons[got][short_reason(row[2])] += 1
            if not (row[2] or "").strip():
                self.empty_reason[got] += 1
                if got != "ticket":
                    self.note(f"empty reason ({got})", f"{who}: spool {spool_id}")
            return got
        if spool_id in self.shunted:
            why = shunt_reason(self.spool / "shunt" / f"{spool_id}.reason")
            self.reasons["shunted"][short_reason(why)] += 1
            self.note("shunted", f"{who}: spool/shunt/{spool_id}: {why}")
            return "shunted"
        self.note("missing", f"{who}: Postfix {s.qid} sent as {spool_id!r}, no inbound row")
        return "missing"

    def outcome(self, s: Sent) -> str:
        who = f"letter {s.index} ({s.kind}, {s.message_id or 'no Message-ID'})"
        if s.qid is None:
            return self.refused(s, who)
        status, text = self.log.final.get(s.qid, ("", ""))
        if status == "sent":
            return self.delivered(s, who, text)
        if status == "bounced":
            self.reasons["postfix:bounced"][short_reason(text)] += 1
            return "postfix:bounced"
        self.note("missing", f"{who}: Postfix {s.qid}: "
                             f"{'; '.join(self.log.history.get(s.qid, [])) or 'no delivery line'}")
        return "missing"

    def add(self, s: Sent) -> None:
        got = self.outcome(s)
        if got == "missing":
            self.missing += 1
        self.outcomes[got] += 1
        self.per_kind[s.kind][got] += 1
        if got != s.expect and got != "missing":
            rid = ""
            if s.qid and self.log.final.get(s.qid, ("",))[0] == "sent":
                sid = QUEUED_AS.search(self.log.final[s.qid][1])
                row = self.inbound.get(sid.group(1)) if sid else None
                rid = f": {row[2]!r}" if row else ""
            who = f"letter {s.index} ({s.kind}, {s.message_id or 'no Message-ID'})"
            self.note(f"{s.kind} -> {got} (expected {s.expect})", f"{who}{rid}")


def account(sent: list[Sent], log: Maillog, db: Database, spool: Path,
            mix: Mix) -> dict[str, Any]:
    rows = db.rows("SELECT spool_id, outcome, reason, ticket_id, source FROM inbound")
    ledger = _Ledger(log, {r[0]: r for r in rows}, spool)
    for s in sorted(sent, key=lambda x: x.index):
        ledger.add(s)
    extra = [r for sid, r in ledger.inbound.items() if sid not in ledger.matched]
    for r in extra[:5]:
        ledger.note("extra inbound rows", f"spool {r[0]}: {r[1]} {r[2]!r}")
    return {"sent": len(sent), "planned": len(mix.kinds), "outcomes": ledger.outcomes,
            "per_kind": ledger.per_kind, "missing": ledger.missing, "extra": len(extra),
            "inbound_rows": len(rows), "empty_reason": ledger.empty_reason,
            "examples": ledger.examples, "reasons": ledger.reasons,
            "shunted_files": len(ledger.shunted)}


def shunt_reason(path: Path) -> str:
    """The last line of a shunted letter's .reason (a traceback: the exception)."""
    try:
        lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return "(no .reason file)"
    return lines[-1].strip()[:300] if lines else "(empty .reason file)"


def short_reason(text: str) -> str:
    """A reason without what differs letter to letter (numbers, addresses, ids)."""
    text = re.sub(r"<[^>]*>", "<…>", text or "")
    text = re.sub(r"\b[\w.+-]+@[\w.-]+", "…@…", text)
    text = re.sub(r"SD-\d+", "SD-…", text)
    text = re.sub(r"\d+", "N", text)
    return text.strip()[:110] or "(empty)"
