"""Schema migrations with Alembic, driven from code so that ``hcp db upgrade`` needs no ini file."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.core.db.store import private_sqlite_file

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


class SchemaTooNew(RuntimeError):
    """The database was migrated by a newer hcp: this code must not write to it."""


def known_revisions() -> set[str]:
    return {script.revision for script in ScriptDirectory.from_config(alembic_config("sqlite://")).walk_revisions()}


def refuse_newer(revision: str | None) -> None:
    """Raise ``SchemaTooNew`` when ``revision`` is not one of this code's migrations.

    Old code against a newer schema would write rows the newer code does not expect (or fail on
    columns it does not know); Alembic's own "Can't locate revision" says nothing of what to do.
    """
    if revision is not None and revision not in known_revisions():
        head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
        raise SchemaTooNew(
            f"the database is at schema revision {revision}, newer than this hcp knows (its latest is "
            f"{head}): a newer version of hcp has upgraded it. Install that version (or restore the "
            "backup taken before the upgrade); this one will not start against it.")


def _check_connection(connection) -> None:  # type: ignore[no-untyped-def]
    from alembic.runtime.migration import MigrationContext

    for revision in MigrationContext.configure(connection).get_current_heads():
        refuse_newer(revision)


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision``; safe to run on every start."""
    private_sqlite_file(url)
    refuse_newer(current(url))
    command.upgrade(alembic_config(url), revision)


async def upgrade_async(engine: AsyncEngine, revision: str = "head") -> None:
    """Same as ``upgrade`` from inside a running event loop, on an existing engine.

    On SQLite the migration runs on its own connection without ``PRAGMA foreign_keys``: a batch
    migration rebuilds a table by copy-and-rename, and with foreign keys on, dropping the old
    table would cascade into every child table (the store's engines turn foreign keys on).
    """
    if engine.dialect.name == "sqlite":
        await asyncio.to_thread(upgrade, engine.url.render_as_string(hide_password=False), revision)
        return
    config = alembic_config(engine.url.render_as_string(hide_password=False))

    def _run(connection) -> None:  # type: ignore[no-untyped-def]
        _check_connection(connection)
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with engine.begin() as connection:
        await connection.run_sync(_run)


def current(url: str) -> str | None:
    """The revision the database is at, or ``None`` for an empty database."""
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy.ext.asyncio import create_async_engine

    async def _read() -> str | None:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(
                    lambda sync: MigrationContext.configure(sync).get_current_revision())
        finally:
            await engine.dispose()

    return asyncio.run(_read())
