"""What others say while we work: libraries' complaints, gathered per letter, and a
throttle for what a hostile sender could make us repeat.

Libraries (tnefparse, mail-parser, rarfile, the stdlib's `warnings`) complain
through the stdlib `logging` module, some of them once per broken property of one
attachment. While a letter is in hand (`collecting`), what they say is gathered
into that letter's list, and the runner logs one line for the letter; the service's
logging set-up (`daemon.service.logs`) hands records here with `take`. Our own
readers `note` what they could not read the same way. Nothing here writes
anything: values go into the list in hand, or nowhere.

`Throttle` lets one line a minute through per kind of event and counts the rest,
for the events a sender can cause at will (refused connections, accept() out of
descriptors, a library's complaint outside any letter).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Complaint:
    library: str  # the logger's name: "tnefparse", "mailparser.utils", "py.warnings"
    level: str  # "warning", "error", ...
    message: str


MAX_KEPT = 20  # per letter; past it only counted
MAX_MESSAGE = 500  # characters of one complaint


@dataclass
class Complaints:
    """One letter's complaints, each said once, in order; `more` counts the rest."""

    said: list[Complaint] = field(default_factory=list)
    more: int = 0

    def add(self, complaint: Complaint) -> None:
        if complaint in self.said:
            return
        if len(self.said) < MAX_KEPT:
            self.said.append(complaint)
        else:
            self.more += 1

    def __bool__(self) -> bool:
        return bool(self.said)

    def as_fields(self) -> list[dict[str, str]]:
        return [{"library": c.library, "level": c.level, "message": c.message}
                for c in self.said]


_in_hand: ContextVar[Complaints | None] = ContextVar("complaints_in_hand", default=None)


@contextmanager
def collecting(into: Complaints) -> Iterator[Complaints]:
    """While this lasts (in this thread or task), complaints go `into` the letter's."""
    token = _in_hand.set(into)
    try:
        yield into
    finally:
        _in_hand.reset(token)


def one_line(text: str) -> str:
    return " ".join(text.split())[:MAX_MESSAGE]


def note(library: str, message: str, level: str = "warning") -> None:
    """A complaint of our own readers about the letter in hand (none: forgotten)."""
    in_hand = _in_hand.get()
    if in_hand is not None:
        in_hand.add(Complaint(library, level, one_line(message)))


def take(record: logging.LogRecord) -> bool:
    """A library's log record into the letter in hand; False when there is none."""
    in_hand = _in_hand.get()
    if in_hand is None:
        return False
    message = record.getMessage()
    if record.exc_info and record.exc_info[1] is not None:
        message += f" ({summary(record.exc_info[1])})"
    in_hand.add(Complaint(record.name, record.levelname.lower(), one_line(message)))
    return True


def summary(exc: BaseException) -> str:
    """An exception in one line: its type and message, no traceback."""
    return one_line(f"{type(exc).__name__}: {exc}")


class Throttle:
    """At most one line per `interval` seconds for each key; the rest are counted.

    `allow(key)` is None for a line to hold back, or how many were held back since
    the last one let through (0 for the first)."""

    def __init__(self, interval: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.interval, self.clock = interval, clock
        self._last: dict[Any, float] = {}
        self._held: dict[Any, int] = {}

    def allow(self, key: Any) -> int | None:
        now = self.clock()
        last = self._last.get(key)
        if last is not None and now - last < self.interval:
            self._held[key] = self._held.get(key, 0) + 1
            return None
        if len(self._last) > 10_000:  # keys a sender chose: forget the old ones
            self._last = {k: t for k, t in self._last.items() if now - t < self.interval}
            self._held = {k: n for k, n in self._held.items() if k in self._last}
        self._last[key] = now
        return self._held.pop(key, 0)
