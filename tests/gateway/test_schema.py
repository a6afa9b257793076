"""The migrations build exactly the schema the models describe (no drift between the two)."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from gateway.core.db.schema import metadata


def _fk_shape(constraint: Any) -> tuple[str, tuple[str, ...], str]:
    return (constraint.table.name, tuple(c.name for c in constraint.columns), constraint.referred_table.name)


def _without_unnamed_fk_pairs(differences: list[Any]) -> list[Any]:
    """SQLite does not report the name of a foreign key declared inside a column definition (an
    ``ALTER TABLE … ADD COLUMN … REFERENCES``), so the same key shows up as removed (unnamed) and
    added (named).  Such pairs are the same constraint; everything else must match."""
    removed = {_fk_shape(d[1]) for d in differences if d[0] == "remove_fk" and d[1].name is None}
    added = {_fk_shape(d[1]) for d in differences if d[0] == "add_fk"}
    same = removed & added
    return [d for d in differences if not (d[0] in ("remove_fk", "add_fk") and _fk_shape(d[1]) in same)]


async def test_migrated_database_matches_the_models(database_url: str) -> None:
    engine = create_async_engine(database_url)

    def diff(connection) -> list:  # type: ignore[no-untyped-def]
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, metadata)

    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(diff)
    finally:
        await engine.dispose()
    if database_url.startswith("sqlite"):
        differences = _without_unnamed_fk_pairs(differences)
    assert differences == []
