"""Backup and restore you can rehearse (issue 20), through the real CLI: backup, new
letters, restore, reimport gives each letter one ticket and one acknowledgement;
a restore onto another host (another spool folder) finds every stored letter; a
damaged backup changes nothing."""

from __future__ import annotations

import email
import email.policy
import json
import shutil
from pathlib import Path

import pytest

from bench.harness.desk_config import write_config
from daemon.storage.spool import Spool
from tests.conftest import simple_letter
from tests.integration.test_cli import cli


def acks(root: Path, address: str) -> list[str]:
    """The subjects of the acknowledgements `address` got (the outbox Maildir)."""
    found = []
    for f in sorted((root / "outbox" / "new").glob("*")):
        m = email.message_from_bytes(f.read_bytes(), policy=email.policy.default)
        if address in str(m["To"]):
            found.append(str(m["Subject"]))
    return found


def tickets(config: Path) -> list[dict]:
    return json.loads(cli(config, "tickets", "list", "--json").stdout)["tickets"]


def ingest_and_send(config: Path, subject: str, sender: str) -> str:
    p = cli(config, "ingest", "-", input=simple_letter(subject, sender=sender))
    assert p.returncode == 0, p.stderr
    assert cli(config, "outbox", "flush").returncode == 0
    return p.stdout.split()[0]  # SD-000013 ticket new: the TID first


def test_backup_new_letters_restore_reimport(tmp_path: Path) -> None:
    desk = tmp_path / "desk"
    config = write_config(desk)
    assert cli(config, "db", "upgrade").returncode == 0
    first = ingest_and_send(config, "До резервной копии", "anna@client.example")
    p = cli(config, "backup", str(tmp_path / "backup"))
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith(f"backed up to {tmp_path}/backup: database.sqlite (schema ")
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    assert [n for n in manifest["files"] if n.startswith("spool/store/")]
    second = ingest_and_send(config, "После резервной копии", "boris@client.example")
    assert len(tickets(config)) == 2

    p = cli(config, "restore", str(tmp_path / "backup"))
    assert p.returncode == 0, p.stderr
    assert "supportd store reimport" in p.stdout
    assert [t["tid"] for t in tickets(config)] == [first]  # the database of the backup
    assert list(desk.glob("supportd.db.before-restore-*"))  # the replaced one, kept
    dry = cli(config, "store", "reimport", "--dry-run")
    assert dry.stdout.splitlines()[-1] == "1 stored letters the database does not know"
    p = cli(config, "store", "reimport")
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[0] == "reimported 1 letters: 1 ticket"
    assert "recorded as sent before the restore" in p.stdout
    assert cli(config, "outbox", "flush").returncode == 0
    assert sorted(t["tid"] for t in tickets(config)) == sorted([first, second])  # same TIDs
    assert len(acks(desk, "anna@client.example")) == 1
    assert len(acks(desk, "boris@client.example")) == 1  # not acknowledged twice
    assert cli(config, "store", "reimport").stdout.startswith("reimported 0 letters")


def test_a_restore_on_another_host_finds_every_stored_letter(tmp_path: Path) -> None:
    config = write_config(tmp_path / "old")
    assert cli(config, "db", "upgrade").returncode == 0
    tid = ingest_and_send(config, "Письмо для переезда", "anna@client.example")
    assert cli(config, "backup", str(tmp_path / "backup")).returncode == 0
    new = write_config(tmp_path / "new")
    shutil.rmtree(tmp_path / "old")  # the old host is gone
    p = cli(new, "restore", str(tmp_path / "backup"))
    assert p.returncode == 0, p.stderr
    shown = json.loads(cli(new, "tickets", "show", tid, "--json").stdout)
    [letter] = [m for m in shown["messages"] if m["direction"] == "in"]
    assert letter["raw_path"].startswith("store/")
    raw = Spool.raw_of(Spool(tmp_path / "new" / "spool").resolve(letter["raw_path"]))
    assert b"Subject: =?utf-8?b?" in raw or "переезда".encode() in raw


def test_a_damaged_backup_is_refused_and_nothing_changes(tmp_path: Path) -> None:
    config = write_config(tmp_path / "desk")
    assert cli(config, "db", "upgrade").returncode == 0
    ingest_and_send(config, "Первое", "anna@client.example")
    assert cli(config, "backup", str(tmp_path / "backup")).returncode == 0
    ingest_and_send(config, "Второе", "boris@client.example")
    [stored] = [p for p in (tmp_path / "backup" / "spool" / "store").rglob("*") if p.is_file()]
    stored.write_bytes(stored.read_bytes() + b"!")
    p = cli(config, "restore", str(tmp_path / "backup"))
    assert p.returncode == 65
    assert "is missing or damaged (sha256 differs)" in p.stderr and "nothing restored" in p.stderr
    assert len(tickets(config)) == 2
    assert cli(config, "backup", str(tmp_path / "backup")).returncode == 73  # not empty


@pytest.mark.usefixtures("pg_url")
def test_postgresql_backup_and_restore(tmp_path: Path, pg_url: str) -> None:
    if shutil.which("pg_dump") is None:
        pytest.skip("pg_dump not installed (apt-get install postgresql-client)")
    config = write_config(tmp_path / "desk", db_url=pg_url)
    assert cli(config, "db", "upgrade").returncode == 0
    first = ingest_and_send(config, "До копии", "anna@client.example")
    p = cli(config, "backup", str(tmp_path / "backup"))
    assert p.returncode == 0, p.stderr
    assert "database.pgdump" in p.stdout
    ingest_and_send(config, "После копии", "boris@client.example")
    p = cli(config, "restore", str(tmp_path / "backup"))
    assert p.returncode == 0, p.stderr
    assert [t["tid"] for t in tickets(config)] == [first]
    assert cli(config, "store", "reimport").returncode == 0
    assert len(tickets(config)) == 2
    assert len(acks(tmp_path / "desk", "boris@client.example")) == 1

