"""`supportd`'s first module (daemon/cli/front.py): which command lines it takes for
the thin pipe, and where it finds the spool without the config loader."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from daemon.cli import front
from daemon.config.schema import StorageConfig


def test_its_defaults_are_the_loaders() -> None:
    # In a fresh interpreter: tests/conftest.py keeps both away from /etc here.
    code = ("from daemon.cli import front; from daemon.config import loader; "
            "assert front.DEFAULT_CONFIG_PATHS == loader.DEFAULT_CONFIG_PATHS")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    assert StorageConfig().spool == front.DEFAULT_SPOOL


@pytest.mark.parametrize("argv, expected", [
    (["ingest"], {}),
    (["--config", "c.toml", "ingest", "-"], {"config": "c.toml", "file": "-"}),
    (["--config=c.toml", "ingest", "--sender", "", "--recipient=d@x", "l.eml"],
     {"config": "c.toml", "sender": "", "recipient": "d@x", "file": "l.eml"}),
    (["ingest", "--sender", "s@x", "--recipient", "d@x", "-"],
     {"sender": "s@x", "recipient": "d@x", "file": "-"}),
])
def test_the_ingest_lines_it_takes(argv: list[str], expected: dict[str, str]) -> None:
    base = {"config": None, "sender": None, "recipient": None, "file": None}
    assert front.ingest_arguments(argv) == {**base, **expected}


@pytest.mark.parametrize("argv", [
    [], ["run"], ["--config", "c.toml", "run"], ["ingest", "--help"], ["ingest", "-h"],
    ["ingest", "a.eml", "b.eml"], ["ingest", "--sender"], ["--sender", "s", "ingest"],
    ["ingest", "--config", "c.toml"], ["ingest", "--bogus"], ["tickets", "list"],
    ["--config"], ["ingest", "ingest", "x"], ["ingest", "--in-process", "-"],
])
def test_everything_else_goes_to_the_full_command_line(argv: list[str]) -> None:
    assert front.ingest_arguments(argv) is None


def test_the_spool_of_the_config_in_force(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "supportd.toml"
    config.write_text('[storage]\nspool = "/srv/spool"\n', encoding="utf-8")
    assert front.spool_of(str(config)) == Path("/srv/spool")
    monkeypatch.setenv("SUPPORTD_CONFIG", str(config))
    assert front.spool_of(None) == Path("/srv/spool")
    config.write_text("[smtp]\nport = 25\n", encoding="utf-8")
    assert front.spool_of(None) == Path(front.DEFAULT_SPOOL)
    config.write_text("[storage\n", encoding="utf-8")  # the loader says what is wrong
    assert front.spool_of(None) is None
    assert front.spool_of(str(tmp_path / "missing.toml")) is None
    config.write_text("[storage]\nspool = 5\n", encoding="utf-8")
    assert front.spool_of(None) is None
