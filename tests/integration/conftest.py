"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.harness.daemon import Daemon, running, write_daemon_config
from tests.conftest import Desk, make_desk


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    """`supportd run` on a fresh SQLite desk, its listener on a free port; stopped after."""
    cfg, port = write_daemon_config(tmp_path)
    d = Daemon(tmp_path, port, cfg)
    d.upgrade()
    with running(d):
        yield d


@pytest.fixture(params=["sqlite", "postgresql"])
def desk_on_each_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Desk]:
    """A desk on SQLite, then on PostgreSQL: for the stories both must tell alike."""
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    d = make_desk(tmp_path, url)
    yield d
    d.app.close()


@pytest.fixture(scope="session")
def rspamd_server() -> Iterator[object]:
    """One real rspamd for the session (it takes some 15-30 s to start)."""
    from tests.support.scanners import rspamd_running

    with rspamd_running() as server:
        yield server


@pytest.fixture(scope="session")
def clamd_server() -> Iterator[object]:
    """One real clamd for the session, knowing only the EICAR test file (an .hdb line)."""
    from tests.support.scanners import clamd_running

    with clamd_running() as server:
        yield server
