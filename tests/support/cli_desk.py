"""A desk driven only through the `supportd` command line, at chosen moments.

Each call runs `python -m daemon.cli --config C --now MOMENT ...` as an admin or an
MTA would (the one clock of issue 19): letters go in by `ingest`, the outbox is
flushed into the Maildir, tickets are read with `tickets show --json`. Letters that
went out are read back from the Maildir, as the client's mail client would.
"""

from __future__ import annotations

import email
import email.policy
import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench.harness.desk_config import write_config

PROJECT = Path(__file__).resolve().parents[2]
MSK = ZoneInfo("Europe/Moscow")


@dataclass
class CliDesk:
    root: Path
    config: Path
    now: str = "2026-12-08T11:00+03:00"
    seen: set[str] = field(default_factory=set)

    @classmethod
    def make(cls, root: Path, extra: str = "") -> CliDesk:
        desk = cls(root, write_config(root, extra=extra))
        desk.ok("db", "upgrade")
        return desk

    def at(self, moment: datetime | str) -> CliDesk:
        self.now = moment if isinstance(moment, str) else moment.isoformat()
        return self

    def run(self, *args: str, input: bytes | None = None,
            now: str | None = None) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "daemon.cli", "--config", str(self.config)]
        if (now or self.now) != "":
            cmd += ["--now", now or self.now]
        p = subprocess.run([*cmd, *args], input=input, capture_output=True, timeout=120,
                           cwd=PROJECT)
        return subprocess.CompletedProcess(p.args, p.returncode, p.stdout.decode(),
                                           p.stderr.decode())

    def ok(self, *args: str, input: bytes | None = None) -> str:
        p = self.run(*args, input=input)
        assert p.returncode == 0, f"{args}: {p.returncode} {p.stderr}"
        return p.stdout

    def ingest(self, raw: bytes) -> str:
        """The TID the letter went to."""
        out = self.ok("ingest", "-", input=raw)
        found = re.search(r"SD-\d+", out)
        assert found, out
        return found.group(0)

    def ticket(self, tid: str) -> dict[str, Any]:
        return dict(json.loads(self.ok("tickets", "show", tid, "--json")))

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json"))

    def new_letters(self) -> list[EmailMessage]:
        """The letters sent since the last look (flushes the outbox first)."""
        self.ok("outbox", "flush")
        box = self.root / "outbox" / "new"
        files = sorted(p for p in box.glob("*") if p.name not in self.seen) \
            if box.exists() else []
        self.seen.update(p.name for p in files)
        return [email.message_from_bytes(f.read_bytes(), policy=email.policy.default)
                for f in files]  # type: ignore[misc]


def text_of(letter: EmailMessage) -> str:
    return str(letter.get_body(("plain",)).get_content())  # type: ignore[union-attr]


def to(letters: list[EmailMessage], address: str) -> list[EmailMessage]:
    return [m for m in letters if address in str(m["To"])]
