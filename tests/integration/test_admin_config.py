"""An administrator's first hour (issue 20): a config that can't answer is refused by
`check-config` with every problem named at once, and a letter that meets a broken
installation waits (exit 75 for the MTA) instead of being shunted with exit 0."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from bench.harness.desk_config import write_config
from daemon.config.schema import SHIPPED_TEMPLATES
from tests.conftest import simple_letter
from tests.integration.test_cli import cli


def errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("config error: ")]


def test_one_check_config_run_names_every_mistake_by_its_key(tmp_path: Path) -> None:
    config = write_config(tmp_path, db_url="postgres://supportd:secret@db.example/desk")
    text = config.read_text(encoding="utf-8")
    text = text.replace(f'spool = "{tmp_path}/spool"', 'spool = "var/spool"')
    text = text.replace(f'maildir = "{tmp_path}/outbox"',
                        f'maildir = "{tmp_path}/no/such/folder/outbox"')
    text = text.replace("[service]\n", '[service]\ntemplates = "/nonexistent/templates"\n', 1)
    config.write_text(text, encoding="utf-8")
    p = cli(config, "check-config")
    assert p.returncode == 78
    found = errors(p.stderr)
    assert any(e.startswith("config error: storage.url: 'postgres://supportd:***@db.example"
                            "/desk'") and "postgresql+psycopg://" in e for e in found), found
    assert "secret" not in p.stderr
    assert any(e.startswith("config error: storage.spool: 'var/spool' is relative")
               for e in found), found
    assert any(e.startswith("config error: outbound.maildir:") and
               f"{tmp_path}/no/such/folder does not exist" in e for e in found), found
    assert any(e.startswith("config error: service.templates: /nonexistent/templates is not "
                            "a folder") for e in found), found
    assert len(found) == 4, found


def test_bad_values_of_several_keys_are_all_listed(tmp_path: Path) -> None:
    config = write_config(tmp_path, extra='[scheduler]\nwarn_at = 2.0\n'
                                          '[pipeline]\nworkers = "two"\n')
    text = config.read_text(encoding="utf-8").replace(
        'timezone = "Europe/Moscow"', 'timezone = "Europe/Atlantis"\ncolour = "blue"')
    config.write_text(text, encoding="utf-8")
    p = cli(config, "check-config")
    assert p.returncode == 78
    keys = [e.split(":")[1].strip() for e in errors(p.stderr)]
    assert sorted(keys) == ["pipeline.workers", "scheduler.warn_at", "service.colour",
                            "service.timezone"], p.stderr


def test_a_relative_sqlite_path_is_named_with_its_fix(tmp_path: Path) -> None:
    config = write_config(tmp_path, db_url="sqlite:///var/supportd.db")
    p = cli(config, "check-config")
    assert p.returncode == 78
    [line] = errors(p.stderr)
    assert line.startswith("config error: storage.url: 'sqlite:///var/supportd.db': the path "
                           "'var/supportd.db' is relative") and "sqlite:////" in line


def test_a_broken_or_missing_template_is_named(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(SHIPPED_TEMPLATES, templates)
    (templates / "client" / "closed.txt.j2").unlink()
    (templates / "client" / "ack.txt.j2").write_text("{% if ticket %}без конца\n",
                                                     encoding="utf-8")
    config = write_config(tmp_path)
    text = config.read_text(encoding="utf-8").replace(
        "[service]\n", f'[service]\ntemplates = "{templates}"\n', 1)
    config.write_text(text, encoding="utf-8")
    p = cli(config, "check-config")
    assert p.returncode == 78
    found = errors(p.stderr)
    assert any("service.templates: client/ack.txt.j2, line" in e for e in found), found
    assert any(f"service.templates: {templates}/client/closed.txt.j2 is missing" in e
               for e in found), found
    assert len(found) == 2


def test_the_shipped_templates_and_a_good_config_pass(tmp_path: Path) -> None:
    p = cli(write_config(tmp_path), "check-config")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("config ok: ")


def test_a_missing_template_folder_makes_ingest_ask_the_mta_to_retry(tmp_path: Path) -> None:
    """Before: every letter shunted with TemplateNotFound, no ticket, `ingest` exit 0,
    and Postfix logged it delivered. Now: exit 75, nothing kept, nothing shunted; once
    the folder is right the same letter opens its ticket and is acknowledged."""
    config = write_config(tmp_path)
    good = config.read_text(encoding="utf-8")
    config.write_text(good.replace("[service]\n", '[service]\ntemplates = "/gone"\n', 1),
                      encoding="utf-8")
    assert cli(config, "db", "upgrade").returncode == 0
    letter = simple_letter("Шаблоны пропали")
    p = cli(config, "ingest", "-", input=letter)
    assert p.returncode == 75, (p.stdout, p.stderr)
    assert "temporary failure" in p.stderr and "TemplateNotFound" in p.stderr
    db = sqlite3.connect(tmp_path / "supportd.db")
    assert db.execute("SELECT count(*) FROM tickets").fetchone() == (0,)
    assert db.execute("SELECT count(*) FROM inbound").fetchone() == (0,)
    assert not list((tmp_path / "spool").rglob("*.eml"))
    config.write_text(good, encoding="utf-8")
    p = cli(config, "ingest", "-", input=letter)
    assert p.returncode == 0, p.stderr
    assert db.execute("SELECT count(*) FROM tickets").fetchone() == (1,)
    assert db.execute("SELECT count(*) FROM outgoing WHERE kind = 'ack'").fetchone() == (1,)
