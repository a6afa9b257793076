"""``hcp api``: client systems of the inbound API and their keys (secrets are printed once)."""

from __future__ import annotations

import click

from gateway.api.clients import ClientError, add_client, list_clients, revoke_key, rotate_key, set_active
from gateway.core.cli import print_json, with_services
from gateway.core.services import Services


def _run(body) -> None:  # type: ignore[no-untyped-def]
    try:
        body()
    except ClientError as exc:
        raise click.ClickException(str(exc)) from None


@click.group(name="api")
def api_group() -> None:
    """Inbound API clients (queue-calling systems, online platforms)."""


@api_group.command("add")
@click.argument("code")
@click.option("--name", default="", help="a readable name, e.g. 金屯镇叫号系统")
def api_add(code: str, name: str) -> None:
    """Register client CODE and print its first key (shown only now)."""

    @with_services
    async def body(services: Services) -> None:
        issued = await add_client(services.store, services.cipher, code, name)
        click.echo(f"client={issued.client} key={issued.key_id} secret={issued.secret}")

    _run(body)


@api_group.command("rotate")
@click.argument("code")
def api_rotate(code: str) -> None:
    """Issue a new key for CODE; older keys keep working until revoked."""

    @with_services
    async def body(services: Services) -> None:
        issued = await rotate_key(services.store, services.cipher, code)
        click.echo(f"client={issued.client} key={issued.key_id} secret={issued.secret}")

    _run(body)


@api_group.command("revoke")
@click.argument("code")
@click.argument("key_id")
def api_revoke(code: str, key_id: str) -> None:
    """Stop accepting KEY_ID of CODE."""

    @with_services
    async def body(services: Services) -> None:
        await revoke_key(services.store, code, key_id)
        click.echo(f"{code}/{key_id} revoked")

    _run(body)


@api_group.command("disable")
@click.argument("code")
def api_disable(code: str) -> None:
    """Refuse every request of CODE."""

    @with_services
    async def body(services: Services) -> None:
        await set_active(services.store, code, False)
        click.echo(f"{code} disabled")

    _run(body)


@api_group.command("list")
def api_list() -> None:
    """Clients and their keys (never the secrets)."""

    @with_services
    async def body(services: Services) -> None:
        print_json(await list_clients(services.store))

    _run(body)
