"""WeChat's server API: the access token (fetched once for every process, kept in the database),
the customer-service and template message calls, and media downloads.

The token: ``GET /cgi-bin/token`` gives one valid for ``expires_in`` seconds (7,200) and a new one
soon ends the old, and the account may fetch only 2,000 a day, so every gateway and worker process
shares the one in ``wechat_tokens``.  It is refreshed ``token_margin_seconds`` before it expires by
whichever process needs it first, holding a lock so that two do not refresh at once; an answer of
40001 / 40014 / 42001 (invalid or expired token) drops it and the call is made once more with a
fresh one.  The token is sealed like personal data and never logged.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy import select

from gateway.core.db.dialect import insert_for
from gateway.core.db.models_wechat import WechatToken
from gateway.core.locks import singleton
from gateway.wechat.options import WechatOptions

if TYPE_CHECKING:
    from gateway.core.services import Services

log = logging.getLogger(__name__)
TOKEN_ERRORS = frozenset({40001, 40014, 42001})
# Errors after which sending again can never help (user refused, not following, template gone …).
PERMANENT_ERRORS = frozenset({40003, 40037, 43004, 43101, 45015, 48001, 40013, 41001})


class WechatApiError(Exception):
    """An ``errcode`` other than 0 (or an HTTP failure); the message never carries an OpenID."""

    def __init__(self, code: int, message: str) -> None:
        self.code = code
        super().__init__(f"微信接口错误 {code}: {message[:200]}")


@dataclass(frozen=True, slots=True)
class Media:
    content: bytes
    media_type: str
    name: str


class WechatApi:
    """One account's API client; cheap to build (one per sender)."""

    def __init__(self, services: Services, options: WechatOptions, *, timeout: float = 10.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        if not options.outbound:
            raise RuntimeError("WeChat is not configured (HCP_WECHAT_APP_ID, HCP_WECHAT_APP_SECRET)")
        self.services = services
        self.options = options
        self.base = options.api_base_url.rstrip("/")
        self.timeout = timeout
        self.transport = transport

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=self.timeout, transport=self.transport)

    # ----- the shared access token ---------------------------------------------------------------

    async def _stored(self) -> tuple[str, datetime] | None:
        async with self.services.store.read() as session:
            row = await session.get(WechatToken, self.options.app_id)
        if row is None or row.token_enc is None:
            return None
        token = self.services.cipher.open(row.token_enc)
        return (token, row.expires_at) if token else None

    def _fresh(self, stored: tuple[str, datetime] | None, now: datetime) -> str | None:
        if stored is None:
            return None
        token, expires = stored
        return token if expires - timedelta(seconds=self.options.token_margin_seconds) > now else None

    async def access_token(self, *, stale: str | None = None) -> str:
        """A valid token: the shared one, or a new one fetched under the lock.  ``stale`` is a token
        WeChat just refused: another is fetched unless some process already replaced it."""
        now = datetime.now(UTC)
        stored = await self._stored()
        token = self._fresh(stored, now)
        if token is not None and token != stale:
            return token
        lock_dir = self.services.settings.data_dir / "locks"
        for _ in range(50):
            async with singleton(self.services.store, f"wechat-token:{self.options.app_id}", lock_dir) as held:
                if held:
                    stored = await self._stored()
                    token = self._fresh(stored, datetime.now(UTC))
                    if token is not None and token != stale:
                        return token
                    return await self._fetch_token()
            await asyncio.sleep(0.1)  # another process is fetching: its token will be in the table
            token = self._fresh(await self._stored(), datetime.now(UTC))
            if token is not None and token != stale:
                return token
        return await self._fetch_token()

    async def _fetch_token(self) -> str:
        assert self.options.app_secret is not None
        async with self._client() as client:
            response = await client.get(f"{self.base}/cgi-bin/token", params={
                "grant_type": "client_credential", "appid": self.options.app_id,
                "secret": self.options.app_secret.get_secret_value()})
        data = self._json(response)
        token, lifetime = data.get("access_token"), data.get("expires_in")
        if not isinstance(token, str) or not isinstance(lifetime, int):
            raise WechatApiError(-1, "token answer without access_token/expires_in")
        now = datetime.now(UTC)
        cipher = self.services.cipher
        async with self.services.store.write() as session:
            statement = insert_for(session)(WechatToken).values(
                app_id=self.options.app_id, key_id=cipher.current_key_id, token_enc=cipher.seal(token),
                expires_at=now + timedelta(seconds=lifetime), fetched_at=now)
            excluded = statement.excluded
            await session.execute(statement.on_conflict_do_update(index_elements=[WechatToken.app_id], set_={
                "key_id": excluded.key_id, "token_enc": excluded.token_enc, "expires_at": excluded.expires_at,
                "fetched_at": excluded.fetched_at}))
        log.info("wechat: fetched a new access token, valid %d s", lifetime)
        return token

    async def token_state(self) -> dict[str, Any]:
        async with self.services.store.read() as session:
            row = (await session.execute(select(WechatToken.expires_at, WechatToken.fetched_at)
                                         .where(WechatToken.app_id == self.options.app_id))).first()
        return {"expires_at": row.expires_at, "fetched_at": row.fetched_at} if row else {}

    @staticmethod
    def _json(response: httpx.Response) -> dict[str, Any]:
        if response.status_code >= 400:
            raise WechatApiError(-response.status_code, f"HTTP {response.status_code}")
        try:
            data = response.json()
        except ValueError:
            raise WechatApiError(-1, "answer is not JSON") from None
        if not isinstance(data, dict):
            raise WechatApiError(-1, "answer is not a JSON object")
        code = data.get("errcode", 0)
        if code:
            raise WechatApiError(int(code), str(data.get("errmsg", "")))
        return data

    # ----- calls -------------------------------------------------------------------------------

    async def _with_token(self, call: Any) -> Any:
        token = await self.access_token()
        try:
            return await call(token)
        except WechatApiError as exc:
            if exc.code not in TOKEN_ERRORS:
                raise
            log.info("wechat: access token refused (%d); fetching another", exc.code)
            return await call(await self.access_token(stale=token))

    async def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        async def call(token: str) -> dict[str, Any]:
            async with self._client() as client:
                response = await client.post(f"{self.base}{path}", params={"access_token": token}, json=body)
            return self._json(response)

        return await self._with_token(call)  # type: ignore[no-any-return]

    async def send_custom(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self.post("/cgi-bin/message/custom/send", body)

    async def send_template(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self.post("/cgi-bin/message/template/send", body)

    async def media(self, media_id: str) -> Media:
        """A temporary media file (the citizen's picture or voice, kept 3 days by WeChat)."""
        async def call(token: str) -> Media:
            async with self._client() as client:
                response = await client.get(f"{self.base}/cgi-bin/media/get",
                                            params={"access_token": token, "media_id": media_id})
            kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if response.status_code >= 400 or kind in ("application/json", "text/plain"):
                self._json(response)  # raises with WeChat's errcode
                raise WechatApiError(-1, "media answer is not a file")
            if len(response.content) > self.options.max_media_bytes:
                raise WechatApiError(-2, f"media larger than {self.options.max_media_bytes} bytes")
            disposition = response.headers.get("content-disposition", "")
            name = disposition.split("filename=")[-1].strip('"; ') if "filename=" in disposition else ""
            extension = {"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif",
                         "audio/amr": ".amr", "audio/speex": ".speex"}.get(kind, "")
            return Media(response.content, kind or "application/octet-stream",
                         (name or f"wechat-{media_id[:24]}{extension}")[:200])

        return await self._with_token(call)  # type: ignore[no-any-return]
