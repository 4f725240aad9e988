"""A broken winmail.dat is one structured log line, never a traceback on stderr.

tnefparse logs through the stdlib `logging` module, once per property it cannot
read: a winmail.dat whose property count lies said "Skipping property N" 290 times
on stderr, raw. Now whatever a library says while a letter is in hand becomes one
`letter.library_complaints` line with the letter's spool id, and every line on
stderr is JSON. The ticket still opens, the attachment judged.
"""

from __future__ import annotations

import email
import json
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from bench.harness.daemon import SUPPORT_ADDRESS, Daemon, write_daemon_config
from tests.conftest import PROJECT

pytestmark = pytest.mark.integration

ATTACHMENT_PROPERTIES = 0x9005  # attAttachment: the MAPI properties of an attachment


def outlook_blob() -> bytes:
    raw = (PROJECT / "tests" / "fixtures" / "eml" / "attach-tnef-winmail.eml").read_bytes()
    message = email.message_from_bytes(raw)
    return next(bytes(p.get_payload(decode=True))  # type: ignore[arg-type]
                for p in message.walk() if (p.get_filename() or "").lower() == "winmail.dat")


def count_lies(blob: bytes) -> bytes:
    """The first attachment's MAPI block claims 300 properties: tnefparse complains
    about every one it cannot find."""
    out, offset = bytearray(blob), 6
    while offset + 12 < len(blob):
        size = int.from_bytes(blob[offset + 5:offset + 9], "little") + 11
        if int.from_bytes(blob[offset + 1:offset + 3], "little") == ATTACHMENT_PROPERTIES:
            out[offset + 9:offset + 13] = (300).to_bytes(4, "little")
            return bytes(out)
        offset += size
    raise AssertionError("no attachment properties in the fixture")


BROKEN = {
    "count_lies": lambda b: count_lies(b),
    "cut_short": lambda b: b[:5000],
    "not_tnef": lambda b: b"\x00garbage, not TNEF\r\n" * 40,
}


def letter(name: str, blob: bytes) -> bytes:
    m = EmailMessage()
    m["From"], m["To"] = "ivan@client.example", SUPPORT_ADDRESS
    m["Subject"], m["Message-ID"] = f"Письмо из Outlook ({name})", f"<{name}@client.example>"
    m.set_content("Здравствуйте! Скриншоты во вложении.\n")
    m.add_attachment(blob, maintype="application", subtype="ms-tnef", filename="winmail.dat")
    return m.as_bytes()


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every line, as JSON: a line that is not (a traceback, a raw warning) fails."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.mark.parametrize("broken", sorted(BROKEN))
def test_ingest_of_a_broken_winmail_dat_says_so_in_one_line(tmp_path: Path,
                                                            broken: str) -> None:
    cfg, port = write_daemon_config(tmp_path)
    d = Daemon(tmp_path, port, cfg)
    d.upgrade()
    p = d.cli("ingest", "-", input=letter(broken, BROKEN[broken](outlook_blob())))
    stderr = p.stderr.decode("utf-8", "replace")
    assert p.returncode == 0, stderr
    assert "Traceback" not in stderr
    lines = json_lines(stderr)
    [said] = [e for e in lines if e["event"] == "letter.library_complaints"]
    [processed] = [e for e in lines if e["event"] == "letter.processed"]
    assert said["spool_id"] == processed["spool_id"] and said["level"] == "warning"
    assert said["complaints"] and all(c["library"] == "tnefparse" for c in said["complaints"])
    assert not [e for e in lines if e["event"] == "library.complaint"]

    attachments = d.show(processed["tid"])["messages"][0]["attachments"]
    assert attachments and all(a["verdict"] for a in attachments), attachments


def test_count_lies_is_counted_not_listed(tmp_path: Path) -> None:
    cfg, port = write_daemon_config(tmp_path)
    d = Daemon(tmp_path, port, cfg)
    d.upgrade()
    p = d.cli("ingest", "-", input=letter("lies", count_lies(outlook_blob())))
    [said] = [e for e in json_lines(p.stderr.decode()) if e["event"] ==
              "letter.library_complaints"]
    assert len(said["complaints"]) == 20 and said["more"] > 200
    assert said["complaints"][0]["message"].startswith("Skipping property")


def test_through_the_listener_the_daemon_writes_only_json(daemon: Daemon) -> None:
    for name, breaks in sorted(BROKEN.items()):
        code, _ = daemon.send(letter(name, breaks(outlook_blob())))
        assert code == 250
    daemon.wait_for_event("letter.processed", count=len(BROKEN))
    lines = json_lines(daemon.log.read_text(encoding="utf-8"))
    said = [e for e in lines if e["event"] == "letter.library_complaints"]
    assert len(said) == len(BROKEN)
    processed = {e["spool_id"] for e in lines if e["event"] == "letter.processed"}
    assert {e["spool_id"] for e in said} == processed
    assert not [e for e in lines if e["event"] == "library.complaint"]


def test_a_library_outside_any_letter_is_one_throttled_line(tmp_path: Path) -> None:
    """What a library logs outside a letter: one JSON line per thing said a minute."""
    cfg, _ = write_daemon_config(tmp_path)
    code = ("import logging, warnings, sys\n"
            "from daemon.config import loader\n"
            "from daemon.service import logs\n"
            f"logs.configure(loader.load({str(cfg)!r}).logging)\n"
            "for i in range(1000):\n"
            "    logging.getLogger('tnefparse').warning('Skipping property %r', i)\n"
            "logging.getLogger('asyncio').error('failed', exc_info=OSError(24, 'EMFILE'))\n"
            "warnings.warn('deprecated thing')\n"
            "raise SystemExit(0)\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, cwd=PROJECT, timeout=60)
    stderr = p.stderr.decode()
    assert p.returncode == 0 and "Traceback" not in stderr, stderr
    lines = json_lines(stderr)
    assert [(e["event"], e["library"]) for e in lines] == [
        ("library.complaint", "tnefparse"), ("library.complaint", "asyncio"),
        ("library.complaint", "py.warnings")]
    assert lines[1]["error"] == "OSError: [Errno 24] EMFILE"
