"""Fixtures of the hotline tests: Twilio settings, signed webhook requests, a local fake Twilio API."""

from __future__ import annotations

import base64
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from channels.phone.twilio import public_request_url, sign
from gateway.app import create_app
from gateway.core.settings import Settings
from tests.browser import browser, live_server, sqlite_services  # noqa: F401

ACCOUNT = "AC" + "0" * 31 + "1"
TOKEN = "test-auth-token-0123456789abcdef"
PUBLIC = "https://hotline.example.gov.cn"
FROM = "+15005550006"


def sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


@pytest.fixture
def settings(request: pytest.FixtureRequest, tmp_path: Path, database_url: str) -> Settings:
    """The shared settings plus a Twilio account, which also sends SMS.  Webhook test modules set
    ``PUBLIC_URL`` to the https address Twilio calls (behind a proxy); staff-page modules keep plain
    http so that the test client's session cookie (Secure under https) is sent."""
    public_url = getattr(request.module, "PUBLIC_URL", "http://127.0.0.1:8000")
    return Settings(data_dir=tmp_path / "var", database_url=database_url, run_workers=False,
                    twilio_account_sid=ACCOUNT, twilio_auth_token=TOKEN, twilio_from=FROM, public_url=public_url,
                    sms_provider="twilio",
                    _env_file=None)  # type: ignore[call-arg]


class TwilioClient(httpx.AsyncClient):
    """Posts webhooks the way Twilio does: form-encoded, signed for the public URL."""

    async def signed(self, path: str, params: dict[str, str], *, query: str = "", url: str | None = None,
                     token: str = TOKEN, tamper: dict[str, str] | None = None,
                     signature: str | None = "auto") -> httpx.Response:
        target = url or public_request_url(PUBLIC, path, query)
        headers = {}
        if signature == "auto":
            headers["X-Twilio-Signature"] = sign(token, target, params)
        elif signature is not None:
            headers["X-Twilio-Signature"] = signature
        body = {**params, **(tamper or {})}
        return await self.post(path + (f"?{query}" if query else ""), data=body, headers=headers)


@pytest.fixture
async def twilio(services: Any) -> AsyncIterator[TwilioClient]:
    app = create_app(services=services, run_workers=False)
    async with TwilioClient(transport=httpx.ASGITransport(app=app, client=("10.0.0.9", 4444)),
                            base_url="http://127.0.0.1:8000") as client:
        yield client


@dataclass
class FakeTwilio:
    """A local stand-in for api.twilio.com: records requests, answers like Twilio's REST API."""

    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    fail_next: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)

    def _auth_ok(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        expected = "Basic " + base64.b64encode(f"{ACCOUNT}:{TOKEN}".encode()).decode()
        return header == expected

    async def messages(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        self.requests.append({"path": request.path, "form": form, "auth": self._auth_ok(request)})
        if not self._auth_ok(request):
            return web.json_response({"code": 20003, "message": "Authenticate", "status": 401}, status=401)
        if self.fail_next:
            status, body = self.fail_next.pop(0)
            return web.json_response(body, status=status)
        message_sid = sid("SM")
        resource = {
            "sid": message_sid, "account_sid": ACCOUNT, "to": form.get("To"), "from": form.get("From"),
            "body": form.get("Body"), "status": "queued", "num_segments": "1", "direction": "outbound-api",
            "api_version": "2010-04-01", "date_created": format_datetime(datetime.now(UTC)),
            "uri": f"/2010-04-01/Accounts/{ACCOUNT}/Messages/{message_sid}.json", "error_code": None,
            "error_message": None, "price": None, "subresource_uris": {},
        }
        self.sent.append(resource)
        return web.json_response(resource, status=201)

    async def message_list(self, request: web.Request) -> web.Response:
        self.requests.append({"path": request.path, "query": dict(request.query), "auth": self._auth_ok(request)})
        to = request.query.get("To")
        listed = [m for m in self.sent if to is None or m["to"] == to]
        return web.json_response({"messages": listed, "next_page_uri": None, "page": 0, "page_size": 50,
                                  "first_page_uri": request.path, "previous_page_uri": None, "uri": request.path,
                                  "start": 0, "end": len(listed)})

    async def call_list(self, request: web.Request) -> web.Response:
        self.requests.append({"path": request.path, "query": dict(request.query), "auth": self._auth_ok(request)})
        if not self._auth_ok(request):
            return web.json_response({"code": 20003, "message": "Authenticate", "status": 401}, status=401)
        return web.json_response({"calls": self.calls, "next_page_uri": None, "page": 0, "page_size": 200,
                                  "first_page_uri": request.path, "previous_page_uri": None, "uri": request.path,
                                  "start": 0, "end": len(self.calls)})


@pytest.fixture
async def fake_twilio() -> AsyncIterator[FakeTwilio]:
    fake = FakeTwilio()
    app = web.Application()
    app.router.add_post("/2010-04-01/Accounts/{account}/Messages.json", fake.messages)
    app.router.add_get("/2010-04-01/Accounts/{account}/Messages.json", fake.message_list)
    app.router.add_get("/2010-04-01/Accounts/{account}/Calls.json", fake.call_list)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    fake.url = f"http://127.0.0.1:{port}"
    yield fake
    await runner.cleanup()
