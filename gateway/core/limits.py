"""Rate limits and sign-in back-off kept in the database, so every gateway enforces one limit.

Behind a load balancer each gateway process with its own in-memory counter would hand out its own
allowance; a restart would reset it.  ``SharedLimit`` counts hits in ``rate_hits``: a hit is
inserted and committed first, then the hits of the window are counted, so the k-th of k concurrent
hits sees at least k (no burst gets past the limit, on SQLite or PostgreSQL, in one process or
several); a refused hit is deleted again so it does not extend the wait.

``Backoff`` is for failed sign-ins (``sign_in_failures``): the first ``free`` failures of a key
cost nothing, each further one doubles the wait (1 s, 2 s, 4 s … up to ``cap``), and a key whose
last failure is older than ``forget`` starts again.  It slows guessing without locking an account
for everyone, which a fixed "5 failures → locked" rule does to the account's owner.

Keys that contain a client address are passed through ``key_of`` (an HMAC): the tables never hold
an address.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from gateway.core.db.dialect import dialect_of, insert_ignoring
from gateway.core.db.models_staff import SignInFailure
from gateway.core.db.models_web import RateHit
from gateway.core.db.store import Store

CLEANUP_EVERY = 500  # hits between two sweeps of expired rows of every key


def key_of(secret: bytes, *parts: str) -> str:
    """A stable, non-reversible key for values that are personal data (addresses, user names)."""
    return hmac.new(secret, "|".join(parts).encode(), hashlib.sha256).hexdigest()[:40]


class SharedLimit:
    """At most ``limit`` hits per ``window`` seconds for each key, across processes."""

    def __init__(self, store: Store, limit: int, window: float, *, prefix: str) -> None:
        self.store, self.limit, self.window, self.prefix = store, limit, timedelta(seconds=window), prefix
        self._hits = 0

    async def hit(self, key: str, now: datetime | None = None) -> int:
        """Count one hit; 0 when allowed, else the whole seconds to wait (the hit is not counted)."""
        now = now or datetime.now(UTC)
        full = f"{self.prefix}:{key}"
        since = now - self.window
        self._hits += 1
        sweep = self._hits % CLEANUP_EVERY == 0

        def insert(session: Session) -> int:
            if sweep:
                session.execute(delete(RateHit).where(RateHit.at < now - timedelta(days=1)))
            session.execute(delete(RateHit).where(RateHit.key == full, RateHit.at <= since))
            row = RateHit(key=full, at=now)
            session.add(row)
            session.flush()
            return row.id

        hit_id = await self.store.run_write(insert)
        async with self.store.read() as session:
            count, oldest = (await session.execute(
                select(func.count(), func.min(RateHit.at)).where(RateHit.key == full, RateHit.at > since))).one()
        if count <= self.limit:
            return 0
        async with self.store.write() as session:
            await session.execute(delete(RateHit).where(RateHit.id == hit_id))
        return max(1, math.ceil(((oldest or now) + self.window - now).total_seconds()))


@dataclass(frozen=True)
class Backoff:
    """Exponential back-off of failed attempts per key (see the module docstring)."""

    store: Store
    free: int
    cap: timedelta = timedelta(minutes=15)
    forget: timedelta = timedelta(hours=24)

    def delay(self, failures: int) -> timedelta:
        if failures < self.free:
            return timedelta(0)
        return min(timedelta(seconds=2 ** (failures - self.free)), self.cap)

    async def wait(self, key: str, now: datetime | None = None) -> int:
        """Whole seconds ``key`` must still wait before its next attempt (0: it may try now)."""
        now = now or datetime.now(UTC)
        async with self.store.read() as session:
            until = (await session.execute(
                select(SignInFailure.blocked_until).where(SignInFailure.key == key))).scalar_one_or_none()
        if until is None or until <= now:
            return 0
        return max(1, math.ceil((until - now).total_seconds()))

    async def failed(self, key: str, now: datetime | None = None) -> int:
        """Record a failure; return the key's count of consecutive failures."""
        now = now or datetime.now(UTC)

        def work(session: Session) -> int:
            session.execute(insert_ignoring(dialect_of(session), SignInFailure, ("key",)),
                            {"key": key, "failures": 0, "last_failed_at": now, "blocked_until": None})
            session.execute(update(SignInFailure).where(SignInFailure.key == key,
                                                        SignInFailure.last_failed_at < now - self.forget)
                            .values(failures=0))
            failures = session.execute(update(SignInFailure).where(SignInFailure.key == key)
                                       .values(failures=SignInFailure.failures + 1, last_failed_at=now)
                                       .returning(SignInFailure.failures)).scalar_one()
            delay = self.delay(failures)
            session.execute(update(SignInFailure).where(SignInFailure.key == key)
                            .values(blocked_until=now + delay if delay else None))
            return failures

        return await self.store.run_write(work)

    async def succeeded(self, key: str) -> None:
        async with self.store.write() as session:
            await session.execute(delete(SignInFailure).where(SignInFailure.key == key))
