"""channels and notification levels

Rooms gain a topic and, for channels, `name_key` (the folded name, unique per organization);
memberships gain `notify` (null: the room type's default).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE ADD COLUMN (no batch copy of the tables on SQLite).
    op.add_column("rooms", sa.Column("topic", sa.String(length=250), nullable=True))
    op.add_column("rooms", sa.Column("name_key", sa.String(length=200), nullable=True))
    op.create_index(
        "ux_rooms_channel_name",
        "rooms",
        ["org_id", "name_key"],
        unique=True,
        sqlite_where=sa.text("name_key IS NOT NULL"),
        postgresql_where=sa.text("name_key IS NOT NULL"),
    )
    op.add_column("memberships", sa.Column("notify", sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.drop_column("notify")
    op.drop_index("ux_rooms_channel_name", table_name="rooms")
    with op.batch_alter_table("rooms", schema=None) as batch_op:
        batch_op.drop_column("name_key")
        batch_op.drop_column("topic")
