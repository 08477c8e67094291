"""reactions, pins and saved messages

Reactions and saves are rows of their own; a pin is two columns of the message (one row to write,
nothing to join on a page). `messages.has_reactions` lets a page read reactions only for the
messages that have some, as `has_attachments` does for attachments.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import parlour.storage.models

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_AT = parlour.storage.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    # Plain ALTER TABLE ADD COLUMN, not a batch: a batch would copy `messages` on SQLite and
    # lose the full-text search triggers on it.
    op.add_column(
        "messages",
        sa.Column("has_reactions", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column("messages", sa.Column("pinned_at", _AT, nullable=True))
    op.add_column("messages", sa.Column("pinned_by", sa.String(length=32), nullable=True))
    op.create_index(
        "ix_messages_room_pinned",
        "messages",
        ["room_id", "pinned_at"],
        unique=False,
        sqlite_where=sa.text("pinned_at IS NOT NULL"),
        postgresql_where=sa.text("pinned_at IS NOT NULL"),
    )
    op.create_table(
        "reactions",
        sa.Column("id", _SEQ, autoincrement=True, nullable=False),
        sa.Column("message_seq", _SEQ, nullable=False),
        sa.Column("room_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("emoji", sa.String(length=64), nullable=False),
        sa.Column("chip", sa.Integer(), nullable=False),
        sa.Column("created_at", _AT, nullable=False),
        sa.ForeignKeyConstraint(["message_seq"], ["messages.seq"]),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_seq", "emoji", "user_id", name="ux_reactions_once"),
    )
    op.create_index("ix_reactions_room_message", "reactions", ["room_id", "message_seq"])
    op.create_table(
        "saved_messages",
        sa.Column("id", _SEQ, autoincrement=True, nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("message_seq", _SEQ, nullable=False),
        sa.Column("saved_at", _AT, nullable=False),
        sa.ForeignKeyConstraint(["message_seq"], ["messages.seq"]),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "message_seq", name="ux_saved_once"),
    )
    op.create_index("ix_saved_user_id", "saved_messages", ["user_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_saved_user_id", table_name="saved_messages")
    op.drop_table("saved_messages")
    op.drop_index("ix_reactions_room_message", table_name="reactions")
    op.drop_table("reactions")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_room_pinned")
        batch_op.drop_column("pinned_by")
        batch_op.drop_column("pinned_at")
        batch_op.drop_column("has_reactions")
