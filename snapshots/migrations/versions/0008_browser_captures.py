"""browser captures: the raw response and a screenshot beside a rendered capture

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 02:45:00.000000

Reserved; changes nothing yet.
"""
from __future__ import annotations

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
