"""`supportd spam list|show QID|release QID|delete QID`: the quarantine (issue 18).

Held letters are kept whole under the spool's `quarantine/` (`daemon.storage.
quarantine`). `release` writes one back into the spool as if it had just arrived
clean (the running daemon registers it within seconds and the client gets the
acknowledgement, the clock starting now); `delete` removes it for good (its raw
bytes stay in the store, as every letter's do). Every command takes `--json`.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from daemon.cli.common import EX_NOTFOUND, EX_USAGE, _app, _print_json


def _line(r: dict[str, Any]) -> str:
    verdict = r.get("verdict") or {}
    what = r.get("reason", "spam")
    score = verdict.get("score")
    return (f"{r.get('id')}  {r.get('held_at', '')[:19]}  {what:<7} "
            f"{'-' if score is None else score:>6}  {r.get('level', ''):<6} "
            f"{r.get('from') or '(no from)'}  {r.get('subject') or '(no subject)'}")


def cmd_list(args: argparse.Namespace) -> int:
    entries = _app(args).quarantine.entries()
    if args.json:
        _print_json({"total": len(entries), "letters": entries})
        return 0
    print(f"{len(entries)} letter{'' if len(entries) == 1 else 's'} held")
    for r in entries:
        print(_line(r))
    return 0


def _not_held(letter_id: str) -> int:
    print(f"no letter {letter_id} in the quarantine", file=sys.stderr)
    return EX_NOTFOUND


def cmd_show(args: argparse.Namespace) -> int:
    app = _app(args)
    record = app.quarantine.get(args.id)
    if record is None:
        return _not_held(args.id)
    held = app.quarantine.letter(args.id)
    if args.json:
        _print_json({**record, "raw": held.raw.decode("utf-8", "replace") if held else None})
        return 0
    print(_line(record))
    for key in ("arrived_at", "held_at", "expires_at", "ticket", "infections"):
        if record.get(key):
            print(f"  {key}: {record[key]}")
    print(f"  envelope: {record.get('envelope')}")
    print(f"  verdict: {record.get('verdict')}")
    if held is not None:
        head, _, _ = held.raw.partition(b"\r\n\r\n")
        print(head.decode("utf-8", "replace"))
    return 0


def cmd_release(args: argparse.Namespace) -> int:
    app = _app(args)
    record = app.quarantine.get(args.id)
    if record is None:
        return _not_held(args.id)
    if record.get("reason") != "spam":
        print(f"{args.id} holds malware; its ticket exists without the file: only delete",
              file=sys.stderr)
        return EX_USAGE
    app.spool.ensure()
    released = app.quarantine.release(args.id, app.now(), f"cli:{getpass.getuser()}")
    assert released is not None
    learned = app.scanners.learn(released.raw, spam=False)
    if args.json:
        _print_json({"id": args.id, "spool_id": released.spool_id, "learned": learned})
    else:
        print(f"released {args.id} as {released.spool_id}: the daemon registers it now "
              f"({learned})")
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    app = _app(args)
    gone = app.quarantine.delete(args.id)
    if args.json:
        _print_json({"id": args.id, "deleted": gone})
    elif gone:
        print(f"deleted {args.id}")
    return 0 if gone else _not_held(args.id)


def add_parser(sub: Any) -> None:
    sp = sub.add_parser("spam", help="the quarantine of held letters").add_subparsers(
        dest="spam_command", required=True)
    s = sp.add_parser("list", help="held letters, oldest first")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_list)
    for name, func, text in (("show", cmd_show, "one held letter: record and headers"),
                             ("release", cmd_release, "register it as a clean letter now"),
                             ("delete", cmd_delete, "remove it from the quarantine")):
        s = sp.add_parser(name, help=text)
        s.add_argument("id", help="the letter's ten-digit quarantine id")
        s.add_argument("--json", action="store_true")
        s.set_defaults(func=func)
