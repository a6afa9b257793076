"""An HTTP citizen for the 找茬窗口 tests: opens a form page, keeps its token and cookie, submits."""

from __future__ import annotations

import html
import re
from typing import Any

import httpx
from starlette.applications import Starlette

from channels.web.links import window_path
from gateway.core.services import Services

TOKEN = re.compile(r'name="t" value="([^"]+)"')


def link(services: Services, hall: str = "jintun", window: str = "w01") -> str:
    return window_path(services.settings.signing_key(), hall, window)


class Citizen(httpx.AsyncClient):
    """One browser: its own ``hcp_fc`` cookie, the last token it was given."""

    token: str = ""

    async def open(self, path: str) -> httpx.Response:
        page = await self.get(path)
        match = TOKEN.search(page.text)
        if match:
            self.token = html.unescape(match.group(1))
        return page

    async def submit(self, path: str, token: str | None = None, **fields: Any) -> httpx.Response:
        data = {"t": self.token if token is None else token, **fields}
        response = await self.post(path, data={k: v for k, v in data.items() if v is not None})
        match = TOKEN.search(response.text)
        if match:
            self.token = html.unescape(match.group(1))
        return response


def citizen(app: Starlette, address: str = "10.0.0.7") -> Citizen:
    return Citizen(transport=httpx.ASGITransport(app=app, client=(address, 40000)), base_url="http://testserver",
                   headers={"accept": "text/html"})


def receipt_code(page: httpx.Response) -> str:
    match = re.search(r'id="tracking-code">([^<]+)<', page.text)
    assert match, page.text[:2000]
    return match.group(1)


def notice(page: httpx.Response) -> str:
    match = re.search(r'id="notice">([^<]+)<', page.text)
    return html.unescape(match.group(1)) if match else ""
