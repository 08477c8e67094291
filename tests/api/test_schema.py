"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection

from parlour.storage.models import Base
from tests.support import OrgFactory

# Full-text search lives outside the models on purpose (FTS5 tables and triggers on SQLite, an
# expression GIN index on PostgreSQL): created by migration 0001.
OUTSIDE_MODELS = ("messages_fts", "ix_messages_content_fts")


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection)
    return [
        diff
        for diff in compare_metadata(context, Base.metadata)
        if not any(name in repr(diff) for name in OUTSIDE_MODELS)
    ]


async def test_migrated_database_matches_the_models(orgs: OrgFactory) -> None:
    assert orgs.services is not None
    async with orgs.services.db.writer.connect() as connection:
        differences = await connection.run_sync(_differences)
    assert differences == []
