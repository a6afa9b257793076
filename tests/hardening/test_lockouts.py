"""Lock-outs that do not lock out the owner (issue 23, points 9 and 10): sign-in back-off per account
at an address and per address, kept in the database and shared by two apps on one database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from gateway.app import create_app
from gateway.core.limits import Backoff, SharedLimit
from gateway.core.services import Services
from tests.staff import PASSWORD, StaffClient, fetch_csrf, make_staff


def client_at(app, address: str) -> StaffClient:  # type: ignore[no-untyped-def]
    return StaffClient(transport=httpx.ASGITransport(app=app, client=(address, 5555)),
                       base_url="http://testserver", headers={"accept": "text/html"})


async def attempt(client: StaffClient, username: str, password: str) -> int:
    return (await client.post("/login", data={"username": username, "password": password,
                                              "csrf_token": client.csrf})).status_code


async def test_an_attacker_elsewhere_does_not_lock_the_owner_out(services: Services) -> None:
    await make_staff(services, "zhao", ["supervisor"])
    gateway_a = create_app(services=services, run_workers=False)
    gateway_b = create_app(services=services, run_workers=False)  # a second gateway on the same database
    async with client_at(gateway_a, "203.0.113.9") as attacker_a, client_at(gateway_b, "203.0.113.9") as attacker_b:
        await fetch_csrf(attacker_a)
        await fetch_csrf(attacker_b)
        codes = [await attempt(attacker_a if i % 2 else attacker_b, "zhao", f"guess-{i}") for i in range(6)]
    assert codes[:5] == [400] * 5 and codes[5] == 429, "both gateways count the same failures"
    async with client_at(gateway_b, "10.1.1.5") as owner:
        await fetch_csrf(owner)
        assert await attempt(owner, "zhao", PASSWORD) == 303, "the owner, at another address, signs in"


async def test_back_off_doubles_and_is_forgotten(services: Services) -> None:
    backoff = Backoff(services.store, free=3, cap=timedelta(minutes=15))
    start = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    waits = []
    for n in range(8):
        at = start + timedelta(seconds=n)
        await backoff.failed("k", at)
        waits.append(await backoff.wait("k", at))
    assert waits == [0, 0, 1, 2, 4, 8, 16, 32]
    later = start + timedelta(days=2)
    assert await backoff.wait("k", later) == 0
    assert await backoff.failed("k", later) == 1, "a day without failures starts again"
    assert backoff.delay(40) == timedelta(minutes=15)


async def test_a_shared_limit_holds_across_two_instances(services: Services) -> None:
    one = SharedLimit(services.store, 3, 600, prefix="t")
    two = SharedLimit(services.store, 3, 600, prefix="t")  # as in a second gateway process
    now = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    waits = [await (one if i % 2 else two).hit("addr", now + timedelta(seconds=i)) for i in range(5)]
    assert waits[:3] == [0, 0, 0] and waits[3] == 597 and waits[4] == 596
    assert await one.hit("addr", now + timedelta(seconds=601)) == 0, "the window slides"
    assert await two.hit("other", now) == 0


async def test_the_web_form_limit_is_shared_by_two_gateways(services: Services) -> None:
    from tests.web.citizen import citizen, link, notice

    services.settings.web_submissions_per_client = 2
    gateways = [create_app(services=services, run_workers=False) for _ in range(2)]
    path = link(services)
    statuses = []
    for n in range(3):
        async with citizen(gateways[n % 2], "10.0.0.99") as person:
            await person.open(path)
            page = await person.submit(path, text=f"第{n}件")
            statuses.append(page.status_code)
    assert statuses == [303, 303, 429] and "提交太频繁" in notice(page)
