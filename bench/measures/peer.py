"""Measurement 4, the peer: django-helpdesk's `get_email` on a local folder of the
same corpus, SQLite, in its own venv (bench/.peer-venv, from PyPI), with the settings
in bench/peer/. Its start-up is timed apart (an empty folder) and subtracted.

As shipped it cannot read this corpus (it opens each file in the locale's encoding):
one stock pass records where it stops; the measured runs use bench/peer/
peer_get_email.py, which reads the files as Latin-1 and changes nothing else.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from bench.harness.desks import letters_for, warm_letters
from bench.harness.paths import BENCH, WORK
from bench.harness.progress import say
from bench.harness.stats import median

PEER_VENV = BENCH / ".peer-venv"
PEER_ENV = {"PYTHONPATH": str(BENCH / "peer"), "DJANGO_SETTINGS_MODULE": "peer_settings"}


def ensure_peer() -> str | None:
    """The peer's venv; None when ready, else why it cannot be had."""
    py = PEER_VENV / "bin" / "python"
    if not py.exists():
        say("creating", PEER_VENV, "(pip install django-helpdesk)")
        p = subprocess.run(["python3", "-m", "venv",
                            str(PEER_VENV)], capture_output=True)
        if p.returncode:
            return f"venv: {p.stderr.decode()[-500:]}"
    p = subprocess.run([str(py), "-c", "import helpdesk, django"], capture_output=True)
    if p.returncode:
        p = subprocess.run([str(py), "-m", "pip", "install", "--quiet", "django-helpdesk"],
                           capture_output=True, timeout=600)
        if p.returncode:
            return f"pip install django-helpdesk failed: {p.stderr.decode()[-800:]}"
    return None


def _peer_run(args: list[str], peer_dir: Path, timeout: float = 900
              ) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, **PEER_ENV, "PEER_DIR": str(peer_dir)}
    return subprocess.run([str(PEER_VENV / "bin" / "python"), *args], env=env,
                          capture_output=True, timeout=timeout, cwd=BENCH / "peer")


class _Folders:
    """The peer's desks under bench/.work/peer: a migrated template database, copied
    for each run with its queue, warmed and filled with the letters as asked."""

    def __init__(self, letters: list[Any]) -> None:
        self.letters = letters
        self.base = WORK / "peer"
        shutil.rmtree(self.base, ignore_errors=True)
        self.template = self.base / "template"
        self.template.mkdir(parents=True)

    def migrate(self) -> str | None:
        p = _peer_run(["-m", "django", "migrate", "-v0"], self.template)
        return f"migrate failed: {p.stderr.decode()[-800:]}" if p.returncode else None

    def fresh(self, name: str, with_letters: bool, warm: bool = True) -> Path:
        d = self.base / name
        shutil.rmtree(d, ignore_errors=True)
        (d / "mail").mkdir(parents=True)
        shutil.copy(self.template / "helpdesk.sqlite3", d / "helpdesk.sqlite3")
        q = _peer_run(["peer_setup.py", "queue", str(d / "mail")], d)
        if q.returncode:
            raise RuntimeError(q.stderr.decode()[-800:])
        if warm:  # the same warm-up letters supportd's desks get, untimed
            for x in warm_letters():
                (d / "mail" / f"warm-{x.name}").write_bytes(x.raw)
            _peer_run(["peer_get_email.py"], d)
            for f in (d / "mail").iterdir():
                f.unlink()
        if with_letters:
            for x in self.letters:
                (d / "mail" / x.name).write_bytes(x.raw)
        return d


def _stock(folders: _Folders) -> tuple[int, list[str]]:
    """As shipped, under this machine's UTF-8 locale: letters left, its last error."""
    d = folders.fresh("stock", True, warm=False)
    p = _peer_run(["peer_get_email.py", "--stock"], d)
    stock_left = len(list((d / "mail").iterdir()))
    stock_err = [ln for ln in (p.stdout + p.stderr).decode("utf-8", "replace").splitlines()
                 if "Error" in ln][-1:]
    return stock_left, stock_err


def measure(sz: dict[str, Any], seed: int, pg: str | None) -> dict[str, Any]:
    why = ensure_peer()
    if why:
        return {"error": why}
    versions = _peer_run(["-c", "import django, importlib.metadata as m; "
                          "print(django.get_version(), m.version('django-helpdesk'))"],
                         WORK).stdout.decode().split()
    letters = letters_for(sz["peer_n"], seed)
    folders = _Folders(letters)
    why = folders.migrate()
    if why:
        return {"error": why}
    stock_left, stock_err = _stock(folders)
    # Start-up alone: an empty folder.
    startup = []
    for i in range(3):
        d = folders.fresh(f"empty{i}", False)
        t0 = time.perf_counter()
        _peer_run(["peer_get_email.py"], d)
        startup.append(time.perf_counter() - t0)
    walls, rates, counts, left = [], [], {}, 0
    for rep in range(sz["reps"]):
        d = folders.fresh(f"rep{rep}", True)
        t0 = time.perf_counter()
        p = _peer_run(["peer_get_email.py"], d)
        wall = time.perf_counter() - t0
        if p.returncode:
            return {"error": f"get_email exit {p.returncode}: {p.stderr.decode()[-800:]}"}
        walls.append(wall)
        rates.append(len(letters) / max(1e-6, wall - median(startup)))
        left = len(list((d / "mail").iterdir()))
        counts = json.loads(_peer_run(["peer_setup.py", "count"], d).stdout.decode())
    shutil.rmtree(folders.base, ignore_errors=True)
    return {"django": versions[0] if versions else "?",
            "helpdesk": versions[1] if len(versions) > 1 else "?",
            "letters": len(letters), "walls": walls, "startup_s": median(startup),
            "rates": rates, "rate": median(rates),
            "rate_with_startup": len(letters) / median(walls),
            "left_in_folder": left, "counts": counts,
            "stock_processed": len(letters) - stock_left,
            "stock_error": stock_err[0][:300] if stock_err else ""}
