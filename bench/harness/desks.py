"""The desks the benchmark measures: a config (bench/harness/desk_config.py) with the
default 25 MiB letter limit, a migrated database, the demo registry of organisations,
warmed with the same letters before anything is timed; and `DeskDaemon`, a
`supportd run` on such a desk.

Every desk is warmed with WARM_N letters: the first letters on a new database and
spool run at about half the steady rate (file growth, new folders), and a daemon
lives on a warm one. They open WARM_BASE tickets, so the measured corpus
(`letters_for`) is generated with ticket_base=WARM_BASE and its replies name its own
tickets.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from bench import corpus
from bench.harness.daemon import Daemon
from bench.harness.desk_config import TEST_AUTH, free_port, write_config
from bench.harness.paths import PROJECT

MAX_SIZE = 26_214_400  # the default [smtp].max_message_size (25 MiB)
WARM_N, WARM_SEED = 40, 999


def warm_letters() -> list[corpus.CorpusLetter]:
    return corpus.generate(WARM_N, WARM_SEED, tag="w")


WARM_BASE = sum(1 for x in warm_letters() if x.kind == "new")


def letters_for(n: int, seed: int) -> list[corpus.CorpusLetter]:
    """The measured corpus: the same for every measurement of a run."""
    return corpus.generate(n, seed, ticket_base=WARM_BASE)


def warm_desk(app: Any) -> None:
    from sqlalchemy import func, select

    from daemon.intake.ingest import ingest_now
    from daemon.storage.models import Ticket
    from daemon.storage.spool import Envelope

    for x in warm_letters():
        ingest_now(app, x.raw, Envelope(source="ingest", mail_from=x.sender))
    with app.sessions() as s:
        tickets = s.scalar(select(func.count()).select_from(Ticket))
    if tickets != WARM_BASE:
        raise RuntimeError(f"warm-up opened {tickets} tickets, expected {WARM_BASE}")


def make_desk(root: Path, url: str | None = None, smtp_port: int | None = None,
              auth: str = TEST_AUTH) -> Any:
    """Config, migrated database, the demo registry of organisations, an App. The
    listener is on only with `smtp_port` (a daemon is to run on the desk); `auth`:
    the [auth] lines (bench/auth.py measures our own DNS checks with them)."""
    from daemon.app import App
    from daemon.config import loader as config_mod
    from daemon.storage import db
    from daemon.tickets.registry import import_orgs, load_file

    if root.exists():
        shutil.rmtree(root)
    path = write_config(root, url, smtp_port=smtp_port, listen=smtp_port is not None,
                        max_message_size=MAX_SIZE, retry_base=None, auth=auth)
    cfg = config_mod.load(path)
    db.upgrade(cfg.storage.url)
    app = App(cfg)
    app.spool.ensure()
    with db.unit_of_work(app.sessions) as session:
        import_orgs(session, load_file(PROJECT / "config" / "demo-registry.toml"))
    return app


def configure_logs(app: Any) -> None:
    from daemon.service import logs

    logs.configure(app.config.logging)  # JSON lines to stderr (the child's log file)


def vm_hwm_kb(pid: int) -> int:
    """A process's peak resident set (VmHWM), KiB; 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


class DeskDaemon(Daemon):
    """`supportd run` on a fresh, warmed desk in `root`, its listener on a free port."""

    def __init__(self, root: Path, url: str | None = None) -> None:
        port = free_port()
        self.app = make_desk(root, url, smtp_port=port)
        warm_desk(self.app)
        self.app.close()  # the daemon is the only writer from here on
        super().__init__(root, port, root / "supportd.toml")

    def start_logged(self, log: Path) -> None:
        """Start it with its output in `log` (written afresh), and wait until its
        pipeline process has started too."""
        self.log = log
        log.unlink(missing_ok=True)
        self.start(timeout=60)
        # The listener answers before its pipeline process has started (Python, imports):
        # a burst sent at once would time that start-up, which a running desk never pays.
        self.wait_for_event("worker.started", timeout=60)

    def processed(self) -> int:
        """Letters the pipeline has finished since the warm-up (their inbound rows)."""
        from sqlalchemy import func, select

        from daemon.storage.models import Inbound

        with self.app.sessions() as s:
            total = int(s.scalar(select(func.count()).select_from(Inbound)) or 0)
        return total - WARM_N

    def peak_rss_kb(self) -> int:
        """Peak RSS of `supportd run` itself (the listener process)."""
        return vm_hwm_kb(self.pid)

    def workers_peak_rss_kb(self) -> int:
        """Peak RSS of its pipeline processes (`supportd worker`), summed: an upper
        bound of what they held at one moment."""
        return sum(vm_hwm_kb(k) for k in self.workers())

    def shut(self) -> None:
        """SIGTERM; a drain of a long backlog is not waited for (SIGKILL after 5 s:
        the spool makes that safe, and this run's data is thrown away anyway)."""
        if self.proc is not None:
            self.stop(timeout=5, kill_late=True)
        self.app.close()
