"""full-text search: an index of capture text and removed text

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 00:00:00.000000

Adds ``search_texts`` (one row per distinct plain text), ``search_takedowns`` (the texts
each takedown took away), ``search_marks`` (how far the index has read the captures), an
index of ``captures.text_sha256`` (a matching text → its captures), and the text index
proper, which is not a model (`snapshots.search.create_index`: FTS5 ``trigram`` and bigram
tables on SQLite, a ``pg_trgm`` GIN index on PostgreSQL).  Then it backfills: every
existing capture's text and every takedown, through `snapshots.search.index_pending`, the
same code ``takedown detect`` runs, imported rather than written out here so that a store
indexed by the migration and one indexed by detection hold the same documents.  Only the
reading of blobs is this revision's own (`_read_texts`): its keys are still hex text
(0007 makes them binary), which the models' queries no longer bind.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from snapshots import blobs as blobcodec
from snapshots.blobs import READ_CAP
from snapshots.db import Digest
from snapshots.repo import Store
from snapshots.search import create_index, index_pending

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'search_texts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('sha256', Digest(), nullable=False),
        sa.Column('body', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_search_texts')),
        sa.UniqueConstraint('sha256', name=op.f('uq_search_texts_sha256')),
    )
    op.create_table(
        'search_takedowns',
        sa.Column('takedown_id', sa.Integer(), nullable=False),
        sa.Column('sha256', Digest(), nullable=False),
        sa.ForeignKeyConstraint(['takedown_id'], ['takedowns.id'], ondelete='CASCADE',
                                name=op.f('fk_search_takedowns_takedown_id_takedowns')),
        sa.PrimaryKeyConstraint('takedown_id', 'sha256', name=op.f('pk_search_takedowns')),
    )
    op.create_index(op.f('ix_search_takedowns_sha256'), 'search_takedowns', ['sha256'])
    op.create_table(
        'search_marks',
        sa.Column('name', sa.String(length=40), nullable=False),
        sa.Column('last_id', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_search_marks')),
    )
    op.create_index('ix_captures_text_sha256', 'captures', ['text_sha256'])
    conn = op.get_bind()
    create_index(conn)
    index_pending(Store(conn.engine), conn, _read_texts)


BLOBS = sa.table('blobs', sa.column('sha256', sa.String()), sa.column('codec', sa.String()),
                 sa.column('base_sha256', sa.String()), sa.column('data', sa.LargeBinary()))


def _read_texts(conn: sa.Connection, keys: set[str]) -> list[tuple[str, bytes]]:
    """(key, text) of the blobs among *keys*, as this revision stores them; a chain is at
    most three frames (0003), so a base is read on demand."""
    rows = conn.execute(sa.select(BLOBS).where(BLOBS.c.sha256.in_(sorted(keys)))).all()
    return [(sha, _unpack(conn, codec, base, data, READ_CAP)) for sha, codec, base, data in rows]


def _unpack(conn: sa.Connection, codec: str, base: str | None, data: bytes,
            limit: int | None) -> bytes:
    parent = None
    if base is not None:
        row = conn.execute(sa.select(BLOBS.c.codec, BLOBS.c.base_sha256, BLOBS.c.data)
                           .where(BLOBS.c.sha256 == base)).one()
        parent = _unpack(conn, *row, None)
    return blobcodec.unpack(codec, data, limit, parent)


def downgrade() -> None:
    raise NotImplementedError("takedown stores are never downgraded")
