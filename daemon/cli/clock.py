"""The one clock a command runs on: the real time, or a moment the admin names.

`supportd --now 2026-12-08T11:00+03:00 COMMAND` (or `SUPPORTD_NOW`) runs a command
at that moment: a letter ingested then is received then, its deadline counted from
then, the outbox and the deadline sweep see that time. For a one-shot command the
clock stands still; `run` starts at that moment and its time then runs on (its
workers are told the real time it started in `SUPPORTD_NOW_SINCE`, so all of the
daemon's processes keep one time). Tests and admins reproducing a client's
complaint use it; nothing else in `daemon/` reads the system clock for "now".
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, MutableMapping
from datetime import UTC, datetime, timedelta

ENV = "SUPPORTD_NOW"
SINCE_ENV = "SUPPORTD_NOW_SINCE"  # set by `run` for its workers: the real time it began
RUNNING = ("run", "worker")  # commands whose time runs on from the moment given


class ClockError(ValueError):
    """A moment that cannot be read; the message names where it came from."""


def parse_moment(text: str, source: str = "--now") -> datetime:
    """An ISO 8601 date and time with a UTC offset, as an aware datetime in UTC."""
    value = text.strip()
    try:
        when = datetime.fromisoformat(value.replace(" ", "T", 1) if " " in value else value)
    except ValueError:
        raise ClockError(f"{source}: {text!r} is not an ISO 8601 date and time "
                         "(like 2026-12-08T11:00+03:00)") from None
    if when.tzinfo is None:
        raise ClockError(f"{source}: {text!r} has no UTC offset (add +03:00 for Moscow)")
    return when.astimezone(UTC)


def fixed(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment


def running_from(moment: datetime, since: float,
                 real: Callable[[], float] = time.time) -> Callable[[], datetime]:
    """A clock that read `moment` at the real time `since` (epoch seconds), and runs on."""
    return lambda: moment + timedelta(seconds=real() - since)


def from_arguments(option: str | None, command: str,
                   env: Mapping[str, str] = os.environ) -> Callable[[], datetime] | None:
    """The clock for `command`: None for the real one. `--now` wins over SUPPORTD_NOW."""
    if option is not None:
        moment = parse_moment(option, "--now")
    elif env.get(ENV, "").strip():
        moment = parse_moment(env[ENV], ENV)
    else:
        return None
    if command not in RUNNING:
        return fixed(moment)
    since_text = env.get(SINCE_ENV, "")
    try:
        since = float(since_text) if since_text else time.time()
    except ValueError:
        raise ClockError(f"{SINCE_ENV}: {since_text!r} is not a number of seconds") from None
    return running_from(moment, since)


def hand_down(option: str | None, env: MutableMapping[str, str] = os.environ) -> None:
    """For `run`: its workers (child processes) read the same moment and the real time
    it was read at, so every process of the daemon keeps one time."""
    if option is not None:
        env[ENV] = option
    if env.get(ENV, "").strip() and not env.get(SINCE_ENV):
        env[SINCE_ENV] = repr(time.time())
