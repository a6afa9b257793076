"""Every route has a body limit, /login included, counted as the bytes stream in (issue 23, point 3)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from gateway.app import create_app
from gateway.core.services import Services
from tests.staff import anonymous_client, fetch_csrf, make_staff, signed_in

CHUNK = 64 * 1024


class Flood:
    """A request body of ``total`` bytes sent in chunks, remembering how much the app pulled."""

    def __init__(self, total: int, head: bytes = b"") -> None:
        self.total, self.head, self.sent = total, head, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self.head:
            self.sent += len(self.head)
            yield self.head
        while self.sent < self.total:
            self.sent += CHUNK
            yield b"a" * CHUNK


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_login_refuses_a_huge_body_before_reading_it(services: Services) -> None:
    app = create_app(services=services, run_workers=False)
    async with anonymous_client(app) as client:
        await fetch_csrf(client)
        declared = await client.post("/login", content=b"username=" + b"a" * (2 * 1024 * 1024),
                                     headers={"content-type": "application/x-www-form-urlencoded"})
        flood = Flood(200 * 1024 * 1024, b"csrf_token=" + client.csrf.encode() + b"&username=")
        chunked = await client.post("/login", content=flood,
                                    headers={"content-type": "application/x-www-form-urlencoded"})
        boundary = "hcpboundary"
        head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\n"
                "Content-Type: application/octet-stream\r\n\r\n").encode()
        parts = Flood(300 * 1024 * 1024, head)
        multipart = await client.post("/login", content=parts,
                                      headers={"content-type": f"multipart/form-data; boundary={boundary}"})
    assert declared.status_code == 413 and "提交的内容太长" in declared.text
    assert chunked.status_code == 413 and "提交的内容太长" in chunked.text
    assert chunked.headers["x-content-type-options"] == "nosniff", "the refusal carries the security headers"
    assert flood.sent < 1024 * 1024, f"read {flood.sent} bytes of a refused body"
    assert multipart.status_code == 413 and parts.sent < 1024 * 1024


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_staff_routes_and_the_api_have_limits_too(services: Services) -> None:
    await make_staff(services, "wang", ["supervisor"], [])
    app = create_app(services=services, run_workers=False)
    async with signed_in(app, "wang") as client:
        note = Flood(50 * 1024 * 1024, b"csrf_token=" + client.csrf.encode() + b"&note=")
        refused = await client.post("/cases/JX20261128-0001/note", content=note,
                                    headers={"content-type": "application/x-www-form-urlencoded"})
        api = await client.post("/api/v1/evaluations", content=Flood(10 * 1024 * 1024),
                                headers={"content-type": "application/json", "accept": "application/json"})
        small = await client.post_form("/logout")
    assert refused.status_code == 413 and note.sent <= 1024 * 1024 + 2 * CHUNK
    assert api.status_code == 413 and api.json()["error"].startswith("提交的内容太长")
    assert small.status_code == 303, "ordinary posts pass"
