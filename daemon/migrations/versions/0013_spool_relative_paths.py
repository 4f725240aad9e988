"""stored letters and attachments by paths relative to the spool folder

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06

The database pointed at the spool's files by absolute paths, so a database restored
on another host (or under another `[storage] spool`) pointed nowhere. From here
on it keeps `store/YYYY/MM/DD/ID` and `attachments/ab/SHA256`, read against the
spool folder in force (`Spool.resolve`). The old paths are cut at their last
`/store/` or `/attachments/`; one that has neither is left as it is (resolve
reads an absolute path as it is). The downgrade leaves them relative: nothing in
the older code opens these files by their recorded path.
"""
import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

COLUMNS = (("inbound", "raw_path"), ("messages", "raw_path"), ("attachments", "stored_path"))
MARKS = ("/store/", "/attachments/")


def relative(path: str) -> str | None:
    for mark in MARKS:
        at = path.rfind(mark)
        if path.startswith("/") and at != -1:
            return path[at + 1:]
    return None


def upgrade() -> None:
    conn = op.get_bind()
    for table, column in COLUMNS:
        t = sa.table(table, sa.column("id", sa.Integer), sa.column(column, sa.Text))
        rows = conn.execute(sa.select(t.c.id, t.c[column]).where(
            t.c[column].like("/%"))).fetchall()
        changed = [{"row_id": row_id, "path": new} for row_id, path in rows
                   if (new := relative(path)) is not None]
        for start in range(0, len(changed), 1000):
            conn.execute(t.update().where(t.c.id == sa.bindparam("row_id"))
                         .values({column: sa.bindparam("path")}), changed[start:start + 1000])


def downgrade() -> None:
    pass
