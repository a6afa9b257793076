"""Client systems that post to the inbound API, their signing keys, the 办件 (matters) they report,
and the nonces that make a replayed request useless.

A matter is keyed by the client's own 办件编号 (``UNIQUE(client_id, matter_no)``), so a retried
post never makes a second matter, a second evaluation request or a second evaluation.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.core.db.models import Base
from gateway.core.db.types import BigId


class ApiClient(Base):
    __tablename__ = "api_clients"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]


class ApiClientKey(Base):
    """One HMAC key of a client; several may be live during a rotation.  The secret is sealed
    with the personal-data cipher (it must be readable to verify signatures, so it cannot be hashed)."""

    __tablename__ = "api_client_keys"
    __table_args__ = (UniqueConstraint("client_id", "key_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("api_clients.id", ondelete="CASCADE"))
    key_id: Mapped[str] = mapped_column(String(32))
    secret_enc: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class ApiNonce(Base):
    __tablename__ = "api_nonces"
    __table_args__ = (UniqueConstraint("client_id", "nonce"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("api_clients.id", ondelete="CASCADE"))
    nonce: Mapped[str] = mapped_column(String(64))
    seen_at: Mapped[datetime] = mapped_column(index=True)


class Matter(Base):
    """A finished 办件 reported by a client system, and what became of its evaluation."""

    __tablename__ = "matters"
    __table_args__ = (
        UniqueConstraint("client_id", "matter_no"),
        Index("ix_matters_unrated", "evaluated_case_id", "unrated_at", "finished_at"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("api_clients.id"))
    matter_no: Mapped[str] = mapped_column(String(64))
    hall_id: Mapped[int | None] = mapped_column(ForeignKey("halls.id"))
    window_id: Mapped[int | None] = mapped_column(ForeignKey("windows.id"))
    service_item_id: Mapped[int] = mapped_column(ForeignKey("service_items.id"))
    department: Mapped[str | None] = mapped_column(String(100))
    staff_no: Mapped[str | None] = mapped_column(String(32))
    applicant_type: Mapped[str] = mapped_column(String(16))
    key_id: Mapped[str] = mapped_column(String(32))
    name_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    email_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    finished_at: Mapped[datetime] = mapped_column(index=True)
    created_at: Mapped[datetime]
    link_expires_at: Mapped[datetime]
    evaluated_case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"))
    evaluation_digest: Mapped[str | None] = mapped_column(String(64))
    unrated_at: Mapped[datetime | None]
