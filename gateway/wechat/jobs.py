"""The WeChat senders when the account's AppID and AppSecret are set; nothing otherwise.
Messages arrive at ``/wechat`` (``gateway.wechat.routes``); no polling is needed."""

from __future__ import annotations

from gateway.core.outbox import Sender
from gateway.core.services import Services
from gateway.wechat.options import WechatOptions
from gateway.wechat.sender import MediaSender, WechatSender


def senders(services: Services) -> dict[str, Sender]:
    options = WechatOptions()
    if not options.outbound:
        return {}
    return {"wechat": WechatSender(services, options), "wechat_media": MediaSender(services, options)}
