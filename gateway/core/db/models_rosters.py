"""Window staff and their shifts, so an evaluation of a window reaches the person on duty.

A staff member (窗口工作人员) need not have a console account; ``user_id`` links one when they do,
so they can read their own evaluations.  ``window_shifts`` says who worked at which window from
when to when; ``gateway.core.rosters.attribute`` reads it at ingest.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.core.db.models import Base
from gateway.core.db.types import BigId


class StaffMember(Base):
    __tablename__ = "staff_members"
    __table_args__ = (UniqueConstraint("hall_id", "employee_no"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id", ondelete="CASCADE"))
    employee_no: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class WindowShift(Base):
    """``[starts_at, ends_at)`` at one window; overlapping shifts at a window are allowed (two
    people sharing a window) and make attribution ambiguous, which the case then says."""

    __tablename__ = "window_shifts"
    __table_args__ = (
        Index("ix_window_shifts_window_starts", "window_id", "starts_at"),
        UniqueConstraint("window_id", "staff_id", "starts_at"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    window_id: Mapped[int] = mapped_column(ForeignKey("windows.id", ondelete="CASCADE"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_members.id", ondelete="CASCADE"), index=True)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
