"""The durable outbox: every message that leaves the system (e-mail, SMS, upstream push).

Rows are written in the same transaction as the change that causes them, then delivered by one
loop with one ``Sender`` per channel (the FixMyStreet ``SendReport`` idea).  Delivery claims rows
with ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several workers on several machines
never send the same row twice at once; a claimed row carries a lease (``locked_until``) so that a
worker that dies mid-send releases it.  Failures are retried with exponential backoff; after
``outbox_max_attempts`` the row is ``failed`` and stays visible to staff, who can retry it.  A
sender error that retrying cannot fix (``UNFIXABLE``) fails the row at once, with its reason.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from gateway.core.db.dialect import dialect_of, insert_ignoring
from gateway.core.db.models import OutboxMessage
from gateway.core.db.store import Store
from gateway.core.personal import PersonalDataCipher

log = logging.getLogger(__name__)

PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"
LEASE = timedelta(minutes=5)
# Errors about the message, not the network or the provider: a header with a line break, text the
# encoding cannot carry, a missing field.  Retrying cannot fix them, so the row fails at once with
# the reason instead of eight attempts over a day.
UNFIXABLE: tuple[type[Exception], ...] = (ValueError, TypeError, KeyError, UnicodeError)
MAX_BACKOFF = timedelta(hours=6)


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """What a sender needs; ``recipient`` is personal data and is encrypted in the table."""

    channel: str
    kind: str
    recipient: str
    body: str
    subject: str | None = None
    case_id: int | None = None
    dedup_key: str | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)
    outbox_id: int | None = None


@dataclass(frozen=True, slots=True)
class SendResult:
    """A sender's answer.  ``permanent`` failures are not retried (a rejected address, say)."""

    ok: bool
    provider_ref: str | None = None
    error: str | None = None
    permanent: bool = False


class Sender(Protocol):
    """Delivers one message on one channel.  Raising counts as a temporary failure."""

    async def send(self, message: OutgoingMessage) -> SendResult: ...


def enqueue_many(session: Session, cipher: PersonalDataCipher, messages: list[OutgoingMessage],
                 *, now: datetime | None = None) -> None:
    """``enqueue`` for several messages in one statement (repeated ``dedup_key`` still ignored)."""
    now = now or datetime.now(UTC)
    statement = insert_ignoring(dialect_of(session), OutboxMessage, ("dedup_key",))
    session.execute(statement, [_row(cipher, message, now) for message in messages])


def _row(cipher: PersonalDataCipher, message: OutgoingMessage, now: datetime) -> dict[str, Any]:
    return dict(
        case_id=message.case_id, channel=message.channel, kind=message.kind, dedup_key=message.dedup_key,
        recipient_enc=cipher.seal(message.recipient), key_id=cipher.current_key_id, subject=message.subject,
        body=message.body, payload=dict(message.payload), status=PENDING, attempts=0, next_attempt_at=now,
        created_at=now, locked_until=None, last_error=None, provider_ref=None, sent_at=None,
    )


def enqueue(session: Session, cipher: PersonalDataCipher, message: OutgoingMessage,
                  *, now: datetime | None = None) -> int | None:
    """Add ``message`` to the outbox in the caller's transaction.  A repeated ``dedup_key`` is a
    no-op (returns ``None``), which keeps retried work from sending twice."""
    now = now or datetime.now(UTC)
    statement = insert_ignoring(dialect_of(session), OutboxMessage, ("dedup_key",), "id")
    return (session.execute(statement, _row(cipher, message, now))).scalar_one_or_none()


def backoff(attempts: int, base_seconds: float) -> timedelta:
    """30 s, 1 min, 2 min, 4 min … capped at six hours."""
    return min(timedelta(seconds=base_seconds * 2 ** max(attempts - 1, 0)), MAX_BACKOFF)


class OutboxDelivery:
    """Claims due rows and hands each to the sender of its channel."""

    def __init__(self, store: Store, cipher: PersonalDataCipher, senders: Mapping[str, Sender], *,
                 max_attempts: int = 8, backoff_seconds: float = 30.0, batch: int = 50,
                 lease: timedelta = LEASE) -> None:
        self.store = store
        self.cipher = cipher
        self.senders = dict(senders)
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self.batch = batch
        self.lease = lease

    async def claim(self, now: datetime) -> list[OutgoingMessage]:
        """Lease up to ``batch`` due rows of channels that have a sender."""
        if not self.senders:
            return []
        async with self.store.write() as session:
            due = (
                select(OutboxMessage)
                .where(
                    OutboxMessage.channel.in_(self.senders),
                    or_(
                        (OutboxMessage.status == PENDING) & (OutboxMessage.next_attempt_at <= now),
                        (OutboxMessage.status == SENDING) & (OutboxMessage.locked_until < now),
                    ),
                )
                .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
                .limit(self.batch)
            )
            if not self.store.is_sqlite:
                due = due.with_for_update(skip_locked=True)
            rows = list((await session.execute(due)).scalars())
            claimed = []
            for row in rows:
                row.status = SENDING
                row.locked_until = now + self.lease
                row.attempts += 1
                claimed.append(OutgoingMessage(
                    channel=row.channel, kind=row.kind, recipient=self.cipher.open(row.recipient_enc) or "",
                    body=row.body, subject=row.subject, case_id=row.case_id, dedup_key=row.dedup_key,
                    payload=row.payload, outbox_id=row.id,
                ))
            return claimed

    async def run_once(self, now: datetime | None = None) -> dict[str, int]:
        """Deliver one batch; return counts of ``sent``, ``retry`` and ``failed``."""
        now = now or datetime.now(UTC)
        counts = {SENT: 0, "retry": 0, FAILED: 0}
        for message in await self.claim(now):
            try:
                result = await self.senders[message.channel].send(message)
            except UNFIXABLE as exc:  # the message itself is wrong: every retry would fail the same way
                log.warning("outbox %s: %s sender refused the message: %s", message.outbox_id, message.channel,
                            type(exc).__name__)
                result = SendResult(ok=False, error=f"无法发送（重试也不会成功）: {type(exc).__name__}: {exc}",
                                    permanent=True)
            except Exception as exc:  # a sender's crash is a temporary failure, never lost mail
                log.warning("outbox %s: %s sender raised %s", message.outbox_id, message.channel,
                            type(exc).__name__)
                result = SendResult(ok=False, error=f"{type(exc).__name__}: {exc}")
            counts[await self._record(message, result, now)] += 1
        return counts

    async def _record(self, message: OutgoingMessage, result: SendResult, now: datetime) -> str:
        async with self.store.write() as session:
            row = await session.get(OutboxMessage, message.outbox_id)
            assert row is not None
            row.locked_until = None
            if result.ok:
                row.status, row.sent_at, row.provider_ref, row.last_error = SENT, now, result.provider_ref, None
                return SENT
            row.last_error = (result.error or "unknown error")[:2000]
            if result.permanent or row.attempts >= self.max_attempts:
                row.status = FAILED
                return FAILED
            row.status = PENDING
            row.next_attempt_at = now + backoff(row.attempts, self.backoff_seconds)
            return "retry"


async def retry_failed(store: Store, outbox_id: int) -> bool:
    """Staff action: put a failed row back in the queue with a fresh attempt budget."""
    async with store.write() as session:
        result = await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == outbox_id, OutboxMessage.status == FAILED)
            .values(status=PENDING, attempts=0, next_attempt_at=datetime.now(UTC), last_error=None)
        )
        return bool(result.rowcount)
