"""adaptive recheck: each URL's next check

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 02:45:00.000000

Four nullable columns on ``urls``, nothing else changes: ``next_check`` (when the URL is
next due, written after each round that fetched it; null: due at once), ``changed_at``
(when its content was last seen to change), ``published_at`` (its publication time, as the
detector read it) and ``listing`` (the detector read the page as a listing or it carries
the target's items); and the index ``ix_urls_target_next_check`` on ``(target_id,
next_check)``, which a round's planning reads.  Existing URLs keep them null, so every URL
is due at the first adaptive round.  See docs/recheck.md.

Both backends add the columns in place (``ALTER TABLE … ADD COLUMN``).  The downgrade drops
the index, then the columns (SQLite 3.35 or later drops a column in place).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

TIMES = ("next_check", "changed_at", "published_at")


def upgrade() -> None:
    for col in TIMES:
        op.add_column("urls", sa.Column(col, sa.DateTime(timezone=True), nullable=True))
    op.add_column("urls", sa.Column("listing", sa.Boolean(), nullable=True))
    op.create_index("ix_urls_target_next_check", "urls", ["target_id", "next_check"],
                    unique=False)


def downgrade() -> None:
    op.drop_index("ix_urls_target_next_check", table_name="urls")
    for col in (*TIMES, "listing"):
        op.drop_column("urls", col)
