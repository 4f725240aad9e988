"""Shared test set-up: a desk config in a temporary folder, and ways to drive it.

`desk` builds a real config file (bench/harness/desk_config.py, shared with the
benchmarks), a migrated database (SQLite by default; PostgreSQL when
SUPPORTD_TEST_POSTGRES is set and a test asks for `pg_desk`) and an App. Helpers
read what a user would look at: the outbox Maildir and `supportd tickets show --json`.
"""

from __future__ import annotations

import email
import email.policy
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import settings

from bench.harness.desk_config import write_config
from daemon.app import App
from daemon.config import loader as config_mod
from daemon.outbound import outbox
from daemon.storage import db

FIXTURES = Path(__file__).parent / "fixtures" / "eml"
PROJECT = Path(__file__).resolve().parent.parent

# `make test` (and CI) draws the same examples every run, so it is red only for a
# change, never for an example drawn by chance that day (and never for a slow moment:
# time is measured in bench/, not here). To look for new trouble, run
# with SUPPORTD_HYPOTHESIS=explore: fresh examples each run, and a failure found then
# is pinned with @example (as tests/integration/test_hostile.py's are).
settings.register_profile("repeatable", derandomize=True, deadline=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("SUPPORTD_HYPOTHESIS", "repeatable"))


@pytest.fixture(autouse=True)
def _no_host_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never read the host's /etc/supportd: a config is named, or there is none.
    (Subprocesses are given `--config`, or $SUPPORTD_CONFIG, by the tests.)"""
    monkeypatch.setattr(config_mod, "DEFAULT_CONFIG_PATHS", ())
    from daemon.cli import front  # the thin pipe's own look-up (daemon/cli/front.py)

    monkeypatch.setattr(front, "DEFAULT_CONFIG_PATHS", ())


def fixture_bytes(name: str) -> bytes:
    """A scenario letter, with CRLF line ends as it would come off the wire."""
    data = (FIXTURES / name).read_bytes()
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


@dataclass
class Desk:
    root: Path
    config_path: Path
    app: App

    @property
    def outbox_dir(self) -> Path:
        return self.root / "outbox"

    def ingest(self, raw: bytes, sender: str | None = None) -> object:
        from daemon.intake.ingest import ingest_now
        from daemon.storage.spool import Envelope

        self.app.spool.ensure()
        return ingest_now(self.app, raw, Envelope(source="ingest", mail_from=sender))

    def ingest_fixture(self, name: str, **replacements: str) -> object:
        raw = fixture_bytes(name)
        for old, new in replacements.items():
            raw = raw.replace(old.encode(), new.encode())
        return self.ingest(raw)

    def flush(self) -> outbox.FlushReport:
        return outbox.flush(self.app.outbox, outbox.make_transport(self.app.config.outbound),
                            force=True)

    def sent(self) -> list[EmailMessage]:
        """Every letter in the outbox Maildir, oldest first (flushes first)."""
        self.flush()
        files = sorted((self.outbox_dir / "new").glob("*")) if self.outbox_dir.exists() else []
        return [email.message_from_bytes(f.read_bytes(), policy=email.policy.default)
                for f in files]  # type: ignore[misc]

    def tickets(self) -> list[dict]:
        from daemon.cli.views import ticket_detail
        from daemon.storage.models import Ticket

        with self.app.sessions() as s:
            return [ticket_detail(s, t, self.app.now())
                    for t in s.query(Ticket).order_by(Ticket.id)]

    def inbound(self) -> list[tuple[str, str, int | None]]:
        from daemon.storage.models import Inbound

        with self.app.sessions() as s:
            return [(r.outcome, r.reason, r.ticket_id)
                    for r in s.query(Inbound).order_by(Inbound.id)]


class Clock:
    """The desk's now, moved by the test (`make_desk(..., clock=Clock(start))`): no
    test waits for an hour to pass."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


def make_desk(root: Path, db_url: str | None = None, extra: str = "",
              clock: Callable[[], datetime] | None = None, **kw: str) -> Desk:
    path = write_config(root, db_url, extra, **kw)
    cfg = config_mod.load(path)
    db.upgrade(cfg.storage.url)
    app = App(cfg, clock=clock)
    app.spool.ensure()
    return Desk(root, path, app)


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    d = make_desk(tmp_path)
    yield d
    d.app.close()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    base = os.environ.get("SUPPORTD_TEST_POSTGRES")
    if not base:
        pytest.skip("SUPPORTD_TEST_POSTGRES not set (CI sets it when PostgreSQL runs)")
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    name = f"supportd_t_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(base).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


OUR_MTA_PASS = "mx.example.ru; dkim=pass header.d={d}; dmarc=pass header.from={d}"


def simple_letter(subject: str = "Не открывается отчёт", body: str = "", *,
                  sender: str = "Иван Клиентов <ivan@client.example>",
                  message_id: str | None = None, authenticated: bool | None = None,
                  **headers: str) -> bytes:
    """A client's (or staff member's) letter. `authenticated`: our MTA's verdict says
    the From domain passed DMARC; by default so for the desk's own domain, as our
    MTA marks our own staff's letters (TEST_AUTH)."""
    domain = email.utils.parseaddr(sender)[1].rpartition("@")[2].lower()
    if authenticated is None:
        authenticated = domain == "example.ru"
    if authenticated and "Authentication_Results" not in headers:
        headers = {"Authentication_Results": OUR_MTA_PASS.format(d=domain), **headers}
    m = EmailMessage()
    m["From"] = sender
    m["To"] = "techsupport@example.ru"
    encoded = subject.startswith("=?") or "\n" in subject
    m["Subject"] = "SUBJECT-PLACEHOLDER" if encoded else subject
    m["Date"] = email.utils.format_datetime(datetime.now(UTC))
    m["Message-ID"] = message_id or f"<{uuid.uuid4().hex}@client.example>"
    for k, v in headers.items():
        m[k.replace("_", "-")] = v
    m.set_content(body or "Здравствуйте! В системе https://edo.client.example (версия 3.14, "
                          "редакция «Корпоративная») при формировании отчёта появляется "
                          "ошибка 500. Шаги: открыть Отчёты, выбрать период, нажать Сформировать.")
    raw = m.as_bytes()
    if encoded:  # an already encoded (and maybe folded) subject goes in as it is
        raw = raw.replace(b"SUBJECT-PLACEHOLDER", subject.encode("ascii"), 1)
    return raw
