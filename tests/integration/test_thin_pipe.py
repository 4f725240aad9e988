"""`supportd ingest` beside a running `supportd run`: the thin pipe.

Real processes only: the daemon as a subprocess, and `supportd ingest` as an MTA
runs it (`python -m daemon.cli`, which is what the `supportd` script runs). While
the daemon answers on its spool's socket, `ingest` only spools the letter and exits
0; the daemon's workers make the ticket and its acknowledgement. A daemon killed
with -9 leaves its socket file: `ingest` then processes the letter itself; a frozen
daemon means exit 75, with nothing kept.
"""

from __future__ import annotations

import subprocess
import sys
import time

from bench.harness.daemon import Daemon
from bench.harness.desk_config import TEST_LETTER_LIMIT
from bench.harness.paths import PROJECT
from tests.conftest import simple_letter

CLIENT = "ivan@client.example"


def ingest(d: Daemon, raw: bytes, sender: str = CLIENT,
           timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "daemon.cli", "--config", str(d.config),
                           "ingest", "--sender", sender, "--recipient",
                           "techsupport@example.ru", "-"], input=raw, capture_output=True,
                          timeout=timeout, cwd=PROJECT)


def acks_to(d: Daemon, address: str) -> list[str]:
    return [str(m["Subject"]) for m in d.outbox() if address in str(m["To"])]


def test_a_running_daemon_takes_letters_from_ingest_and_answers_each_once(
        daemon: Daemon) -> None:
    sock = daemon.root / "spool" / "supportd.sock"
    daemon.wait_for(sock.exists)
    outs = [ingest(daemon, simple_letter(f"Тонкий pipe {i}", sender=f"c{i}@client.example",
                                         message_id=f"<thin-{i}@client.example>"),
                   sender=f"c{i}@client.example") for i in range(3)]
    for p in outs:
        assert p.returncode == 0, p.stderr
        assert p.stdout.decode().startswith("queued "), p.stdout
    tickets = daemon.wait_for(lambda: len(daemon.tickets()) == 3 and daemon.tickets())
    assert sorted(t["subject"] for t in tickets) == [f"Тонкий pipe {i}" for i in range(3)]
    daemon.wait_for(lambda: all(acks_to(daemon, f"c{i}@client.example") for i in range(3)))
    time.sleep(1.0)  # nothing more comes
    for i, t in enumerate(sorted(tickets, key=lambda t: t["subject"])):
        assert len(acks_to(daemon, f"c{i}@client.example")) == 1
        assert t["requester"] == f"c{i}@client.example"
    accepted = daemon.events("letter.accepted")
    assert [e["via"] for e in accepted] == ["pipe"] * 3
    spool_ids = {p.stdout.decode().split()[1] for p in outs}
    assert {e["spool_id"] for e in accepted} == spool_ids


def test_without_a_daemon_ingest_processes_the_letter_itself(daemon: Daemon) -> None:
    sock = daemon.root / "spool" / "supportd.sock"
    daemon.wait_for(sock.exists)
    daemon.kill()  # -9: the socket file stays behind, nobody answers on it
    assert sock.exists()
    p = ingest(daemon, simple_letter("Демон остановлен", message_id="<thin-k@client.example>"))
    assert p.returncode == 0, p.stderr
    out = p.stdout.decode()
    assert out.startswith("SD-") and out.split()[0] in {
        t["tid"] for t in daemon.tickets()}
    # Started again, it takes the socket back; a clean stop removes it.
    daemon.start()
    daemon.wait_for(lambda: daemon.events("doorbell.listening")[1:])
    assert daemon.stop() == 0
    assert not sock.exists()


def test_a_frozen_daemon_means_exit_75_and_nothing_kept(daemon: Daemon) -> None:
    spool = daemon.root / "spool"
    daemon.wait_for((spool / "supportd.sock").exists)
    daemon.freeze()
    try:
        p = ingest(daemon, simple_letter("Демон завис", message_id="<thin-f@client.example>"))
    finally:
        daemon.thaw()
    assert p.returncode == 75, (p.stdout, p.stderr)
    assert b"try again later" in p.stderr
    assert not [f for f in (spool / "incoming").iterdir()]
    assert not [t for t in daemon.tickets() if t["subject"] == "Демон завис"]


def test_a_letter_over_the_limit_is_refused_and_nothing_kept(daemon: Daemon) -> None:
    spool = daemon.root / "spool"
    daemon.wait_for((spool / "supportd.sock").exists)
    limit = TEST_LETTER_LIMIT  # write_config's [smtp] max_message_size
    p = ingest(daemon, simple_letter("Большое", "x" * (limit + 10)))
    assert p.returncode == 65, (p.stdout, p.stderr)
    assert b"5.3.4 Message too big" in p.stderr
    assert not list((spool / "incoming").iterdir())
