"""Dialect-specific statements that both supported databases offer under the same name.

Hot-path statements are built once per dialect and executed with parameter dictionaries, so
SQLAlchemy compiles each once and ingest spends its time in the database, not in building SQL.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session


def dialect_of(session: AsyncSession | Session) -> str:
    return session.get_bind().dialect.name


def insert_for(session: AsyncSession | Session) -> Any:
    """The dialect's ``insert`` construct, which supports ``ON CONFLICT`` on both databases."""
    return insert_for_dialect(dialect_of(session))


def insert_for_dialect(dialect: str) -> Any:
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


@cache
def insert_ignoring(dialect: str, table: Any, conflict: tuple[str, ...], returning: str | None = None) -> Any:
    """``INSERT … ON CONFLICT (conflict) DO NOTHING [RETURNING returning]``, built once."""
    model_table = table.__table__
    statement = insert_for_dialect(dialect)(model_table).on_conflict_do_nothing(
        index_elements=[model_table.c[name] for name in conflict])
    if returning:
        statement = statement.returning(model_table.c[returning])
    return statement
