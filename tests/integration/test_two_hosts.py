"""Two daemons as on two hosts: one PostgreSQL, one relay, and each its **own** spool
folder, with `[storage] blobs = "database"` (issue 14), so no file is shared.

The story of test_two_daemons.py (300 letters over SMTP, exact duplicates and
resends sent to both daemons at the same moment, replies, a reply sent twice):
every letter one ticket or one follow-up, no TID twice, every outgoing letter
through the relay once. Here besides: each daemon's spool keeps nothing once its
letters are committed, the raw letters and attachments are the database's blobs
(one per distinct content), and `supportd storage check` finds them all intact.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.harness.daemon import Daemon, running, wait_until, write_daemon_config
from tests.integration.test_two_daemons import Sender, _two_daemon_story, new_letter
from tests.support.drills import Relay, query, spool_state


def two_hosts(tmp_path: Path, pg_url: str, relay: Relay) -> tuple[Daemon, Daemon]:
    daemons = []
    for name in ("a", "b"):
        root = tmp_path / name
        cfg, port = write_daemon_config(root, db_url=pg_url, outbound=relay.outbound)
        text = cfg.read_text(encoding="utf-8")
        spool_line = f'spool = "{root}/spool"\n'
        assert spool_line in text
        cfg.write_text(text.replace(spool_line, spool_line + 'blobs = "database"\n'),
                       encoding="utf-8")
        daemons.append(Daemon(root, port, cfg, name))
    daemons[0].upgrade()
    return daemons[0], daemons[1]


def test_two_hosts_with_their_own_spools_share_letters_through_the_database(
        tmp_path: Path, pg_url: str) -> None:
    relay = Relay().up()
    a, b = two_hosts(tmp_path, pg_url, relay)
    try:
        with running(a, b):
            _two_daemon_story(a, b, a.root / "spool", pg_url, relay)
            for d in (a, b):
                spool = d.root / "spool"
                d.wait_for(lambda spool=spool: spool_state(spool).settled)
                state = spool_state(spool)
                assert not state.stored and not state.shunted, (d.name, state)
                assert d.events("doorbell.listening"), d.name  # each its own socket
    finally:
        relay.down()
    paths = query(pg_url, "SELECT raw_path FROM inbound")
    assert len(paths) == 300 and all(p.startswith("db:") for p, in paths)
    distinct = query(pg_url, "SELECT count(DISTINCT raw_path) FROM inbound")[0][0]
    blobs = query(pg_url, "SELECT count(*) FROM blobs")[0][0]
    assert blobs == distinct  # every exact duplicate kept once (no attachments here)
    p = a.cli("storage", "check")
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.decode().strip() == \
        "checked 300 letters and 0 attachments: all match their hashes"


def test_a_host_killed_in_the_middle_loses_nothing_it_acknowledged(
        tmp_path: Path, pg_url: str) -> None:
    """kill -9 of one host while letters stream in: what it said 250 to is in its own
    spool (fsync'd first) and is committed when it starts again; nothing doubled."""
    relay = Relay().up()
    a, b = two_hosts(tmp_path, pg_url, relay)
    try:
        with running(a, b):
            sender = Sender(a, b)
            with ThreadPoolExecutor(4) as pool:
                list(pool.map(lambda i: sender.one(i, new_letter(f"k{i}", f"k{i}@client.example"),
                                                   f"k{i}@client.example", f"k{i}"),
                              range(40)))
            b.kill()  # -9: its workers die with it, mid-batch or not
            for i in range(40, 50):  # a goes on alone meanwhile
                sender.one(0, new_letter(f"k{i}", f"k{i}@client.example"),
                           f"k{i}@client.example", f"k{i}")
            b.start()
            for i in range(50, 60):
                sender.one(i, new_letter(f"k{i}", f"k{i}@client.example"),
                           f"k{i}@client.example", f"k{i}")
            wait_until(lambda: query(pg_url, "SELECT count(*) FROM inbound")[0][0] >= 60
                       and not query(pg_url, "SELECT 1 FROM outgoing WHERE status = 'queued'"),
                       120, interval=0.5, message=lambda: a.tail(2000) + b.tail(2000))
            for d in (a, b):
                spool = d.root / "spool"
                d.wait_for(lambda spool=spool: spool_state(spool).settled)
    finally:
        relay.down()
    assert sender.sent == 60 and not sender.problems
    rows = query(pg_url, "SELECT message_id_header, outcome FROM inbound")
    assert sorted(m for m, _ in rows) == sorted(f"<k{i}@client.example>" for i in range(60))
    assert {o for _, o in rows} == {"ticket"}
    tids = [t for t, in query(pg_url, "SELECT tid FROM tickets")]
    assert len(tids) == 60 and len(set(tids)) == 60
    counts = relay.handler.counts()
    assert len(counts) == 60 * 2 and set(counts.values()) == {1}  # an ack and a notice each
