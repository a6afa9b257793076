"""New mail while the poller waits: IMAP IDLE where Dovecot offers it, polling where it does not,
and reconnection after the server drops the connection."""

from __future__ import annotations

import asyncio
import glob
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from gateway.core.db.models import Case
from gateway.core.services import Services
from gateway.email import STATE_KEY, EmailOptions, ImapPoller, Mailbox, load_state
from tests.email import mails
from tests.email.conftest import Dovecot

pytestmark = pytest.mark.usefixtures("mail_settings")
IDLE_BOUND = 4.0


async def cases(services: Services) -> int:
    async with services.store.read() as session:
        return int((await session.execute(select(func.count()).select_from(Case))).scalar_one())


async def wait_until(check: Callable[[], Awaitable[bool]], timeout: float) -> float:
    """Seconds until ``check()`` holds; fails the test after ``timeout``."""
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not within {timeout} s")
        await asyncio.sleep(0.02)
    return time.monotonic() - started


@asynccontextmanager
async def running(poller: ImapPoller) -> AsyncIterator[asyncio.Task[None]]:
    stop = asyncio.Event()
    task = asyncio.ensure_future(poller.run_forever(stop))
    try:
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=5)  # the interrupt ends a long IDLE wait at once


async def idling(poller: ImapPoller) -> bool:
    return poller.mailbox is not None and poller.mode is not None and bool(
        (await load_state(poller.services, STATE_KEY)).get("last_ok"))


async def test_new_mail_arrives_through_idle_without_waiting_for_a_poll(services: Services, dovecot: Dovecot,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # Polling every 10 minutes and waking at least every 60 s: only IDLE can explain a fast case.
    poller = ImapPoller(services, EmailOptions(poll_interval=600, idle_slice=60))
    waits = [0]  # IDLE waits entered. Dovecot announces only mail that arrives once IDLE has begun
    real_wait = Mailbox.wait  # (a message between the last search and IDLE waits for the next slice)

    def counted_wait(mailbox: Mailbox, *args: Any, **kwargs: Any) -> bool:
        waits[0] += 1
        return real_wait(mailbox, *args, **kwargs)

    monkeypatch.setattr(Mailbox, "wait", counted_wait)
    async with running(poller):
        await wait_until(lambda: idling(poller), 10)
        assert poller.mode == "idle"
        await wait_until(lambda: _true(waits[0] > 0), 10)
        await asyncio.sleep(0.3)  # inside the IDLE wait now
        first_wait = waits[0]
        started = time.monotonic()
        await asyncio.to_thread(dovecot.append, mails.build("刚到的投诉 #immediate", message_id="<idle1@x>"))
        await wait_until(lambda: _has(services, 1), 10)
        elapsed = time.monotonic() - started
        # Typically 0.1-0.3 s; the bound leaves room for a loaded CI machine and is still far below
        # anything but IDLE could explain (no poll for 600 s, no wake-up for 60 s).
        assert elapsed < IDLE_BOUND, f"IDLE took {elapsed:.2f} s"
        # And again: the poller is back in IDLE after handling the first one.
        await wait_until(lambda: _true(waits[0] > first_wait), 10)
        await asyncio.sleep(0.3)  # inside the IDLE wait now
        await asyncio.to_thread(dovecot.append, mails.build("第二封", message_id="<idle2@x>"))
        assert await wait_until(lambda: _has(services, 2), 10) < IDLE_BOUND
    assert poller.mailbox is None  # stopping logs out
    assert all_seen(dovecot)
    state = await load_state(services, STATE_KEY)
    assert state["mode"] == "idle" and state["consecutive_failures"] == 0


async def _true(value: bool) -> bool:
    return value


async def _has(services: Services, n: int) -> bool:
    return await cases(services) >= n


def all_seen(dovecot: Dovecot) -> bool:
    return all(b"\\Seen" in flags for flags in dovecot.flags().values())


async def test_idle_switched_off_polls_at_the_interval(services: Services, dovecot: Dovecot) -> None:
    poller = ImapPoller(services, EmailOptions(idle=False, poll_interval=1.0, idle_slice=0.3))
    async with running(poller):
        await wait_until(lambda: idling(poller), 10)
        assert poller.mode == "poll"
        await asyncio.to_thread(dovecot.append, mails.build("轮询模式", message_id="<poll1@x>"))
        assert await wait_until(lambda: _has(services, 1), 5) <= 2.5
    assert (await load_state(services, STATE_KEY))["mode"] == "poll"


async def test_server_without_idle_falls_back_to_polling(services: Services, dovecot_without_idle: Dovecot) -> None:
    settings = services.settings
    settings.imap_port = dovecot_without_idle.port
    dovecot_without_idle.clear()
    slow = ImapPoller(services, EmailOptions(poll_interval=600, idle_slice=0.3))
    async with running(slow):
        await wait_until(lambda: idling(slow), 10)
        assert slow.mode == "poll" and not slow.mailbox.can_idle  # type: ignore[union-attr]
        await asyncio.to_thread(dovecot_without_idle.append, mails.build("无IDLE", message_id="<noidle1@x>"))
        await asyncio.sleep(1.5)
        assert await cases(services) == 0  # no push from this server; the next poll is minutes away
    fast = ImapPoller(services, EmailOptions(poll_interval=0.5, idle_slice=0.3))
    async with running(fast):
        assert await wait_until(lambda: _has(services, 1), 5) < 3
    assert fast.mode == "poll"


def kick(dovecot: Dovecot) -> None:
    """Have Dovecot itself close every session of the user (as a restart or a network cut would)."""
    (config,) = [path for path in glob.glob("/tmp/hcp-dovecot-*/dovecot.conf")
                 if f"port = {dovecot.port}\n" in Path(path).read_text()]
    subprocess.run(["doveadm", "-c", config, "kick", dovecot.user], check=True, capture_output=True, timeout=10)


async def test_reconnects_with_backoff_after_the_server_drops_the_connection(services: Services,
                                                                             dovecot: Dovecot) -> None:
    poller = ImapPoller(services, EmailOptions(poll_interval=600, idle_slice=60, retry_seconds=0.3))
    async with running(poller):
        await wait_until(lambda: idling(poller), 10)
        first = poller.mailbox
        await asyncio.sleep(0.3)
        await asyncio.to_thread(kick, dovecot)

        async def failed_once() -> bool:
            return bool((await load_state(services, STATE_KEY)).get("last_error"))

        await wait_until(failed_once, 5)
        state = await load_state(services, STATE_KEY)
        assert state["consecutive_failures"] == 1 and "closed the connection" in state["last_error"]
        assert state["errors"][0]["error"] == state["last_error"]

        async def reconnected() -> bool:
            return poller.mailbox is not None and poller.mailbox is not first

        await wait_until(reconnected, 5)
        await asyncio.to_thread(dovecot.append, mails.build("断线后", message_id="<after-drop@x>"))
        assert await wait_until(lambda: _has(services, 1), 5) < 3
    state = await load_state(services, STATE_KEY)
    assert state["consecutive_failures"] == 0 and state["last_error"]  # recovered; the error stays visible


async def test_backoff_doubles_while_the_server_is_down(services: Services) -> None:
    settings = services.settings
    from tests.email.conftest import free_port

    settings.imap_port = free_port()  # nothing listens there
    poller = ImapPoller(services, EmailOptions(retry_seconds=0.2, idle_slice=0.1))
    delays = []
    for _ in range(3):
        with pytest.raises(ConnectionRefusedError):
            while True:  # the cycles in between only wait out the back-off
                await poller.cycle()
        state = await load_state(services, STATE_KEY)
        delays.append(round((_parse(state["next_try_at"]) - _parse(state["last_error_at"])), 1))
    assert delays == [0.2, 0.4, 0.8]
    assert state["consecutive_failures"] == 3 and "ConnectionRefusedError" in state["last_error"]


def _parse(moment: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(moment).timestamp()
