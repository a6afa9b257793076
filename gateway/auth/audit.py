"""The audit log: who did what, when, from where.  Supervisors read it in the console.

Write an entry in the same transaction as the action it records (``add_audit`` with the
action's session) so the log never claims an action that rolled back, nor misses one that
committed.  ``audit`` is the shortcut for actions that write nothing else (revealing data, reads).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from starlette.requests import Request

from gateway.auth.roles import Principal
from gateway.core.db.models_staff import AuditEntry
from gateway.core.db.store import Store


def client_ip(request: Request | None) -> str | None:
    """The caller's address (uvicorn's proxy-headers middleware has already applied trusted proxies)."""
    return request.client.host if request is not None and request.client else None


def add_audit(session: Session | AsyncSession, who: Principal | None, action: str, *, ip: str | None = None,
              target_type: str | None = None, target_id: object = None, detail: dict[str, Any] | None = None,
              note: str | None = None) -> None:
    session.add(AuditEntry(
        at=datetime.now(UTC), user_id=who.id if who else None, username=who.username if who else "-",
        ip=ip, action=action, target_type=target_type, target_id=None if target_id is None else str(target_id),
        detail=detail or {}, note=note))


async def audit(store: Store, request: Request | None, who: Principal | None, action: str, **fields: Any) -> None:
    async with store.write() as session:
        add_audit(session, who, action, ip=client_ip(request), **fields)
