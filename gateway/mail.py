"""The e-mail channel's connection to the world: IMAP intake and SMTP delivery.

Intake (``ImapPoller``): select the folder, read UIDVALIDITY and the last UID we finished from
``worker_state``, fetch the Message-IDs of newer messages first, then ``BODY.PEEK[]`` (which does
not set ``\\Seen``) only for those not yet stored, in batches.  Each message is parsed by
``channels.email`` and handed to the ingest callable; only after the batch has committed are its
messages flagged ``\\Seen`` and the last UID advanced.  A crash between commit and flag fetches
the message again next time, and exactly-once ingest by ``(channel, source_ref)`` makes that
harmless.  Mail is never deleted or moved.  Polling, not IDLE: one poll per ``poll_interval``.
Failures back off exponentially (5 s … 15 min) and are recorded for ``hcp email status``.

Delivery (``SmtpSender``): the outbox's ``Sender`` for channel ``email``.  Every mail gets a
signed Message-ID (``channels.email.msgid``) recorded as an outbound ``case_messages`` row, so a
citizen's reply threads onto the case.  Acknowledgements carry ``Auto-Submitted: auto-replied``,
are limited per address and hour, and nothing goes to an address that bounced permanently.

Personal data: addresses appear here only as keyed hashes (``worker_state`` keys) and never in logs.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import ssl
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import aiosmtplib
from imapclient import IMAPClient
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import select

from channels.contact import normalize_email
from channels.email.msgid import extract_ids, make_message_id
from channels.email.parse import ParseOptions, UnparseableEmail, parse_email, source_ref_of_raw
from channels.intake import Intake, IntakeError
from gateway.channel_plugins import ChannelPlugin
from gateway.db.dialect import insert_for
from gateway.db.models import Blob, Message, WorkerState
from gateway.ingest import IngestError, IngestResult
from gateway.outbox import OutgoingMessage, SendResult
from gateway.services import Services

log = logging.getLogger(__name__)

STATE_KEY = "email:imap"
QUARANTINE_PREFIX = "email:quarantine:"
SUPPRESS_PREFIX = "email:suppress:"
RATE_PREFIX = "email:rate:"
SEEN = b"\\Seen"
MAX_BACKOFF = timedelta(minutes=15)


class EmailOptions(BaseSettings):
    """E-mail knobs beyond the ``imap_*``/``smtp_*`` settings, from ``HCP_EMAIL_*`` variables."""

    model_config = SettingsConfigDict(env_prefix="HCP_EMAIL_", extra="ignore")

    poll_interval: float = Field(default=60.0, gt=0)
    batch: int = Field(default=50, ge=1, le=1000)
    ack_limit_per_hour: int = Field(default=3, ge=0)
    bounce_suppress_days: float = Field(default=30.0, ge=0)
    domain: str | None = None
    """Right-hand side of our Message-IDs; defaults to the domain of ``HCP_SMTP_FROM``."""
    tls_verify: bool = True
    ca_file: Path | None = None
    timeout: float = Field(default=30.0, gt=0)


def _tls_context(options: EmailOptions) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(options.ca_file) if options.ca_file else None)
    if not options.tls_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _now() -> datetime:
    return datetime.now(UTC)


# ----- small durable state ---------------------------------------------------------------------

async def load_state(services: Services, key: str) -> dict[str, Any]:
    async with services.store.read() as session:
        row = await session.get(WorkerState, key)
        return dict(row.value) if row is not None else {}


async def save_state(services: Services, key: str, value: Mapping[str, Any]) -> None:
    async with services.store.write() as session:
        statement = insert_for(session)(WorkerState).values(key=key, value=dict(value), updated_at=_now())
        await session.execute(statement.on_conflict_do_update(
            index_elements=[WorkerState.key],
            set_={"value": statement.excluded.value, "updated_at": statement.excluded.updated_at}))


async def states_with_prefix(services: Services, prefix: str) -> list[tuple[str, dict[str, Any]]]:
    async with services.store.read() as session:
        rows = (await session.execute(
            select(WorkerState).where(WorkerState.key.startswith(prefix)).order_by(WorkerState.updated_at)
        )).scalars()
        return [(row.key, dict(row.value)) for row in rows]


def address_key(services: Services, address: str) -> str:
    """A keyed hash of an address: lets us remember bounces and rates without storing the address."""
    digest = services.cipher.search_hash(normalize_email(address))
    assert digest is not None
    return digest[:64]


async def suppress_address(services: Services, address: str, status: str, days: float) -> None:
    until = _now() + timedelta(days=days)
    await save_state(services, SUPPRESS_PREFIX + address_key(services, address),
                     {"until": until.isoformat(), "status": status[:20]})


async def is_suppressed(services: Services, address: str, now: datetime) -> bool:
    state = await load_state(services, SUPPRESS_PREFIX + address_key(services, address))
    return bool(state) and datetime.fromisoformat(state["until"]) > now


async def quarantine(services: Services, raw: bytes, reason: str, *, uid: int | None = None) -> str:
    """Keep bytes that could not become a case, for staff to look at (``hcp email quarantine``)."""
    sha = hashlib.sha256(raw).hexdigest()
    stored = len(raw) <= services.settings.max_blob_bytes
    if stored:
        async with services.store.write() as session:
            await session.execute(insert_for(session)(Blob).values(
                sha256=sha, size=len(raw), media_type="message/rfc822", data=raw, created_at=_now(),
            ).on_conflict_do_nothing(index_elements=[Blob.sha256]))
    await save_state(services, QUARANTINE_PREFIX + sha[:32], {
        "sha256": sha, "size": len(raw), "reason": reason[:500], "uid": uid, "stored": stored,
        "at": _now().isoformat()})
    log.warning("email: quarantined message uid=%s sha256=%s: %s", uid, sha[:12], reason[:200])
    return sha


# ----- intake ------------------------------------------------------------------------------------

Ingest = Callable[[Intake], Awaitable[IngestResult]]


class ImapPoller:
    """One poll of the configured mailbox; ``poll_once`` is both the job and ``hcp email poll``."""

    def __init__(self, services: Services, options: EmailOptions | None = None, *,
                 ingest: Ingest | None = None) -> None:
        self.services = services
        self.settings = services.settings
        self.options = options or EmailOptions()
        self._ingest = ingest
        self.parse_options = ParseOptions(tracking_prefix=self.settings.tracking_prefix,
                                          max_attachment_bytes=self.settings.max_attachment_bytes,
                                          signing_key=self.settings.signing_key())

    @property
    def ingest(self) -> Ingest:
        return self._ingest or self.services.ingestor.ingest

    # -- the IMAP side runs in a thread: imapclient is synchronous --

    def _connect(self) -> IMAPClient:
        s = self.settings
        if not (s.imap_host and s.imap_user and s.imap_password):
            raise RuntimeError("IMAP is not configured (HCP_IMAP_HOST, HCP_IMAP_USER, HCP_IMAP_PASSWORD)")
        tls = s.imap_security == "tls"
        context = _tls_context(self.options)
        client = IMAPClient(s.imap_host, port=s.imap_port or (993 if tls else 143), ssl=tls,
                            ssl_context=context if tls else None, timeout=self.options.timeout)
        try:
            if s.imap_security == "starttls":
                client.starttls(context)
            client.normalise_times = False
            client.login(s.imap_user, s.imap_password.get_secret_value())
        except Exception:
            with contextlib.suppress(Exception):
                client.shutdown()
            raise
        return client

    @staticmethod
    def _close(client: IMAPClient) -> None:
        try:
            client.logout()
        except Exception:
            with contextlib.suppress(Exception):
                client.shutdown()

    def _open_folder(self, client: IMAPClient, last_uid: int) -> tuple[int, list[int]]:
        info = client.select_folder(self.settings.imap_folder)
        uidvalidity = int(info[b"UIDVALIDITY"])
        return uidvalidity, sorted(client.search(["UID", f"{last_uid + 1}:*"]))

    def _fetch_ids(self, client: IMAPClient, uids: list[int]) -> dict[int, str | None]:
        data = client.fetch(uids, ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
        found: dict[int, str | None] = {}
        for uid in uids:
            item = data.get(uid, {})
            block = next((v for k, v in item.items() if k.startswith(b"BODY[HEADER")), b"") or b""
            ids = extract_ids(block.decode("ascii", "replace"))
            found[uid] = ids[0] if ids and len(ids[0]) <= 255 else None
        return found

    @staticmethod
    def _fetch_bodies(client: IMAPClient, uids: list[int]) -> dict[int, tuple[bytes, datetime | None]]:
        data = client.fetch(uids, ["BODY.PEEK[]", "INTERNALDATE"])
        bodies = {}
        for uid, item in data.items():
            if b"BODY[]" not in item:
                continue
            moment = item.get(b"INTERNALDATE")
            bodies[uid] = (item[b"BODY[]"], moment if isinstance(moment, datetime) and moment.tzinfo else None)
        return bodies

    @staticmethod
    def _flag_seen(client: IMAPClient, uids: list[int]) -> None:
        if uids:
            client.add_flags(uids, [SEEN], silent=True)

    # -- the database side --

    async def _known(self, refs: list[str]) -> set[str]:
        if not refs:
            return set()
        async with self.services.store.read() as session:
            rows = await session.execute(select(Message.source_ref).where(
                Message.channel == "email", Message.source_ref.in_(refs)))
            return {row[0] for row in rows}

    async def handle(self, raw: bytes, received_at: datetime | None = None, *, uid: int | None = None) -> str:
        """One message: ``ingested``, ``follow_up``, ``duplicate``, ``auto``, ``bounce`` or ``quarantined``."""
        try:
            parsed = parse_email(raw, self.parse_options, received_at=received_at)
        except UnparseableEmail as exc:
            await quarantine(self.services, raw, str(exc), uid=uid)
            return "quarantined"
        if parsed.verdict is not None:
            for bounced in parsed.bounces:
                if bounced.permanent:
                    with contextlib.suppress(ValueError):
                        await suppress_address(self.services, bounced.address, bounced.status,
                                               self.options.bounce_suppress_days)
            log.info("email: uid=%s not ingested: %s (%s)", uid, parsed.verdict.kind, parsed.verdict.reason)
            return parsed.verdict.kind
        assert parsed.intake is not None
        try:
            result = await self.ingest(parsed.intake)
        except (IntakeError, IngestError) as exc:
            await quarantine(self.services, raw, f"ingest refused: {exc}", uid=uid)
            return "quarantined"
        if result.duplicate:
            return "duplicate"
        return "follow_up" if result.follow_up else "ingested"

    async def poll_once(self, *, force: bool = False) -> dict[str, Any]:
        """Poll the folder once; record the outcome in ``worker_state``; return the counts."""
        state = await load_state(self.services, STATE_KEY)
        now = _now()
        retry_at = state.get("next_try_at")
        if not force and retry_at and datetime.fromisoformat(retry_at) > now:
            return {"skipped": "backing off after an error", "next_try_at": retry_at}
        counts: dict[str, int] = {}
        state["last_poll"] = now.isoformat()
        try:
            await self._poll(state, counts)
        except Exception as exc:
            failures = int(state.get("consecutive_failures", 0)) + 1
            delay = min(timedelta(seconds=5 * 2 ** (failures - 1)), MAX_BACKOFF)
            state.update(consecutive_failures=failures, next_try_at=(now + delay).isoformat(),
                         last_error=f"{type(exc).__name__}: {exc}"[:300], last_error_at=now.isoformat(),
                         last_counts=counts)
            await save_state(self.services, STATE_KEY, state)
            log.warning("email: poll failed (%s), next try in %s s", type(exc).__name__, delay.total_seconds())
            raise
        state.update(consecutive_failures=0, next_try_at=None, last_ok=now.isoformat(), last_counts=counts,
                     backlog=0)
        await save_state(self.services, STATE_KEY, state)
        return counts

    async def _poll(self, state: dict[str, Any], counts: dict[str, int]) -> None:
        client = await asyncio.to_thread(self._connect)
        try:
            last_uid = int(state.get("last_uid", 0))
            uidvalidity, uids = await asyncio.to_thread(self._open_folder, client, last_uid)
            if state.get("uidvalidity") != uidvalidity:
                if state.get("uidvalidity") is not None:
                    log.warning("email: UIDVALIDITY changed; rescanning the folder (duplicates are skipped)")
                last_uid = 0
                state.update(uidvalidity=uidvalidity, last_uid=0)
                uids = sorted(await asyncio.to_thread(client.search, ["ALL"]))
            uids = [uid for uid in uids if uid > last_uid]
            state["backlog"] = len(uids)
            for start in range(0, len(uids), self.options.batch):
                batch = uids[start:start + self.options.batch]
                await self._batch(client, batch, counts)
                state["last_uid"] = batch[-1]
                state["backlog"] = len(uids) - start - len(batch)
                await save_state(self.services, STATE_KEY, state)
        finally:
            await asyncio.to_thread(self._close, client)

    async def _batch(self, client: IMAPClient, batch: list[int], counts: dict[str, int]) -> None:
        refs = await asyncio.to_thread(self._fetch_ids, client, batch)
        known = await self._known([ref for ref in refs.values() if ref])
        wanted = [uid for uid in batch if refs[uid] is None or refs[uid] not in known]
        done = [uid for uid in batch if uid not in wanted]
        counts["already_stored"] = counts.get("already_stored", 0) + len(done)
        bodies = await asyncio.to_thread(self._fetch_bodies, client, wanted) if wanted else {}
        for uid in wanted:
            if uid not in bodies:  # expunged by someone else meanwhile
                continue
            raw, received_at = bodies[uid]
            outcome = await self.handle(raw, received_at, uid=uid)
            counts[outcome] = counts.get(outcome, 0) + 1
            done.append(uid)
        # Every message of the batch is committed (or quarantined) now: only then flag it.
        await asyncio.to_thread(self._flag_seen, client, sorted(done))


# ----- delivery ------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int
    security: str
    user: str | None
    password: str | None
    sender: str


class SmtpSender:
    """The outbox ``Sender`` for channel ``email`` (aiosmtplib)."""

    def __init__(self, services: Services, options: EmailOptions | None = None) -> None:
        s = services.settings
        if not (s.smtp_host and s.smtp_from):
            raise RuntimeError("SMTP is not configured (HCP_SMTP_HOST, HCP_SMTP_FROM)")
        self.services = services
        self.options = options or EmailOptions()
        default_port = {"tls": 465, "starttls": 587, "plain": 25}[s.smtp_security]
        self.config = SmtpConfig(s.smtp_host, s.smtp_port or default_port, s.smtp_security, s.smtp_user,
                                 s.smtp_password.get_secret_value() if s.smtp_password else None, s.smtp_from)
        self.domain = self.options.domain or s.smtp_from.rpartition("@")[2].strip(">").strip() or "hcp.invalid"
        self.key = s.signing_key()

    def build(self, message: OutgoingMessage, recipient: str, message_id: str, now: datetime) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = self.config.sender
        mail["To"] = recipient
        mail["Subject"] = message.subject or "政务服务好差评"
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

    async def _rate_limited(self, rate_key: str, now: datetime) -> tuple[bool, list[str]]:
        state = await load_state(self.services, rate_key)
        hour_ago = now - timedelta(hours=1)
        recent = [t for t in state.get("sent", []) if datetime.fromisoformat(t) > hour_ago]
        return len(recent) >= self.options.ack_limit_per_hour, recent

    async def send(self, message: OutgoingMessage) -> SendResult:
        now = _now()
        try:
            recipient = normalize_email(message.recipient)
        except ValueError:
            return SendResult(ok=False, error="recipient is not an e-mail address", permanent=True)
        key = address_key(self.services, recipient)
        if await is_suppressed(self.services, recipient, now):
            return SendResult(ok=False, error="suppressed: the address bounced permanently", permanent=True)
        recent: list[str] = []
        if message.kind == "acknowledgement":
            limited, recent = await self._rate_limited(RATE_PREFIX + key, now)
            if limited:
                return SendResult(ok=False, permanent=True,
                                  error=f"suppressed: more than {self.options.ack_limit_per_hour} "
                                        "acknowledgements to this address within an hour")
        if message.outbox_id is None:
            return SendResult(ok=False, error="outgoing e-mail without an outbox id", permanent=True)
        message_id = make_message_id(message.outbox_id, self.key, self.domain)
        mail = self.build(message, recipient, message_id, now)
        c = self.config
        try:
            await aiosmtplib.send(
                mail, hostname=c.host, port=c.port, username=c.user, password=c.password,
                use_tls=c.security == "tls", start_tls=c.security == "starttls",
                tls_context=_tls_context(self.options) if c.security != "plain" else None,
                timeout=self.options.timeout)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [error.code for error in exc.recipients]
            permanent = bool(codes) and all(500 <= code < 600 for code in codes)
            if permanent:
                await suppress_address(self.services, recipient, str(codes[0]), self.options.bounce_suppress_days)
            return SendResult(ok=False, error=f"recipient refused ({', '.join(map(str, codes))})",
                              permanent=permanent)
        except aiosmtplib.SMTPResponseException as exc:
            return SendResult(ok=False, error=f"SMTP {exc.code}: {exc.message}"[:300],
                              permanent=500 <= exc.code < 600)
        except (aiosmtplib.SMTPException, OSError) as exc:
            return SendResult(ok=False, error=f"{type(exc).__name__}: {exc}"[:300])
        if message.kind == "acknowledgement":
            await save_state(self.services, RATE_PREFIX + key, {"sent": [*recent, now.isoformat()]})
        await self._record_outbound(message, message_id, now)
        return SendResult(ok=True, provider_ref=message_id)

    async def _record_outbound(self, message: OutgoingMessage, message_id: str, now: datetime) -> None:
        """The sent mail as a ``case_messages`` row, so that replies referencing it thread."""
        if message.case_id is None:
            return
        async with self.services.store.write() as session:
            await session.execute(insert_for(session)(Message).values(
                case_id=message.case_id, direction="out", channel="email", source_ref=message_id, at=now,
                author="system:email", subject=message.subject, text=message.body, public=False,
                extra={"outbox_id": message.outbox_id, "kind": message.kind},
            ).on_conflict_do_nothing(index_elements=[Message.channel, Message.source_ref]))


# ----- wiring -------------------------------------------------------------------------------------

def plugin(services: Services) -> ChannelPlugin:
    """The poll job when IMAP is configured, the sender when SMTP is; nothing otherwise."""
    from gateway.workers import Job

    options = EmailOptions()
    result = ChannelPlugin()
    s = services.settings
    if s.imap_host and s.imap_user and s.imap_password:
        poller = ImapPoller(services, options)
        result.jobs.append(Job("email-poll", poller.poll_once, interval=options.poll_interval, singleton=True))
    if s.smtp_host and s.smtp_from:
        result.senders["email"] = SmtpSender(services, options)
    return result


__all__ = ["EmailOptions", "ImapPoller", "SmtpSender", "plugin", "quarantine", "source_ref_of_raw"]
