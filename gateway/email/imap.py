"""IMAP intake (``ImapPoller``): see the package docstring for the order of fetch, ingest and flag."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from imapclient import IMAPClient
from sqlalchemy import select

from channels.email.msgid import extract_ids
from channels.email.parse import ParseOptions, UnparseableEmail, parse_email
from channels.intake import Intake, IntakeError
from gateway.core.db.models import Message
from gateway.core.ingest import IngestError, IngestResult
from gateway.core.services import Services
from gateway.core.settings import Settings
from gateway.email.options import (
    BATCHES_IN_FLIGHT,
    ERRORS_KEPT,
    IDLE_CHECK_SECONDS,
    MAX_BACKOFF,
    PARSE_IN_THREAD_BYTES,
    SEEN,
    STATE_KEY,
    EmailOptions,
    MailConfigError,
    MailTlsError,
    check_security,
    explain_tls_failure,
    tls_context,
    utc_now,
)
from gateway.email.quarantine import quarantine
from gateway.email.state import load_state, save_state, suppress_address

log = logging.getLogger(__name__)


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
            remaining = (datetime.fromisoformat(retry_at) - utc_now()).total_seconds()
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
                state["last_poll"] = utc_now().isoformat()
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
        if not force and retry_at and datetime.fromisoformat(retry_at) > utc_now():
            return {"skipped": "backing off after an error", "next_try_at": retry_at}
        counts: dict[str, int] = {}
        state["last_poll"] = utc_now().isoformat()
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
        state.update(consecutive_failures=0, next_try_at=None, last_ok=utc_now().isoformat(), mode=mode,
                     server=self._server_text())
        if counts:
            state["last_counts"] = counts
            state["last_messages_at"] = utc_now().isoformat()
        # In IDLE mode a cycle runs every few seconds: keep the row fresh once a minute, not per cycle.
        if force or changed or time.monotonic() - self._last_saved > 60:
            await save_state(self.services, STATE_KEY, state)
            self._last_saved = time.monotonic()

    async def _failed(self, state: dict[str, Any], exc: BaseException, counts: dict[str, int]) -> None:
        failures = int(state.get("consecutive_failures") or 0) + 1
        delay = min(timedelta(seconds=self.options.retry_seconds * 2 ** (failures - 1)), MAX_BACKOFF)
        now = utc_now()
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
        """Fetch, ingest and flag ``uids`` in batches, ``BATCHES_IN_FLIGHT`` at a time.

        While one batch waits for its triage and commits, the next is already being parsed (the
        triage runs in another process, ``gateway.core.triage_service``), and the batch after that
        comes over the wire.  ``last_uid`` only moves past a batch once it and every batch
        before it are finished, so a failure re-fetches (and the ingest's idempotency skips)
        rather than skips.
        """
        last_uid = int(state.get("last_uid") or 0)
        batches = [uids[start:start + self.options.batch] for start in range(0, len(uids), self.options.batch)]
        prefetch: asyncio.Future[_Fetched] | None = asyncio.ensure_future(self._fetch(mailbox, batches[0]))
        running: collections.deque[tuple[int, asyncio.Future[int]]] = collections.deque()

        in_order = True  # no batch before those still running has failed

        async def settle_oldest() -> None:
            nonlocal in_order
            index, task = running.popleft()
            try:
                finished = await task
            except BaseException:
                in_order = False
                raise
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
            # before the connection closes, and keep the progress of the batches that finished
            # in order (the caller records ``state`` with the failure).
            for _, task in running:
                try:
                    finished = await task
                except BaseException:
                    in_order = False
                    continue
                if in_order:
                    state["last_uid"] = max(int(state.get("last_uid") or 0), finished)
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
