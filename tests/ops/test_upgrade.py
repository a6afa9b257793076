"""``hcp db upgrade`` from every earlier schema, with a row in every table, on SQLite and PostgreSQL;
and no hcp serves a database that a newer hcp has migrated."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from gateway.cli import main
from gateway.core.db.migrate import SchemaTooNew, known_revisions, upgrade
from gateway.core.services import Services
from gateway.core.settings import Settings
from tests.conftest import POSTGRES_ADMIN_URL, REQUIRE_POSTGRES, _admin
from tests.helpers import FixedClassifier, make_intake

# Every schema a county may run today: the revisions of releases that have shipped (raise this when a
# release ships).  Revisions added since then are covered by the upgrade to the head from each of these.
LAST_RELEASED = "0020"  # stop 28 (ccce243) shipped 0009–0015 and 0019, stop 29 (f79e036) 0020
EARLIER = [revision for revision in sorted(known_revisions()) if revision <= LAST_RELEASED]


@pytest.fixture(params=["sqlite", "postgresql"])
async def blank_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database (no schema at all) of each kind."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
        return
    name = f"hcp_upgrade_{uuid.uuid4().hex[:10]}"
    try:
        await _admin(f'CREATE DATABASE "{name}"')
    except Exception as exc:
        if REQUIRE_POSTGRES:
            pytest.fail(f"PostgreSQL unreachable: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _value(column: sa.Column, number: int) -> Any:
    """A plausible value of the column's type (the schema as that revision had it, by reflection)."""
    kind = column.type
    if isinstance(kind, sa.Boolean):
        return False
    if isinstance(kind, sa.DateTime):
        return datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
    if isinstance(kind, sa.Date):
        return date(2026, 11, 27)
    if isinstance(kind, sa.Integer | sa.Numeric | sa.Float):
        return number
    if isinstance(kind, sa.LargeBinary):
        return b"x"
    if isinstance(kind, sa.JSON):
        return {}
    text = f"v{number}"
    length = getattr(kind, "length", None)
    if column.name.endswith(("sha256", "_hash")):
        text = "0" * (length or 64)
    if column.name in {"reasons", "triage_terms", "extra", "data", "terms", "details"}:
        text = "[]" if column.name in {"reasons", "triage_terms", "terms"} else "{}"
    return text[:length] if length else text


def _fill(connection: sa.Connection) -> dict[str, int]:
    """One row in every table, children pointing at their parents' rows; returns the counts."""
    metadata = sa.MetaData()
    metadata.reflect(connection)
    inserted: dict[str, dict[str, Any]] = {}
    for number, table in enumerate(metadata.sorted_tables, start=1):
        if table.name == "alembic_version":
            continue
        row: dict[str, Any] = {}
        for column in table.columns:
            foreign = next(iter(column.foreign_keys), None)
            if foreign is not None:
                parent = inserted.get(foreign.column.table.name)
                row[column.name] = parent[foreign.column.name] if parent else None
            elif column.primary_key and column.name == "id" and isinstance(column.type, sa.Integer):
                continue  # the sequence's (PostgreSQL must see its own numbers used)
            elif column.nullable and column.server_default is None and column.name not in {"code"}:
                row[column.name] = None
            else:
                row[column.name] = _value(column, number)
        keys = [c for c in table.primary_key.columns if c.name not in row]
        if keys:
            returned = connection.execute(table.insert().values(**row).returning(*keys)).one()
            row.update(returned._asdict())
        else:
            connection.execute(table.insert().values(**row))
        inserted[table.name] = row
    return {name: 1 for name in inserted}


def _counts(connection: sa.Connection, names: list[str]) -> dict[str, int]:
    return {name: connection.execute(sa.text(f'SELECT count(*) FROM "{name}"')).scalar_one() for name in names}


@pytest.mark.parametrize("revision", EARLIER)
async def test_upgrading_from_each_earlier_schema_with_data_keeps_every_row(
        blank_url: str, revision: str, tmp_path: Path) -> None:
    await asyncio.to_thread(upgrade, blank_url, revision)
    engine = create_async_engine(blank_url)
    try:
        async with engine.begin() as connection:
            filled = await connection.run_sync(_fill)
    finally:
        await engine.dispose()
    assert "cases" in filled

    services = Services.create(Settings(data_dir=tmp_path, database_url=blank_url, run_workers=False),
                               classifier=FixedClassifier())
    try:
        await services.prepare_database()  # what `hcp db upgrade` and every start run
        engine = create_async_engine(blank_url)
        try:
            async with engine.connect() as connection:
                after = await connection.run_sync(_counts, list(filled))
                version = (await connection.execute(sa.text("SELECT version_num FROM alembic_version"))).scalar_one()
        finally:
            await engine.dispose()
        assert version == max(known_revisions())
        assert after == filled  # no row lost to a table rebuild or a cascade
        result = await services.ingestor.ingest(make_intake(source_ref="after-upgrade", hall=None, window=None))
        assert result.created
    finally:
        await services.close()


def test_serve_and_upgrade_refuse_a_schema_newer_than_the_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    url = f"sqlite+aiosqlite:///{tmp_path / 'hcp.db'}"
    upgrade(url)
    with sqlite3.connect(tmp_path / "hcp.db") as connection:
        connection.execute("UPDATE alembic_version SET version_num = '0999'")
    connection.close()
    with pytest.raises(SchemaTooNew, match="revision 0999, newer than this hcp knows"):
        upgrade(url)
    env = {"HCP_DATA_DIR": str(tmp_path), "HCP_DATABASE_URL": "", "HCP_TRIAGE_PROCESSES": "0"}
    for command in (["serve", "--port", "1"], ["worker"], ["db", "upgrade"]):
        done = CliRunner().invoke(main, command, env=env)
        assert done.exit_code == 1, (command, done.output)
        assert "schema revision 0999" in done.output and "newer version of hcp" in done.output
