"""Measurement 2, through a real MTA (issue 14): letters sent over SMTP into a private
Postfix, delivered by its pipe(8) to the thin `supportd ingest`, taken by a running
`supportd run` (SQLite desk).

The desk, the pipe user and the pipe(8) line are those of
tests/integration/test_postfix.py (`PipeDesk`: docs/admin.md's recipe, `user=nobody`,
the program's first module daemon/cli/front.py). The letters go to Postfix over one
SMTP session, as fast as it takes them; the rate is the daemon's: its first
`letter.accepted` to its last (what the pipe handed over per second), and end to end,
from the first letter sent to the last one committed. With maxproc 2 (the recipe's)
and 4 (as many pipes as the machine takes). Needs root and Debian's postfix, like the
test; otherwise the figure says why it is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import smtplib
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.harness.desks import letters_for
from bench.harness.postfix import Postfix, Sink, skip_reason
from bench.harness.stats import median

DESK = "techsupport@example.ru"


def measure(sz: dict[str, Any], seed: int, pg: str | None) -> dict[str, Any]:
    why = skip_reason()
    if why is not None:
        return {"error": why}
    from tests.integration.test_postfix import PipeDesk  # pytest is in the venv's [test]

    n = sz.get("postfix_n", 200)
    letters = letters_for(n, seed)
    out: dict[str, Any] = {"letters": n}
    for maxproc in (2, 4):
        runs = [_one_run(PipeDesk, letters, maxproc) for _ in range(sz["reps"])]
        for key in ("rate", "end_to_end_rate", "lost"):
            out[f"maxproc{maxproc}_{key}s"] = [r[key] for r in runs]
            out[f"maxproc{maxproc}_{key}"] = median([r[key] for r in runs])
    out["load_after"] = os.getloadavg()[0]
    return out


def _one_run(desk_class: Any, letters: list[Any], maxproc: int) -> dict[str, float]:
    root = Path(tempfile.mkdtemp(prefix="supportd-bench-pipe-"))
    root.chmod(0o755)
    try:
        desk = desk_class(root, thin=True)
        upgraded = desk.cli("db", "upgrade")
        if upgraded.returncode != 0:
            raise RuntimeError(upgraded.stderr.decode())
        log = root / "daemon.log"
        run = desk.start_daemon(log)
        try:
            with Sink() as sink, Postfix(routes={DESK: "supportd:"}, sink_port=sink.port,
                                         master=desk.master_cf(maxproc),
                                         main={"supportd_destination_recipient_limit": "1"}
                                         ) as mta:
                t0 = time.time()
                with smtplib.SMTP(mta.host, mta.port, timeout=60) as s:
                    for x in letters:
                        s.sendmail(x.sender, [DESK], x.raw)
                # Until every letter is processed, or nothing has moved for 30 s.
                seen, still = 0, time.monotonic()
                while seen < len(letters) and time.monotonic() - still < 30:
                    time.sleep(0.2)
                    now_seen = len(_events(log, "letter.processed"))
                    seen, still = now_seen, still if now_seen == seen else time.monotonic()
                done = time.time()
        finally:
            run.terminate()
            run.wait(60)
        accepted = sorted(_events(log, "letter.accepted"))
        processed = sorted(_events(log, "letter.processed"))
        span = accepted[-1] - accepted[0] if len(accepted) > 1 else float("nan")
        last = processed[-1] if processed else done
        return {"rate": (len(accepted) - 1) / span, "end_to_end_rate":
                len(processed) / (last - t0), "lost": len(letters) - len(processed)}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _events(log: Path, event: str) -> list[float]:
    """The moments (epoch seconds) of the daemon's log records of `event`. The daemon
    and its workers write the one file: a record may share a line with another's."""
    text = log.read_text(encoding="utf-8", errors="replace")
    decoder, moments, at = json.JSONDecoder(), [], 0
    while (at := text.find("{", at)) >= 0:
        try:
            record, at = decoder.raw_decode(text, at)
        except ValueError:
            at += 1
            continue
        if isinstance(record, dict) and record.get("event") == event:
            moments.append(datetime.fromisoformat(record["timestamp"]).timestamp())
    return moments
