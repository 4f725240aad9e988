"""Measurement 1, the ceiling: the standard library's parser alone on the corpus,
`BytesParser(policy=default)`, a walk, and `get_content()` of every leaf part.

What any Python e-mail program pays at least; the targets are ratios to it.
"""

from __future__ import annotations

import time
from typing import Any

from bench.harness.children import run_child
from bench.harness.desks import letters_for
from bench.harness.stats import median


def child_ceiling(a: dict[str, Any]) -> dict[str, Any]:
    import email.policy
    from email.parser import BytesParser

    letters = [x.raw for x in letters_for(a["n"], a["seed"])]

    def one_pass() -> float:
        started = time.perf_counter()
        for raw in letters:
            msg = BytesParser(policy=email.policy.default).parsebytes(raw)
            for part in msg.walk():
                if not part.is_multipart():
                    part.get_content()
        return time.perf_counter() - started

    one_pass()  # warm-up: imports, codec caches
    times = [one_pass() for _ in range(a["reps"])]
    rates = [len(letters) / t for t in times]
    return {"rates": rates, "rate": median(rates), "letters": len(letters),
            "ms_per_letter": 1000 * median(times) / len(letters)}


def measure(sz: dict[str, Any], seed: int, pg: str | None) -> dict[str, Any]:
    return run_child("ceiling", {"n": sz["n"], "seed": seed, "reps": sz["reps"], "label": ""})
