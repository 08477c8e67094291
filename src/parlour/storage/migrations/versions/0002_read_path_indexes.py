"""read path indexes: unread counts from the index alone; prefix indexes for SQLite search

Measured at 1,000,000 messages (bench/scenarios/history.py):

Unread counting walks a member's range of a room's messages (seq above the read pointer) and must
check each row's author and tombstone. With those two columns in the index the walk never touches
the table: at 1,000,000 messages the unread counts of a user in 200 rooms went from 56 ms to
2.5 ms on SQLite and from a parallel sequential scan (329 ms) to an index-only scan (9 ms) on
PostgreSQL (bench/scenarios/history.py). It starts with the old index's columns, so it replaces it
for history pages too.

SQLite full-text search gets FTS5 prefix indexes for 2-4 characters: every search word is a prefix
query ("dad" finds "daddy"), and without them a short prefix merged the postings of every term it
starts before the first row came out (1.6 s for "da"; 0.2 ms with them, as the index drives the
query newest first). The index is rebuilt from the messages table (about 5 s per million).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 21:05:00
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


FTS_COLUMNS = "content, content='messages', content_rowid='seq', tokenize='unicode61'"


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_messages_room_seq_unread", ["room_id", "seq", "author_id", "deleted"]
        )
        batch_op.drop_index("ix_messages_room_seq")
    _rebuild_fts(prefix="2 3 4")


def downgrade() -> None:
    _rebuild_fts(prefix=None)
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index("ix_messages_room_seq", ["room_id", "seq"])
        batch_op.drop_index("ix_messages_room_seq_unread")


def _rebuild_fts(prefix: str | None) -> None:
    """Recreate the external-content FTS5 table (its triggers refer to it by name and stay)."""
    if op.get_bind().dialect.name != "sqlite":
        return
    options = FTS_COLUMNS + (f", prefix='{prefix}'" if prefix else "")
    op.execute("DROP TABLE messages_fts")
    op.execute(f"CREATE VIRTUAL TABLE messages_fts USING fts5({options})")
    op.execute("INSERT INTO messages_fts(messages_fts) VALUES ('rebuild')")
