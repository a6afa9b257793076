"""Tables of the hotline: calls from the exchange, call-back tasks, and return visits (回访).

* ``phone_calls`` – one row per inbound call from any source (Asterisk CDR, CSV export, Twilio),
  unique by ``(source, call_id)`` so re-importing a file or a replayed webhook writes nothing new.
  The caller's number is personal data: encrypted, with a keyed hash to find it.
* ``phone_callbacks`` – calls that said nothing (missed, abandoned, a voicemail without a message):
  somebody must call back.  ``dedup_key`` makes each call raise one task, however often imported.
* ``return_visits`` – every call made back to a citizen about a case, reached or not.  The nullable
  questionnaire columns (problem solved, satisfaction with the rectification, 政策知悉度 / 办事便利度 /
  服务满意度) are for the structured return-visit survey.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.core.db.models import Base
from gateway.core.db.types import BigId


class PhoneCall(Base):
    """An inbound call as the exchange (or Twilio) recorded it."""

    __tablename__ = "phone_calls"
    __table_args__ = (
        UniqueConstraint("source", "call_id"),
        Index("ix_phone_calls_caller_started", "caller_hash", "started_at"),
        Index("ix_phone_calls_started", "started_at"),
        Index("ix_phone_calls_message", "message_id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    call_id: Mapped[str] = mapped_column(String(128))
    key_id: Mapped[str | None] = mapped_column(String(32))
    caller_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    caller_hash: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    duration: Mapped[int] = mapped_column(Integer, default=0)
    talk_seconds: Mapped[int] = mapped_column(Integer, default=0)
    outcome: Mapped[str] = mapped_column(String(16))
    disposition: Mapped[str | None] = mapped_column(String(32))
    agent: Mapped[str | None] = mapped_column(String(64))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"), index=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("case_messages.id", ondelete="SET NULL"))
    imported_at: Mapped[datetime]


class CallbackTask(Base):
    """A citizen to call back because their call reached nobody (or left no message)."""

    __tablename__ = "phone_callbacks"
    __table_args__ = (
        Index("ix_phone_callbacks_status_due", "status", "due_at"),
        Index("ix_phone_callbacks_phone_status", "phone_hash", "status"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    dedup_key: Mapped[str] = mapped_column(String(160), unique=True)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("phone_calls.id", ondelete="SET NULL"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"))
    key_id: Mapped[str | None] = mapped_column(String(32))
    phone_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone_hash: Mapped[str | None] = mapped_column(String(64))
    called_at: Mapped[datetime]
    created_at: Mapped[datetime]
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(12), default="open")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_attempt_at: Mapped[datetime | None]
    retry_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    closed_by: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)


class ReturnVisit(Base):
    """One call back to a citizen about a case: when, who, reached or not, satisfied or not."""

    __tablename__ = "return_visits"
    __table_args__ = (
        Index("ix_return_visits_case_at", "case_id", "at"),
        CheckConstraint("problem_solved IN ('yes', 'partly', 'no')", name="problem_solved"),
        CheckConstraint("policy_awareness BETWEEN 1 AND 5", name="policy_awareness"),
        CheckConstraint("convenience BETWEEN 1 AND 5", name="convenience"),
        CheckConstraint("service_satisfaction BETWEEN 1 AND 5", name="service_satisfaction"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime]
    who: Mapped[str] = mapped_column(String(64))
    reached: Mapped[bool] = mapped_column(Boolean)
    satisfied: Mapped[bool | None] = mapped_column(Boolean)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    problem_solved: Mapped[str | None] = mapped_column(String(8))
    rectification_satisfaction: Mapped[str | None] = mapped_column(String(20))
    policy_awareness: Mapped[int | None] = mapped_column(Integer)
    convenience: Mapped[int | None] = mapped_column(Integer)
    service_satisfaction: Mapped[int | None] = mapped_column(Integer)


class HotlineOrder(Base):
    """A 12345 work order (工单) the city platform assigned to the county, and the case it became.

    ``order_no`` (工单编号) is the platform's key, so re-importing an export changes nothing.  The
    platform's own deadline (办理时限) is kept here beside the county's deadlines on the case; the
    platform's fields without personal data are kept for the reply (办理结果) exported back.
    """

    __tablename__ = "hotline_orders"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_no: Mapped[str] = mapped_column(String(64), unique=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"), index=True)
    called_at: Mapped[datetime]
    platform_due: Mapped[datetime | None] = mapped_column(index=True)
    town: Mapped[str | None] = mapped_column(String(64))
    unit: Mapped[str | None] = mapped_column(String(100))
    kind: Mapped[str | None] = mapped_column(String(32))
    source_file: Mapped[str | None] = mapped_column(String(255))
    source_row: Mapped[int | None] = mapped_column(Integer)
    imported_at: Mapped[datetime]
    exported_at: Mapped[datetime | None]
