"""What the rest of the regulation adds to a client's acknowledgement (issue 13).

The pipeline's steps decide it; the acknowledgement (`client/_regulation.*.j2`)
only shows it: the clause that puts a question out of scope and where to turn
(§1.3, §1.4, §3.8), the documentation that may already answer it (§1.2, §5.9),
the ticket's place in the queue of its level (§2.1), and who received a letter
to the head of support (§6).
"""

from __future__ import annotations

from dataclasses import dataclass

from daemon.config.rule_files import Entry, Topic


@dataclass(frozen=True)
class Advice:
    out_of_scope: Topic | None = None  # the topic that put the letter out of scope
    level_changed: bool = False  # the letter's level was lowered to consultation for it
    entries: tuple[Entry, ...] = ()  # knowledge-base entries that match the letter
    queue_position: int | None = None  # 1 = next in the queue of its level
    escalated_to: str = ""  # the head of support's name, when the letter went to them


NO_ADVICE = Advice()
