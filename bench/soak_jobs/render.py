"""The soak's table: every letter accounted for (or not), the run's conditions, the
outcomes per kind of letter, the reasons recorded, and examples of what went astray;
printed, and written to bench/soak-results.md.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from typing import Any

from bench.soak_jobs.mix import MIX, POSTFIX_LIMIT, SUPPORTD_LIMIT

ORDER = ["ticket", "threaded", "duplicate", "suppressed", "bounce", "postfix:bounced",
         "postfix:refused", "shunted", "missing"]
LABEL = {"ticket": "ticket (new ticket)", "threaded": "threaded (on an existing ticket)",
         "duplicate": "duplicate", "suppressed": "suppressed (robot)",
         "bounce": "bounce (of our letter, recorded)",
         "postfix:bounced": "refused by supportd (552), bounced by Postfix",
         "postfix:refused": "refused by Postfix at SMTP time (552)",
         "shunted": "shunted (spool/shunt, no inbound row)", "missing": "**missing**"}


def render(r: dict[str, Any], args: argparse.Namespace) -> str:
    lines = [*_summary(r, args), *_per_kind(r), *_reasons(r), *_notes(r)]
    return "\n".join(lines) + "\n"


def _summary(r: dict[str, Any], args: argparse.Namespace) -> list[str]:
    m = r["machine"]
    wall = r["seconds"]
    shunted = r["outcomes"].get("shunted", 0)
    accounted = r["sent"] - r["missing"] - shunted
    verdict = "yes" if accounted == r["sent"] else \
        f"NO: {r['missing']} missing, {shunted} shunted without an inbound row"
    cmd = ".venv/bin/python bench/soak.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    lines = [
        "# Soak: letters through Postfix into supportd, every one accounted for",
        "",
        "Written by `bench/soak.py` (run by hand, not in CI). Each letter is followed from "
        "Postfix's queue id (smtpd's 250) through the maillog (`status=sent ... queued as "
        "SPOOL-ID` / `status=bounced`, or smtpd's `NOQUEUE: reject`) to supportd's `inbound` "
        "row of that spool id.",
        "",
        "| | |",
        "|---|---:|",
        f"| letters planned | {r['planned']:,} |",
        f"| letters sent to Postfix | {r['sent']:,} |",
    ]
    for key in ORDER:
        if r["outcomes"].get(key) or key == "missing":
            lines.append(f"| {LABEL[key]} | {r['outcomes'].get(key, 0):,} |")
    return lines + [
        f"| accounted for (an inbound row, or Postfix's refusal) | {accounted:,} of "
        f"{r['sent']:,} |",
        f"| missing = 0? | {verdict} |",
        f"| inbound rows not matched to a letter sent | {r['extra']} |",
        f"| non-ticket inbound rows with an empty reason | "
        f"{sum(v for k, v in r['empty_reason'].items() if k != 'ticket')} |",
        f"| wall time, first letter sent to everything accounted | {wall:.1f} s |",
        f"| of which handing the letters to Postfix | {r['send_seconds']:.1f} s |",
        f"| letters/s (sent ÷ wall time) | {r['sent'] / wall:.1f} |",
        f"| settled (Postfix queue empty, spool idle, every delivery has its row) | "
        f"{'yes' if r['settled'] else 'NO'} |",
        f"| Postfix → supportd | {args.via.upper()}, {args.conns} client connections to "
        f"Postfix |",
        f"| limits | supportd {SUPPORTD_LIMIT:,} B, Postfix {POSTFIX_LIMIT:,} B |",
        f"| database | {r['db']} |",
        f"| Postfix / Python | {m['postfix']} / {m['python']} |",
        f"| `nproc` / CPU | {m['nproc']} / {m['cpu']} |",
        f"| date | {m['date']} |",
        f"| load average at the end | {m['load']} ({r['bench_note']}) |",
        f"| command | `{cmd}` |",
    ]


def _per_kind(r: dict[str, Any]) -> list[str]:
    lines = [
        "",
        "Per kind of letter (expected outcome in brackets):",
        "",
        "| kind | sent | outcomes |",
        "|---|---:|---|",
    ]
    for kind in MIX:
        c = r["per_kind"].get(kind)
        if not c:
            continue
        got = ", ".join(f"{k} {v:,}" for k, v in sorted(c.items(), key=lambda kv: -kv[1]))
        lines.append(f"| {kind} ({MIX[kind][2]}) | {sum(c.values()):,} | {got} |")
    return lines


def _reasons(r: dict[str, Any]) -> list[str]:
    lines = ["", "Reasons recorded (numbers and addresses elided), by outcome:", ""]
    for key in ORDER:
        rs = r["reasons"].get(key)
        if not rs:
            continue
        top = "; ".join(f"`{k}` ×{v:,}" for k, v in rs.most_common(6))
        more = f" (+{len(rs) - 6} more)" if len(rs) > 6 else ""
        lines.append(f"- {key}: {top}{more}")
    return lines


def _notes(r: dict[str, Any]) -> list[str]:
    extras = [f"- replies etc. waiting for a known ticket, at most at once: {r['parked_max']}",
              f"- Postfix bounces delivered to the senders' sink: {r['bounces_to_senders']}",
              f"- outbox Maildir files read: {r['acks_read']}"]
    if r["errors"]:
        extras += [f"- sending errors: {len(r['errors'])}; first: {r['errors'][:3]}"]
    lines = ["", *extras]
    if r["examples"]:
        lines += ["", "Examples (up to 5 of each):", ""]
        for key, xs in r["examples"].items():
            lines.append(f"- {key}:")
            lines += [f"  - {x}" for x in xs]
    return lines
