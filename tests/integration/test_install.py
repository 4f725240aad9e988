"""Installed from its wheel, outside the checkout, supportd acknowledges a letter
(issue 20): everything it reads at run time — the letter templates, the migrations —
ships as package data.

The wheel is built from a copy of the source (the checkout stays clean) and
installed with `--no-deps` into a fresh venv; the libraries it needs are the test
venv's, seen through a `.pth` line (installing them again from the index would
only test the index). supportd itself comes from the wheel alone: the test checks
where `daemon` is imported from, and runs from a folder far from the checkout.
"""

from __future__ import annotations

import email
import email.policy
import shutil
import site
import smtplib
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from bench.harness.daemon import wait_listening
from bench.harness.desk_config import free_port, write_config
from daemon import __version__
from tests.conftest import PROJECT, simple_letter

SOURCE = ("daemon", "setup.cfg", "pyproject.toml", "README.md", "CHANGELOG.md")


def _build_wheel(tmp: Path) -> Path:
    src = tmp / "src"
    src.mkdir()
    for name in SOURCE:
        if (PROJECT / name).is_dir():
            shutil.copytree(PROJECT / name, src / name,
                            ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(PROJECT / name, src / name)
    p = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w",
                        str(tmp / "dist"), str(src)], capture_output=True, text=True,
                       timeout=300)
    if p.returncode != 0 and "No matching distribution" in p.stderr:
        pytest.skip("pip cannot fetch setuptools to build the wheel (no package index)")
    assert p.returncode == 0, p.stderr
    [wheel] = (tmp / "dist").glob("supportd-*.whl")
    return wheel


def _venv(tmp: Path, wheel: Path) -> Path:
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    p = subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"),
                        "install", "-q", "--no-deps", str(wheel)], capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    [packages] = (venv / "lib").glob("python3*/site-packages")
    (packages / "zz_test_libraries.pth").write_text(
        "\n".join(site.getsitepackages()) + "\n", encoding="utf-8")
    return venv


def test_the_wheel_in_a_fresh_venv_acknowledges_a_letter(tmp_path: Path) -> None:
    wheel = _build_wheel(tmp_path)
    names = zipfile.ZipFile(wheel).namelist()
    assert "daemon/templates/emails/client/ack.txt.j2" in names
    assert any(n.startswith("daemon/migrations/versions/0001_") for n in names)
    venv = _venv(tmp_path, wheel)
    home = tmp_path / "elsewhere"
    home.mkdir()

    def supportd(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(venv / "bin" / "supportd"), *args], capture_output=True,
                              text=True, timeout=120, cwd=home)

    where = subprocess.run([str(venv / "bin" / "python"), "-c",
                            "import daemon; print(daemon.__file__)"], capture_output=True,
                           text=True, cwd=home, check=True).stdout.strip()
    assert where.startswith(str(venv)), where
    assert supportd("--version").stdout.strip() == f"supportd {__version__}"
    port = free_port()
    config = write_config(tmp_path / "desk", smtp_port=port)
    assert supportd("--config", str(config), "check-config").returncode == 0
    upgraded = supportd("--config", str(config), "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    log = tmp_path / "daemon.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(venv / "bin" / "supportd"), "--config", str(config),
                                 "run"], stdout=out, stderr=out, cwd=home)
    try:
        wait_listening(port, proc, lambda: log.read_text(errors="replace")[-3000:])
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
            smtp.sendmail("ivan@client.example", ["techsupport@example.ru"],
                          simple_letter("Установка из колеса"))
        outbox = tmp_path / "desk" / "outbox" / "new"
        deadline = time.monotonic() + 60
        acks: list[email.message.EmailMessage] = []
        while not acks and time.monotonic() < deadline:
            time.sleep(0.2)
            letters = [email.message_from_bytes(f.read_bytes(), policy=email.policy.default)
                       for f in (outbox.glob("*") if outbox.exists() else [])]
            acks = [m for m in letters if "ivan@client.example" in str(m["To"])]  # type: ignore[misc]
        assert acks, log.read_text(errors="replace")[-3000:]
        text = acks[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert "SD-" in str(acks[0]["Subject"]) and "Установка из колеса" in text
    finally:
        proc.terminate()
        proc.wait(timeout=60)
