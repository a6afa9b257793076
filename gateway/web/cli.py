"""``hcp web``: the signed links of the 找茬窗口 form, for posters, QR codes and notices."""

from __future__ import annotations

from urllib.parse import urlencode

import click

from channels.web.form import ENTRIES
from channels.web.links import window_url
from gateway.core.cli import print_json, with_services
from gateway.core.services import Services
from gateway.web.state import RegistryCache


@click.group(name="web")
def web_group() -> None:
    """The 找茬窗口 web form: signed window links."""


@web_group.command("link")
@click.option("--hall", "hall_code", required=True, help="Hall code, e.g. jintun (see `hcp halls list`).")
@click.option("--window", "window_code", default=None, help="One window; default: every active window of the hall.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON objects instead of text lines.")
@with_services
async def link(services: Services, hall_code: str, window_code: str | None, as_json: bool) -> None:
    """Print the signed form link of a hall's windows (and the hall's general form link).

    The links are what the window posters' QR codes hold; a link whose signature does not match
    is refused by the form, so print them from this command, never by hand.
    """
    settings = services.settings
    if not settings.public_url_configured:
        raise click.ClickException(
            f"HCP_PUBLIC_URL 未设置：链接需要群众从外面能打开的地址，现在只有本机地址 {settings.public_url}。"
            "请在 hcp.toml 或环境变量中设置 HCP_PUBLIC_URL（如 https://hcp.example.gov.cn）。")
    snapshot = await RegistryCache(services.store).get()
    hall = snapshot.halls.get(hall_code)
    if hall is None:
        known = ", ".join(snapshot.halls) or "none"
        raise click.ClickException(f"unknown or inactive hall {hall_code!r}; known halls: {known}")
    if window_code is not None and window_code not in hall.windows:
        known = ", ".join(hall.windows) or "none"
        raise click.ClickException(f"hall {hall_code} has no active window {window_code!r}; its windows: {known}")
    codes = [window_code] if window_code else list(hall.windows)
    key = settings.signing_key()
    rows = [{"hall": hall_code, "window": code, "name": f"{hall.name} {hall.windows[code]}",
             "url": window_url(settings.public_url, key, hall_code, code)} for code in codes]
    if window_code is None:
        general = settings.public_url.rstrip("/") + "/f?" + urlencode({"hall": hall_code, "src": "box"})
        rows.append({"hall": hall_code, "window": None, "name": f"{hall.name} 通用评价（{ENTRIES['box']}）",
                     "url": general})
    if as_json:
        print_json(rows)
    elif window_code:
        click.echo(rows[0]["url"])
    else:
        for row in rows:
            click.echo(f"{row['window'] or '-':<6} {row['url']}  {row['name']}")
