"""The `supportd` program's first module: the thin MTA pipe before anything else.

An MTA runs `supportd ingest` once per letter, so what it imports before it hands
the letter over is paid per letter. When a daemon runs for the spool
(daemon/intake/thin_pipe.py), this module takes the letter with the standard
library, `tomllib` (for `[storage] spool` only) and the spool: no config loader,
no structlog, no pipeline. Every other command, an `ingest` with arguments it
does not know, or no daemon answering: `daemon.cli.main` as always (whose own
`ingest` asks the daemon first too).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# As daemon/config/loader.py's DEFAULT_CONFIG_PATHS and StorageConfig.spool
# (tests/unit/cli/test_front.py holds them equal).
DEFAULT_CONFIG_PATHS = (Path("/etc/supportd/supportd.toml"),)
DEFAULT_SPOOL = "var/spool"


def ingest_arguments(argv: list[str]) -> dict[str, str | None] | None:
    """`[--config C] ingest [--sender S] [--recipient R] [FILE]` as a dict, or None
    for anything else (which the full command line then reads and judges)."""
    out: dict[str, str | None] = {"config": None, "sender": None, "recipient": None,
                                  "file": None}
    args, seen_command = list(argv), False
    while args:
        word = args.pop(0)
        name, eq, value = word.partition("=")
        if name in ("--config", "--sender", "--recipient"):
            if name == "--config" and seen_command or name != "--config" and not seen_command:
                return None
            if not eq:
                if not args:
                    return None
                value = args.pop(0)
            out[name[2:]] = value
        elif word == "ingest" and not seen_command:
            seen_command = True
        elif seen_command and out["file"] is None and (word == "-" or
                                                      not word.startswith("-")):
            out["file"] = word
        else:
            return None
    return out if seen_command else None


def spool_of(config: str | None) -> Path | None:
    """`[storage] spool` of the config in force, or None when in doubt (the full
    loader then says what is wrong)."""
    import tomllib

    if config is None:
        config = os.environ.get("SUPPORTD_CONFIG") or None
    path = Path(config) if config else next(
        (p for p in DEFAULT_CONFIG_PATHS if p.exists()), None)
    if path is None:
        return Path(DEFAULT_SPOOL)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    storage = data.get("storage", {})
    spool = storage.get("spool", DEFAULT_SPOOL) if isinstance(storage, dict) else None
    return Path(spool) if isinstance(spool, str) and spool else None


def thin_ingest(argv: list[str]) -> int | None:
    """The exit code of an `ingest` the running daemon took, or None."""
    args = ingest_arguments(argv)
    if args is None or os.environ.get("SUPPORTD_NOW"):  # a named moment: the full CLI's
        return None
    spool = spool_of(args["config"])
    if spool is None:
        return None
    from daemon.intake.thin_pipe import envelope_for, hand_over

    try:
        done = hand_over(spool, args["file"], envelope_for(args["sender"], args["recipient"]))
    except OSError as exc:
        print(f"cannot read {args['file']}: {exc}", file=sys.stderr)
        return 66
    if done is None:
        return None
    code, line = done
    print(line, file=sys.stderr if code else sys.stdout)
    return code


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        code = thin_ingest(argv)
    except Exception as exc:  # an MTA bounces on anything but 75
        print(f"temporary failure, try again later: {exc!r}", file=sys.stderr)
        return 75
    if code is not None:
        return code
    from daemon.cli.main import main as full

    return full(argv)
