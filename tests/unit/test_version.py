"""One version, said alike everywhere: the package, `supportd --version`, the
CHANGELOG's top heading and the release's git tag (`v` + the version)."""

from __future__ import annotations

import importlib.metadata
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from daemon import __version__

PROJECT = Path(__file__).resolve().parents[2]


def test_the_installed_metadata_reads_the_package_version() -> None:
    assert importlib.metadata.version("supportd") == __version__
    assert re.fullmatch(r"\d+\.\d+\.\d+", __version__)


def test_supportd_version_prints_it() -> None:
    p = subprocess.run([sys.executable, "-m", "daemon.cli", "--version"], capture_output=True,
                       text=True, timeout=60, check=True)
    assert p.stdout.strip() == f"supportd {__version__}"


def test_the_changelog_top_heading_names_it() -> None:
    text = (PROJECT / "CHANGELOG.md").read_text(encoding="utf-8")
    top = next(line for line in text.splitlines() if line.startswith("## "))
    assert top.startswith(f"## {__version__} — "), top


def test_a_release_tag_agrees_with_the_changelog() -> None:
    """`v` + the version is tagged only once its CHANGELOG section has its date; no
    tag names a version newer than the package's."""
    if shutil.which("git") is None or not (PROJECT / ".git").exists():
        pytest.skip("not a git checkout")
    tags = subprocess.run(["git", "-C", str(PROJECT), "tag", "--list", "v*"],
                          capture_output=True, text=True, timeout=30).stdout.split()
    mine = tuple(int(n) for n in __version__.split("."))
    for tag in tags:
        if re.fullmatch(r"v\d+\.\d+\.\d+", tag):
            assert tuple(int(n) for n in tag[1:].split(".")) <= mine, tag
    if f"v{__version__}" in tags:
        text = (PROJECT / "CHANGELOG.md").read_text(encoding="utf-8")
        assert f"## {__version__} — Unreleased" not in text
