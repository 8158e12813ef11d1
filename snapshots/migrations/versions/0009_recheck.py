"""adaptive recheck: each URL's next check

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 02:45:00.000000

Reserved; changes nothing yet.
"""
from __future__ import annotations

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
