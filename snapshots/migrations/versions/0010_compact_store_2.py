"""search by lines: SQLite's full-text index holds each distinct line once

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 02:45:00.000000

The SQLite index of 0005 held every distinct page text whole, so ten rounds of a page whose
counter changed were indexed ten times over; it outweighed everything else in the store.
`snapshots.search` now indexes distinct lines (``search_lines``) and posts each document
under its lines (``search_postings``).  A SQLite store indexed the old way has its index
dropped and built again from its captures and takedowns (the index is derived: nothing is
lost), through `snapshots.search.index_pending`, the code ``takedown detect`` runs.  A store
whose 0005 ran with the new code (the tables exist already) and PostgreSQL, whose
``pg_trgm`` index is unchanged, are left alone.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from snapshots.repo import Store
from snapshots.search import create_index, index_pending

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

_OLD_INDEX = ("search_fts", "search_bigrams")
_DERIVED = ("search_takedowns", "search_texts", "search_marks")


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "sqlite" or "search_lines" in sa.inspect(conn).get_table_names():
        return
    for name in _OLD_INDEX:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")
    for name in _DERIVED:
        conn.exec_driver_sql(f"DELETE FROM {name}")
    create_index(conn)
    index_pending(Store(conn.engine), conn)


def downgrade() -> None:
    raise NotImplementedError("takedown stores are never downgraded")
