"""Shell completion and the man page come from the parser itself (issue 20), so they
name every command there is; neither needs a config."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from daemon.cli.main import build_parser
from tests.conftest import PROJECT


def supportd(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "daemon.cli", *args], capture_output=True,
                          text=True, timeout=60, cwd=PROJECT, env=env)


def commands() -> list[str]:
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return [c for c in sub.choices if c != "worker"]  # type: ignore[attr-defined]


def test_bash_completion_knows_every_command(tmp_path: Path) -> None:
    if shutil.which("bash") is None:
        pytest.skip("bash not installed")
    broken = tmp_path / "broken.toml"
    broken.write_text("this is not toml", encoding="utf-8")
    p = supportd("completion", "bash", env={**os.environ, "SUPPORTD_CONFIG": str(broken)})
    assert p.returncode == 0, p.stderr
    script = tmp_path / "supportd.bash"
    script.write_text(p.stdout, encoding="utf-8")
    done = subprocess.run(["bash", "-c", f"source {script} && complete -p supportd"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and "supportd" in done.stdout, done.stderr
    for command in commands():
        assert command in p.stdout
    assert "--dry-run" in p.stdout and "--defaults" in p.stdout


def test_zsh_completion_is_generated() -> None:
    p = supportd("completion", "zsh")
    assert p.returncode == 0 and p.stdout.startswith("#compdef supportd")


def test_the_man_page_names_every_command(tmp_path: Path) -> None:
    p = supportd("man")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith(".TH SUPPORTD 8 ")
    page = tmp_path / "supportd.8"
    page.write_text(p.stdout, encoding="utf-8")
    if shutil.which("man") is None:
        pytest.skip("man not installed")
    shown = subprocess.run(["man", "-l", str(page)], capture_output=True, text=True,
                           timeout=30, env={**os.environ, "MANWIDTH": "200"})
    assert shown.returncode == 0, shown.stderr
    for command in commands():
        assert f"supportd {command}" in shown.stdout, command
    assert "supportd db upgrade" in shown.stdout and "supportd store reimport" in shown.stdout
    assert "EXIT STATUS" in shown.stdout
