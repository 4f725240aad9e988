"""What a process of the command line pays before it does anything.

`supportd ingest` runs once per letter (an MTA's pipe), so its start-up is part of
every letter's cost: loading the config must not tabulate the working calendar (the
`holidays` package alone takes ~50 ms), and commands that need no database must not
import SQLAlchemy.
"""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

from daemon.cli import main as cli

DEMO_CONFIG = Path(__file__).resolve().parents[3] / "config" / "supportd.toml"


def modules_after(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running `code`."""
    p = subprocess.run([sys.executable, "-c", f"{code}\nimport sys; print(*sys.modules)"],
                       capture_output=True, text=True, check=True, timeout=60)
    return set(p.stdout.split())


def test_loading_the_config_tabulates_no_calendar() -> None:
    loaded = modules_after(f"from daemon.config import loader; loader.load({str(DEMO_CONFIG)!r})")
    assert "daemon.sla.business_hours" in loaded  # the calendar is validated...
    assert "holidays" not in loaded  # ...but its days are tabulated when first asked about
    assert "sqlalchemy" not in loaded


def test_check_config_imports_no_database_code(tmp_path: Path) -> None:
    """It renders every letter template (Jinja2), and checks the database URL's driver
    without loading SQLAlchemy."""
    config = tmp_path / "supportd.toml"
    config.write_text(f'[storage]\nurl = "sqlite:///{tmp_path}/db.sqlite"\n'
                      f'spool = "{tmp_path}/spool"\n[outbound]\nmaildir = "{tmp_path}/out"\n',
                      encoding="utf-8")
    loaded = modules_after(
        f"from daemon.cli.main import main; assert main(['--config', {str(config)!r}, "
        "'check-config']) == 0")
    assert "sqlalchemy" not in loaded and "jinja2" in loaded


def test_the_collector_runs_again_after_the_imports_of_one_letter() -> None:
    assert gc.isenabled()
    try:
        with cli._lasting_objects():
            assert not gc.isenabled()
        assert gc.isenabled()
        assert gc.get_freeze_count() > 0
        gc.disable()
        with cli._lasting_objects():
            pass
        assert not gc.isenabled()  # left as it was found
    finally:
        gc.enable()
        gc.unfreeze()


def test_ingest_brings_neither_the_listener_nor_the_outbox(tmp_path: Path) -> None:
    """A letter through `supportd ingest` is parsed, decided, stored and its answers
    queued; the SMTP listener, the IMAP poller, the outbox's relay and the migrations
    are other processes' work, and their libraries stay out of this one."""
    config = tmp_path / "supportd.toml"
    config.write_text(f'[storage]\nurl = "sqlite:///{tmp_path}/db.sqlite"\n'
                      f'spool = "{tmp_path}/spool"\n[outbound]\nmaildir = "{tmp_path}/out"\n',
                      encoding="utf-8")
    letter = tmp_path / "letter.eml"
    letter.write_bytes(b"From: client@example.org\r\nTo: techsupport@example.ru\r\n"
                       b"Subject: test\r\n\r\nHello\r\n")
    subprocess.run([sys.executable, "-m", "daemon.cli", "--config", str(config), "db",
                    "upgrade"], check=True, capture_output=True, timeout=60)
    loaded = modules_after(
        f"from daemon.cli.main import main; assert main(['--config', {str(config)!r}, "
        f"'ingest', {str(letter)!r}]) == 0")
    assert "daemon.pipeline.steps.answer" in loaded and "holidays" in loaded  # it ran
    assert not loaded & {"aiosmtpd", "imapclient", "smtplib", "alembic", "apscheduler",
                         "daemon.intake.smtp_listener", "daemon.service.run"}


def test_the_thin_pipe_imports_neither_the_config_loader_nor_the_pipeline(
        tmp_path: Path) -> None:
    """With a daemon answering on the spool's socket, `supportd ingest` writes the
    letter and exits: the standard library, tomllib and the spool, nothing else of
    ours (no loader, structlog, SQLAlchemy, pipeline, templates)."""
    from tests.unit.intake.test_thin_pipe import LETTER, StandIn

    spool = tmp_path / "spool"
    (spool / "tmp").mkdir(parents=True)
    (spool / "incoming").mkdir()
    config = tmp_path / "supportd.toml"
    config.write_text(f'[storage]\nspool = "{spool}"\n', encoding="utf-8")
    letter = tmp_path / "letter.eml"
    letter.write_bytes(LETTER)
    daemon = StandIn(spool)
    try:
        loaded = modules_after(
            "from daemon.cli.front import main; assert main(['--config', "
            f"{str(config)!r}, 'ingest', '--sender', 'a@b.example', {str(letter)!r}]) == 0")
    finally:
        daemon.close()
    assert len(list((spool / "incoming").iterdir())) == 1  # it ran
    ours = {m for m in loaded if m.startswith("daemon")}
    assert ours == {"daemon", "daemon.cli", "daemon.cli.front", "daemon.intake",
                    "daemon.intake.thin_pipe", "daemon.storage", "daemon.storage.spool"}
    assert not loaded & {"structlog", "sqlalchemy", "jinja2", "asyncio", "argparse", "uuid",
                         "email", "daemon.config.loader"}
