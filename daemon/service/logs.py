"""structlog set-up: JSON lines under journald, a readable console on a terminal.

Every line is one event named as dotted noun and verb (`letter.processed`,
`outbox.sent`); lines about a ticket carry its `tid`. Every line carries its syslog
`priority` (error 3, warning 4, info 6, debug 7); under systemd, where stderr is the
journal's stream, the line also starts with "<N>", which journald takes as the
entry's PRIORITY, so `journalctl -u supportd -p err` shows the errors alone.

Libraries speak through the stdlib `logging` module (tnefparse once per broken
property of a winmail.dat, mail-parser, asyncio, aiosmtpd), the stdlib's
`warnings` and the last-resort hooks print to stderr. All of it comes here and
leaves as structured lines, never as a traceback: a library's record while a letter
is in hand goes into that letter's complaints (`daemon.mail.complaints`), which the
runner logs as one line with the spool id; outside a letter each is a
`library.complaint` line, at most one a minute for each thing said, the next one
counting those held back (`suppressed`). An exception nobody caught is one line
with its traceback as a field.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import traceback
from collections.abc import MutableMapping
from types import TracebackType
from typing import Any

import structlog

from daemon.config.schema import LoggingConfig
from daemon.mail import complaints

log = structlog.get_logger("supportd.logs")


class LibraryHandler(logging.Handler):
    """The stdlib `logging` records of libraries, as structured lines (above)."""

    def __init__(self) -> None:
        super().__init__()
        self.throttle = complaints.Throttle()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if complaints.take(record):
                return
            held = self.throttle.allow((record.name, str(record.msg)))
            if held is None:
                return
            fields: dict[str, Any] = {"library": record.name,
                                      "message": complaints.one_line(record.getMessage())}
            if record.exc_info and record.exc_info[1] is not None:
                fields["error"] = complaints.summary(record.exc_info[1])
            if held:
                fields["suppressed"] = held
            log.log(record.levelno, "library.complaint", **fields)
        except Exception:  # a record that cannot be rendered is not worth a traceback
            pass


def _trace(exc_type: type[BaseException], exc: BaseException,
           tb: TracebackType | None) -> str:
    return "".join(traceback.format_exception(exc_type, exc, tb))


def _uncaught(exc_type: type[BaseException], exc: BaseException,
              tb: TracebackType | None) -> None:
    log.critical("process.crashed", error=complaints.summary(exc),
                 trace=_trace(exc_type, exc, tb))


def _thread_crashed(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is None or args.exc_type is SystemExit:
        return
    log.error("thread.crashed", thread=args.thread.name if args.thread else None,
              error=complaints.summary(args.exc_value),
              trace=_trace(args.exc_type, args.exc_value, args.exc_traceback))


def _unraisable(u: Any) -> None:
    """An exception in a __del__ or a finalizer ("Exception ignored in ...")."""
    error = complaints.summary(u.exc_value) if u.exc_value is not None else u.err_msg
    log.warning("exception.unraisable", error=error,
                where=complaints.one_line(u.err_msg or repr(u.object))[:200])


# syslog(3) priorities by level: what `journalctl -p err` filters on.
PRIORITY = {"debug": 7, "info": 6, "warning": 4, "warn": 4, "error": 3, "exception": 3,
            "critical": 2}


def add_priority(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """The line's syslog priority, as a field every JSON line carries."""
    event["priority"] = PRIORITY.get(str(event.get("level", "info")), 6)
    return event


def to_journal(stream: Any = None) -> bool:
    """Is `stream` (stderr) the journal's own stream? systemd says so in $JOURNAL_STREAM
    ("device:inode"); then a "<N>" in front of a line is its priority (sd-daemon(3)),
    which journald takes off the line and keeps as the entry's PRIORITY."""
    stream = stream or sys.stderr
    dev, _, ino = os.environ.get("JOURNAL_STREAM", "").partition(":")
    try:
        st = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return dev.isdigit() and ino.isdigit() and (st.st_dev, st.st_ino) == (int(dev), int(ino))


class PriorityPrefix:
    """Puts "<N>" before a rendered line for journald (see `to_journal`)."""

    def __init__(self, render: Any) -> None:
        self.render = render

    def __call__(self, logger: Any, name: str, event: MutableMapping[str, Any]) -> str:
        return f"<{event.get('priority', 6)}>{self.render(logger, name, event)}"


def configure(cfg: LoggingConfig) -> None:
    level = getattr(logging, cfg.level.upper())
    fmt = cfg.format
    if fmt == "auto":
        fmt = "console" if sys.stderr.isatty() else "json"
    renderer: structlog.typing.Processor = (
        structlog.dev.ConsoleRenderer(colors=False) if fmt == "console"
        else structlog.processors.JSONRenderer(ensure_ascii=False))
    if to_journal():
        renderer = PriorityPrefix(renderer)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            add_priority,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    # Libraries below warning are chatter (aiosmtpd logs every command at info).
    logging.basicConfig(level=max(level, logging.WARNING), handlers=[LibraryHandler()],
                        force=True)
    logging.captureWarnings(True)
    sys.excepthook = _uncaught
    threading.excepthook = _thread_crashed
    sys.unraisablehook = _unraisable
