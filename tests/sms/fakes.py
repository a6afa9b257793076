"""Local stand-ins for the Alibaba Cloud and Tencent Cloud SMS APIs.

Each fake recomputes the request signature from what arrived on the wire, following the provider's
published algorithm (written here independently of the SDKs), and refuses a request whose signature
does not match — so a test passes only if the real SDK, pointed at the fake, signed correctly.
They answer in the providers' shapes, can be told to refuse or fail the next requests, and keep
what they were sent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from aiohttp import web

ALI_KEY_ID, ALI_SECRET = "LTAI5tTestKeyId000001", "ali-test-secret-0123456789"
TC_KEY_ID, TC_SECRET = "AKIDtestSecretId0000000000000001", "tencent-test-secret-key-0123"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def acs3_signature(method: str, path: str, query: dict[str, str], headers: dict[str, str], signed: list[str],
                   payload_hash: str, secret: str) -> str:
    """Alibaba Cloud's V3 signature (ACS3-HMAC-SHA256), from its documentation."""
    canonical_query = "&".join(f"{quote(k, safe='~')}={quote(query[k], safe='~')}" for k in sorted(query))
    canonical_headers = "".join(f"{name}:{headers[name].strip()}\n" for name in signed)
    canonical = "\n".join([method, path, canonical_query, canonical_headers, ";".join(signed), payload_hash])
    to_sign = f"ACS3-HMAC-SHA256\n{_sha256(canonical.encode())}"
    return hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()


def tc3_signature(method: str, path: str, content_type: str, host: str, body: bytes, timestamp: int,
                  service: str, secret: str) -> str:
    """Tencent Cloud's TC3-HMAC-SHA256, from its documentation (signed headers content-type;host)."""
    canonical = "\n".join([method, path, "", f"content-type:{content_type}\nhost:{host}\n", "content-type;host",
                           _sha256(body)])
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    to_sign = f"TC3-HMAC-SHA256\n{timestamp}\n{date}/{service}/tc3_request\n{_sha256(canonical.encode())}"

    def mac(key: bytes, text: str) -> bytes:
        return hmac.new(key, text.encode(), hashlib.sha256).digest()

    key = mac(mac(mac(("TC3" + secret).encode(), date), service), "tc3_request")
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


@dataclass
class FakeAlibaba:
    """dysmsapi.aliyuncs.com: ``SendSms`` and ``QuerySendDetails`` (RPC style, parameters in the query)."""

    endpoint: str = ""
    secret: str = ALI_SECRET
    sent: list[dict[str, str]] = field(default_factory=list)
    bad_signatures: int = 0
    next_answers: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    details: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # biz id -> records
    queries: list[dict[str, str]] = field(default_factory=list)

    def verify(self, request: web.Request, body: bytes) -> str | None:
        auth = request.headers.get("Authorization", "")
        prefix = "ACS3-HMAC-SHA256 "
        if not auth.startswith(prefix):
            return "MissingAuthorization"
        parts = dict(item.split("=", 1) for item in auth[len(prefix):].split(","))
        signed = parts.get("SignedHeaders", "").split(";")
        if parts.get("Credential") != ALI_KEY_ID:
            return "InvalidAccessKeyId.NotFound"
        if not {"host", "x-acs-action", "x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256"} <= set(signed):
            return "SignatureDoesNotMatch"
        if request.headers.get("x-acs-content-sha256") != _sha256(body):
            return "SignatureDoesNotMatch"
        headers = {name: request.headers.get(name, "") for name in signed}
        expected = acs3_signature(request.method, request.path, dict(request.query), headers, signed,
                                  _sha256(body), self.secret)
        if not hmac.compare_digest(expected, parts.get("Signature", "")):
            self.bad_signatures += 1
            return "SignatureDoesNotMatch"
        return None

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        problem = self.verify(request, body)
        if problem:
            status = 404 if problem.startswith("InvalidAccessKeyId") else 400
            return web.json_response({"Code": problem, "Message": "Specified signature is not matched.",
                                      "RequestId": "R1"}, status=status)
        if self.next_answers:
            status, answer = self.next_answers.pop(0)
            return web.json_response(answer, status=status)
        action = request.headers.get("x-acs-action")
        query = dict(request.query)
        if action == "SendSms":
            biz_id = f"{secrets.randbelow(10**18)}^0"
            self.sent.append({**query, "BizId": biz_id})
            return web.json_response({"Code": "OK", "Message": "OK", "BizId": biz_id, "RequestId": "R2"})
        if action == "QuerySendDetails":
            self.queries.append(query)
            records = self.details.get(query.get("BizId", ""), [])
            return web.json_response({"Code": "OK", "Message": "OK", "RequestId": "R3", "TotalCount": len(records),
                                      "SmsSendDetailDTOs": {"SmsSendDetailDTO": records}})
        return web.json_response({"Code": "InvalidAction.NotFound", "Message": action, "RequestId": "R4"}, status=404)


@dataclass
class FakeTencent:
    """sms.tencentcloudapi.com, API 2021-01-11: ``SendSms`` (JSON body, TC3-HMAC-SHA256)."""

    endpoint: str = ""
    secret: str = TC_SECRET
    sent: list[dict[str, Any]] = field(default_factory=list)
    bad_signatures: int = 0
    next_answers: list[tuple[int, dict[str, Any]]] = field(default_factory=list)

    @staticmethod
    def reply(response: dict[str, Any], status: int = 200) -> web.Response:
        # The SDK reads the body only for exactly "application/json" (no charset), as Tencent sends it.
        return web.Response(status=status, body=json.dumps({"Response": response}).encode(),
                            content_type="application/json")

    def verify(self, request: web.Request, body: bytes) -> str | None:
        auth = request.headers.get("Authorization", "")
        prefix = "TC3-HMAC-SHA256 "
        if not auth.startswith(prefix):
            return "AuthFailure.SignatureFailure"
        parts = dict(item.strip().split("=", 1) for item in auth[len(prefix):].split(","))
        key_id, date, service, _ = parts.get("Credential", "///").split("/")
        timestamp = int(request.headers.get("X-TC-Timestamp", "0"))
        if key_id != TC_KEY_ID:
            return "AuthFailure.SecretIdNotFound"
        if parts.get("SignedHeaders") != "content-type;host" or service != "sms":
            return "AuthFailure.SignatureFailure"
        if date != datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d"):
            return "AuthFailure.SignatureFailure"
        expected = tc3_signature(request.method, request.path, request.headers.get("Content-Type", ""),
                                 request.headers.get("Host", ""), body, timestamp, service, self.secret)
        if not hmac.compare_digest(expected, parts.get("Signature", "")):
            self.bad_signatures += 1
            return "AuthFailure.SignatureFailure"
        return None

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        problem = self.verify(request, body)
        if problem:
            return self.reply({"Error": {"Code": problem, "Message": "The credentials could not be validated."},
                               "RequestId": "T0"})
        if self.next_answers:
            status, answer = self.next_answers.pop(0)
            return self.reply(answer, status) if status == 200 else web.Response(status=status, text="busy")
        data = json.loads(body)
        if request.headers.get("X-TC-Action") != "SendSms":
            return self.reply({"Error": {"Code": "InvalidAction", "Message": "-"}, "RequestId": "T1"})
        serial = f"2433:{secrets.randbelow(10**28)}"
        self.sent.append({**data, "SerialNo": serial, "Region": request.headers.get("X-TC-Region")})
        return self.reply({"SendStatusSet": [{"SerialNo": serial, "PhoneNumber": data["PhoneNumberSet"][0],
                                              "Fee": 1, "SessionContext": data.get("SessionContext", ""),
                                              "Code": "Ok", "Message": "send success", "IsoCode": "CN"}],
                           "RequestId": "T2"})


@asynccontextmanager
async def serve(handler: Any) -> AsyncIterator[str]:
    """Run ``handler`` for every path on a free local port; yield ``host:port``."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await runner.cleanup()
