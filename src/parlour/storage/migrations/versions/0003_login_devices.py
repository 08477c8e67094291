"""login devices: the device cookies that exempt an account's owner from its login lockout

A browser that logged in to an account successfully gets a device cookie; logins that carry it are
throttled per device, so failures by a guesser elsewhere do not lock the owner out
(parlour.actions.login_throttle).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import parlour.storage.models

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_devices",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", parlour.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "last_login_at", parlour.storage.models.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("login_devices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_login_devices_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("login_devices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_devices_user_id"))
    op.drop_table("login_devices")
