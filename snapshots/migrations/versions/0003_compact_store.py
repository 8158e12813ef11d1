"""compact store: delta blobs (blobs.base_sha256), link sets instead of links rows

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 10:00:00.000000

Every capture's rows of ``links`` become one ``link_sets`` row per distinct list (the
zstd-compressed JSON list of ``[url, text]`` in page order, keyed by the SHA-256 of that
JSON), named by ``captures.links_sha256``; ``links`` is dropped.  Existing blobs stay full
(codec ``zstd``); new versions are written as deltas against them.  ``ix_captures_round_id``
goes: the unique (round_id, url_id) index serves the same look-ups.  The link-set format is
written out here, not imported, so this script keeps meaning what it meant.
"""
from __future__ import annotations

import hashlib
import json

import sqlalchemy as sa
import zstandard
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

CHUNK = 500


def upgrade() -> None:
    op.create_table('link_sets',
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('sha256', name=op.f('pk_link_sets'))
    )
    _add_reference('captures', 'links_sha256', 'link_sets')
    op.drop_index(op.f('ix_captures_round_id'), table_name='captures')
    _links_to_sets(op.get_bind())
    op.drop_table('links')
    _add_reference('blobs', 'base_sha256', 'blobs')
    op.create_index(op.f('ix_blobs_base_sha256'), 'blobs', ['base_sha256'], unique=False)


def _add_reference(table: str, column: str, parent: str) -> None:
    """A nullable column referring to *parent*.sha256.  SQLite adds it in place, with an
    inline REFERENCES (a batch copy of the table would drop it while other tables' foreign
    keys point at it, which SQLite's enforced keys refuse, and copy every blob)."""
    if op.get_bind().dialect.name == 'sqlite':
        op.execute(f'ALTER TABLE {table} ADD COLUMN {column} VARCHAR(64) '
                   f'REFERENCES {parent} (sha256)')
        return
    op.add_column(table, sa.Column(column, sa.String(length=64), nullable=True))
    op.create_foreign_key(op.f(f'fk_{table}_{column}_{parent}'), table, parent, [column],
                          ['sha256'])


def _links_to_sets(conn: sa.Connection) -> None:
    """One link set per distinct list of a capture's links rows."""
    meta = sa.MetaData()
    links = sa.Table('links', meta, autoload_with=conn)
    sets = sa.Table('link_sets', meta, autoload_with=conn)
    captures = sa.Table('captures', meta, autoload_with=conn)
    compressor = zstandard.ZstdCompressor(level=6)
    ids = [r[0] for r in conn.execute(sa.select(links.c.capture_id).distinct()
                                      .order_by(links.c.capture_id))]
    known: set[str] = set()
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        per: dict[int, list[list[str]]] = {}
        for cid, url, text in conn.execute(
                sa.select(links.c.capture_id, links.c.url, links.c.text)
                .where(links.c.capture_id.in_(chunk))
                .order_by(links.c.capture_id, links.c.position)):
            per.setdefault(cid, []).append([url, text or ""])
        for cid, pairs in per.items():
            raw = json.dumps(pairs, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            sha = hashlib.sha256(raw).hexdigest()
            if sha not in known:    # link_sets is new: what this loop wrote is all it holds
                conn.execute(sets.insert().values(sha256=sha, count=len(pairs),
                                                  data=compressor.compress(raw)))
            known.add(sha)
            conn.execute(captures.update().where(captures.c.id == cid)
                         .values(links_sha256=sha))


def downgrade() -> None:
    raise NotImplementedError("takedown stores are never downgraded")
