"""integrations: bots, incoming and outgoing webhooks, link previews

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 11:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import parlour.storage.models

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_TIME = parlour.storage.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.add_column(
        "users", sa.Column("is_bot", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    op.add_column("messages", sa.Column("label", sa.String(length=80), nullable=True))
    op.add_column("messages", sa.Column("previews", sa.JSON(), nullable=True))
    op.create_table(
        "incoming_webhooks",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("room_id", sa.String(length=32), nullable=False),
        sa.Column("bot_user_id", sa.String(length=32), nullable=False),
        sa.Column("session_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("revoked_at", _TIME, nullable=True),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"]),
        sa.ForeignKeyConstraint(["room_id"], ["rooms.id"]),
        sa.ForeignKeyConstraint(["bot_user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_incoming_webhooks_room_id", "incoming_webhooks", ["room_id"])
    op.create_table(
        "outgoing_webhooks",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("secret", sa.String(length=64), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("room_ids", sa.JSON(), nullable=True),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("deleted_at", _TIME, nullable=True),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("lease_owner", sa.String(length=32), nullable=True),
        sa.Column("lease_until", _TIME, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _TIME, nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_delivery_at", _TIME, nullable=True),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_outgoing_webhooks_org_id", "outgoing_webhooks", ["org_id"])
    op.create_table(
        "link_previews",
        sa.Column("url_hash", sa.String(length=64), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("fetched_at", _TIME, nullable=False),
        sa.Column("preview", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("url_hash"),
    )


def downgrade() -> None:
    op.drop_table("link_previews")
    op.drop_index("ix_outgoing_webhooks_org_id", table_name="outgoing_webhooks")
    op.drop_table("outgoing_webhooks")
    op.drop_index("ix_incoming_webhooks_room_id", table_name="incoming_webhooks")
    op.drop_table("incoming_webhooks")
    with op.batch_alter_table("messages") as batch_op:
        batch_op.drop_column("previews")
        batch_op.drop_column("label")
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("is_bot")
