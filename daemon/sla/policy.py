"""The desk's SLA policy: its levels on its working calendar, and the deadlines they give.

One value built from the config (`daemon.config.sla_config.build_policy`) and handed
to whoever computes a deadline: the store step starting a reaction clock, staff
commands moving a ticket to another level, the notifier saying how much time is
left. Pure: no clock of its own, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from daemon.sla.business_hours import WorkingCalendar
from daemon.sla.levels import Clock, SlaLevel, clock_start, reaction_due


@dataclass(frozen=True)
class ReactionClock:
    """A reaction clock as the ticket shows it: when it started, when it is due, when
    the assignee is warned (UTC)."""

    start: datetime
    due: datetime
    warn: datetime


def standing_clock(unanswered: ReactionClock | None, new: ReactionClock) -> ReactionClock:
    """The clock a ticket shows after a client letter started `new` (§2.3).

    A promise is never moved later: while an earlier clock is still unanswered, the
    ticket's deadline is the earliest of them, so a follow-up sent before the first
    reaction keeps the deadline the client was given (and its warning). Only when
    nothing is unanswered, or the new clock is due sooner (a level changed meanwhile),
    does the new one stand."""
    if unanswered is not None and unanswered.due <= new.due:
        return unanswered
    return new


@dataclass(frozen=True)
class SlaPolicy:
    levels: Mapping[str, SlaLevel]
    calendar: WorkingCalendar
    warn_at: float  # `scheduler.warn_at`: the share of the reaction time left at the warning

    def level(self, code: str) -> SlaLevel:
        try:
            return self.levels[code]
        except KeyError:
            raise KeyError(f"unknown SLA level {code!r}") from None

    def deadline(self, code: str, received: datetime, *,
                 developers_involved: bool = False) -> tuple[datetime, datetime]:
        """(clock start, reaction due) for a letter received at `received`, in UTC."""
        level = self.level(code)
        start = clock_start(level, received, self.calendar,
                            developers_involved=developers_involved)
        due = reaction_due(level, received, self.calendar, developers_involved)
        return start.astimezone(UTC), due.astimezone(UTC)

    def warn_time(self, code: str, received: datetime, *,
                  developers_involved: bool = False) -> datetime:
        """When the assignee is warned: `warn_at` of the reaction time left, counted on
        the level's own clock (working hours stay working hours)."""
        level = self.level(code)
        share = 1.0 - self.warn_at
        if isinstance(level.reaction, int):
            early = replace(level, reaction=max(1, int(level.reaction * share)))
        else:
            early = replace(level, reaction=max(timedelta(minutes=1), level.reaction * share))
        return reaction_due(early, received, self.calendar,
                            developers_involved).astimezone(UTC)

    def time_left(self, code: str, now: datetime, due: datetime) -> timedelta:
        """What is left of a reaction time at `now`, on the level's clock: calendar time
        for a calendar clock, working time otherwise."""
        if self.level(code).clock is Clock.CALENDAR:
            return due - now
        return self.calendar.working_between(now, due)
