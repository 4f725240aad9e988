"""`supportd store reimport`: letters in the store that the database does not know,
processed again — after a restore, the letters stored since the backup.

Such a letter was processed once already: its ticket was committed (a letter moves
to the store only after its commit), its acknowledgement and the staff's
notification were queued and, almost always, sent. So it runs through the pipeline
again, in the order the letters arrived (its ticket most likely gets the number it
had, as the database holds what it held before them), and the letters it queues
are recorded as sent before the restore, not sent again; `send=True` sends them
(when the backup is older than a relay outage, say). Run it with the daemon
stopped, right after `supportd restore` (and `db upgrade`).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import structlog
from sqlalchemy import func, select, update

from daemon.app import App
from daemon.pipeline.runner import process_batch
from daemon.storage import db
from daemon.storage.models import Inbound, Outgoing

log = structlog.get_logger("supportd.reimport")

NOTE = "reimported after a restore: sent before it, not sent again"


def _stored(app: App) -> Iterator[Path]:
    root = app.spool.store
    for path in sorted(root.rglob("*")) if root.exists() else []:
        if path.is_file():
            yield path


def missing(app: App) -> list[Path]:
    """Stored letters whose spool id the database does not know, in arrival order
    (spool ids sort by arrival)."""
    paths = {p.name: p for p in _stored(app)}
    known: set[str] = set()
    ids = sorted(paths)
    with app.sessions() as session:
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            known.update(session.scalars(select(Inbound.spool_id)
                                         .where(Inbound.spool_id.in_(chunk))))
    return [paths[i] for i in ids if i not in known]


@dataclass
class Reimported:
    letters: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    marked_sent: int = 0


def reimport(app: App, *, send: bool = False) -> Reimported:
    report = Reimported()
    todo = missing(app)
    if not todo:
        return report
    app.spool.ensure()
    with app.sessions() as session:
        before = int(session.scalar(select(func.max(Outgoing.id))) or 0)
    tickets: set[int] = set()
    for path in todo:
        claimed = app.spool.claim_dir / path.name
        shutil.copy2(path, claimed)  # processed from a claim, moved back to its place
        [result] = process_batch(app, [claimed])
        report.letters += 1
        report.outcomes[result.outcome] = report.outcomes.get(result.outcome, 0) + 1
        log.info("letter.reimported", spool_id=result.spool_id, outcome=result.outcome,
                 tid=result.tid)
    with app.sessions() as session:
        tickets = {t for t in session.scalars(
            select(Inbound.ticket_id).where(Inbound.spool_id.in_([p.name for p in todo])))
            if t is not None}
    if not send and tickets:
        with db.unit_of_work(app.sessions) as session:
            report.marked_sent = session.execute(
                update(Outgoing).where(Outgoing.id > before, Outgoing.status == "queued",
                                       Outgoing.ticket_id.in_(tickets))
                .values(status="sent", sent_at=app.now(), last_error=NOTE)
            ).rowcount  # type: ignore[attr-defined]
    return report
