"""The e-mail channel's connection to the world: IMAP intake and SMTP delivery.

Intake (``ImapPoller``).  One connection stays open while the gateway runs.  Each cycle searches
the configured folder for UIDs above the last one finished (UIDVALIDITY and that UID live in
``worker_state``), reads their Message-IDs first (headers only), and fetches full bodies with
``BODY.PEEK[]`` (which leaves ``\\Seen`` alone) only for messages not stored yet.  The messages of a
batch are parsed and ingested concurrently, so the gateway's group commit writes them in a few
transactions; only when every case of the batch has committed are its messages flagged
``\\Seen`` (or moved to ``HCP_EMAIL_PROCESSED_FOLDER``) and the last UID advanced.  While one
batch is being ingested the next one is already being fetched.  A crash between commit and flag
fetches the message again, and exactly-once ingest by ``(channel, source_ref)`` makes that
harmless.  Mail is never deleted.

Between cycles the poller waits in IMAP IDLE when the server offers it, so new mail arrives
within about a second; otherwise (or with ``HCP_EMAIL_IDLE=false``) it polls every
``HCP_EMAIL_POLL_INTERVAL`` seconds.  A single wait never exceeds ``HCP_EMAIL_IDLE_SLICE``
seconds, so the worker can stop promptly.  A failed or dropped connection is closed and reopened
after a back-off that doubles from ``HCP_EMAIL_RETRY_SECONDS`` up to 15 minutes; every error is
recorded for the status page and ``hcp email status``.

Delivery (``SmtpSender``): the outbox's ``Sender`` for channel ``email``.  Every mail gets a
signed Message-ID (``channels.email.msgid``) derived from its outbox row, recorded as an outbound
``case_messages`` row *before* the message data is handed to the server, so a citizen's reply
threads onto the case whatever happens next.  That row also carries the delivery state, which
makes a retried outbox row safe: a mail recorded as sent is not sent again, and one whose fate is
unknown (the process died while the server was taking it) is never re-sent on our own — the row
fails visibly and staff decide (``hcp outbox retry``).  Acknowledgements carry
``Auto-Submitted: auto-replied`` and are limited per address and hour under a row lock, and nothing
goes to an address that bounced permanently.

Personal data: addresses appear here only as keyed hashes (``worker_state`` keys) and never in logs.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import ipaddress
import logging
import socket
import ssl
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Any

import aiosmtplib
from imapclient import IMAPClient
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from channels.contact import normalize_email
from channels.email.msgid import extract_ids, make_message_id
from channels.email.parse import ParseOptions, UnparseableEmail, parse_email, source_ref_of_raw
from channels.intake import Intake, IntakeError
from gateway.channel_plugins import ChannelPlugin
from gateway.db.dialect import dialect_of, insert_for, insert_ignoring
from gateway.db.models import Blob, Message, OutboxMessage, WorkerState
from gateway.ingest import IngestError, IngestResult
from gateway.outbox import LEASE, OutgoingMessage, SendResult
from gateway.services import Services
from gateway.settings import Settings

log = logging.getLogger(__name__)

STATE_KEY = "email:imap"
QUARANTINE_PREFIX = "email:quarantine:"
SUPPRESS_PREFIX = "email:suppress:"
RATE_PREFIX = "email:rate:"
OUTBOUND_PREFIX = "email:out:"
SEEN = b"\\Seen"
MAX_BACKOFF = timedelta(minutes=15)
PARSE_IN_THREAD_BYTES = 256 * 1024
"""Messages larger than this are parsed in a worker thread, so a big attachment never stalls the
event loop that also serves the web pages; small ones parse faster in place."""
ERRORS_KEPT = 10
IDLE_CHECK_SECONDS = 0.5
"""How often an IDLE wait looks up from the socket to see whether it should stop early."""


BATCHES_IN_FLIGHT = 3
"""Batches being parsed, triaged and committed at once: while one waits on its commit, the next
is triaged and the one after parsed."""

class EmailOptions(BaseSettings):
    """E-mail knobs beyond the ``imap_*``/``smtp_*`` settings, from ``HCP_EMAIL_*`` variables."""

    model_config = SettingsConfigDict(env_prefix="HCP_EMAIL_", extra="ignore")

    poll_interval: float = Field(default=60.0, gt=0)
    """Seconds between polls when the server has no IDLE (or ``idle`` is off)."""
    idle: bool = True
    """Wait for new mail with IMAP IDLE when the server offers it."""
    idle_slice: float = Field(default=5.0, gt=0, le=1500)
    """Longest single wait (IDLE or sleep) before the job hands control back to the worker."""
    batch: int = Field(default=50, ge=1, le=1000)
    concurrency: int = Field(default=50, ge=1, le=1000)
    """Messages of one batch parsed and ingested at the same time (they share group commits and
    travel to the triage worker together); two batches are in flight at once.

    Parsing runs on the event loop, so this also bounds how long a backlog holds up the web pages
    of ``hcp serve`` (and so does the triage, where it runs in-line: ``HCP_TRIAGE_PROCESSES=0``).
    Measured with ``benchmarks/email_ingest.py`` and a triage worker on 2 cores: 50 at once (the
    whole batch, ~35 ms of parsing) ingests 10–25 % faster than 16."""
    processed_folder: str | None = None
    """Move finished messages here instead of only flagging them ``\\Seen`` (created if missing)."""
    ack_limit_per_hour: int = Field(default=3, ge=0)
    bounce_suppress_days: float = Field(default=30.0, ge=0)
    domain: str | None = None
    """Right-hand side of our Message-IDs; defaults to the domain of ``HCP_SMTP_FROM``."""
    tls_verify: bool = True
    ca_file: Path | None = None
    allow_plaintext: bool = False
    """Allow ``plain`` security to a host that is not loopback (a trusted internal relay)."""
    timeout: float = Field(default=30.0, gt=0)
    retry_seconds: float = Field(default=5.0, gt=0)
    """First delay before reconnecting after an error; it doubles up to 15 minutes."""


class MailConfigError(RuntimeError):
    """The e-mail settings cannot work (missing, contradictory or unsafe); fix the configuration."""


class MailTlsError(ConnectionError):
    """A TLS connection to the mail server could not be established securely."""


def _now() -> datetime:
    return datetime.now(UTC)


# ----- transport security ------------------------------------------------------------------------

def tls_context(options: EmailOptions) -> ssl.SSLContext:
    """Verifying context: the system's CAs, or only ``HCP_EMAIL_CA_FILE`` when it is set."""
    if options.ca_file is not None and not options.ca_file.is_file():
        raise MailConfigError(f"HCP_EMAIL_CA_FILE {options.ca_file} is not a readable file")
    context = ssl.create_default_context(cafile=str(options.ca_file) if options.ca_file else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if not options.tls_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_security(service: str, host: str, security: str, options: EmailOptions) -> None:
    """Refuse to send a password or citizens' mail in clear text over a real network."""
    if security == "plain" and not is_loopback(host) and not options.allow_plaintext:
        raise MailConfigError(
            f"HCP_{service}_SECURITY=plain is allowed only to a loopback host; {host} needs tls or starttls "
            "(or HCP_EMAIL_ALLOW_PLAINTEXT=true for a trusted internal relay)")
    if security != "plain" and not options.tls_verify:
        log.warning("email: %s certificate verification is OFF (HCP_EMAIL_TLS_VERIFY=false)", service)


def explain_tls_failure(exc: BaseException, service: str, host: str, port: int) -> str | None:
    """A clear sentence for a TLS failure found anywhere in ``exc``'s chain, else ``None``."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return (f"{service} {host}:{port}: the server's TLS certificate was rejected "
                    f"({seen.verify_message or seen.reason}); set HCP_EMAIL_CA_FILE to the CA certificate "
                    "that signed it, or fix the server's certificate")
        if isinstance(seen, ssl.SSLError):
            return f"{service} {host}:{port}: TLS handshake failed ({seen.reason or seen})"
        seen = seen.__cause__ or seen.__context__
    return None


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


# ----- quarantine ------------------------------------------------------------------------------------

async def quarantine(services: Services, raw: bytes, reason: str, *, uid: int | None = None,
                     received_at: datetime | None = None) -> str:
    """Keep bytes that could not become a case, for staff to look at and reprocess after a fix."""
    sha = hashlib.sha256(raw).hexdigest()
    stored = len(raw) <= services.settings.max_blob_bytes
    if stored:
        async with services.store.write() as session:
            await session.execute(insert_for(session)(Blob).values(
                sha256=sha, size=len(raw), media_type="message/rfc822", data=raw, created_at=_now(),
            ).on_conflict_do_nothing(index_elements=[Blob.sha256]))
    key = QUARANTINE_PREFIX + sha[:32]
    earlier = await load_state(services, key)
    await save_state(services, key, {
        "sha256": sha, "size": len(raw), "reason": reason[:500], "uid": uid, "stored": stored,
        "at": _now().isoformat(), "first_at": earlier.get("first_at") or _now().isoformat(),
        "attempts": int(earlier.get("attempts", 0)) + 1,
        "received_at": received_at.isoformat() if received_at else earlier.get("received_at")})
    log.warning("email: quarantined message uid=%s sha256=%s: %s", uid, sha[:12], reason[:200])
    return sha


async def quarantined(services: Services, *, include_resolved: bool = False) -> list[dict[str, Any]]:
    """Quarantine entries, newest first (resolved ones only when asked)."""
    entries = [value for _, value in await states_with_prefix(services, QUARANTINE_PREFIX)]
    if not include_resolved:
        entries = [entry for entry in entries if not entry.get("resolved_at")]
    return sorted(entries, key=lambda entry: entry.get("at", ""), reverse=True)


async def find_quarantined(services: Services, sha_prefix: str) -> dict[str, Any]:
    """The one entry whose SHA-256 starts with ``sha_prefix`` (at least 8 hex digits)."""
    prefix = sha_prefix.strip().lower()
    if len(prefix) < 8 or any(ch not in "0123456789abcdef" for ch in prefix):
        raise LookupError("give at least 8 hexadecimal digits of the SHA-256")
    matches = [e for e in await quarantined(services, include_resolved=True) if e["sha256"].startswith(prefix)]
    if len(matches) != 1:
        raise LookupError(f"{len(matches)} quarantined messages match {prefix!r}")
    return matches[0]


@dataclass(frozen=True, slots=True)
class Reprocessed:
    outcome: str
    """``ingested``, ``follow_up``, ``duplicate``, ``auto``, ``bounce`` or ``quarantined`` (still failing)."""
    case_code: str | None = None
    reason: str | None = None


async def reprocess_quarantined(services: Services, sha_prefix: str, *, by: str,
                                poller: ImapPoller | None = None) -> Reprocessed:
    """Run a quarantined message through today's parser and ingest again (after a fix).

    Success marks the entry resolved (kept, with the case it became); a message that still fails
    stays quarantined with the new reason.  Idempotent: the ingest's exactly-once rule holds.
    """
    from gateway.blobs import get_blob

    entry = await find_quarantined(services, sha_prefix)
    if entry.get("resolved_at"):
        return Reprocessed(entry.get("outcome", "ingested"), entry.get("case_code"))
    async with services.store.read() as session:
        blob = await get_blob(session, entry["sha256"])
    if blob is None:
        raise LookupError("the raw message was larger than HCP_MAX_BLOB_BYTES and was not kept; "
                          "raise the limit and poll again from the mailbox")
    received = entry.get("received_at")
    poller = poller or ImapPoller(services, EmailOptions())
    outcome, result = await poller.process(bytes(blob.data), datetime.fromisoformat(received) if received else None,
                                           uid=entry.get("uid"))
    key = QUARANTINE_PREFIX + entry["sha256"][:32]
    if outcome == "quarantined":
        return Reprocessed(outcome, reason=(await load_state(services, key)).get("reason"))
    code = result.case_code if result is not None else None
    await save_state(services, key, {**entry, "resolved_at": _now().isoformat(), "resolved_by": by[:64],
                                     "outcome": outcome, "case_code": code})
    return Reprocessed(outcome, code)


# ----- the IMAP session (synchronous: every call runs in a worker thread) --------------------------

class Mailbox:
    """One logged-in IMAP connection with the folder selected.

    imapclient is synchronous, so the poller calls these methods through ``asyncio.to_thread``;
    a lock keeps the prefetch of the next batch and the flagging of the current one from talking
    over each other on the one connection.
    """

    def __init__(self, settings: Settings, options: EmailOptions) -> None:
        if not (settings.imap_host and settings.imap_user and settings.imap_password):
            raise MailConfigError("IMAP is not configured (HCP_IMAP_HOST, HCP_IMAP_USER, HCP_IMAP_PASSWORD)")
        self.settings = settings
        self.options = options
        self.host = settings.imap_host
        self.security = settings.imap_security
        self.port = settings.imap_port or (993 if self.security == "tls" else 143)
        self.client: IMAPClient | None = None
        self.uidvalidity = 0
        self.can_idle = False
        self.can_move = False
        self._lock = threading.Lock()

    def open(self) -> None:
        check_security("IMAP", self.host, self.security, self.options)
        context = tls_context(self.options) if self.security != "plain" else None
        client: IMAPClient | None = None
        try:
            client = IMAPClient(self.host, port=self.port, ssl=self.security == "tls", ssl_context=context,
                                timeout=self.options.timeout)
            if self.security == "starttls":
                if not client.has_capability("STARTTLS"):
                    raise MailTlsError(f"IMAP {self.host}:{self.port} does not offer STARTTLS; refusing to log in "
                                       "without encryption (use HCP_IMAP_SECURITY=tls or a server with STARTTLS)")
                client.starttls(context)
            client.normalise_times = False
            client.login(self.settings.imap_user, self.settings.imap_password.get_secret_value())  # type: ignore[union-attr]
            info = client.select_folder(self.settings.imap_folder)
            self.uidvalidity = int(info[b"UIDVALIDITY"])
            self.can_idle = client.has_capability("IDLE")
            self.can_move = client.has_capability("MOVE")
            folder = self.options.processed_folder
            if folder and not client.folder_exists(folder):
                client.create_folder(folder)
        except Exception as exc:
            if client is not None:
                with contextlib.suppress(Exception):
                    client.shutdown()
            explained = explain_tls_failure(exc, "IMAP", self.host, self.port)
            if explained:
                raise MailTlsError(explained) from exc
            raise
        self.client = client

    def _client(self) -> IMAPClient:
        if self.client is None:
            raise ConnectionError("the IMAP connection is closed")
        return self.client

    def new_uids(self, last_uid: int) -> list[int]:
        """UIDs above ``last_uid`` (``n:*`` always matches the newest message, hence the filter)."""
        with self._lock:
            client = self._client()
            client.noop()  # let the server tell us about messages that arrived since the last command
            return sorted(uid for uid in client.search(["UID", f"{last_uid + 1}:*"]) if uid > last_uid)

    def fetch_ids(self, uids: list[int]) -> dict[int, str | None]:
        with self._lock:
            data = self._client().fetch(uids, ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
        found: dict[int, str | None] = {}
        for uid in uids:
            item = data.get(uid, {})
            block = next((v for k, v in item.items() if k.startswith(b"BODY[HEADER")), b"") or b""
            ids = extract_ids(block.decode("ascii", "replace"))
            found[uid] = ids[0] if ids and len(ids[0]) <= 255 else None
        return found

    def fetch_bodies(self, uids: list[int]) -> dict[int, tuple[bytes, datetime | None]]:
        with self._lock:
            data = self._client().fetch(uids, ["BODY.PEEK[]", "INTERNALDATE"])
        bodies = {}
        for uid, item in data.items():
            if b"BODY[]" not in item:
                continue
            moment = item.get(b"INTERNALDATE")
            bodies[uid] = (item[b"BODY[]"], moment if isinstance(moment, datetime) and moment.tzinfo else None)
        return bodies

    def finish(self, uids: list[int]) -> None:
        """Mark committed messages: ``\\Seen``, then moved to the processed folder if one is set."""
        if not uids:
            return
        with self._lock:
            client = self._client()
            client.add_flags(uids, [SEEN], silent=True)
            folder = self.options.processed_folder
            if folder:
                if self.can_move:
                    client.move(uids, folder)
                else:  # without MOVE, a copy; the original stays (we never delete mail)
                    client.copy(uids, folder)

    def wait(self, timeout: float, interrupt: threading.Event | None = None) -> bool:
        """IDLE until the server reports new mail (``True``), ``timeout`` seconds pass or
        ``interrupt`` is set (``False``).  A connection the server closed raises."""
        deadline = time.monotonic() + timeout
        with self._lock:
            client = self._client()
            client.idle()
            news = False
            empty_wakeups = 0
            try:
                while not news and not (interrupt is not None and interrupt.is_set()):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    step = min(remaining, IDLE_CHECK_SECONDS)
                    started = time.monotonic()
                    responses = client.idle_check(timeout=step)
                    if any(r and r[0] == b"BYE" for r in responses):
                        raise ConnectionResetError("the IMAP server closed the connection (BYE)")
                    if not responses and time.monotonic() - started < step / 2:
                        # imapclient reports end-of-stream as an early, empty answer.
                        empty_wakeups += 1
                        if empty_wakeups >= 3:
                            raise ConnectionResetError("the IMAP connection was closed")
                        time.sleep(0.02)
                        continue
                    empty_wakeups = 0
                    news = any(len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses)
            except BaseException:
                self.client = None  # unusable now; ``close`` only cleans up
                with contextlib.suppress(Exception):
                    client.shutdown()
                raise
            _, responses = client.idle_done()
            return news or any(len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses)

    def drop(self) -> None:
        """Cut the connection without a goodbye (tests use it to simulate a network failure)."""
        client = self.client
        if client is not None:
            with contextlib.suppress(OSError):
                client.socket().shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        client, self.client = self.client, None
        if client is None:
            return
        with self._lock:
            try:
                client.logout()
            except Exception:
                with contextlib.suppress(Exception):
                    client.shutdown()


# ----- intake ------------------------------------------------------------------------------------

Ingest = Callable[[Intake], Awaitable[IngestResult]]


@dataclass
class _Fetched:
    batch: list[int]
    known: list[int]
    bodies: dict[int, tuple[bytes, datetime | None]]


@dataclass
class PollTimings:
    """Seconds spent per phase (summed over messages; parse and ingest overlap the IMAP work)."""

    imap: float = 0.0
    parse: float = 0.0
    ingest: float = 0.0
    messages: int = 0


class ImapPoller:
    """The IMAP intake.  ``cycle`` is the background job's step and ``hcp email poll``'s loop;
    ``poll_once`` is one complete pass with its own connection (``hcp email poll --once``)."""

    def __init__(self, services: Services, options: EmailOptions | None = None, *,
                 ingest: Ingest | None = None) -> None:
        self.services = services
        self.settings = services.settings
        self.options = options or EmailOptions()
        self._ingest = ingest
        self.parse_options = ParseOptions(tracking_prefix=self.settings.tracking_prefix,
                                          max_attachment_bytes=self.settings.max_attachment_bytes,
                                          signing_key=self.settings.signing_key())
        self.mailbox: Mailbox | None = None
        self.mode: str | None = None
        """``idle`` or ``poll`` once connected."""
        self.timings = PollTimings()
        self._next_poll = 0.0
        self._last_saved = 0.0
        self._interrupt = threading.Event()

    @property
    def ingest(self) -> Ingest:
        return self._ingest or self.services.ingestor.ingest

    # -- one message --

    async def process(self, raw: bytes, received_at: datetime | None = None, *,
                      uid: int | None = None) -> tuple[str, IngestResult | None]:
        """Parse and ingest one message; return the outcome and the ingest result (if any).

        Outcomes: ``ingested``, ``follow_up``, ``duplicate``, ``auto``, ``bounce``, ``quarantined``.
        Anything else (the database is down, say) raises, and the message is fetched again later.
        """
        started = time.perf_counter()
        try:
            if len(raw) > PARSE_IN_THREAD_BYTES:
                parsed = await asyncio.to_thread(parse_email, raw, self.parse_options, received_at=received_at)
            else:
                parsed = parse_email(raw, self.parse_options, received_at=received_at)
        except UnparseableEmail as exc:
            await quarantine(self.services, raw, str(exc), uid=uid, received_at=received_at)
            return "quarantined", None
        except Exception as exc:  # a parser bug must not block the mailbox: keep the bytes for a fix
            log.exception("email: the parser failed on uid=%s", uid)
            await quarantine(self.services, raw, f"parser error: {type(exc).__name__}: {exc}", uid=uid,
                             received_at=received_at)
            return "quarantined", None
        finally:
            self.timings.parse += time.perf_counter() - started
        if parsed.verdict is not None:
            for bounced in parsed.bounces:
                if bounced.permanent:
                    with contextlib.suppress(ValueError):
                        await suppress_address(self.services, bounced.address, bounced.status,
                                               self.options.bounce_suppress_days)
            log.info("email: uid=%s not ingested: %s (%s)", uid, parsed.verdict.kind, parsed.verdict.reason)
            return parsed.verdict.kind, None
        assert parsed.intake is not None
        started = time.perf_counter()
        try:
            result = await self.ingest(parsed.intake)
        except (IntakeError, IngestError) as exc:
            await quarantine(self.services, raw, f"ingest refused: {exc}", uid=uid, received_at=received_at)
            return "quarantined", None
        finally:
            self.timings.ingest += time.perf_counter() - started
            self.timings.messages += 1
        if result.duplicate:
            return "duplicate", result
        return ("follow_up" if result.follow_up else "ingested"), result

    async def handle(self, raw: bytes, received_at: datetime | None = None, *, uid: int | None = None) -> str:
        """One message: ``ingested``, ``follow_up``, ``duplicate``, ``auto``, ``bounce`` or ``quarantined``."""
        return (await self.process(raw, received_at, uid=uid))[0]

    # -- the background job --

    async def cycle(self) -> dict[str, Any]:
        """Poll if due, then wait for news (IDLE) or for the next poll, at most ``idle_slice`` seconds.

        Errors close the connection, are recorded, and are raised (the worker shows them); the
        next cycle reconnects once the back-off has passed.
        """
        state = await load_state(self.services, STATE_KEY)
        retry_at = state.get("next_try_at")
        if retry_at:
            remaining = (datetime.fromisoformat(retry_at) - _now()).total_seconds()
            if remaining > 0:
                await self._pause(min(remaining, self.options.idle_slice))
                return {"waiting": "backing off after an error", "next_try_at": retry_at}
        counts: dict[str, int] = {}
        try:
            if self.mailbox is None:
                mailbox = Mailbox(self.settings, self.options)
                await self._io(mailbox.open)
                self.mailbox = mailbox
                self.mode = "idle" if self.options.idle and mailbox.can_idle else "poll"
                self._next_poll = 0.0
                log.info("email: connected to IMAP %s:%s (%s), %s mode", mailbox.host, mailbox.port,
                         mailbox.security, self.mode)
            mailbox = self.mailbox
            if self.mode == "idle" or time.monotonic() >= self._next_poll:
                state["last_poll"] = _now().isoformat()
                await self._poll(mailbox, state, counts)
                self._next_poll = time.monotonic() + self.options.poll_interval
                await self._succeeded(state, counts)
            if self.mode == "idle":
                if not self._interrupt.is_set():
                    await asyncio.to_thread(mailbox.wait, self.options.idle_slice, self._interrupt)
            else:
                await self._pause(min(self.options.idle_slice, self._next_poll - time.monotonic()))
        except Exception as exc:
            await self.disconnect()
            await self._failed(state, exc, counts)
            raise
        return counts

    async def _pause(self, seconds: float) -> None:
        """Sleep ``seconds``, or less if ``interrupt`` is called meanwhile."""
        deadline = time.monotonic() + seconds
        while not self._interrupt.is_set() and (remaining := deadline - time.monotonic()) > 0:
            await asyncio.sleep(min(remaining, IDLE_CHECK_SECONDS))

    def interrupt(self) -> None:
        """End the current wait early (thread-safe); ``run_forever`` calls it when asked to stop."""
        self._interrupt.set()

    async def run_forever(self, stop: asyncio.Event) -> None:
        """``cycle`` until ``stop`` is set; errors are recorded and retried after the back-off."""
        self._interrupt.clear()

        async def watch() -> None:
            await stop.wait()
            self.interrupt()

        watcher = asyncio.ensure_future(watch())
        try:
            while not stop.is_set():
                try:
                    await self.cycle()
                except MailConfigError:
                    raise
                except Exception as exc:
                    log.warning("email: %s", _describe(exc))
        finally:
            watcher.cancel()
            await self.disconnect()

    async def disconnect(self) -> None:
        mailbox, self.mailbox = self.mailbox, None
        if mailbox is not None:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(mailbox.close)

    async def poll_once(self, *, force: bool = False) -> dict[str, Any]:
        """One complete pass on its own connection; record the outcome; return the counts."""
        state = await load_state(self.services, STATE_KEY)
        retry_at = state.get("next_try_at")
        if not force and retry_at and datetime.fromisoformat(retry_at) > _now():
            return {"skipped": "backing off after an error", "next_try_at": retry_at}
        counts: dict[str, int] = {}
        state["last_poll"] = _now().isoformat()
        mailbox = Mailbox(self.settings, self.options)
        try:
            await self._io(mailbox.open)
            await self._poll(mailbox, state, counts)
        except Exception as exc:
            await self._failed(state, exc, counts)
            raise
        finally:
            await asyncio.to_thread(mailbox.close)
        await self._succeeded(state, counts, force=True)
        return counts

    # -- bookkeeping --

    async def _succeeded(self, state: dict[str, Any], counts: dict[str, int], *, force: bool = False) -> None:
        mode = self.mode or state.get("mode")  # a one-off ``poll_once`` leaves the job's mode alone
        changed = bool(counts) or state.get("consecutive_failures") or state.get("mode") != mode
        state.update(consecutive_failures=0, next_try_at=None, last_ok=_now().isoformat(), mode=mode,
                     server=self._server_text())
        if counts:
            state["last_counts"] = counts
            state["last_messages_at"] = _now().isoformat()
        # In IDLE mode a cycle runs every few seconds: keep the row fresh once a minute, not per cycle.
        if force or changed or time.monotonic() - self._last_saved > 60:
            await save_state(self.services, STATE_KEY, state)
            self._last_saved = time.monotonic()

    async def _failed(self, state: dict[str, Any], exc: BaseException, counts: dict[str, int]) -> None:
        failures = int(state.get("consecutive_failures") or 0) + 1
        delay = min(timedelta(seconds=self.options.retry_seconds * 2 ** (failures - 1)), MAX_BACKOFF)
        now = _now()
        message = _describe(exc)
        errors = [{"at": now.isoformat(), "error": message}, *(state.get("errors") or [])][:ERRORS_KEPT]
        state.update(consecutive_failures=failures, next_try_at=(now + delay).isoformat(), last_error=message,
                     last_error_at=now.isoformat(), errors=errors, server=self._server_text())
        if counts:
            state["last_counts"] = counts
        try:
            await save_state(self.services, STATE_KEY, state)
        except Exception:  # the database may be what failed; the job's own record still shows it
            log.exception("email: could not record the poller's failure")
        log.warning("email: IMAP failed (%s), next try in %.0f s", message, delay.total_seconds())

    def _server_text(self) -> str:
        s = self.settings
        return f"{s.imap_host}:{s.imap_port or ''} {s.imap_security} {s.imap_folder}"

    async def _io(self, function: Callable[..., Any], *args: Any) -> Any:
        started = time.perf_counter()
        try:
            return await asyncio.to_thread(function, *args)
        finally:
            self.timings.imap += time.perf_counter() - started

    # -- polling --

    async def _poll(self, mailbox: Mailbox, state: dict[str, Any], counts: dict[str, int]) -> None:
        """Ingest everything above the last finished UID, searching again until nothing is new.

        The final, empty search matters for IDLE: a message that arrived while we were busy may
        have been announced inside another command's response, where IDLE would never see it.
        """
        if state.get("uidvalidity") != mailbox.uidvalidity:
            if state.get("uidvalidity") is not None:
                log.warning("email: UIDVALIDITY changed; rescanning the folder (duplicates are skipped)")
            state.update(uidvalidity=mailbox.uidvalidity, last_uid=0)
        while True:
            uids = await self._io(mailbox.new_uids, int(state.get("last_uid") or 0))
            state["backlog"] = len(uids)
            if not uids:
                return
            await self._ingest_uids(mailbox, uids, state, counts)

    async def _ingest_uids(self, mailbox: Mailbox, uids: list[int], state: dict[str, Any],
                           counts: dict[str, int]) -> None:
        """Fetch, ingest and flag ``uids`` in batches, two batches at a time.

        While one batch waits for its triage and commits, the next is already being parsed (the
        triage runs in another process, ``gateway.triage_service``), and the batch after that
        comes over the wire.  ``last_uid`` only moves past a batch once it and every batch
        before it are finished, so a failure re-fetches (and the ingest's idempotency skips)
        rather than skips.
        """
        last_uid = int(state.get("last_uid") or 0)
        batches = [uids[start:start + self.options.batch] for start in range(0, len(uids), self.options.batch)]
        prefetch: asyncio.Future[_Fetched] | None = asyncio.ensure_future(self._fetch(mailbox, batches[0]))
        running: collections.deque[tuple[int, asyncio.Future[int]]] = collections.deque()

        async def settle_oldest() -> None:
            index, task = running.popleft()
            finished = await task
            state["last_uid"] = max(last_uid, finished)
            state["backlog"] = sum(map(len, batches[index + 1:]))
            await save_state(self.services, STATE_KEY, state)

        try:
            for index, _ in enumerate(batches):
                assert prefetch is not None
                fetched = await prefetch
                prefetch = (asyncio.ensure_future(self._fetch(mailbox, batches[index + 1]))
                            if index + 1 < len(batches) else None)
                running.append((index, asyncio.ensure_future(self._ingest_batch(mailbox, fetched, counts))))
                if len(running) >= BATCHES_IN_FLIGHT:
                    await settle_oldest()
            while running:
                await settle_oldest()
        finally:
            # An error stopped us: let the other work end (each flags only what it committed)
            # before the connection closes.
            for _, task in running:
                with contextlib.suppress(BaseException):
                    await task
            if prefetch is not None:
                with contextlib.suppress(BaseException):
                    await prefetch

    async def _fetch(self, mailbox: Mailbox, batch: list[int]) -> _Fetched:
        refs = await self._io(mailbox.fetch_ids, batch)
        stored = await self._known([ref for ref in refs.values() if ref])
        wanted = [uid for uid in batch if refs[uid] is None or refs[uid] not in stored]
        bodies = await self._io(mailbox.fetch_bodies, wanted) if wanted else {}
        return _Fetched(batch, [uid for uid in batch if uid not in wanted], bodies)

    async def _known(self, refs: list[str]) -> set[str]:
        if not refs:
            return set()
        async with self.services.store.read() as session:
            rows = await session.execute(select(Message.source_ref).where(
                Message.channel == "email", Message.source_ref.in_(refs)))
            return {row[0] for row in rows}

    async def _ingest_batch(self, mailbox: Mailbox, fetched: _Fetched, counts: dict[str, int]) -> int:
        """Ingest a batch concurrently, flag what committed, and return the UID up to which
        everything is finished (raising the first unexpected error after flagging the rest)."""
        counts["already_stored"] = counts.get("already_stored", 0) + len(fetched.known)
        gate = asyncio.Semaphore(self.options.concurrency)

        async def one(uid: int) -> str:
            raw, received_at = fetched.bodies[uid]
            async with gate:
                return await self.handle(raw, received_at, uid=uid)

        present = [uid for uid in fetched.batch if uid in fetched.bodies]  # others were expunged meanwhile
        if self._ingest is None:
            # With the working-day calendar cached, messages reach the triage and then the
            # group-commit queue in mailbox order (one triage worker answers in order), so
            # cases are numbered in mailbox order.
            await self.services.calendar.get()
        outcomes = await asyncio.gather(*(one(uid) for uid in present), return_exceptions=True)
        done = list(fetched.known) + [uid for uid in fetched.batch if uid not in fetched.bodies and
                                      uid not in fetched.known]
        failed: list[tuple[int, BaseException]] = []
        for uid, outcome in zip(present, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                failed.append((uid, outcome))
            else:
                counts[outcome] = counts.get(outcome, 0) + 1
                done.append(uid)
        # Every message in ``done`` is committed (or quarantined, or robot mail): only now flag it.
        await self._io(mailbox.finish, sorted(done))
        if failed:
            raise min(failed, key=lambda item: item[0])[1]
        return fetched.batch[-1]


def _describe(exc: BaseException) -> str:
    if isinstance(exc, MailConfigError | MailTlsError):
        return str(exc)[:300]
    return f"{type(exc).__name__}: {exc}"[:300]


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

    async def send(self, message: OutgoingMessage) -> SendResult:
        now = _now()
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
        now = _now()
        await self.services.store.run_write(
            lambda session: self._ledger_write(session, message, message_id, state, now))


# ----- status ---------------------------------------------------------------------------------------

async def email_status(services: Services) -> dict[str, Any]:
    """What staff see on ``/email`` and in ``hcp email status`` (no personal data)."""
    s = services.settings
    imap = await load_state(services, STATE_KEY)
    job = await load_state(services, "job:email-poll")
    entries = await quarantined(services, include_resolved=True)
    async with services.store.read() as session:
        outbox = {status: count for status, count in (await session.execute(
            select(OutboxMessage.status, func.count()).where(OutboxMessage.channel == "email")
            .group_by(OutboxMessage.status))).all()}
        failures = [
            {"id": row.id, "kind": row.kind, "case_id": row.case_id, "error": row.last_error,
             "attempts": row.attempts, "at": row.next_attempt_at}
            for row in (await session.execute(
                select(OutboxMessage).where(OutboxMessage.channel == "email", OutboxMessage.status == "failed")
                .order_by(OutboxMessage.id.desc()).limit(20))).scalars()]
    return {
        "imap_configured": bool(s.imap_host and s.imap_user and s.imap_password),
        "smtp_configured": bool(s.smtp_host and s.smtp_from),
        "imap_server": f"{s.imap_host}:{s.imap_port or ('993' if s.imap_security == 'tls' else '143')}"
                       if s.imap_host else None,
        "imap_security": s.imap_security, "imap_folder": s.imap_folder,
        "smtp_server": f"{s.smtp_host}:{s.smtp_port or ''}".rstrip(":") if s.smtp_host else None,
        "smtp_security": s.smtp_security,
        "imap": imap, "job": job,
        "quarantined": [e for e in entries if not e.get("resolved_at")],
        "resolved": [e for e in entries if e.get("resolved_at")][:20],
        "outbox": outbox, "outbox_failures": failures,
    }


# ----- wiring -------------------------------------------------------------------------------------

def plugin(services: Services) -> ChannelPlugin:
    """The intake job when IMAP is configured, the sender when SMTP is; nothing otherwise."""
    from gateway.workers import Job

    options = EmailOptions()
    result = ChannelPlugin()
    s = services.settings
    if s.imap_host and s.imap_user and s.imap_password:
        poller = ImapPoller(services, options)
        # ``cycle`` waits by itself (IDLE or the poll interval), so the worker calls it back to back.
        result.jobs.append(Job("email-poll", poller.cycle, interval=0.0, singleton=True))
    if s.smtp_host and s.smtp_from:
        result.senders["email"] = SmtpSender(services, options)
    return result


__all__ = ["EmailOptions", "ImapPoller", "MailConfigError", "MailTlsError", "Mailbox", "SmtpSender", "email_status",
           "plugin", "quarantine", "reprocess_quarantined", "source_ref_of_raw"]
