"""structlog set-up: JSON lines under journald, a readable console on a terminal.

Every line is one event named as dotted noun and verb (`letter.processed`,
`outbox.sent`); lines about a ticket carry its `tid`.
"""

from __future__ import annotations

import logging
import sys

import structlog

from daemon.config.schema import LoggingConfig


def configure(cfg: LoggingConfig) -> None:
    level = getattr(logging, cfg.level.upper())
    fmt = cfg.format
    if fmt == "auto":
        fmt = "console" if sys.stderr.isatty() else "json"
    renderer: structlog.typing.Processor = (
        structlog.dev.ConsoleRenderer(colors=False) if fmt == "console"
        else structlog.processors.JSONRenderer(ensure_ascii=False))
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=max(level, logging.WARNING), stream=sys.stderr,
                        format="%(levelname)s %(name)s %(message)s")
