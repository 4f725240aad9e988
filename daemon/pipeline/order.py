"""The order of the pipeline's steps: the one place that names them.

To add a rule: write a step module in `daemon/pipeline/steps/`, add one line here.
"""

from __future__ import annotations

from daemon.pipeline.context import Step
from daemon.pipeline.steps import (
    answer,
    attachments,
    authenticate,
    classify,
    documentation,
    escalate,
    flood,
    identify,
    malware,
    parse,
    queue,
    reply_loop,
    scan,
    scope,
    screen,
    spam,
    staff_query,
    store,
    thread,
)

STEPS: tuple[Step, ...] = (
    Step("parse", parse),
    Step("authenticate", authenticate),
    Step("scan", scan),
    Step("screen", screen),
    Step("thread", thread),
    Step("reply_loop", reply_loop),
    Step("staff_query", staff_query),
    Step("identify", identify),
    Step("spam", spam),
    Step("flood", flood),
    Step("classify", classify),
    Step("scope", scope),
    Step("attachments", attachments),
    Step("store", store),
    Step("malware", malware),
    Step("documentation", documentation),
    Step("escalate", escalate),
    Step("queue", queue),
    Step("answer", answer),
)

# What the runner runs before a letter's transaction opens: parsing is pure and the
# costliest step, authentication may wait for DNS, the scanners answer over the
# network; none needs the database.
BEFORE_TRANSACTION: tuple[str, ...] = ("parse", "authenticate", "scan")

# What the runner's fallback runs after parsing a letter a bug stopped, to open a
# ticket flagged for staff: no screening or threading; the step that failed is not run
# again (but `store`, which the ticket needs: it is retried without the attachments),
# any other that fails is passed over; `answer` is left out for a robot.
# `scan` is run again for clamd's sake (a file with malware is never stored); a scanner
# that fails there keeps every attachment out of the ticket (the raw letter has them).
FALLBACK: tuple[str, ...] = ("identify", "classify", "scope", "scan", "attachments", "store",
                             "malware", "answer")

STEP_NOTE = "supportd step: "  # added to an exception a step raised (`failed_step`)


def failed_step(exc: BaseException) -> str:
    """The name of the step an exception came out of, or ""."""
    notes = getattr(exc, "__notes__", None) or []
    return next((n[len(STEP_NOTE):] for n in notes if n.startswith(STEP_NOTE)), "")


def by_name(name: str) -> Step:
    return next(s for s in STEPS if s.name == name)
