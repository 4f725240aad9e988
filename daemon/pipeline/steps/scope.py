"""Step: the topic of a new ticket (§4), and the consultation level for a question
the regulation puts out of scope (§1.3, §1.4, §3.8, §4.5 «НЕ решаются»).

The decision is `daemon.tickets.scope` (rules in config, Russian words by lemma);
this step asks it about a new ticket's subject and new text, keeps the answer for
the ticket and the acknowledgement, and moves an out-of-scope letter to the
`consultation` level, from any sender. A special request (§3.6) keeps its level: the
coupon is already spent, and staff are told instead. Staff writing from their own
addresses and robots are not classified. Classification never fails a letter: on
any error the ticket gets no topic and is flagged for staff.
"""

from __future__ import annotations

import dataclasses

import structlog
from sqlalchemy.orm import Session

from daemon.app import App
from daemon.mail.reply_text import new_text_of_reply
from daemon.pipeline.context import Letter
from daemon.sla.levels import CONSULTATION

log = structlog.get_logger("supportd.scope")


def run(letter: Letter, session: Session, app: App) -> None:
    p = letter.parsed
    if letter.ticket is not None or p is None or letter.robot or letter.staff is not None \
            or not app.config.scope.enabled:
        return
    try:
        found = app.scope.classify(p.subject, new_text_of_reply(p.text))
    except Exception as exc:  # noqa: BLE001 - a letter is never lost to its topic
        log.exception("scope.failed", error=str(exc))
        letter.notes.append(f"topic not found: {type(exc).__name__}: {exc}")
        letter.flags.append("тему письма определить не удалось (ошибка классификатора): "
                            "задайте её командой #topic")
        return
    letter.topic = found
    letter.notes.append(f"topic {found.topic or '-'} ({found.describe()})")
    if not found.out_of_scope:
        return
    topic = app.scope.by_code[found.topic]
    changed = False
    if letter.sla_level == "special":
        letter.flags.append(f"вопрос похож на не входящий в техподдержку (тема {topic.code}, "
                            f"п. {topic.clause}), но принят по купону спецобращения")
    elif letter.sla_level != CONSULTATION and CONSULTATION in app.sla.levels:
        letter.notes.append(f"out of scope ({topic.code}, §{topic.clause}): "
                            f"{letter.sla_level} -> {CONSULTATION}")
        letter.level_before_scope = letter.sla_level
        letter.sla_level, changed = CONSULTATION, True
    # §5.2's address of the System and version are about our programs: not asked here.
    letter.missing = []
    letter.advice = dataclasses.replace(letter.advice, out_of_scope=topic,
                                        level_changed=changed)
