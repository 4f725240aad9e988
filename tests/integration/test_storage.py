"""Stored raw letters and attachments (daemon/storage/blobs.py): `supportd storage
check` finds what no longer matches its hash, `supportd storage migrate --to
database` moves the spool folder's copies into the database (resumable, verified),
and `[storage] blobs = "database"` keeps new ones there from the start, committed
with the letter's rows, the local copy gone after the commit.
"""

from __future__ import annotations

import json
import subprocess
import sys
from hashlib import sha256
from pathlib import Path

import pytest
import structlog
from sqlalchemy import select, text

from bench.harness.paths import PROJECT
from daemon.storage import blobs
from daemon.storage.models import Attachment, Blob, Inbound, Message
from tests.conftest import Desk, fixture_bytes, make_desk, simple_letter

DATABASE_BLOBS = 'blobs = "database"\n'


def cli(desk: Desk, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "daemon.cli", "--config",
                           str(desk.config_path), *args], capture_output=True, text=True,
                          timeout=120, cwd=PROJECT)


def database_desk(root: Path, url: str | None = None) -> Desk:
    d = make_desk(root, url)
    cfg = d.config_path.read_text(encoding="utf-8")
    cfg = cfg.replace(f'spool = "{root}/spool"\n', f'spool = "{root}/spool"\n{DATABASE_BLOBS}')
    d.config_path.write_text(cfg, encoding="utf-8")
    d.app.close()
    from daemon.app import App
    from daemon.config import loader

    return Desk(root, d.config_path, App(loader.load(d.config_path)))


def with_letters(d: Desk) -> None:
    d.ingest(simple_letter("Первое письмо", message_id="<s1@client.example>"),
             "ivan@client.example")
    d.ingest(fixture_bytes("attach-png-screenshot.eml"))
    d.ingest(fixture_bytes("attach-gif.eml"))


def locators(d: Desk) -> tuple[list[str], list[str], list[str]]:
    with d.app.sessions() as s:
        return (list(s.scalars(select(Inbound.raw_path))),
                [m for m in s.scalars(select(Message.raw_path).where(
                    Message.direction == "in"))],
                [a for a in s.scalars(select(Attachment.stored_path)) if a])


def test_check_passes_then_names_a_changed_letter_and_attachment(desk: Desk) -> None:
    with_letters(desk)
    p = cli(desk, "storage", "check")
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "checked 3 letters and 2 attachments: all match their hashes"

    letters, _, attachments = locators(desk)
    at = desk.app.spool.resolve  # the rows' paths are relative to the spool folder
    at(letters[0]).write_bytes(at(letters[0]).read_bytes() + b"tampered\r\n")
    at(attachments[0]).write_bytes(b"not the picture")
    at(letters[2]).unlink()
    p = cli(desk, "storage", "check", "--json")
    assert p.returncode == 65
    report = json.loads(p.stdout)
    assert (report["letters"], report["attachments"]) == (3, 2)
    problems = {x["locator"]: x["problem"] for x in report["problems"]}
    assert set(problems) == {letters[0], attachments[0], letters[2]}
    assert "its row says" in problems[letters[0]] and "no such file" in problems[letters[2]]
    mismatches = [json.loads(ln) for ln in p.stderr.splitlines() if "hash_mismatch" in ln]
    assert {m["locator"] for m in mismatches} == {letters[0], attachments[0]}


def test_a_read_that_does_not_match_is_a_log_line(desk: Desk) -> None:
    with_letters(desk)
    letters, _, _ = locators(desk)
    path = desk.app.spool.resolve(letters[1])
    path.write_bytes(path.read_bytes()[:-10])
    with desk.app.sessions() as s:
        digest = s.scalar(select(Inbound.sha256).where(Inbound.raw_path == letters[1]))
        with structlog.testing.capture_logs() as logs, pytest.raises(blobs.HashMismatch):
            blobs.read(s, letters[1], digest, "letter x", desk.app.spool.root)
    assert [e["event"] for e in logs] == ["storage.hash_mismatch"]
    assert logs[0]["locator"] == letters[1] and logs[0]["expected"] == digest


def test_migrate_moves_everything_into_the_database_verified_and_resumable(
        tmp_path: Path) -> None:
    d = make_desk(tmp_path)
    with_letters(d)
    before = locators(d)
    d.config_path.write_text(d.config_path.read_text(encoding="utf-8").replace(
        f'spool = "{tmp_path}/spool"\n', f'spool = "{tmp_path}/spool"\n{DATABASE_BLOBS}'),
        encoding="utf-8")
    p = cli(d, "storage", "migrate", "--to", "database")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("moved 8 rows")  # 3 inbound, 3 messages, 2 attachments
    after = locators(d)
    assert all(x.startswith("db:") for group in after for x in group)
    with d.app.sessions() as s:
        for old, new in zip(before[0], after[0], strict=True):
            raw = blobs.raw_of(d.app.spool.resolve(old).read_bytes())
            assert new == "db:" + sha256(raw).hexdigest()
        assert s.scalar(select(text("count(*)")).select_from(Blob)) == 5  # kept once each
    assert cli(d, "storage", "check").returncode == 0
    again = cli(d, "storage", "migrate", "--to", "database")
    assert again.returncode == 0 and again.stdout.startswith("moved 0 rows")
    # New letters go straight to the database.
    d.app.close()
    d2 = database_desk(tmp_path)
    d2.ingest(simple_letter("После переезда", message_id="<s4@client.example>"))
    assert all(x.startswith("db:") for group in locators(d2) for x in group)
    assert cli(d, "storage", "migrate", "--to", "s3://bucket").returncode == 64
    d2.app.close()


def test_migrate_stops_at_a_letter_that_does_not_match(tmp_path: Path) -> None:
    d = make_desk(tmp_path)
    with_letters(d)
    letters, _, _ = locators(d)
    bad = d.app.spool.resolve(letters[1])
    bad.write_bytes(bad.read_bytes() + b"x")
    p = cli(d, "storage", "migrate", "--to", "database")
    assert p.returncode == 65 and "stopped" in p.stderr
    # The batch with the bad one committed nothing; fixed, it goes on.
    bad.write_bytes(bad.read_bytes()[:-1])
    p = cli(d, "storage", "migrate", "--to", "database")
    assert p.returncode == 0 and p.stdout.startswith("moved 8 rows"), p.stdout
    d.app.close()


@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
def test_database_blobs_are_committed_with_the_rows_and_the_spool_keeps_nothing(
        tmp_path: Path, request: pytest.FixtureRequest, db: str) -> None:
    url = request.getfixturevalue("pg_url") if db == "postgresql" else None
    d = database_desk(tmp_path, url)
    with_letters(d)
    d.ingest(fixture_bytes("attach-gif.eml"))  # the same letter again: a duplicate
    letters, messages, attachments = locators(d)
    assert len(letters) == 4 and all(x.startswith("db:") for x in letters + messages
                                     + attachments)
    assert letters[2] == letters[3]  # the same bytes, kept once
    spool = tmp_path / "spool"
    assert not [f for f in spool.rglob("*") if f.is_file() and f.name != "supportd.sock"]
    with d.app.sessions() as s:
        assert s.scalar(select(text("count(*)")).select_from(Blob)) == 5
        for f in blobs.check(s, d.app.spool.root):
            assert f.problem == "", f
    assert cli(d, "storage", "check").returncode == 0
    d.app.close()
