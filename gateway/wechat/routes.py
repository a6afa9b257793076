"""The account's callback URL and the staff page.

``GET /wechat``: WeChat's check when the URL is saved in the account's 服务器配置 — answer
``echostr`` when the signature is good, else 403.  ``POST /wechat``: every message; the signature
(and in safe mode ``msg_signature``) and the timestamp window are checked before anything is read,
the body is at most 64 KB.  A refusal is 403 with a Chinese reason (WeChat's servers do not show
it to anyone; staff see it in their proxy logs).  ``/wechat/status``: what staff need to know,
first of all whether the channel is configured at all.

OpenIDs are personal data: they never appear in a log line, a URL or an error text here.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from channels.intake import IntakeError
from channels.wechat.crypto import CryptoError, aes_key, open_envelope, seal_reply
from channels.wechat.messages import MAX_BODY_BYTES, MessageError, parse, text_reply
from channels.wechat.signing import SignatureError, check
from gateway.auth.access import public, staff
from gateway.core.db.models import Message, OutboxMessage
from gateway.wechat import spool
from gateway.wechat.api import WechatApi
from gateway.wechat.inbound import Handled, handle, late_acknowledgement
from gateway.wechat.options import WechatConfigError, WechatOptions, load_options

log = logging.getLogger(__name__)
XML = "application/xml"
_OPENID_PARAM = re.compile(r"(openid=)[^&\s]+", re.IGNORECASE)


class OpenIdScrubber(logging.Filter):
    """Masks ``openid=…`` in access-log lines: WeChat puts the sender's OpenID in the callback URL's
    query string, and uvicorn's access log would otherwise write it to disk."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_OPENID_PARAM.sub(r"\1***", a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str) and "openid=" in record.msg.lower():
            record.msg = _OPENID_PARAM.sub(r"\1***", record.msg)
        return True


def install_log_scrubber() -> None:
    """Put the scrubber on uvicorn's access log (once)."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, OpenIdScrubber) for f in access.filters):
        access.addFilter(OpenIdScrubber())


def _options(request: Request) -> WechatOptions:
    options = getattr(request.app.state, "wechat_options", None)
    if options is None:
        try:
            options = load_options()
        except WechatConfigError as exc:
            log.error("wechat: configuration: %s", exc)
            request.app.state.wechat_config_error = str(exc)
            options = WechatOptions.model_construct()  # off: every field unset
        request.app.state.wechat_options = options
    return options


def _token(options: WechatOptions) -> str:
    if not options.inbound:
        raise HTTPException(403, "未配置微信公众号（HCP_WECHAT_TOKEN），拒绝该请求")
    assert options.token is not None
    return options.token.get_secret_value()


def _signed(request: Request, options: WechatOptions) -> None:
    query = request.query_params
    try:
        check(_token(options), query.get("signature"), query.get("timestamp"), query.get("nonce"),
              now=time.time(), window=options.timestamp_window)
    except SignatureError as exc:
        log.warning("wechat: request refused: %s", exc.reason)
        raise HTTPException(403, "微信签名校验失败") from None


@public(why="WeChat signature checked")
async def echo(request: Request) -> Response:
    options = _options(request)
    _signed(request, options)
    echostr = request.query_params.get("echostr", "")
    if not echostr or len(echostr) > 128:
        raise HTTPException(400, "缺少 echostr")
    return PlainTextResponse(echostr)


async def _body(request: Request) -> bytes:
    if int(request.headers.get("content-length") or 0) > MAX_BODY_BYTES:
        raise HTTPException(413, "消息过大")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise HTTPException(413, "消息过大")
    return body


def _tasks(request: Request) -> set[asyncio.Task[Any]]:
    tasks = getattr(request.app.state, "wechat_tasks", None)
    if tasks is None:
        tasks = request.app.state.wechat_tasks = set()
    return tasks


@public(why="WeChat signature checked")
async def receive(request: Request) -> Response:
    options = _options(request)
    _signed(request, options)
    services = request.app.state.services
    query = request.query_params
    body = await _body(request)
    encrypted = query.get("encrypt_type", "raw").lower() == "aes"
    if encrypted:
        if options.aes_key is None or not options.app_id:
            raise HTTPException(403, "收到加密消息，但未配置 HCP_WECHAT_AES_KEY 和 HCP_WECHAT_APP_ID")
        key = aes_key(options.aes_key.get_secret_value())
        try:
            xml = open_envelope(body, token=_token(options), key=key, app_id=options.app_id,
                                msg_signature=query.get("msg_signature"), timestamp=query.get("timestamp"),
                                nonce=query.get("nonce"), now=time.time(), window=options.timestamp_window)
        except SignatureError as exc:
            log.warning("wechat: encrypted request refused: %s", exc.reason)
            raise HTTPException(403, "微信消息签名校验失败") from None
        except CryptoError as exc:
            log.warning("wechat: encrypted request refused: %s", exc)
            raise HTTPException(400, "无法解密该消息") from None
        raw = xml.encode("utf-8")
    else:
        if options.aes_key is not None and options.app_id and query.get("encrypt_type") is None \
                and b"<Encrypt>" in body:
            raise HTTPException(400, "加密消息缺少 encrypt_type")
        raw = body
    try:
        message = parse(raw)
    except MessageError as exc:
        log.warning("wechat: unreadable message: %s", exc)
        raise HTTPException(400, "无法读取该消息") from None

    task: asyncio.Task[Handled] = asyncio.ensure_future(handle(services, options, message, raw))
    try:
        handled = await asyncio.wait_for(asyncio.shield(task), options.reply_seconds)
    except TimeoutError:
        # Once answered "success", WeChat never sends this message again: keep it on disk first.
        try:
            kept = await asyncio.to_thread(spool.write, spool.spool_dir(services.settings), services.cipher,
                                           message.msg_id or secrets.token_hex(8), raw)
        except OSError as exc:
            log.error("wechat: a slow message could not be kept on disk (%s); WeChat will send it again",
                      type(exc).__name__)
            late = asyncio.ensure_future(_answer_later(services, message, task, None))
            _tasks(request).add(late)
            late.add_done_callback(_tasks(request).discard)
            raise HTTPException(503, "暂时无法受理，请稍后再试") from None
        late = asyncio.ensure_future(_answer_later(services, message, task, kept))
        _tasks(request).add(late)
        late.add_done_callback(_tasks(request).discard)
        return PlainTextResponse("success")
    except (IntakeError, MessageError) as exc:
        log.warning("wechat: message refused: %s", type(exc).__name__)
        return PlainTextResponse("success")
    if not handled.reply:
        return PlainTextResponse("success")
    reply = text_reply(message, handled.reply, now=datetime.now(UTC))
    if encrypted:
        assert options.aes_key is not None and options.app_id is not None
        reply = seal_reply(reply, token=_token(options), key=aes_key(options.aes_key.get_secret_value()),
                           app_id=options.app_id, nonce=secrets.token_hex(8), timestamp=str(int(time.time())))
    return Response(reply, media_type=XML)


async def _answer_later(services: Any, message: Any, task: asyncio.Task[Handled], kept: Any) -> None:
    """Acknowledge a message stored after its passive reply was missed, then drop its spool file
    (``kept``); a message refused as unreadable goes too.  On any other failure the file stays for
    the ``wechat-spool`` job."""
    try:
        handled = await task
        await late_acknowledgement(services, message, handled)
    except (IntakeError, MessageError) as exc:
        log.warning("wechat: late message refused: %s", type(exc).__name__)
    except Exception as exc:  # the message itself was stored or not as a whole; nothing half-done
        log.warning("wechat: late message failed, kept for the wechat-spool job: %s", type(exc).__name__)
        return
    if kept is not None:
        await asyncio.to_thread(spool.remove, kept)


@staff("supervisor", "triage", "admin")
async def status_page(request: Request) -> Response:
    services = request.app.state.services
    options = _options(request)
    tz = ZoneInfo(services.settings.timezone)
    async with services.store.read() as session:
        inbound = (await session.execute(select(func.count(), func.max(Message.at)).where(
            Message.channel == "wechat", Message.direction == "in"))).one()
        outbox = dict((await session.execute(select(OutboxMessage.status, func.count()).where(
            OutboxMessage.channel.in_(("wechat", "wechat_media"))).group_by(OutboxMessage.status))).all())
        failures = list((await session.execute(select(OutboxMessage).where(
            OutboxMessage.channel.in_(("wechat", "wechat_media")), OutboxMessage.status == "failed")
            .order_by(OutboxMessage.id.desc()).limit(20))).scalars())
    token = await WechatApi(services, options).token_state() if options.outbound else {}
    return request.app.state.templates.TemplateResponse(request, "wechat_status.html", {
        "options": options, "missing": options.missing(), "inbound_count": inbound[0],
        "last_inbound": inbound[1].astimezone(tz) if inbound[1] else None, "outbox": outbox,
        "failures": [{"id": f.id, "kind": f.kind, "case_id": f.case_id, "error": f.last_error} for f in failures],
        "token_expires": token.get("expires_at").astimezone(tz) if token.get("expires_at") else None,
        "safe_mode": options.aes_key is not None, "template": bool(options.template_id),
        "config_error": getattr(request.app.state, "wechat_config_error", None)})


routes = [
    Route("/wechat", echo, methods=["GET"], name="wechat_echo"),
    Route("/wechat", receive, methods=["POST"], name="wechat_receive"),
    Route("/wechat/status", status_page, methods=["GET"], name="wechat_status"),
]
