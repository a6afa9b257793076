"""The WeChat senders when the account's AppID and AppSecret are set; nothing otherwise.
Messages arrive at ``/wechat`` (``gateway.wechat.routes``); no polling is needed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from channels.intake import IntakeError
from channels.wechat.messages import MessageError, parse
from gateway.core.jobs import Job
from gateway.core.outbox import Sender
from gateway.core.services import Services
from gateway.wechat import spool
from gateway.wechat.inbound import handle, late_acknowledgement
from gateway.wechat.options import WechatConfigError, WechatOptions, load_options
from gateway.wechat.sender import MediaSender, WechatSender

log = logging.getLogger(__name__)


def senders(services: Services) -> dict[str, Sender]:
    try:
        options = load_options()
    except WechatConfigError as exc:  # the channel stays off; /wechat/status and the log say why
        log.error("wechat: not started: %s", exc)
        return {}
    if not options.outbound:
        return {}
    return {"wechat": WechatSender(services, options), "wechat_media": MediaSender(services, options)}


def jobs(services: Services, options: WechatOptions | None = None) -> list[Job]:
    """``wechat-spool``: store the messages a process answered ``success`` for but died before
    storing (``gateway.wechat.spool``), and acknowledge them."""
    if options is None:
        try:
            options = load_options()
        except WechatConfigError:
            return []
    directory = spool.spool_dir(services.settings)

    async def run() -> Mapping[str, Any]:
        stored = failed = 0
        for path in await asyncio.to_thread(spool.pending, directory):
            try:
                raw = await asyncio.to_thread(spool.read, path, services.cipher)
                message = parse(raw)
                handled = await handle(services, options, message, raw)
                await late_acknowledgement(services, message, handled)
            except (IntakeError, MessageError) as exc:
                log.warning("wechat-spool: message refused, dropped: %s", type(exc).__name__)
            except Exception as exc:  # the database is down…: the file stays for the next run
                log.warning("wechat-spool: not stored yet: %s", type(exc).__name__)
                failed += 1
                continue
            await asyncio.to_thread(spool.remove, path)
            stored += 1
        return {"stored": stored, "waiting": failed}

    return [Job("wechat-spool", run, interval=60.0, singleton=True)]
