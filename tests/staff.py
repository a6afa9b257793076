"""Staff accounts and signed-in HTTP clients for route tests."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette

from gateway.auth.users import add_user
from gateway.core.services import Services

PASSWORD = "correct-horse-42"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def make_staff(services: Services, username: str, roles: Sequence[str] = ("handler",),
                     towns: Sequence[str] = ("jintun",)) -> str:
    """Create an account (handlers default to 金屯镇, code ``jintun``); return its user name."""
    town_list = list(towns) if "handler" in roles or "mailroom" in roles else []
    await add_user(services.store, username, PASSWORD, list(roles), town_list)
    return username


class StaffClient(httpx.AsyncClient):
    """An httpx client on the ASGI app that remembers the session's CSRF token."""

    csrf: str = ""

    async def post_form(self, url: str, data: dict | None = None, **kwargs) -> httpx.Response:  # type: ignore[no-untyped-def,type-arg]
        return await self.post(url, data={"csrf_token": self.csrf, **(data or {})}, **kwargs)


def anonymous_client(app: Starlette) -> StaffClient:
    return StaffClient(transport=httpx.ASGITransport(app=app, client=("10.0.0.1", 5555)),
                       base_url="http://testserver", headers={"accept": "text/html"})


async def fetch_csrf(client: StaffClient, path: str = "/login") -> str:
    page = await client.get(path)
    match = CSRF.search(page.text)
    assert match, f"no CSRF token on {path}: {page.status_code}"
    client.csrf = match.group(1)
    return client.csrf


@asynccontextmanager
async def signed_in(app: Starlette, username: str, password: str = PASSWORD) -> AsyncIterator[StaffClient]:
    """``async with signed_in(app, "wang") as client``: a client signed in as ``username``."""
    async with anonymous_client(app) as client:
        await fetch_csrf(client)
        response = await client.post("/login", data={"username": username, "password": password,
                                                     "csrf_token": client.csrf, "next": "/console"})
        assert response.status_code == 303, response.text
        await fetch_csrf(client, "/console")
        yield client
