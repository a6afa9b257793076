"""Server-side staff sessions: the signed cookie names a session the server can end.

A signed cookie by itself stays valid until it expires, whoever holds a copy.  Each sign-in
therefore creates a random session id; the cookie carries it and the table ``staff_sessions``
keeps only its SHA-256.  Logout ends the row, so the old cookie signs no one in afterwards, on any
gateway (the table is shared).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime

from sqlalchemy import select, update

from gateway.auth.roles import Principal
from gateway.auth.users import principal_of
from gateway.core.db.models_staff import StaffSession, User
from gateway.core.db.store import Store


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


async def start_session(store: Store, user_id: int) -> str:
    """A new session of ``user_id``; returns the id to put in the cookie."""
    session_id = secrets.token_urlsafe(32)
    async with store.write() as session:
        session.add(StaffSession(id=_digest(session_id), user_id=user_id, created_at=datetime.now(UTC)))
    return session_id


async def end_session(store: Store, session_id: str) -> None:
    async with store.write() as session:
        await session.execute(update(StaffSession).where(StaffSession.id == _digest(session_id),
                                                         StaffSession.ended_at.is_(None))
                              .values(ended_at=datetime.now(UTC)))


async def load_session_principal(store: Store, session_id: str, user_id: int,
                                 session_version: int) -> Principal | None:
    """The principal of a live session, or ``None`` (ended, another user's, account changed/disabled)."""
    async with store.read() as session:
        user = (await session.execute(
            select(User).join(StaffSession, StaffSession.user_id == User.id)
            .where(StaffSession.id == _digest(session_id), StaffSession.ended_at.is_(None),
                   User.id == user_id))).scalar_one_or_none()
    if user is None or not user.active or user.session_version != session_version:
        return None
    return principal_of(user)
