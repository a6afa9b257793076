"""SMTP delivery (``SmtpSender``), the outbox's ``Sender`` for channel ``email``: see the package docstring."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

import aiosmtplib
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from channels.contact import normalize_email
from channels.email.decode import one_line
from channels.email.msgid import extract_ids, make_message_id
from gateway.core.answered import ANSWER_KINDS, mark_answer_delivered
from gateway.core.db.dialect import dialect_of, insert_for, insert_ignoring
from gateway.core.db.models import Message, WorkerState
from gateway.core.outbox import LEASE, OutgoingMessage, SendResult
from gateway.core.services import Services
from gateway.email.options import (
    OUTBOUND_PREFIX,
    RATE_PREFIX,
    EmailOptions,
    MailConfigError,
    check_security,
    explain_tls_failure,
    tls_context,
    utc_now,
)
from gateway.email.state import address_key, is_suppressed, suppress_address

log = logging.getLogger(__name__)


# ----- delivery ------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int
    security: str
    user: str | None
    password: str | None
    sender: str


_GO, _SENT, _BUSY, _UNCERTAIN, _LIMITED = "go", "sent", "busy", "uncertain", "limited"


class SmtpSender:
    """The outbox ``Sender`` for channel ``email`` (aiosmtplib).

    Per mail: (1) one transaction checks what earlier attempts of this outbox row left and, for an
    acknowledgement, takes a slot of the address's hourly budget under a row lock; (2) connect,
    TLS, login, MAIL FROM, RCPT TO — any failure here means nothing was sent; (3) one transaction
    records the outbound ``case_messages`` row as ``sending``; (4) DATA; (5) one transaction marks
    it ``sent``.  Only a crash or a broken connection during (4)–(5) leaves the outcome unknown;
    the next attempt then fails the row visibly instead of risking a second copy.
    """

    def __init__(self, services: Services, options: EmailOptions | None = None) -> None:
        s = services.settings
        if not (s.smtp_host and s.smtp_from):
            raise MailConfigError("SMTP is not configured (HCP_SMTP_HOST, HCP_SMTP_FROM)")
        self.services = services
        self.options = options or EmailOptions()
        default_port = {"tls": 465, "starttls": 587, "plain": 25}[s.smtp_security]
        self.config = SmtpConfig(s.smtp_host, s.smtp_port or default_port, s.smtp_security, s.smtp_user,
                                 s.smtp_password.get_secret_value() if s.smtp_password else None, s.smtp_from)
        self.envelope_from = parseaddr(s.smtp_from)[1] or s.smtp_from
        self.domain = self.options.domain or self.envelope_from.rpartition("@")[2].strip() or "hcp.invalid"
        self.key = s.signing_key()

    def build(self, message: OutgoingMessage, recipient: str, message_id: str, now: datetime) -> EmailMessage:
        """The mail for one outbox row.  Every header value is made one line first: a line break
        (a citizen's subject quoted in ours) makes ``EmailMessage`` refuse the header, and the row
        would then fail on every retry."""
        mail = EmailMessage()
        mail["From"] = one_line(self.config.sender)
        mail["To"] = one_line(recipient)
        mail["Subject"] = one_line(message.subject or "") or "政务服务好差评"
        mail["Date"] = format_datetime(now)
        mail["Message-ID"] = message_id
        in_reply_to = str(message.payload.get("in_reply_to") or "")
        if extract_ids(in_reply_to) == [in_reply_to]:
            mail["In-Reply-To"] = in_reply_to
            earlier = extract_ids(str(message.payload.get("references") or ""))
            mail["References"] = " ".join([*earlier, in_reply_to])
        if message.kind == "acknowledgement":
            mail["Auto-Submitted"] = "auto-replied"
            mail["X-Auto-Response-Suppress"] = "All"
        else:
            mail["Auto-Submitted"] = "no"
        mail.set_content(message.body, charset="utf-8")
        return mail

    async def send(self, message: OutgoingMessage) -> SendResult:
        now = utc_now()
        try:
            recipient = normalize_email(message.recipient)
        except ValueError:
            return SendResult(ok=False, error="recipient is not an e-mail address", permanent=True)
        if message.outbox_id is None:
            return SendResult(ok=False, error="outgoing e-mail without an outbox id", permanent=True)
        if await is_suppressed(self.services, recipient, now):
            return SendResult(ok=False, error="suppressed: the address bounced permanently", permanent=True)
        message_id = make_message_id(message.outbox_id, self.key, self.domain)
        rate_key = RATE_PREFIX + address_key(self.services, recipient) if message.kind == "acknowledgement" else None
        verdict = await self.services.store.run_write(
            lambda session: self._before_send(session, message, message_id, rate_key, now))
        if verdict == _SENT:
            return SendResult(ok=True, provider_ref=message_id)
        if verdict == _BUSY:
            return SendResult(ok=False, error="another attempt of this mail is in progress")
        if verdict == _UNCERTAIN:
            return SendResult(ok=False, permanent=True, error=(
                "outcome unknown: an earlier attempt stopped while the SMTP server was taking the mail, so it may "
                "have been delivered; not sent again automatically (check, then `hcp outbox retry` to send anyway)"))
        if verdict == _LIMITED:
            return SendResult(ok=False, permanent=True,
                              error=f"suppressed: more than {self.options.ack_limit_per_hour} "
                                    "acknowledgements to this address within an hour")
        mail = self.build(message, recipient, message_id, now)
        return await self._deliver(message, mail, recipient, message_id)

    # -- the SMTP conversation --

    def _client(self) -> aiosmtplib.SMTP:
        c = self.config
        check_security("SMTP", c.host, c.security, self.options)
        return aiosmtplib.SMTP(
            hostname=c.host, port=c.port, username=c.user, password=c.password, local_hostname=self.domain,
            use_tls=c.security == "tls", start_tls=c.security == "starttls",
            tls_context=tls_context(self.options) if c.security != "plain" else None,
            timeout=self.options.timeout)

    async def _deliver(self, message: OutgoingMessage, mail: EmailMessage, recipient: str,
                       message_id: str) -> SendResult:
        in_data = delivered = False
        try:
            smtp = self._client()
            async with smtp:
                await smtp.mail(self.envelope_from)
                await smtp.rcpt(recipient)
                await self._mark(message, message_id, "sending")
                in_data = True
                await smtp.data(mail.as_bytes())
                in_data, delivered = False, True
                await self._mark(message, message_id, "sent")
        except (MailConfigError, aiosmtplib.SMTPException, OSError) as exc:
            if not delivered:
                return await self._failure(exc, message, recipient, message_id, in_data=in_data)
            # Taken by the server; only the goodbye failed.  The record says ``sent`` already.
            log.warning("email: outbox %s delivered, then %s", message.outbox_id, type(exc).__name__)
        except Exception:
            if not delivered:
                raise  # e.g. the database: nothing was handed over, the outbox retries
            # Taken by the server, but recording it failed: the outbox still marks the row sent, and a
            # retry would find the record at ``sending`` and never send a second copy.
            log.exception("email: outbox %s delivered but not recorded", message.outbox_id)
        return SendResult(ok=True, provider_ref=message_id)

    async def _failure(self, exc: Exception, message: OutgoingMessage, recipient: str, message_id: str, *,
                       in_data: bool) -> SendResult:
        """The ``SendResult`` for a failed conversation; which phase failed decides what we know."""
        if isinstance(exc, MailConfigError):
            return SendResult(ok=False, error=str(exc))
        if isinstance(exc, aiosmtplib.SMTPRecipientRefused):
            permanent = 500 <= exc.code < 600
            if permanent:
                await suppress_address(self.services, recipient, str(exc.code), self.options.bounce_suppress_days)
            return SendResult(ok=False, error=f"recipient refused ({exc.code})", permanent=permanent)
        if isinstance(exc, aiosmtplib.SMTPResponseException):
            if in_data:  # the server answered the data with a refusal: definitely not taken
                await self._mark(message, message_id, "refused")
            return SendResult(ok=False, error=f"SMTP {exc.code}: {exc.message}"[:300],
                              permanent=500 <= exc.code < 600)
        if in_data:  # the connection broke while the server was taking the data: it may have it
            await self._mark(message, message_id, "uncertain")
            return SendResult(ok=False, permanent=True, error=(
                f"outcome unknown: the connection failed while the server was taking the mail "
                f"({type(exc).__name__}); not sent again automatically (check, then `hcp outbox retry`)"))
        c = self.config
        explained = explain_tls_failure(exc, "SMTP", c.host, c.port)
        return SendResult(ok=False, error=explained or f"{type(exc).__name__}: {exc}"[:300])

    # -- what earlier attempts left, and the hourly budget (one transaction) --

    def _before_send(self, session: Session, message: OutgoingMessage, message_id: str, rate_key: str | None,
                     now: datetime) -> str:
        state, at = self._ledger_read(session, message, message_id)
        if state == "sent":
            return _SENT
        if state == "sending":
            if at is not None and at > now - LEASE:
                return _BUSY
            self._ledger_write(session, message, message_id, "uncertain", now)
            return _UNCERTAIN
        # ``uncertain`` here means staff put the failed row back in the queue: send it.
        if rate_key is not None and not self._reserve(session, rate_key, message.outbox_id, now):
            return _LIMITED
        return _GO

    def _reserve(self, session: Session, key: str, outbox_id: int | None, now: datetime) -> bool:
        """Take one of the address's acknowledgement slots for the past hour, atomically.

        The state row is created if missing, then locked (``SELECT … FOR UPDATE`` on PostgreSQL;
        SQLite's writer transactions are serialised by ``BEGIN IMMEDIATE``), so two workers cannot
        both see a free slot.  A retry of the same outbox row keeps the slot it already holds.
        """
        dialect = dialect_of(session)
        session.execute(insert_ignoring(dialect, WorkerState, ("key",)),
                        {"key": key, "value": {"sent": {}}, "updated_at": now})
        query = select(WorkerState).where(WorkerState.key == key)
        if dialect == "postgresql":
            query = query.with_for_update()
        row = session.execute(query).scalar_one()
        hour_ago = now - timedelta(hours=1)
        earlier = row.value.get("sent") or {}
        if isinstance(earlier, list):  # the format before slots were keyed by outbox row
            earlier = {f"old{i}": at for i, at in enumerate(earlier)}
        sent = {slot: at for slot, at in earlier.items() if datetime.fromisoformat(at) > hour_ago}
        slot = str(outbox_id)
        if slot not in sent:
            if len(sent) >= self.options.ack_limit_per_hour:
                return False
            sent[slot] = now.isoformat()
        row.value = {"sent": sent}
        row.updated_at = now
        return True

    # -- the outbound record: a ``case_messages`` row, or a ``worker_state`` row for case-less mail --

    @staticmethod
    def _ledger_read(session: Session, message: OutgoingMessage, message_id: str) -> tuple[str | None, datetime | None]:
        if message.case_id is not None:
            row = session.execute(select(Message.extra).where(
                Message.channel == "email", Message.source_ref == message_id)).first()
            if row is None:
                return None, None
            extra = row[0] or {}
            state = extra.get("state", "sent")  # rows written before delivery states existed were sent
        else:
            row = session.execute(select(WorkerState.value).where(
                WorkerState.key == OUTBOUND_PREFIX + str(message.outbox_id))).first()
            if row is None:
                return None, None
            extra = row[0] or {}
            state = extra.get("state")
        at = extra.get("attempt_at")
        return state, datetime.fromisoformat(at) if at else None

    @staticmethod
    def _ledger_write(session: Session, message: OutgoingMessage, message_id: str, state: str,
                      now: datetime) -> None:
        extra = {"outbox_id": message.outbox_id, "kind": message.kind, "state": state,
                 "attempt_at": now.isoformat()}
        if state == "sent":
            extra["sent_at"] = now.isoformat()
        dialect = dialect_of(session)
        if message.case_id is None:
            key = OUTBOUND_PREFIX + str(message.outbox_id)
            if state == "refused":
                session.execute(delete(WorkerState).where(WorkerState.key == key))
                return
            statement = insert_for(session)(WorkerState).values(key=key, value={**extra, "message_id": message_id},
                                                                updated_at=now)
            session.execute(statement.on_conflict_do_update(
                index_elements=[WorkerState.key], set_={"value": statement.excluded.value, "updated_at": now}))
            return
        where = (Message.channel == "email", Message.source_ref == message_id)
        if state == "refused":  # the server refused it: no outbound message exists
            session.execute(delete(Message).where(*where))
            return
        if state == "sent" and message.kind in ANSWER_KINDS:  # the server took the answer: 答复率 counts it
            session.execute(mark_answer_delivered(message.case_id, now))
        inserted = session.execute(insert_ignoring(dialect, Message, ("channel", "source_ref"), "id"), {
            "case_id": message.case_id, "direction": "out", "channel": "email", "source_ref": message_id,
            "at": now, "author": "system:email", "subject": message.subject, "text": message.body,
            "raw_sha256": None, "public": False, "extra": extra}).scalar_one_or_none()
        if inserted is None:
            row = session.execute(select(Message).where(*where)).scalar_one()
            row.extra = {**(row.extra or {}), **extra}
            if state == "sent":
                row.at = now

    async def _mark(self, message: OutgoingMessage, message_id: str, state: str) -> None:
        now = utc_now()
        await self.services.store.run_write(
            lambda session: self._ledger_write(session, message, message_id, state, now))
