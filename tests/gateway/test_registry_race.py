"""Two processes starting at once on a new database both try to load the default halls."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from gateway.core.db.models import Hall
from gateway.core.db.store import Store
from gateway.core.registry import DEFAULT_REGISTRY, ensure_default_registry, read_registry_file


async def test_two_starts_at_once_load_the_default_halls_once_without_failing(database_url: str) -> None:
    from tests.conftest import _truncate

    if database_url.startswith("postgresql"):
        await _truncate(database_url)
    first, second = Store(database_url), Store(database_url)
    try:
        results = await asyncio.gather(ensure_default_registry(first), ensure_default_registry(second),
                                       return_exceptions=True)
        assert not [r for r in results if isinstance(r, BaseException)], results
        assert True in results
        async with first.read() as session:
            halls = (await session.execute(select(func.count()).select_from(Hall))).scalar_one()
        assert halls == len(read_registry_file(DEFAULT_REGISTRY).halls)
        assert await ensure_default_registry(first) is False  # not empty any more
    finally:
        await first.dispose()
        await second.dispose()
