"""The database commands say what they did, and read commands meet a database that
cannot serve them with one line (issue 20): exit 75 to try again once it is up,
created or upgraded, 78 when the config or the installation is wrong; an SQLite
file that is not there is never created by asking."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest

from bench.harness.desk_config import free_port, write_config
from daemon.config import loader
from daemon.config.schema import Config
from daemon.storage import revisions
from tests.conftest import PROJECT
from tests.integration.test_cli import cli


def one_line(p: subprocess.CompletedProcess[str]) -> str:
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in p.stderr, p.stderr
    return lines[0]


def test_db_upgrade_says_where_it_started_and_each_migration(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    head = revisions.head()
    p = cli(config, "db", "upgrade")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].startswith(f"database at nothing (new), upgrading to {head} (sqlite:///")
    applied = [line.split()[1].rstrip(":") for line in lines if line.startswith("  applied ")]
    assert applied == [r.id for r in revisions.known()]
    assert "  applied 0001: initial schema" in lines
    assert lines[-1] == f"database is at {head}"
    again = cli(config, "db", "upgrade")
    assert again.stdout.startswith(f"database is up to date: {head}")
    assert cli(config, "db", "current").stdout.strip() == f"{head} (head)"
    history = cli(config, "db", "history").stdout.splitlines()
    assert history[0].startswith("* 0001  initial schema")
    assert history[-1].endswith("<- current  (head)")


def test_reads_of_a_missing_database_say_so_and_create_nothing(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    for command in (("tickets", "list"), ("tickets", "show", "SD-000001"), ("orgs", "list"),
                    ("coupons", "list"), ("db", "current")):
        p = cli(config, *command)
        assert p.returncode == 75, (command, p.stderr)
        assert one_line(p) == (f"no database at {tmp_path}/supportd.db: run `supportd db "
                               "upgrade` to create it")
    assert not (tmp_path / "supportd.db").exists()


def test_an_unmigrated_or_older_database_asks_for_the_upgrade(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    sqlite3.connect(tmp_path / "supportd.db").close()  # an empty file
    p = cli(config, "tickets", "list")
    assert p.returncode == 75
    assert one_line(p) == "the database is empty (never migrated): run `supportd db upgrade`"
    assert cli(config, "db", "upgrade").returncode == 0
    db = sqlite3.connect(tmp_path / "supportd.db")
    with db:
        db.execute("UPDATE alembic_version SET version_num = '0007'")
    p = cli(config, "tickets", "list")
    assert p.returncode == 75
    assert one_line(p).startswith("the database's schema is 0007, ")
    assert "run `supportd db upgrade`" in p.stderr


def test_code_older_than_the_schema_stops_naming_both(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    assert cli(config, "db", "upgrade").returncode == 0
    db = sqlite3.connect(tmp_path / "supportd.db")
    with db:
        db.execute("UPDATE alembic_version SET version_num = '9999'")
    head = revisions.head()
    for command in (("tickets", "list"), ("run",), ("db", "upgrade")):
        p = cli(config, *command)
        assert p.returncode == 78, (command, p.stderr)
        assert one_line(p).startswith(f"the database's schema is 9999, newer than this "
                                      f"code's {head}")
    p = cli(config, "ingest", "-", input=b"From: a@b.example\r\nSubject: x\r\n\r\nbody\r\n")
    assert p.returncode == 75 and "9999" in one_line(p)


def test_tickets_list_against_a_stopped_postgresql_is_one_line_and_75(tmp_path: Path) -> None:
    config = write_config(tmp_path,
                          db_url=f"postgresql+psycopg://supportd@127.0.0.1:{free_port()}/desk")
    for command in (("tickets", "list"), ("orgs", "list"), ("db", "current")):
        p = cli(config, *command)
        assert p.returncode == 75, p.stderr
        assert one_line(p).startswith("database unreachable: ")


def test_config_show_is_the_config_in_force_with_every_default(tmp_path: Path) -> None:
    config = write_config(tmp_path, db_url="postgresql+psycopg://desk:s3cret@127.0.0.1/desk")
    p = cli(config, "config", "show")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith(f"# supportd configuration in force: {config}")
    shown = tomllib.loads(p.stdout)
    assert shown["storage"]["url"] == "postgresql+psycopg://desk:***@127.0.0.1/desk"
    assert "s3cret" not in p.stdout
    assert shown["smtp"]["max_recipients"] == 100  # a default, filled in
    assert shown["outbound"]["maildir"] == f"{tmp_path}/outbox"  # from the file
    assert [s["email"] for s in shown["staff"]] == ["agent1@example.ru", "agent2@example.ru",
                                                    "head@example.ru"]
    assert "#   deadline_sweep: interval[0:01:00] (every scheduler.sweep_interval)" in p.stdout
    # What it prints is the same config (the password aside).
    again = tmp_path / "shown.toml"
    again.write_text(p.stdout.replace("***", "s3cret"), encoding="utf-8")
    assert replace(loader.load(again), source="") == replace(loader.load(config), source="")


def test_config_show_defaults_has_every_key_with_its_doc(tmp_path: Path) -> None:
    p = cli(write_config(tmp_path), "config", "show", "--defaults")
    assert p.returncode == 0
    assert 'port = 8025  # port to listen on' in p.stdout
    assert "# [[staff]]" in p.stdout and '# role = "agent"  # agent | head | developer' in p.stdout
    shown = tomllib.loads(p.stdout)
    assert shown["service"]["address"] == Config().service.address
    import dataclasses

    for section in dataclasses.fields(Config):
        value = getattr(Config(), section.name)
        if dataclasses.is_dataclass(value):
            assert set(shown[section.name]) >= {f.name for f in dataclasses.fields(value)
                                                if not dataclasses.is_dataclass(
                                                    getattr(value, f.name))}


def test_the_config_is_never_found_in_the_current_folder(tmp_path: Path) -> None:
    """`config/supportd.toml` under the folder a command runs in is a demo, never the
    desk's config: `--config`, then $SUPPORTD_CONFIG, then /etc/supportd."""
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "supportd.toml").write_text(
        '[service]\naddress = "demo@example.org"\n', encoding="utf-8")
    chosen = write_config(tmp_path / "real")
    env = {**os.environ, "SUPPORTD_CONFIG": str(chosen)}
    p = subprocess.run([sys.executable, "-m", "daemon.cli", "config", "show"], cwd=tmp_path,
                       env={**env, "PYTHONPATH": str(PROJECT)}, capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith(f"# supportd configuration in force: {chosen}")
    assert "demo@example.org" not in p.stdout


def test_no_config_anywhere_means_the_defaults(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "supportd.toml").write_text(
        '[service]\naddress = "demo@example.org"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SUPPORTD_CONFIG", raising=False)
    assert loader.find() is None  # /etc/supportd is kept out of the tests (conftest)
    assert loader.load().service.address == Config().service.address
