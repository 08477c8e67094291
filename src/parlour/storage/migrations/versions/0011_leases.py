"""leases: one process at a time for the away consumer and the digests

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 16:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import parlour.storage.models

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_TIME = parlour.storage.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("owner", sa.String(length=32), nullable=True),
        sa.Column("until", _TIME, nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("leases")
