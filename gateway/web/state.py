"""Per-app state of the 找茬窗口: keys, rate limits and a short-lived copy of the hall registry.

Kept on ``app.state`` (not in module globals).  The limits themselves are counted in the database
(``gateway/core/limits.py``), so two gateways behind a load balancer enforce one limit.
The registry copy lets the form pages and the submit path check a hall and window without a
database round trip; it is refreshed every ``REGISTRY_TTL`` seconds, so a window an administrator
deactivates stops accepting forms within a minute.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select
from starlette.requests import Request

from channels.web.tokens import derive_key
from gateway.core.db.models import Hall, ServiceItem, Window, WindowServiceItem
from gateway.core.db.store import Store
from gateway.core.limits import SharedLimit, key_of
from gateway.core.settings import Settings

REGISTRY_TTL = 60.0
LIMIT_PERIOD = 600.0  # the submission limits count per 10 minutes
LOOKUPS_PER_ADDRESS = 30  # status lookups per client address and hour (right or wrong)
LOOKUP_FAILURES_PER_CODE = 8  # wrong guesses per client address, tracking code and day (database)
LOOKUP_FAILURES_PER_CODE_ALL = 30  # wrong guesses per tracking code and day from all addresses together
LOOKUP_FAILURE_PERIOD = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class HallInfo:
    code: str
    name: str
    windows: dict[str, str]  # active windows: code → name
    # The active service items each window handles, in code order: window code → ((code, name), …).
    items: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RegistrySnapshot:
    halls: dict[str, HallInfo]  # active halls by code, in registry order

    def window(self, hall: str, window: str) -> tuple[HallInfo, str] | None:
        info = self.halls.get(hall)
        if info is None or window not in info.windows:
            return None
        return info, info.windows[window]

    def items(self, hall: str | None, window: str | None) -> tuple[tuple[str, str], ...]:
        """The service items the window form offers (empty: the window has no list)."""
        info = self.halls.get(hall or "")
        return info.items.get(window or "", ()) if info else ()

    @property
    def hall_names(self) -> dict[str, str]:
        return {code: info.name for code, info in self.halls.items()}


class RegistryCache:
    """Active halls and windows, re-read at most every ``ttl`` seconds (one reader at a time)."""

    def __init__(self, store: Store, ttl: float = REGISTRY_TTL) -> None:
        self.store, self.ttl = store, ttl
        self._snapshot: RegistrySnapshot | None = None
        self._loaded_at = 0.0
        self._lock = asyncio.Lock()

    async def get(self) -> RegistrySnapshot:
        if self._snapshot is not None and time.monotonic() - self._loaded_at < self.ttl:
            return self._snapshot
        async with self._lock:
            if self._snapshot is None or time.monotonic() - self._loaded_at >= self.ttl:
                self._snapshot = await self._load()
                self._loaded_at = time.monotonic()
        return self._snapshot

    def invalidate(self) -> None:
        self._snapshot = None

    async def _load(self) -> RegistrySnapshot:
        async with self.store.read() as session:
            halls = (await session.execute(
                select(Hall.id, Hall.code, Hall.name).where(Hall.active.is_(True)).order_by(Hall.id))).all()
            windows = (await session.execute(
                select(Window.hall_id, Window.code, Window.name).where(Window.active.is_(True))
                .order_by(Window.hall_id, Window.code))).all()
            item_rows = (await session.execute(
                select(Window.hall_id, Window.code, ServiceItem.code, ServiceItem.name)
                .join(WindowServiceItem, WindowServiceItem.window_id == Window.id)
                .join(ServiceItem, ServiceItem.id == WindowServiceItem.service_item_id)
                .where(Window.active.is_(True), ServiceItem.active.is_(True)).order_by(ServiceItem.code))).all()
        by_hall: dict[int, dict[str, str]] = {}
        for row in windows:
            by_hall.setdefault(row.hall_id, {})[row.code] = row.name
        items: dict[int, dict[str, list[tuple[str, str]]]] = {}
        for hall_id, window_code, item_code, item_name in item_rows:
            items.setdefault(hall_id, {}).setdefault(window_code, []).append((item_code, item_name))
        return RegistrySnapshot({h.code: HallInfo(h.code, h.name, by_hall.get(h.id, {}), {
            w: tuple(found) for w, found in items.get(h.id, {}).items()}) for h in halls})


@dataclass
class WebState:
    settings: Settings
    registry: RegistryCache
    signing_key: bytes
    token_key: bytes
    token_max_age: timedelta
    per_client: SharedLimit
    per_window: SharedLimit
    lookups_per_address: SharedLimit

    def address_key(self, address: str) -> str:
        """The client address as a keyed hash: the limits' table never holds an address."""
        return key_of(self.signing_key, "web", address)

    @classmethod
    def create(cls, settings: Settings, store: Store) -> WebState:
        key = settings.signing_key()
        return cls(
            settings=settings,
            registry=RegistryCache(store),
            signing_key=key,
            token_key=derive_key(key),
            token_max_age=timedelta(hours=settings.web_token_max_age_hours),
            per_client=SharedLimit(store, settings.web_submissions_per_client, LIMIT_PERIOD, prefix="web-client"),
            per_window=SharedLimit(store, settings.web_submissions_per_window, LIMIT_PERIOD, prefix="web-window"),
            lookups_per_address=SharedLimit(store, LOOKUPS_PER_ADDRESS, 3600, prefix="web-lookup"),
        )


def web_state(request: Request) -> WebState:
    """The app's ``WebState``, made on first use from the app's services."""
    state = getattr(request.app.state, "web", None)
    if state is None:
        services = request.app.state.services
        state = request.app.state.web = WebState.create(services.settings, services.store)
    return state
