"""The relational schema.  Alembic migrations under ``gateway/core/db/migrations`` create it.

Design notes:

* ``case_messages`` carries the exactly-once key: ``UNIQUE (channel, source_ref)``.  The first
  message of a case and every follow-up are rows here, so a duplicate of either is recognised.
* Personal data lives in ``contacts``, encrypted (AES-GCM) with keyed hashes for search, so a case
  row never holds a readable name, phone or e-mail.
* Large bytes (raw mail, scans, attachments) live once in ``blobs``, addressed by SHA-256: every
  gateway and worker on every machine sees them through the shared database.
* ``outbox`` is the only way anything leaves the system (mail, SMS, upstream pushes).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from gateway.core.db.types import AwareDateTime, BigId

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: AwareDateTime(), dict[str, Any]: JSON, list[Any]: JSON}  # noqa: RUF012


class Hall(Base):
    """A service hall: a town or street hall (为民服务大厅), or a village / community service point
    (便民服务点, ``kind`` village or community) whose ``town_id`` names the town hall it belongs to."""

    __tablename__ = "halls"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16), default="town")
    region_code: Mapped[str | None] = mapped_column(String(12))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    town_id: Mapped[int | None] = mapped_column(ForeignKey("halls.id"))


class Window(Base):
    """A service window inside a hall."""

    __tablename__ = "windows"
    __table_args__ = (UniqueConstraint("hall_id", "code"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class WindowServiceItem(Base):
    """A service item a window handles: the list the window form offers the citizen."""

    __tablename__ = "window_service_items"
    window_id: Mapped[int] = mapped_column(ForeignKey("windows.id", ondelete="CASCADE"), primary_key=True)
    service_item_id: Mapped[int] = mapped_column(ForeignKey("service_items.id", ondelete="CASCADE"),
                                                 primary_key=True)


class ServiceItem(Base):
    """A service item (政务服务事项) that can be evaluated."""

    __tablename__ = "service_items"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    department: Mapped[str | None] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Case(Base):
    """One evaluation or complaint and its handling."""

    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_status_first_due", "status", "first_response_due"),
        Index("ix_cases_hall_received", "hall_id", "received_at"),
        Index("ix_cases_received", "received_at"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    # The evaluation source as the rules name it (gateway.core.sources): 一次一评, 一事一评, 找茬窗口…
    source: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(20))
    received_at: Mapped[datetime]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]

    subject: Mapped[str | None] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text, default="")
    rating: Mapped[str | None] = mapped_column(String(20))
    reasons: Mapped[list[Any]] = mapped_column(default=list)
    hall_id: Mapped[int | None] = mapped_column(ForeignKey("halls.id"))
    window_id: Mapped[int | None] = mapped_column(ForeignKey("windows.id"))
    service_item_id: Mapped[int | None] = mapped_column(ForeignKey("service_items.id"))
    real_name: Mapped[bool] = mapped_column(Boolean, default=False)
    reply_channel: Mapped[str | None] = mapped_column(String(10))

    category: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(32))
    confidence: Mapped[float | None] = mapped_column(Float)
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False)
    triage_terms: Mapped[list[Any]] = mapped_column(default=list)

    verdict: Mapped[str | None] = mapped_column(String(16))
    first_response_due: Mapped[datetime | None]
    result_due: Mapped[datetime | None]
    deadline_uncertain: Mapped[bool] = mapped_column(Boolean, default=False)
    # 协调整改: the result deadline is the configured default until a person sets a date.
    due_provisional: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    first_responded_at: Mapped[datetime | None]
    result_at: Mapped[datetime | None]
    # A closed case a supervisor reopened (重新办理): when, and how often; its deadlines restart then.
    reopened_at: Mapped[datetime | None]
    reopen_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # When an answer first reached the citizen: an SMS the provider reports delivered, an e-mail the
    # server accepted, a logged call.  答复率 counts this, not the handler's pressing 答复.
    reply_delivered_at: Mapped[datetime | None]

    # Handling beyond the state machine (see gateway/console/actions.py).
    department: Mapped[str | None] = mapped_column(String(100))
    paused_at: Mapped[datetime | None]
    paused_seconds: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    appeal_status: Mapped[str | None] = mapped_column(String(16))

    # Who was evaluated (gateway/core/rosters.py): the staff member on duty at the window, when known.
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id", ondelete="SET NULL"), index=True)
    staff_attribution: Mapped[str | None] = mapped_column(String(16))
    # Retention (gateway/ops/retention.py) removed the contact and the personal numbers typed into
    # the texts; NULL until then.
    personal_removed_at: Mapped[datetime | None]


class Contact(Base):
    """The evaluator's personal data, encrypted; ``*_hash`` are keyed hashes for exact search."""

    __tablename__ = "contacts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), unique=True)
    key_id: Mapped[str] = mapped_column(String(32))
    name_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    email_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    email_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    # The citizen's OpenID on the county's WeChat Official Account (gateway/wechat/): personal data.
    wechat_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    wechat_hash: Mapped[str | None] = mapped_column(String(64), index=True)


class Message(Base):
    """Something said on a case: the first intake, a follow-up, or a reply to the citizen."""

    __tablename__ = "case_messages"
    __table_args__ = (
        UniqueConstraint("channel", "source_ref"),
        Index("ix_case_messages_case", "case_id", "id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    direction: Mapped[str] = mapped_column(String(3))
    channel: Mapped[str] = mapped_column(String(16))
    source_ref: Mapped[str] = mapped_column(String(255))
    at: Mapped[datetime]
    author: Mapped[str | None] = mapped_column(String(64))
    subject: Mapped[str | None] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text, default="")
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    raw_sha256: Mapped[str | None] = mapped_column(ForeignKey("blobs.sha256"))
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Attachment(Base):
    __tablename__ = "attachments"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("case_messages.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(127))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str | None] = mapped_column(ForeignKey("blobs.sha256"))
    rejected: Mapped[str | None] = mapped_column(String(255))
    # The part's Content-ID when the mail shows it inline (``<img src="cid:…">`` in its HTML).
    content_id: Mapped[str | None] = mapped_column(String(255))
    # Retention (gateway/ops/retention.py) deleted the bytes: ``sha256`` is then NULL, the rest stays.
    removed_at: Mapped[datetime | None]


class Blob(Base):
    """Content-addressed bytes; written once, never updated."""

    __tablename__ = "blobs"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    media_type: Mapped[str] = mapped_column(String(127))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]


class CaseEvent(Base):
    """One line of a case's timeline: who did what, when, and the state it moved between."""

    __tablename__ = "case_events"
    __table_args__ = (Index("ix_case_events_case", "case_id", "id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str | None] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class CaseReminder(Base):
    """A deadline reminder that has been raised; the unique key makes each fire once."""

    __tablename__ = "case_reminders"
    __table_args__ = (UniqueConstraint("case_id", "kind", "due_at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    due_at: Mapped[datetime]
    raised_at: Mapped[datetime]


class OutboxMessage(Base):
    """A message waiting to leave, or that left, through one sender per channel."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(32))
    dedup_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    recipient_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    key_id: Mapped[str | None] = mapped_column(String(32))
    subject: Mapped[str | None] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    locked_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    provider_ref: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class TrackingCounter(Base):
    """Per-day sequence behind tracking codes like ``JX20261128-0007``."""

    __tablename__ = "tracking_counters"
    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


class CalendarOverride(Base):
    """An administrator's correction of the working-day calendar for one day."""

    __tablename__ = "calendar_overrides"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    workday: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str | None] = mapped_column(String(200))
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime]


class CalendarSchedule(Base):
    """One year's official schedule (国务院办公厅 holiday notice), imported by ``hcp calendar import``.

    The days themselves are rows of ``calendar_overrides``; this row records that the year was
    entered, so staff pages stop warning that next year's schedule is missing."""

    __tablename__ = "calendar_schedules"
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    source: Mapped[str | None] = mapped_column(String(200))
    holidays: Mapped[int] = mapped_column(Integer)
    workdays: Mapped[int] = mapped_column(Integer)
    imported_by: Mapped[str] = mapped_column(String(64))
    imported_at: Mapped[datetime]


class TriageCorrection(Base):
    """A triage team member's change of label, kept with the text for ``hcp triage suggest``."""

    __tablename__ = "triage_corrections"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    old_label: Mapped[str | None] = mapped_column(String(16))
    old_reason: Mapped[str | None] = mapped_column(String(32))
    new_label: Mapped[str] = mapped_column(String(16))
    new_reason: Mapped[str | None] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]


class WorkerState(Base):
    """Small durable state of background jobs (IMAP UIDs, last poll, errors), shown to staff."""

    __tablename__ = "worker_state"
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime]
