"""Database engines and sessions for SQLite (embedded default) and PostgreSQL (production).

SQLite allows one writer at a time.  Rather than let concurrent writers collide and retry, the
store gives writes their own one-connection engine that starts transactions with
``BEGIN IMMEDIATE``: writers queue in-process on the pool and across processes on SQLite's
busy timeout, while reads use a separate pool and, thanks to WAL, never wait for writers.
PostgreSQL uses a single pooled engine for both; row locks and ``ON CONFLICT`` do the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session, sessionmaker

import gateway.core.db.schema  # noqa: F401  (every table module, so mappers and foreign keys resolve)

T = TypeVar("T")

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=30000",
)
# FULL: every commit fsyncs the WAL, so a submission acknowledged to a citizen survives a power cut.
# NORMAL (WAL's usual setting) syncs only at checkpoints: a cut can lose the last commits, cases whose
# tracking codes the citizens already hold.  Measured cost in README (*Hardening*).
SYNCHRONOUS = ("FULL", "NORMAL")


def private_sqlite_file(url: str) -> None:
    """Create the SQLite database file readable by its owner only (0600), like the key files.

    SQLite gives the ``-wal`` and ``-shm`` files the permissions of the database file, so making
    the file first (and tightening an existing one, and its companions) covers all three, whatever
    the umask.  Personal data is encrypted in its columns, but texts, hashes and the audit log are not.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return
    path = Path(parsed.database)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(FileNotFoundError, PermissionError):
            if file.stat().st_mode & 0o077:
                file.chmod(0o600)


def _sqlite_engine(url: str, *, writer: bool, sync: bool = False, synchronous: str = "FULL") -> Any:
    kwargs: dict[str, Any] = {"pool_size": 1, "max_overflow": 0, "pool_timeout": 60} if writer else {}
    if sync:
        engine = create_engine(url.replace("+aiosqlite", "+pysqlite"), **kwargs)
        sync_engine = engine
    else:
        engine = create_async_engine(url, **kwargs)
        sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")

    return engine


def is_write_failure(exc: BaseException) -> bool:
    """A failure of the database or the disk under it (full disk, read-only file, lost server), as
    opposed to a refused row (``IntegrityError``) or a bug."""
    if isinstance(exc, IntegrityError):
        return False
    return isinstance(exc, (OperationalError, InterfaceError, DBAPIError, OSError, sqlite3.OperationalError,
                            sqlite3.DatabaseError))


@dataclass
class WriteHealth:
    """What the last writes did, for ``/readyz``: a load balancer or supervisor sees a full disk."""

    failures: int = 0
    last_error: str | None = None
    last_failure_at: datetime | None = None
    last_ok_at: datetime | None = None

    def failed(self, exc: BaseException) -> None:
        self.failures += 1
        self.last_error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
        self.last_failure_at = datetime.now(UTC)

    def ok(self) -> None:
        self.last_ok_at = datetime.now(UTC)

    @property
    def failing(self) -> bool:
        """The most recent write failed (no write has succeeded since)."""
        return self.last_failure_at is not None and (self.last_ok_at is None or self.last_ok_at < self.last_failure_at)


class Store:
    """Owns the engines; hands out read and write sessions.

    ``run_write(fn)`` runs a whole write transaction written as plain synchronous SQLAlchemy
    code.  On SQLite it runs in one dedicated thread on the pysqlite driver: a transaction is one
    hop between threads instead of one per statement, which is what makes ingest fast there.  On
    PostgreSQL it runs through ``AsyncSession.run_sync`` on asyncpg.
    """

    def __init__(self, url: str, *, pool_size: int = 10, synchronous: str = "FULL") -> None:
        if synchronous not in SYNCHRONOUS:
            raise ValueError(f"synchronous must be one of {SYNCHRONOUS}")
        self.url = url
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        if self.dialect == "sqlite":
            private_sqlite_file(url)
            self.write_engine = _sqlite_engine(url, writer=True, synchronous=synchronous)
            self.read_engine = _sqlite_engine(url, writer=False, synchronous=synchronous)
            self._sync_writer: Engine | None = _sqlite_engine(url, writer=True, sync=True, synchronous=synchronous)
            self._sync_sessions: sessionmaker[Session] | None = sessionmaker(self._sync_writer,
                                                                              expire_on_commit=False)
            self._writer_thread: ThreadPoolExecutor | None = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
        elif self.dialect == "postgresql":
            # JIT compilation costs up to a second on the reporting queries and never pays off for
            # this workload's short statements, so it is off for the gateway's connections.
            self.write_engine = create_async_engine(url, pool_size=pool_size, max_overflow=pool_size,
                                                    pool_pre_ping=True,
                                                    connect_args={"server_settings": {"jit": "off"}})
            self.read_engine = self.write_engine
            self._sync_writer = self._sync_sessions = self._writer_thread = None
        else:
            raise ValueError(f"unsupported database {self.dialect!r}: use sqlite+aiosqlite or postgresql+asyncpg")
        self.health = WriteHealth()
        self._write = async_sessionmaker(self.write_engine, expire_on_commit=False)
        self._read = async_sessionmaker(self.read_engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction that commits on success and rolls back on any error."""
        try:
            async with self._write() as session, session.begin():
                yield session
        except BaseException as exc:
            if is_write_failure(exc):
                self.health.failed(exc)
            raise
        self.health.ok()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for queries; nothing written in it is committed."""
        async with self._read() as session:
            yield session

    async def run_write(self, work: Callable[[Session], T]) -> T:
        """Run ``work(session)`` in one write transaction; commit on return, roll back on error."""
        if self._sync_sessions is None:
            async with self.write() as session:
                return await session.run_sync(work)
        sessions = self._sync_sessions

        def transaction() -> T:
            with sessions() as session, session.begin():
                return work(session)

        try:
            result = await asyncio.get_running_loop().run_in_executor(self._writer_thread, transaction)
        except BaseException as exc:
            if is_write_failure(exc):
                self.health.failed(exc)
            raise
        self.health.ok()
        return result

    async def dispose(self) -> None:
        if self._writer_thread is not None and self._sync_writer is not None:
            await asyncio.get_running_loop().run_in_executor(self._writer_thread, self._sync_writer.dispose)
        await self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            await self.read_engine.dispose()
