"""Singleton locks for background jobs that must run once per deployment (one IMAP poller per
mailbox, one reminder sweep): a PostgreSQL advisory lock held on a dedicated connection, or on
SQLite — one machine by definition — an exclusive ``flock`` on a file under the data directory.
Both are released by the operating system or the server when the holder dies.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import text

from gateway.core.db.store import Store


def lock_id(name: str) -> int:
    """A stable signed 64-bit key for ``pg_try_advisory_lock``."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


@asynccontextmanager
async def singleton(store: Store, name: str, lock_dir: Path) -> AsyncIterator[bool]:
    """Yield ``True`` if this process now holds the lock named ``name``, else ``False``."""
    if store.is_sqlite:
        lock_dir.mkdir(parents=True, exist_ok=True)
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
        fd = os.open(lock_dir / f"{safe}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
        return
    async with store.write_engine.connect() as connection:
        key = lock_id(name)
        held = bool((await connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key})).scalar())
        await connection.commit()
        try:
            yield held
        finally:
            if held:
                await connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                await connection.commit()
