"""The order of the pipeline's steps: the one place that names them.

To add a rule: write a step module in `daemon/pipeline/steps/`, add one line here.
"""

from __future__ import annotations

from daemon.pipeline.context import Step
from daemon.pipeline.steps import (
    answer,
    attachments,
    classify,
    identify,
    parse,
    reply_loop,
    screen,
    store,
    thread,
)

STEPS: tuple[Step, ...] = (
    Step("parse", parse),
    Step("screen", screen),
    Step("thread", thread),
    Step("reply_loop", reply_loop),
    Step("identify", identify),
    Step("classify", classify),
    Step("attachments", attachments),
    Step("store", store),
    Step("answer", answer),
)

# What the runner's fallback runs after parsing a letter a bug stopped, to open a
# ticket flagged for staff: no screening, threading or attachment verdicts, so nothing
# a bug in them could stop again; `answer` is left out for a robot.
FALLBACK: tuple[str, ...] = ("identify", "classify", "store", "answer")


def by_name(name: str) -> Step:
    return next(s for s in STEPS if s.name == name)
