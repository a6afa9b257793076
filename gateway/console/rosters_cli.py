"""``hcp rosters``: window shifts from the command line (CSV import, listing, account links)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from sqlalchemy import select

from gateway.core.cli import print_json, with_services
from gateway.core.db.models_staff import User
from gateway.core.rosters import RosterError, import_csv, link_user, shifts_between
from gateway.core.services import Services


@click.group(name="rosters")
def rosters_group() -> None:
    """Who works at which window when (attribution of evaluations to staff)."""


@rosters_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def rosters_import(file: Path) -> None:
    """Import shifts from CSV (hall,window,employee_no,name,starts_at,ends_at); bad rows are listed."""

    @with_services
    async def body(services: Services) -> int:
        try:
            report = await import_csv(services.store, file.read_text(encoding="utf-8-sig"), actor="cli")
        except RosterError as exc:
            raise click.ClickException(str(exc)) from None
        for line, problem in report.errors:
            click.echo(f"{file}:{line}: {problem}", err=True)
        click.echo(f"{report.added} added, {report.unchanged} already there, {len(report.errors)} rejected")
        return 1 if report.errors else 0

    raise SystemExit(body())


@rosters_group.command("list")
@click.option("--hall", required=True)
@click.option("--day", type=click.DateTime(["%Y-%m-%d"]), default=None, help="default: today")
@click.option("--json", "as_json", is_flag=True)
def rosters_list(hall: str, day: datetime | None, as_json: bool) -> None:
    """The shifts of one hall on one day."""

    @with_services
    async def body(services: Services) -> None:
        tz = ZoneInfo(services.settings.timezone)
        start = datetime.combine(day.date() if day else datetime.now(tz).date(), time(0), tzinfo=tz)
        shifts = await shifts_between(services.store, hall, start, start + timedelta(days=1))
        rows = [{"window": s.window_code, "employee_no": s.employee_no, "name": s.name,
                 "starts_at": s.starts_at.astimezone(tz).isoformat(), "ends_at": s.ends_at.astimezone(tz).isoformat()}
                for s in shifts]
        if as_json:
            print_json(rows)
        else:
            for row in rows:
                click.echo(f"{row['window']}\t{row['employee_no']}\t{row['name']}\t{row['starts_at']}\t{row['ends_at']}")

    body()


@rosters_group.command("link")
@click.option("--hall", required=True)
@click.option("--employee-no", required=True)
@click.option("--user", "username", required=True, help="console account that may read this person's evaluations")
def rosters_link(hall: str, employee_no: str, username: str) -> None:
    """Connect a window staff member to their console account."""

    @with_services
    async def body(services: Services) -> None:
        async with services.store.read() as session:
            user_id = (await session.execute(select(User.id).where(User.username == username))).scalar_one_or_none()
        if user_id is None:
            raise click.ClickException(f"no user named {username!r}")
        try:
            await link_user(services.store, hall=hall, employee_no=employee_no, user_id=user_id)
        except RosterError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"{hall}/{employee_no} → {username}")

    body()


