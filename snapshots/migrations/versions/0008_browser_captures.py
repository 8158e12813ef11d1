"""browser captures: the raw response and a screenshot beside a rendered capture

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 02:45:00.000000

Two nullable digest columns on ``captures``, each a foreign key to ``blobs.sha256`` as
``body_sha256`` is: ``raw_sha256`` (the HTTP response's own body of a capture whose body is
the DOM a browser rendered) and ``screenshot_sha256`` (its full-page PNG).  Every existing
capture keeps both null.

SQLite adds a column with its ``REFERENCES`` clause in place (``ALTER TABLE … ADD COLUMN``
takes one when the default is null), so ``captures`` is not rebuilt (a rebuild would cascade
deletes through its dependants).  The downgrade drops the columns again: PostgreSQL drops
their keys first; SQLite, which refuses to drop a column a foreign key names, rewrites the
declared schema text back (as 0007 does) once the values are cleared.
"""
from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

from snapshots.db import Digest

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

COLUMNS = ("raw_sha256", "screenshot_sha256")


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for col in COLUMNS:
        name = f"fk_captures_{col}_blobs"
        if sqlite:   # inline REFERENCES: SQLite cannot add a constraint to a table
            op.execute(f"ALTER TABLE captures ADD COLUMN {col} BLOB CONSTRAINT {name} "
                       "REFERENCES blobs (sha256)")
        else:
            op.add_column("captures", sa.Column(col, Digest(), nullable=True))
            op.create_foreign_key(name, "captures", "blobs", [col], ["sha256"])


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "sqlite":
        for col in COLUMNS:
            op.drop_constraint(f"fk_captures_{col}_blobs", "captures", type_="foreignkey")
            op.drop_column("captures", col)
        return
    conn.exec_driver_sql(f"UPDATE captures SET {', '.join(f'{c} = NULL' for c in COLUMNS)}")
    version = conn.exec_driver_sql("PRAGMA schema_version").scalar_one()
    sql = conn.exec_driver_sql("SELECT sql FROM sqlite_schema WHERE type = 'table' "
                               "AND name = 'captures'").scalar_one()
    for col in COLUMNS:   # "col TYPE [CONSTRAINT name] REFERENCES blobs (sha256)" → "col TYPE"
        sql = re.sub(rf"(\b{col}\s+\w+(?:\(\d+\))?)\s+(?:CONSTRAINT\s+\w+\s+)?"
                     r"REFERENCES\s+blobs\s*\(sha256\)", r"\1", sql)
    conn.exec_driver_sql("PRAGMA writable_schema = ON")
    conn.execute(sa.text("UPDATE sqlite_schema SET sql = :sql WHERE type = 'table' "
                         "AND name = 'captures'"), {"sql": sql})
    conn.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    conn.exec_driver_sql("PRAGMA writable_schema = OFF")
    for col in COLUMNS:   # no key names them any more: SQLite drops them itself
        conn.exec_driver_sql(f"ALTER TABLE captures DROP COLUMN {col}")
