"""Log lines journald and Postfix can use (issue 20): one JSON object a line with its
syslog priority, "<N>" in front when stderr is the journal's stream, and the
libraries' own loggers through the same lines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PROGRAM = """
import logging, structlog
from daemon.config.schema import LoggingConfig
from daemon.service import logs
logs.configure(LoggingConfig(level="info", format="json"))
log = structlog.get_logger("supportd.test")
log.info("letter.processed", tid="SD-000001")
log.warning("letter.deferred")
log.error("db.unavailable", error="connection refused")
logging.getLogger("aiosmtpd.smtp").error("a library's own complaint")
"""


def run(tmp_path: Path, journal: bool) -> list[str]:
    out = tmp_path / "stderr"
    with open(out, "wb") as f:
        st = os.fstat(f.fileno())
        env = {**os.environ, "JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}" if journal else ""}
        subprocess.run([sys.executable, "-c", PROGRAM], stderr=f, env=env, check=True,
                       timeout=60)
    return out.read_text(encoding="utf-8").splitlines()


def test_every_line_is_json_with_its_priority(tmp_path: Path) -> None:
    lines = [json.loads(line) for line in run(tmp_path, journal=False)]
    assert [(e["event"], e["priority"]) for e in lines] == [
        ("letter.processed", 6), ("letter.deferred", 4), ("db.unavailable", 3),
        ("library.complaint", 3)]
    assert lines[-1]["library"] == "aiosmtpd.smtp"


def test_on_the_journal_stream_a_line_starts_with_its_priority(tmp_path: Path) -> None:
    lines = run(tmp_path, journal=True)
    assert [line[:3] for line in lines] == ["<6>", "<4>", "<3>", "<3>"]
    assert all(json.loads(line[3:])["priority"] == int(line[1]) for line in lines)
