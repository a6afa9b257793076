"""Fixtures of the WeChat tests: the account's options, a client for ``/wechat``, and a local fake of
WeChat's API (token, media download, customer-service and template messages, error codes)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from aiohttp import web

from gateway.app import create_app
from gateway.core.services import Services
from gateway.wechat.options import WechatOptions
from tests.wechat.samples import AES_KEY, APP_ID, APP_SECRET, TOKEN

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 200 + b"\xff\xd9"


@dataclass
class FakeWechat:
    """A stand-in for api.weixin.qq.com: answers like WeChat, records every call, fails on demand."""

    url: str = ""
    tokens_issued: int = 0
    expires_in: int = 7200
    calls: list[dict[str, Any]] = field(default_factory=list)
    fail: dict[str, list[int]] = field(default_factory=dict)  # path → errcodes to answer next
    valid: set[str] = field(default_factory=set)

    def _error(self, path: str) -> int | None:
        queue = self.fail.get(path)
        return queue.pop(0) if queue else None

    async def token(self, request: web.Request) -> web.Response:
        self.calls.append({"path": request.path, "query": dict(request.query)})
        if request.query.get("appid") != APP_ID or request.query.get("secret") != APP_SECRET:
            return web.json_response({"errcode": 40125, "errmsg": "invalid appsecret"})
        self.tokens_issued += 1
        token = f"ACCESS_TOKEN_{self.tokens_issued}"
        self.valid = {token}  # a new token ends the old one
        return web.json_response({"access_token": token, "expires_in": self.expires_in})

    def _token_ok(self, request: web.Request) -> bool:
        return request.query.get("access_token") in self.valid

    async def send(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.calls.append({"path": request.path, "token": request.query.get("access_token"), "body": body})
        code = self._error(request.path)
        if code is None and not self._token_ok(request):
            code = 40001
        if code is not None:
            if code == 40001:
                self.valid = set()
            return web.json_response({"errcode": code, "errmsg": f"error {code}"})
        answer: dict[str, Any] = {"errcode": 0, "errmsg": "ok"}
        if request.path.endswith("template/send"):
            answer["msgid"] = 200228332
        return web.json_response(answer)

    async def media(self, request: web.Request) -> web.Response:
        self.calls.append({"path": request.path, "query": dict(request.query)})
        code = self._error(request.path)
        if code is None and not self._token_ok(request):
            code = 40001
        if code is not None:
            return web.json_response({"errcode": code, "errmsg": f"error {code}"})
        return web.Response(body=JPEG, content_type="image/jpeg",
                            headers={"Content-Disposition": 'attachment; filename="MEDIA_ID.jpg"'})

    def sent(self, kind: str) -> list[dict[str, Any]]:
        return [c["body"] for c in self.calls if c["path"] == f"/cgi-bin/message/{kind}/send" and "body" in c]


@pytest.fixture
async def fake_wechat() -> AsyncIterator[FakeWechat]:
    fake = FakeWechat()
    app = web.Application()
    app.router.add_get("/cgi-bin/token", fake.token)
    app.router.add_post("/cgi-bin/message/custom/send", fake.send)
    app.router.add_post("/cgi-bin/message/template/send", fake.send)
    app.router.add_get("/cgi-bin/media/get", fake.media)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    fake.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    yield fake
    await runner.cleanup()


@pytest.fixture
def options(fake_wechat: FakeWechat) -> WechatOptions:
    return WechatOptions(token=TOKEN, aes_key=AES_KEY, app_id=APP_ID, app_secret=APP_SECRET,
                         api_base_url=fake_wechat.url, template_id="TPL-status-notice",
                         _env_file=None)  # type: ignore[call-arg]


@pytest.fixture
async def wechat(services: Services, options: WechatOptions) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(services=services, run_workers=False)
    app.state.wechat_options = options
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=("101.226.103.1", 4000)),
                                 base_url="http://127.0.0.1:8000") as client:
        client.app = app  # type: ignore[attr-defined]
        yield client
