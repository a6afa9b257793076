"""The WeChat senders when the account's AppID and AppSecret are set; nothing otherwise.
Messages arrive at ``/wechat`` (``gateway.wechat.routes``); no polling is needed."""

from __future__ import annotations

import logging

from gateway.core.outbox import Sender
from gateway.core.services import Services
from gateway.wechat.options import WechatConfigError, load_options
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
