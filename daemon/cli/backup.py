"""`supportd backup DIR`, `supportd restore DIR`, `supportd store reimport`: a backup
you can rehearse (daemon/storage/backup.py, daemon/intake/reimport.py).

    supportd backup /var/backups/supportd/2026-12-06      # while the daemon runs
    systemctl stop supportd
    supportd restore /var/backups/supportd/2026-12-06
    supportd db upgrade                                   # if the backup is older
    supportd store reimport                               # letters stored since
    systemctl start supportd
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from daemon.cli.common import EX_DATAERR, EX_TEMPFAIL, _app

EX_CANTCREAT = 73


def cmd_backup(args: argparse.Namespace) -> int:
    from daemon import __version__
    from daemon.storage import revisions
    from daemon.storage.backup import BackupError, backup

    app = _app(args)  # the database must be there and current
    revision = revisions.examine(args.cfg.storage.url).revision
    try:
        summary = backup(args.cfg.storage.url, app.spool, Path(args.dir), version=__version__,
                         revision=revision, now=app.now())
    except (BackupError, OSError) as exc:
        print(f"backup failed: {exc}", file=sys.stderr)
        return EX_CANTCREAT
    print(f"backed up to {args.dir}: {summary.database} (schema {revision}), {summary.files} "
          f"files, {summary.size} bytes; manifest.json holds their sha256")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from daemon.storage import revisions
    from daemon.storage.backup import (
        BackupError,
        read_manifest,
        restore_database,
        restore_files,
        verify,
    )

    app = _app(args, db=False)
    source = Path(args.dir)
    try:
        manifest = read_manifest(source)
        verify(source, manifest)
        restore_database(args.cfg.storage.url, source, manifest,
                         app.now().strftime("%Y%m%dT%H%M%S"))
        added = restore_files(app.spool, source, manifest)
    except BackupError as exc:
        print(f"restore failed: {exc}", file=sys.stderr)
        return EX_DATAERR
    except OSError as exc:
        print(f"restore failed: {exc}", file=sys.stderr)
        return EX_TEMPFAIL
    state = revisions.examine(args.cfg.storage.url)
    print(f"restored the database of {manifest['created_at']} (schema {manifest['schema']}) "
          f"and {added} spool files from {source}")
    if state.problem is not None:
        print(f"next: {state.problem[1]}")
    print("next: `supportd store reimport` processes the letters stored after the backup")
    return 0


def cmd_store_reimport(args: argparse.Namespace) -> int:
    from daemon.intake.reimport import missing, reimport

    app = _app(args)
    if args.dry_run:
        found = missing(app)
        for path in found:
            print(path.relative_to(app.spool.root))
        print(f"{len(found)} stored letters the database does not know")
        return 0
    report = reimport(app, send=args.send)
    outcomes = ", ".join(f"{n} {o}" for o, n in sorted(report.outcomes.items()))
    print(f"reimported {report.letters} letters" + (f": {outcomes}" if outcomes else ""))
    if report.marked_sent:
        print(f"{report.marked_sent} letters they caused recorded as sent before the restore "
              "(--send sends them)")
    return 0


def add_parsers(sub: Any) -> None:
    s = sub.add_parser("backup", help="the database and the stored letters into DIR, with a "
                                      "manifest of hashes")
    s.add_argument("dir")
    s.set_defaults(func=cmd_backup)
    s = sub.add_parser("restore", help="the database and the letters of a backup (the "
                                       "daemon stopped)")
    s.add_argument("dir")
    s.set_defaults(func=cmd_restore)
    sp = sub.add_parser("store", help="the stored letters").add_subparsers(
        dest="store_command", required=True)
    s = sp.add_parser("reimport", help="process again the stored letters the database does "
                                       "not know (after a restore)")
    s.add_argument("--send", action="store_true",
                   help="send the letters they cause again (default: recorded as sent)")
    s.add_argument("--dry-run", action="store_true", help="list them; process nothing")
    s.set_defaults(func=cmd_store_reimport)
