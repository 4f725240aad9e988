"""Where things are: the project's root (the working folder of every `supportd` the
harness starts), the bench folder and its scratch folder, the interpreter.

The scratch folder `bench/.work` (ignored by git) holds the benchmark's desks while
they run, its children's logs and the last results.json.
"""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent
PROJECT = BENCH.parent
WORK = BENCH / ".work"
LOGS = WORK / "logs"
PY = sys.executable
