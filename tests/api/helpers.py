"""Signed requests to the inbound API, as a client system would send them."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

import httpx

from gateway.api.signing import signed_headers


class ApiClientDriver:
    def __init__(self, client: httpx.AsyncClient, code: str, key_id: str, secret: str) -> None:
        self.client, self.code, self.key_id, self.secret = client, code, key_id, secret

    def headers(self, path: str, body: bytes, *, timestamp: int | None = None, nonce: str | None = None,
                method: str = "POST") -> dict[str, str]:
        return {"content-type": "application/json", **signed_headers(
            self.code, self.key_id, self.secret.encode(), method, path, body,
            timestamp=int(time.time()) if timestamp is None else timestamp,
            nonce=nonce or secrets.token_urlsafe(16))}

    async def post(self, path: str, payload: Any, **kwargs: Any) -> httpx.Response:
        body = json.dumps(payload, ensure_ascii=False).encode()
        return await self.client.post(path, content=body, headers=self.headers(path, body, **kwargs))


def matter(number: str = "BJ2026113000001", **overrides: Any) -> dict[str, Any]:
    return {"matter_no": number, "service_item": {"code": "SB001", "name": "城乡居民基本养老保险参保登记"},
            "department": "人社所", "hall": "jintun", "window": "w01", "staff_no": "J001",
            "applicant": {"type": "person", "name": "赵六", "phone": "13700001234", "notify": "sms"},
            "finished_at": "2026-11-30T10:15:00+08:00", **overrides}
