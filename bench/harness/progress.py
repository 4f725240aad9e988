"""The progress lines the benchmark and the soak print while they run: a time of day,
then what is happening, flushed at once (their output is often read through a pipe)."""

from __future__ import annotations

from datetime import datetime


def say(*parts: object, who: str = "") -> None:
    """`[HH:MM:SS] parts...`, or `[WHO HH:MM:SS] parts...`."""
    stamp = datetime.now().strftime("%H:%M:%S")
    print(f"[{who} {stamp}]" if who else f"[{stamp}]", *parts, flush=True)
