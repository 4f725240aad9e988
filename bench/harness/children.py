"""A measurement's part in a fresh interpreter: `bench/run.py _child NAME ARGS`.

Each in-process measurement runs in a child of its own, so that one's imports,
caches and heap do not colour the next; the child prints one `RESULT {json}` line
(`emit`) and logs everything else to bench/.work/logs/. `run_child` runs it and
tries again (twice at most) when PostgreSQL went away under it.
"""

from __future__ import annotations

import json
import subprocess
import time
from typing import Any

from bench.harness.paths import BENCH, LOGS, PROJECT, PY
from bench.harness.postgres import pg_wait
from bench.harness.progress import say

PG_DOWN = ("Connection refused", "shutting down", "starting up", "connection failed",
           "server closed the connection", "terminating connection")


def run_child(name: str, args: dict[str, Any], timeout: float = 900,
              wrap: list[str] | None = None) -> dict[str, Any]:
    """`_run_child`, tried again (twice at most) when PostgreSQL went away under it."""
    for attempt in range(3):
        try:
            return _run_child(name, args, timeout, wrap)
        except RuntimeError as exc:
            if not args.get("pg") or attempt == 2 or not any(s in str(exc) for s in PG_DOWN):
                raise
            say(f"{name}: PostgreSQL went away ({str(exc).splitlines()[-1][:120]}); "
                "waiting and trying again")
            if not pg_wait(args["pg"]):
                raise
            time.sleep(5)
    raise AssertionError("unreachable")


def _run_child(name: str, args: dict[str, Any], timeout: float = 900,
               wrap: list[str] | None = None) -> dict[str, Any]:
    """Run `run.py _child NAME ARGS` in a fresh interpreter; its last RESULT line."""
    LOGS.mkdir(parents=True, exist_ok=True)
    log = LOGS / f"{name}-{args.get('label', '')}.log".replace("-.log", ".log")
    cmd = [*(wrap or []), PY, str(BENCH / "run.py"), "_child", name, json.dumps(args)]
    with open(log, "wb") as err:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=err, timeout=timeout,
                           cwd=PROJECT)
    for line in reversed(p.stdout.decode("utf-8", "replace").splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    tail = log.read_text(encoding="utf-8", errors="replace")[-6000:]
    raise RuntimeError(f"child {name} failed (exit {p.returncode}), log {log}:\n{tail}")


def emit(result: dict[str, Any]) -> None:
    print("RESULT " + json.dumps(result, ensure_ascii=False), flush=True)
