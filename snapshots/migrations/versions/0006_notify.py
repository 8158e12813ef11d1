"""notifications: what was sent, what waits to be retried

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 00:00:00.000000

(Placeholder: the notification outbox's tables come here.)
"""
from __future__ import annotations

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
