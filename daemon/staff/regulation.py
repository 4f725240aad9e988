"""Staff commands of the rest of the regulation (issue 13): `#topic CODE`,
`#pending REASON` (§5.10) and `#faq ID` (§5.9).

`#topic` corrects the ticket's topic; the classifier's finding stays beside it for
the report. `#pending REASON` postpones the ticket for one of the reasons of §5.10,
and the client's letter quotes the reason in the regulation's words; a bare
`#pending` still just waits for the client. Either way the reaction clock stops
until the client writes (the store step starts a new one then). `#faq ID` sends the
client a knowledge-base entry's text and link, counted as the reaction like any
answer. `daemon.staff.reply` calls `problems`, `client_text` and `apply`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from daemon.config.rule_files import Entry
from daemon.outbound.notifier import Notifier
from daemon.staff.commands import Command
from daemon.storage.models import Ticket

NAMES = frozenset({"topic", "pending", "faq"})


@dataclass(frozen=True)
class Reason:
    code: str
    words: str  # §5.10, word for word


# §5.10 «Решение вопросов обращения может быть отложено или даже невозможно по
# следующим основным причинам», in its order (a number 1-7 names one too).
REASONS: tuple[Reason, ...] = (
    Reason("cannot-reproduce", "невозможно повторить описанную проблему на аналогичной "
                               "конфигурации оборудования"),
    Reason("need-info", "Отправитель не может предоставить достаточно информации для решения "
                        "проблемы"),
    Reason("needs-development", "вопрос требует детальной диагностики, доработки функционала "
                                "и/или выпуска обновления для программы"),
    Reason("licence-violation", "Лицензиат выполняет действия в нарушение технических "
                                "требований по установке и использованию Программы и/или "
                                "Онлайн-сервиса, внесены изменения в ядро Программы, превышено "
                                "количество разрешенных установок Программы или Участников ЭДО "
                                "и т.п."),
    Reason("unlicensed", "используется нелицензионная копия Программы и/или Онлайн-сервиса"),
    Reason("out-of-scope", "вопрос выходит за рамки технической поддержки"),
    Reason("unconstructive", "вопрос задан некорректно или обсуждение вопроса проводится "
                             "неконструктивно, и решение проблемы затягивается из-за "
                             "несвоевременного предоставления информации по обращению со "
                             "стороны Отправителя"),
)


def reason(arg: str) -> Reason | None:
    """The §5.10 reason a `#pending` argument names: its code or its number."""
    arg = arg.strip().lower()
    if arg.isdigit() and 1 <= int(arg) <= len(REASONS):
        return REASONS[int(arg) - 1]
    return next((r for r in REASONS if r.code == arg), None)


@dataclass(frozen=True)
class Rules:
    """What these commands check against: the topic codes and the knowledge base."""

    topics: frozenset[str] = frozenset()
    entries: dict[str, Entry] | None = None
    out_of_scope: frozenset[str] = frozenset()  # the topic codes §1.3, §1.4 put out

    def entry(self, entry_id: str) -> Entry | None:
        return (self.entries or {}).get(entry_id.strip().lower())


def problems(c: Command, rules: Rules) -> list[str]:
    if c.name == "topic" and c.arg.lower() not in rules.topics:
        return [f"#topic {c.arg}: такой темы нет; есть: {', '.join(sorted(rules.topics))}"]
    if c.name == "pending" and c.arg and reason(c.arg) is None:
        return [f"#pending {c.arg}: такой причины нет в п. 5.10; есть: "
                + ", ".join(f"{i} {r.code}" for i, r in enumerate(REASONS, 1))]
    if c.name == "faq" and rules.entry(c.arg) is None:
        known = ", ".join(sorted(rules.entries or {})) or "база знаний не настроена"
        return [f"#faq {c.arg}: такой статьи нет ({known})"]
    return []


def client_text(text: str, commands: tuple[Command, ...], ticket: Ticket, rules: Rules,
                notifier: Notifier) -> str:
    """The answer the client gets: the staff member's text, then the knowledge-base
    entries of `#faq` and the §5.10 reason of `#pending`."""
    parts = [text] if text else []
    for c in commands:
        if c.name == "faq" and (entry := rules.entry(c.arg)) is not None:
            parts.append(notifier.render("client/faq_answer.txt.j2", entry=entry).strip())
        elif c.name == "pending" and c.arg and (why := reason(c.arg)) is not None:
            parts.append(notifier.render("client/pending_reason.txt.j2", ticket=ticket,
                                         reason=why).strip())
    return "\n\n".join(parts)


def apply(c: Command, ticket: Ticket, now: datetime, actor: str, rules: Rules) -> None:
    if c.name == "topic":
        ticket.topic, ticket.topic_set_by, ticket.topic_set_at = c.arg.lower(), actor, now
    elif c.name == "pending":
        # §5.10: waiting for the client; nothing chases the ticket, and the clock stops
        # until the client writes (the store step starts a new one then).
        ticket.status, ticket.awaiting_reaction = "pending", False
        found = reason(c.arg) if c.arg else None
        ticket.pending_reason = found.code if found else ""
    elif c.name == "faq" and (entry := rules.entry(c.arg)) is not None:
        offered = list(ticket.kb_offered or [])
        ticket.kb_offered = [*offered, entry.id] if entry.id not in offered else offered
