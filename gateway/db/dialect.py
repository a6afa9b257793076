"""Dialect-specific statements that both supported databases offer under the same name."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def insert_for(session: AsyncSession) -> Any:
    """The dialect's ``insert`` construct, which supports ``ON CONFLICT`` on both databases."""
    return postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert
