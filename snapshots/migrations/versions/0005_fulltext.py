"""full-text search: an index of capture text and removed text

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 00:00:00.000000

(Placeholder: the search index's tables and the backfill of existing stores come here.)
"""
from __future__ import annotations

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
