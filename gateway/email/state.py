"""Small durable state of the e-mail channel in ``worker_state``: poll state, bounced addresses.

Addresses appear only as keyed hashes in the keys (``address_key``), never in clear."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from channels.contact import normalize_email
from gateway.core.db.dialect import insert_for
from gateway.core.db.models import WorkerState
from gateway.core.services import Services
from gateway.email.options import SUPPRESS_PREFIX, utc_now

# ----- small durable state ---------------------------------------------------------------------

async def load_state(services: Services, key: str) -> dict[str, Any]:
    async with services.store.read() as session:
        row = await session.get(WorkerState, key)
        return dict(row.value) if row is not None else {}


async def save_state(services: Services, key: str, value: Mapping[str, Any]) -> None:
    async with services.store.write() as session:
        statement = insert_for(session)(WorkerState).values(key=key, value=dict(value), updated_at=utc_now())
        await session.execute(statement.on_conflict_do_update(
            index_elements=[WorkerState.key],
            set_={"value": statement.excluded.value, "updated_at": statement.excluded.updated_at}))


async def states_with_prefix(services: Services, prefix: str) -> list[tuple[str, dict[str, Any]]]:
    async with services.store.read() as session:
        rows = (await session.execute(
            select(WorkerState).where(WorkerState.key.startswith(prefix)).order_by(WorkerState.updated_at)
        )).scalars()
        return [(row.key, dict(row.value)) for row in rows]


def address_key(services: Services, address: str) -> str:
    """A keyed hash of an address: lets us remember bounces and rates without storing the address."""
    digest = services.cipher.search_hash(normalize_email(address))
    assert digest is not None
    return digest[:64]


async def suppress_address(services: Services, address: str, status: str, days: float) -> None:
    until = utc_now() + timedelta(days=days)
    await save_state(services, SUPPRESS_PREFIX + address_key(services, address),
                     {"until": until.isoformat(), "status": status[:20]})


async def is_suppressed(services: Services, address: str, now: datetime) -> bool:
    state = await load_state(services, SUPPRESS_PREFIX + address_key(services, address))
    return bool(state) and datetime.fromisoformat(state["until"]) > now
