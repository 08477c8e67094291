"""system lines and avatars

A membership change (added, removed, left, joined, renamed, topic, made or unmade admin) is also
a message of the room (`messages.system` holds what happened), so everyone sees it in place.
A user's avatar is one small image kept in the database (`user_avatars`), so that every process
and every machine serves it; `users.avatar_version` names the current one (null: initials).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE ADD COLUMN: a batch would copy `messages` and lose its search triggers.
    op.add_column("messages", sa.Column("system", sa.JSON(), nullable=True))
    op.add_column("users", sa.Column("avatar_version", sa.String(length=32), nullable=True))
    op.create_table(
        "user_avatars",
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("user_id"),
    )


def downgrade() -> None:
    op.drop_table("user_avatars")
    op.drop_column("users", "avatar_version")
    op.drop_column("messages", "system")
