"""notifications: what was sent, what waits to be retried

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 00:00:00.000000

Two new tables, nothing else changes: ``notify_destinations`` (one row per notification
URL, keyed by its SHA-256) and ``notify_outbox`` (one row per message owed to a
destination about a takedown event, pending until delivered).  See docs/notify.md.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('notify_destinations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('scanned_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('digest_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notify_destinations')),
    sa.UniqueConstraint('key', name=op.f('uq_notify_destinations_key'))
    )
    op.create_table('notify_outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('destination_id', sa.Integer(), nullable=False),
    sa.Column('takedown_id', sa.Integer(), nullable=False),
    sa.Column('event', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['destination_id'], ['notify_destinations.id'], name=op.f('fk_notify_outbox_destination_id_notify_destinations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['takedown_id'], ['takedowns.id'], name=op.f('fk_notify_outbox_takedown_id_takedowns'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notify_outbox')),
    sa.UniqueConstraint('destination_id', 'takedown_id', 'event', name=op.f('uq_notify_outbox_destination_id'))
    )
    op.create_index('ix_notify_outbox_destination_status', 'notify_outbox', ['destination_id', 'status'], unique=False)
    op.create_index(op.f('ix_notify_outbox_takedown_id'), 'notify_outbox', ['takedown_id'], unique=False)


def downgrade() -> None:
    op.drop_table('notify_outbox')
    op.drop_table('notify_destinations')
