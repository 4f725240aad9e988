"""The composition root: one `App` holds what the parts need, built once from config.

Nothing in supportd is a module-level singleton; the CLI and the service build
an App and pass it down.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from daemon import db, sla_config
from daemon.business_hours import WorkingCalendar
from daemon.config import Config
from daemon.notifier import Notifier
from daemon.sla import SlaLevel, clock_start, reaction_due
from daemon.spool import Spool, SpooledLetter


class App:
    def __init__(self, config: Config, *, clock: Callable[[], datetime] | None = None) -> None:
        self.config = config
        self._clock = clock or (lambda: datetime.now(UTC))
        self.spool = Spool(config.spool_dir)
        self.calendar: WorkingCalendar = sla_config.build_calendar(config)
        self.levels: dict[str, SlaLevel] = sla_config.build_levels(config)

    def reconfigure(self, config: Config) -> None:
        """Switch to a new, already validated config (SIGHUP)."""
        calendar, levels = sla_config.build_calendar(config), sla_config.build_levels(config)
        self.config, self.calendar, self.levels = config, calendar, levels
        self.__dict__.pop("notifier", None)  # templates and staff are read anew

    def now(self) -> datetime:
        return self._clock()

    @cached_property
    def engine(self) -> Engine:
        return db.make_engine(self.config.storage.url)

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return db.make_sessionmaker(self.engine)

    @cached_property
    def notifier(self) -> Notifier:
        return Notifier(self)

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
        """When the assignee is warned: `scheduler.warn_at` of the reaction time left,
        counted on the level's own clock (working hours stay working hours)."""
        level = self.level(code)
        share = 1.0 - self.config.scheduler.warn_at
        if isinstance(level.reaction, int):
            early = replace(level, reaction=max(1, int(level.reaction * share)))
        else:
            early = replace(level, reaction=max(timedelta(minutes=1), level.reaction * share))
        return reaction_due(early, received, self.calendar,
                            developers_involved).astimezone(UTC)

    def stored_path(self, letter: SpooledLetter) -> Path:
        return self.spool.store_path(letter.spool_id, letter.received_at)

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()
