"""binary digests: blob and link-set keys stored as their 32 bytes, not 64 hex digits

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 00:20:00.000000

The key columns (``blobs.sha256``, ``link_sets.sha256``) and every column that refers to
one (found by reflection: ``blobs.base_sha256``, ``captures.body_sha256``, ``text_sha256``,
``links_sha256``, and any later table's) become binary; Python still sees hex strings
(``snapshots.db.Digest``).  A value that is not 64 hex digits is kept as it is (SQLite) or
as its UTF-8 bytes (PostgreSQL), for ``takedown check`` to name: nothing is lost.

PostgreSQL drops the foreign keys between those columns, converts each column in place
(``decode(…, 'hex')``) and adds the keys back under their names (validated, unless a
damaged row of the old store breaks one: then it holds for new rows only, and the row is
left for ``takedown check`` to name, not refused with the whole upgrade).  SQLite cannot change a
column's type, and rebuilding ``captures`` would cascade deletes through its dependants;
but a SQLite column's type is only an affinity, so the values are converted in place (the
foreign keys deferred to the commit, where they hold again) and the declared types then
rewritten in the schema text, as SQLite's own documentation describes for changes that
leave the stored format alone (``PRAGMA writable_schema``, ``schema_version`` bumped).
"""
from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

KEYS = {("blobs", "sha256"), ("link_sets", "sha256")}


def upgrade() -> None:
    conn = op.get_bind()
    columns = _digest_columns(conn)
    if conn.dialect.name == "sqlite":
        _sqlite(conn, columns)
    else:
        _postgresql(conn, columns)


def _digest_columns(conn: sa.Connection) -> dict[str, list[str]]:
    """table → its key columns and the columns referring to a key."""
    inspector = sa.inspect(conn)
    found: dict[str, list[str]] = {}
    for table, column in sorted(KEYS):
        found.setdefault(table, []).append(column)
    for table in inspector.get_table_names():
        for fk in inspector.get_foreign_keys(table):
            for local, remote in zip(fk["constrained_columns"], fk["referred_columns"],
                                     strict=True):
                if (fk["referred_table"], remote) in KEYS and local not in found.get(table, ()):
                    found.setdefault(table, []).append(local)
    return found


def _unhex(value: object) -> object:
    if isinstance(value, str) and len(value) == 64:
        try:
            return bytes.fromhex(value)
        except ValueError:
            return value
    return value


def _sqlite(conn: sa.Connection, columns: dict[str, list[str]]) -> None:
    conn.connection.driver_connection.create_function(  # type: ignore[union-attr]
        "td_unhex", 1, _unhex, deterministic=True)
    conn.exec_driver_sql("PRAGMA defer_foreign_keys = ON")
    for table, cols in columns.items():
        sets = ", ".join(f"{c} = td_unhex({c})" for c in cols)
        where = " OR ".join(f"typeof({c}) = 'text'" for c in cols)
        conn.exec_driver_sql(f"UPDATE {table} SET {sets} WHERE {where}")
    version = conn.exec_driver_sql("PRAGMA schema_version").scalar_one()
    conn.exec_driver_sql("PRAGMA writable_schema = ON")
    for table, cols in columns.items():
        sql = conn.execute(sa.text("SELECT sql FROM sqlite_schema WHERE type = 'table' "
                                   "AND name = :t"), {"t": table}).scalar_one()
        for col in cols:
            sql = re.sub(rf"(\b{col}) VARCHAR\(64\)", r"\1 BLOB", sql)
        conn.execute(sa.text("UPDATE sqlite_schema SET sql = :sql WHERE type = 'table' "
                             "AND name = :t"), {"sql": sql, "t": table})
    conn.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    conn.exec_driver_sql("PRAGMA writable_schema = OFF")


def _postgresql(conn: sa.Connection, columns: dict[str, list[str]]) -> None:
    inspector = sa.inspect(conn)
    keys = []
    for table in columns:
        for fk in inspector.get_foreign_keys(table):
            if any((fk["referred_table"], r) in KEYS for r in fk["referred_columns"]):
                keys.append((table, fk))
                op.drop_constraint(fk["name"], table, type_="foreignkey")
    for table, cols in columns.items():
        for col in cols:
            op.execute(f"ALTER TABLE {table} ALTER COLUMN {col} TYPE bytea USING "
                       f"CASE WHEN {col} ~ '^[0-9a-f]{{64}}$' THEN decode({col}, 'hex') "
                       f"ELSE convert_to({col}, 'UTF8') END")
    for table, fk in keys:
        op.create_foreign_key(fk["name"], table, fk["referred_table"],
                              fk["constrained_columns"], fk["referred_columns"],
                              ondelete=(fk.get("options") or {}).get("ondelete"),
                              postgresql_not_valid=True)
        try:
            with conn.begin_nested():
                op.execute(f"ALTER TABLE {table} VALIDATE CONSTRAINT {fk['name']}")
        except sa.exc.IntegrityError:   # a damaged row: kept, and named by `takedown check`
            pass


def downgrade() -> None:
    raise NotImplementedError("stores are only ever upgraded")
