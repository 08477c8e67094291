"""threads: replies, root summaries and followers

A reply names its root (`messages.reply_to`); a root keeps the summary of its replies on its row;
`thread_followers` holds who a reply counts as unread for.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import parlour.storage.models

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # Plain ALTER TABLE ADD COLUMN: a batch would copy `messages` and lose its search triggers.
    op.add_column("messages", sa.Column("reply_to", sa.String(length=32), nullable=True))
    op.add_column(
        "messages",
        sa.Column("reply_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column(
        "messages",
        sa.Column(
            "last_reply_at", parlour.storage.models.UTCDateTime(timezone=True), nullable=True
        ),
    )
    op.add_column("messages", sa.Column("thread_participants", sa.JSON(), nullable=True))
    op.create_index(
        "ix_messages_reply_to_seq",
        "messages",
        ["reply_to", "seq"],
        unique=False,
        sqlite_where=sa.text("reply_to IS NOT NULL"),
        postgresql_where=sa.text("reply_to IS NOT NULL"),
    )
    op.create_table(
        "thread_followers",
        sa.Column("id", _SEQ, autoincrement=True, nullable=False),
        sa.Column("root_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("since_seq", _SEQ, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("root_id", "user_id", name="ux_thread_followers"),
    )


def downgrade() -> None:
    op.drop_table("thread_followers")
    op.drop_index("ix_messages_reply_to_seq", table_name="messages")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("thread_participants")
        batch_op.drop_column("last_reply_at")
        batch_op.drop_column("reply_count")
        batch_op.drop_column("reply_to")
