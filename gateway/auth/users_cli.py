"""``hcp users``: staff accounts.  Passwords are read from standard input, never from arguments
(arguments show up in ``ps`` and shell history)."""

from __future__ import annotations

import sys

import click

from gateway.auth.passwords import PasswordPolicyError
from gateway.auth.roles import ROLES
from gateway.auth.users import UserError, add_user, list_users, set_active, set_password, set_roles
from gateway.core.cli import print_json, with_services
from gateway.core.services import Services


def _read_password() -> str:
    """One line from stdin; with a terminal, asked twice without echo."""
    if sys.stdin.isatty():
        return click.prompt("密码 (password)", hide_input=True, confirmation_prompt=True)
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise click.ClickException("no password on standard input (pipe it in, e.g. `echo ... | hcp users add`)")
    return line


def _run(coroutine_factory) -> None:  # type: ignore[no-untyped-def]
    try:
        coroutine_factory()
    except UserError as exc:
        raise click.ClickException(f"{exc} ({exc.option})" if exc.option else str(exc)) from None
    except PasswordPolicyError as exc:
        raise click.ClickException(str(exc)) from None


@click.group(name="users")
def users_group() -> None:
    """Staff accounts: add, disable, enable, change password or roles, list."""


@users_group.command("add")
@click.argument("name")
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice(list(ROLES)),
              help="repeat for several roles")
@click.option("--town", "towns", multiple=True, help="hall code a handler works for; repeatable")
@click.option("--display-name", help="name shown in the console (defaults to NAME)")
def users_add(name: str, roles: tuple[str, ...], towns: tuple[str, ...], display_name: str | None) -> None:
    """Create account NAME; the password is read from standard input.

    It is an initial password: NAME must choose their own at the first sign-in.
    """
    password = _read_password()

    @with_services
    async def body(services: Services) -> None:
        principal = await add_user(services.store, name, password, list(roles), list(towns), display_name,
                                   must_change_password=True)
        click.echo(f"created {principal.username} ({', '.join(sorted(principal.roles))}); "
                   "they must choose their own password at the first sign-in")

    _run(body)


@users_group.command("passwd")
@click.argument("name")
def users_passwd(name: str) -> None:
    """Reset NAME's password (from standard input); signs them out everywhere.

    NAME must replace it with their own at the next sign-in.
    """
    password = _read_password()

    @with_services
    async def body(services: Services) -> None:
        await set_password(services.store, name, password, must_change=True)
        click.echo(f"password of {name} reset; they must choose their own at the next sign-in")

    _run(body)


@users_group.command("disable")
@click.argument("name")
def users_disable(name: str) -> None:
    """Disable NAME at once (existing sessions end on their next request)."""

    @with_services
    async def body(services: Services) -> None:
        await set_active(services.store, name, False)
        click.echo(f"{name} disabled")

    _run(body)


@users_group.command("enable")
@click.argument("name")
def users_enable(name: str) -> None:
    """Enable a disabled account again."""

    @with_services
    async def body(services: Services) -> None:
        await set_active(services.store, name, True)
        click.echo(f"{name} enabled")

    _run(body)


@users_group.command("roles")
@click.argument("name")
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice(list(ROLES)))
@click.option("--town", "towns", multiple=True)
def users_roles(name: str, roles: tuple[str, ...], towns: tuple[str, ...]) -> None:
    """Replace NAME's roles and towns."""

    @with_services
    async def body(services: Services) -> None:
        await set_roles(services.store, name, list(roles), list(towns))
        click.echo(f"{name}: {', '.join(sorted(roles))}")

    _run(body)


@users_group.command("list")
@click.option("--json", "as_json", is_flag=True)
def users_list(as_json: bool) -> None:
    """List accounts (never their password hashes)."""

    @with_services
    async def body(services: Services) -> None:
        users = await list_users(services.store)
        rows = [{"username": u.username, "display_name": u.display_name, "roles": u.roles, "towns": u.towns,
                 "active": u.active, "last_login_at": u.last_login_at} for u in users]
        if as_json:
            print_json(rows)
            return
        for row in rows:
            state = "" if row["active"] else " [disabled]"
            towns = f" towns={','.join(row['towns'])}" if row["towns"] else ""
            click.echo(f"{row['username']}\t{','.join(row['roles'])}{towns}{state}")

    _run(body)
