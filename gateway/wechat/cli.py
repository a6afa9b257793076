"""``hcp wechat …``: whether the channel is configured, and the shared access token."""

from __future__ import annotations

import click

from gateway.core.cli import print_json, with_services
from gateway.core.services import Services
from gateway.wechat.api import WechatApi
from gateway.wechat.options import WechatConfigError, WechatOptions, load_options


@click.group(name="wechat")
def wechat_group() -> None:
    """The WeChat Official Account channel (微信公众号)."""


def _options() -> WechatOptions:
    try:
        return load_options()
    except WechatConfigError as exc:
        raise click.ClickException(str(exc)) from None


@wechat_group.command("status")
def status() -> None:
    """What is configured and the access token's expiry (never the token itself)."""
    options = _options()

    @with_services
    async def run(services: Services) -> dict:
        token = await WechatApi(services, options).token_state() if options.outbound else {}
        return {"inbound": options.inbound, "outbound": options.outbound, "safe_mode": options.aes_key is not None,
                "template": bool(options.template_id), "missing": options.missing(),
                "token_expires_at": token.get("expires_at")}

    print_json(run())


@wechat_group.command("token")
def token() -> None:
    """Fetch (or reuse) the shared access token now and print its expiry: a check of AppID and AppSecret."""
    options = _options()
    if not options.outbound:
        raise click.ClickException("set HCP_WECHAT_APP_ID and HCP_WECHAT_APP_SECRET first")

    @with_services
    async def run(services: Services) -> dict:
        api = WechatApi(services, options)
        await api.access_token()
        return await api.token_state()

    print_json(run())
