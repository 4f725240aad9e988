"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.daemons import Daemon, running, write_daemon_config


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    """`supportd run` on a fresh SQLite desk, its listener on a free port; stopped after."""
    cfg, port = write_daemon_config(tmp_path)
    d = Daemon(tmp_path, port, cfg)
    d.upgrade()
    with running(d):
        yield d
