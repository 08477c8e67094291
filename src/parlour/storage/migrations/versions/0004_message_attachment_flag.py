"""messages.has_attachments: whether a message was sent with attachments

A page of history reads its messages' attachments only for the messages that have some; asking
the attachments index for each of 50 messages cost a third of a page's database time
(parlour.storage.hot_messages).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "messages",
        sa.Column("has_attachments", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.execute(
        "UPDATE messages SET has_attachments = true WHERE seq IN"
        " (SELECT message_seq FROM attachments WHERE message_seq IS NOT NULL)"
    )


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("has_attachments")
