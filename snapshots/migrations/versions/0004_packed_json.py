"""packed JSON: captures.headers and the detector's memories compressed

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 21:40:00.000000

``captures.headers``, ``detect_state.memory`` and ``detected_rounds.memory`` become binary
columns holding ``snapshots.db.pack_json`` bytes (compact JSON, zstd compressed against a
built-in dictionary, behind a tag byte).  PostgreSQL converts the column type in place (the
JSON text as UTF-8 bytes, which the format reads as plain JSON); SQLite, which cannot change
a column's type, adds a binary column, fills it, drops the old one and renames the new.
Then every value is packed, ``CHUNK`` rows at a time.  The packing is imported, not written
out here: its format is tagged, and a released tag keeps decoding the same forever.  A value
that is not JSON is kept as its bytes, for ``takedown check`` to name, not lost.
"""
from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

from snapshots.db import pack_json

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

CHUNK = 500
# (table, primary key columns, column, dictionary)
PACKED = (
    ('captures', ('id',), 'headers', 'headers'),
    ('detect_state', ('url_id',), 'memory', 'memory'),
    ('detected_rounds', ('round_id', 'target_id'), 'memory', 'memory'),
)


def upgrade() -> None:
    conn = op.get_bind()
    for table, keys, column, dictionary in PACKED:
        if conn.dialect.name == 'sqlite':
            _sqlite_to_binary(conn, table, keys, column, dictionary)
        else:
            op.alter_column(table, column, type_=sa.LargeBinary(), existing_nullable=False,
                            postgresql_using=f'convert_to({column}::text, \'UTF8\')')
            _pack_rows(conn, table, keys, column, column, dictionary)


def _sqlite_to_binary(conn: sa.Connection, table: str, keys: tuple[str, ...], column: str,
                      dictionary: str) -> None:
    # in place, not a batch copy of the table: other tables' enforced foreign keys point
    # at captures (see 0003)
    new = f'{column}_packed'
    op.execute(f"ALTER TABLE {table} ADD COLUMN {new} BLOB NOT NULL DEFAULT X''")
    _pack_rows(conn, table, keys, column, new, dictionary)
    op.execute(f'ALTER TABLE {table} DROP COLUMN {column}')
    op.execute(f'ALTER TABLE {table} RENAME COLUMN {new} TO {column}')


def _pack_rows(conn: sa.Connection, table: str, keys: tuple[str, ...], source: str,
               dest: str, dictionary: str) -> None:
    """Every row's *source* value packed into *dest*, in key order, CHUNK rows at a time."""
    t = sa.table(table, *(sa.column(k) for k in keys),
                 sa.column(source, sa.LargeBinary()), sa.column(dest, sa.LargeBinary()))
    key_cols = [t.c[k] for k in keys]
    # read as stored: text (a SQLite JSON column) or bytes, whatever the declared type
    q = sa.select(*key_cols, t.c[source]).order_by(*key_cols).limit(CHUNK)
    last: tuple | None = None
    while True:
        page = q if last is None else q.where(sa.tuple_(*key_cols) > sa.tuple_(*last))
        rows = conn.execute(page).all()
        if not rows:
            return
        for row in rows:
            where = sa.and_(*(c == v for c, v in zip(key_cols, row[:-1], strict=True)))
            conn.execute(t.update().where(where).values({dest: _packed(row[-1], dictionary)}))
        last = tuple(rows[-1][:-1])


def _packed(value: str | bytes | memoryview | None, dictionary: str) -> bytes:
    if value is None:
        return pack_json({}, dictionary)
    data = value.encode('utf-8') if isinstance(value, str) else bytes(value)
    if data[:1] and data[0] < 0x09:      # already packed (a tag byte), by newer code
        return data
    try:
        return pack_json(json.loads(data), dictionary)
    except ValueError:                   # not JSON: kept for `takedown check` to name
        return data


def downgrade() -> None:
    raise NotImplementedError("takedown stores are never downgraded")
