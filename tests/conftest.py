"""Shared fixtures: every storage test runs on SQLite and on PostgreSQL.

PostgreSQL comes from ``HCP_TEST_POSTGRES_URL`` (default: the local server, database ``test``);
each test session creates its own database and drops it at the end.  When the server cannot be
reached the PostgreSQL half is skipped with the reason, except under CI (``CI`` set) or with
``HCP_REQUIRE_POSTGRES=1``, where it fails: CI must never pass by skipping.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from gateway.core.db.migrate import upgrade
from gateway.core.db.schema import Base
from gateway.core.services import Services
from gateway.core.settings import Settings

POSTGRES_ADMIN_URL = os.environ.get("HCP_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
_PG_TRUNCATE = pytest.StashKey[str]()
REQUIRE_POSTGRES = bool(os.environ.get("CI")) or os.environ.get("HCP_REQUIRE_POSTGRES") == "1"


async def _admin(statement: str) -> None:
    engine = create_async_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    name = f"hcp_test_{uuid.uuid4().hex[:10]}"
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # connection refused, auth, …
        message = f"PostgreSQL at {make_url(POSTGRES_ADMIN_URL).render_as_string()} unreachable: {exc}"
        if REQUIRE_POSTGRES:
            pytest.fail(message)
        pytest.skip(message)
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    yield url
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _truncate(url: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            await connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database of each kind."""
    if request.param == "sqlite":
        path = tmp_path / "hcp.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite+aiosqlite:///{path}"
    url = request.getfixturevalue("postgres_url")
    request.node.stash[_PG_TRUNCATE] = url
    return url


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "var", database_url=database_url, run_workers=False,
                    _env_file=None)  # type: ignore[call-arg]


@pytest.fixture
async def services(request: pytest.FixtureRequest, settings: Settings) -> AsyncIterator[Services]:
    from tests.helpers import FixedClassifier

    url = request.node.stash.get(_PG_TRUNCATE, None)
    if url:
        await _truncate(url)
    services = Services.create(settings, classifier=FixedClassifier())
    await services.prepare_database()
    yield services
    await services.close()
