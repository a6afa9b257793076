"""``hcp``: one entry point with a subcommand per job of an administrator."""

from __future__ import annotations

import json
import logging.config
import sys
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from sqlalchemy import select

from channels.intake import Intake, IntakeError

# Feature command groups (mounted at the end of this module).
from gateway.api import cli as api_cli
from gateway.auth import keys_cli, users_cli
from gateway.console import rosters_cli
from gateway.core import cases as case_ops
from gateway.core.cli import (
    USER_ERRORS,
    database_exists,
    describe_location,
    load_settings,
    print_json,
    progress,
    require_database,
    with_services,
)
from gateway.core.db.models import Case, OutboxMessage, TriageCorrection
from gateway.core.deadlines import DeadlinePolicy
from gateway.core.labels import actor_label, label
from gateway.core.outbox import retry_failed
from gateway.core.registry import (
    RegistryError,
    import_registry,
    list_halls,
    missing_region_codes,
    read_registry_file,
)
from gateway.core.schedule import ScheduleError, parse_schedule
from gateway.core.services import Services
from gateway.core.settings import Settings
from gateway.email import cli as email_cli
from gateway.ops import cli as ops_cli
from gateway.ops.logs import logging_config
from gateway.paper import cli as paper_cli
from gateway.phone import cli as phone_cli
from gateway.results import cli as results_cli
from gateway.ui.format import local_time
from gateway.web import cli as web_cli
from gateway.wechat import cli as wechat_cli


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """hcp — 政务服务“好差评” multi-channel feedback gateway."""


# ----- serving ---------------------------------------------------------------------------------

@main.command()
@click.option("--host", default=None, help="Interface to listen on (HCP_HOST, default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (HCP_PORT, default 8000).")
@click.option("--no-workers", is_flag=True, help="Serve only; run background jobs with `hcp worker`.")
def serve(host: str | None, port: int | None, no_workers: bool) -> None:
    """Serve the web app (and, unless --no-workers, the background jobs)."""
    import logging

    import uvicorn

    from gateway.app import create_app

    settings = load_settings()
    require_database(settings)
    refuse_a_newer_schema(settings)
    click.echo(describe_location(settings), err=True)
    if not settings.public_url_configured:
        logging.getLogger("hcp").warning(
            "HCP_PUBLIC_URL 未设置：链接、二维码海报和短信中的地址 %s 只在本机有效；"
            "请设置群众实际访问的地址（如 https://hcp.example.gov.cn）", settings.public_url)
        click.echo(f"注意：HCP_PUBLIC_URL 未设置，链接和海报只能用本机地址 {settings.public_url}", err=True)
    app = create_app(settings, run_workers=False if no_workers else None)
    uvicorn.run(app, host=host or settings.host, port=port or settings.port, log_level=settings.log_level.lower(),
                log_config=logging_config(settings.log_level, settings.log_format),
                proxy_headers=True, forwarded_allow_ips=",".join(settings.trusted_proxies),
                timeout_graceful_shutdown=30)  # SIGTERM: finish requests in flight (systemd waits 60 s)


@main.command()
def worker() -> None:
    """Run outbox delivery, deadline reminders and channel polling without the web app."""
    import asyncio
    import signal

    from gateway.core.jobs import WorkerRunner
    from gateway.worker import all_jobs

    settings = load_settings()
    require_database(settings)
    refuse_a_newer_schema(settings)
    logging.config.dictConfig(logging_config(settings.log_level, settings.log_format))
    click.echo(describe_location(settings), err=True)

    async def run() -> None:
        services = Services.create(settings)
        await services.prepare_database()
        runner = WorkerRunner(services, all_jobs(services))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, runner.stop.set)
        click.echo("worker running; Ctrl-C to stop", err=True)
        try:
            await runner.run()
        finally:
            await services.close()

    asyncio.run(run())


def refuse_a_newer_schema(settings: Settings) -> None:
    """Stop before serving when a newer hcp has migrated the database (exit code 1, the reason)."""
    from sqlalchemy.engine import make_url

    from gateway.core.db.migrate import SchemaTooNew, current, refuse_newer

    if settings.is_sqlite:
        path = make_url(settings.resolved_database_url).database
        if not path or not Path(path).exists():
            return  # a first start: nothing to compare
    try:
        refuse_newer(current(settings.resolved_database_url))
    except SchemaTooNew as exc:
        raise click.ClickException(str(exc)) from None


@main.command("config")
def show_config() -> None:
    """Print the effective settings (secrets hidden)."""
    print_json(load_settings().public_view())


# ----- database --------------------------------------------------------------------------------

@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database to the latest schema (and load the default halls into an empty one).

    The only command that may create a database and the data directory's key files.
    """
    import asyncio

    settings = load_settings(may_create=True)
    created = not database_exists(settings)
    click.echo(describe_location(settings), err=True)

    async def run() -> str:
        services = Services.create(settings)
        try:
            await services.prepare_database()
            return services.store.dialect
        finally:
            await services.close()

    try:
        dialect = asyncio.run(run())
    except USER_ERRORS as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"database ({dialect}) {'created and ' if created else ''}is at the latest schema")


@db.command("current")
def db_current() -> None:
    """Print the schema revision the database is at."""
    from gateway.core.db.migrate import current

    settings = load_settings()
    if not database_exists(settings):
        click.echo("empty (run `hcp db upgrade`)")
        return
    click.echo(current(settings.resolved_database_url) or "empty (run `hcp db upgrade`)")


# ----- registry --------------------------------------------------------------------------------

@main.group()
def halls() -> None:
    """Halls (towns and streets), their windows, and service items."""


@halls.command("import")
@click.argument("file", type=click.Path(path_type=Path))
def halls_import(file: Path) -> None:
    """Import halls, windows and service items from a TOML or JSON file (idempotent)."""
    try:
        data = read_registry_file(file)
    except RegistryError as exc:
        raise click.ClickException(f"nothing imported:\n{exc}") from None

    @with_services
    async def run(services: Services):  # type: ignore[no-untyped-def]
        return await import_registry(services.store, data)

    try:
        counts = run()
    except RegistryError as exc:
        raise click.ClickException(f"nothing imported:\n{exc}") from None
    click.echo(f"halls: {counts.halls_added} added, {counts.halls_updated} updated; "
               f"windows: {counts.windows_added} added, {counts.windows_updated} updated; "
               f"service items: {counts.items_added} added, {counts.items_updated} updated")


@halls.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def halls_list(as_json: bool) -> None:
    """List halls and their windows."""

    @with_services
    async def run(services: Services):  # type: ignore[no-untyped-def]
        return await list_halls(services.store)

    rows = run()
    if as_json:
        print_json([{"code": h.code, "name": h.name, "kind": h.kind, "town": h.town, "region_code": h.region_code,
                     "active": h.active, "windows": h.windows} for h in rows])
    else:
        for hall in rows:
            windows = "、".join(w["name"] for w in hall.windows)
            kind = label("hall_kind", hall.kind) + (f"（属 {hall.town}）" if hall.town else "")
            click.echo(f"{hall.code:<14} {hall.name:<10} {kind:<8} {hall.region_code or '—':<12} "
                       f"{'' if hall.active else '(停用) '}{windows}")
    missing = missing_region_codes(rows)
    if missing:
        click.echo(f"warning: {len(missing)} active hall(s) have no 12-digit region_code, so their upstream records "
                   f"carry an empty areaCode: {', '.join(h.code for h in missing)} (import the codes with "
                   "`hcp halls import`)", err=True)


# ----- cases -----------------------------------------------------------------------------------

@main.group()
def cases() -> None:
    """Read and move cases (personal data is masked)."""


@cases.command("list")
@click.option("--status", default=None, help="Only cases in this state (received, triaged, …).")
@click.option("--category", default=None, help="immediate, time_limited, coordinated or none.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--before-id", type=int, default=None, help="Keyset pagination: cases older than this id.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def cases_list(status: str | None, category: str | None, limit: int, before_id: int | None, as_json: bool) -> None:
    """List cases, newest first."""

    @with_services
    async def run(services: Services):  # type: ignore[no-untyped-def]
        return await case_ops.list_cases(services.store, services.cipher, status=status, category=category,
                                         limit=limit, before_id=before_id)

    rows = run()
    if as_json:
        print_json(rows)
        return
    for row in rows:
        due = row["deadlines"]["first_response_due"] or row["deadlines"]["result_due"] or "-"
        click.echo(f"{row['code']}  {row['channel']:<5} {row['status']:<14} {row['category'] or '-':<12} "
                   f"due {due}  {(row['subject'] or row['text'])[:30]!s}")


@cases.command("show")
@click.argument("code")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def cases_show(code: str, as_json: bool) -> None:
    """Show one case with its messages and timeline."""

    @with_services
    async def run(services: Services):  # type: ignore[no-untyped-def]
        return await case_ops.show_case(services.store, services.cipher, code.strip().upper())

    case = run()
    if as_json:
        print_json(case)
        return
    click.echo(f"{case['code']}  [{label('status', case['status'])}]  {label('category', case['category'], '未分类')}"
               f"/{label('triage_reason', case['reason'], '-')}  来自{label('channel', case['channel'])}")
    deadlines = case["deadlines"]
    click.echo(f"受理 {_local(case['received_at'])}；首次响应期限 {_local(deadlines['first_response_due'])}；"
               f"办结期限 {_local(deadlines['result_due'])}"
               + ("（节假日安排未知，期限按周末推算）" if deadlines["uncertain"] else "") + "（北京时间）")
    contact = case["contact"]
    click.echo(f"联系人：{contact['name'] or '-'} {contact['phone'] or ''} {contact['email'] or ''}")
    for message in case["messages"]:
        direction = "收到" if message["direction"] == "in" else "发出"
        click.echo(f"--- {direction} {label('channel', message['channel'], message['channel'])} "
                   f"{_local(message['at'])}")
        click.echo(message["text"])
    for event in case["events"]:
        moved = (f" {label('status', event['from_status'])}→{label('status', event['to_status'])}"
                 if event["to_status"] else "")
        click.echo(f"* {_local(event['at'])} {actor_label(event['actor'])} {label('event', event['kind'])}{moved} "
                   f"{event['note'] or ''}")


def _local(iso: str | None) -> str:
    """An ISO time from the store, in Asia/Shanghai as staff read it everywhere else."""
    return local_time(datetime.fromisoformat(iso)) if iso else "-"


@cases.command("move")
@click.argument("code")
@click.argument("action")
@click.option("--note", default=None, help="Required for verdicts, replies and return visits.")
@click.option("--actor", default="admin:cli", show_default=True)
def cases_move(code: str, action: str, note: str | None, actor: str) -> None:
    """Apply a workflow ACTION (start_verification, verify_valid, rectify, reply, close, …)."""

    @with_services
    async def run(services: Services) -> str:
        return await case_ops.transition(services.store, code.strip().upper(), action, actor=actor, note=note,
                                         max_visit_attempts=services.settings.return_visit_attempts)

    click.echo(f"{code}: {run()}")


# The help lists each category's reasons from the rule itself, so it cannot drift from it.
RECLASSIFY_HELP = (
    "Correct the triage of a case to LABEL with REASON; deadlines are recomputed and the correction kept.\n\n"
    "REASON must be one of LABEL's reasons (the rule of the /triage page): "
    + "; ".join(f"{category.value}: {', '.join(reasons)}" for category, reasons in case_ops.TRIAGE_REASONS.items())
    + ".")


@cases.command("reclassify", help=RECLASSIFY_HELP)
@click.argument("code")
@click.argument("label", type=click.Choice([category.value for category in case_ops.TRIAGE_REASONS]))
@click.argument("reason", required=False, metavar="REASON")
@click.option("--actor", default="admin:cli", show_default=True)
def cases_reclassify(code: str, label: str, reason: str | None, actor: str) -> None:
    # REASON stays optional for click, so that a missing one is refused in Chinese with the
    # category's reasons (click's own "Missing argument" names none of them).
    refusal = case_ops.reason_refusal(label, reason, codes=True)
    if refusal is not None:
        raise click.ClickException(f"{refusal}\n用法：hcp cases reclassify {code} {label} 原因代码")

    @with_services
    async def run(services: Services):  # type: ignore[no-untyped-def]
        return await case_ops.reclassify(services.store, await services.calendar.get(), code.strip().upper(),
                                         label, reason, actor=actor,
                                         policy=DeadlinePolicy.from_settings(services.settings))

    result = run()
    click.echo(f"{result.code}: {result.category}/{result.reason or '-'} ({result.status})")


@cases.command("due")
@click.argument("code")
@click.argument("when")
@click.option("--note", default=None)
@click.option("--actor", default="admin:cli", show_default=True)
def cases_due(code: str, when: str, note: str | None, actor: str) -> None:
    """Set the due date of a 协调整改 case (WHEN: 2026-12-15 or 2026-12-15T17:00)."""
    settings = load_settings()
    try:
        moment = datetime.fromisoformat(when)
    except ValueError:
        raise click.ClickException(f"{when!r} is not a date like 2026-12-15 or 2026-12-15T17:00") from None
    if moment.tzinfo is None:
        moment = (moment.replace(hour=17) if len(when) == 10 else moment).replace(tzinfo=ZoneInfo(settings.timezone))

    @with_services
    async def run(services: Services) -> None:
        await case_ops.set_due_date(services.store, code.strip().upper(), moment, actor=actor, note=note)

    run()
    click.echo(f"{code}: due {moment.isoformat()}")


@cases.command("reopen")
@click.argument("code")
@click.option("--reason", required=True, help="Why the closed case is handled again (on its timeline).")
@click.option("--actor", default="admin:cli", show_default=True)
def cases_reopen(code: str, reason: str, actor: str) -> None:
    """Reopen a closed case (重新办理); its deadlines restart from now."""

    @with_services
    async def run(services: Services):  # type: ignore[no-untyped-def]
        return await case_ops.reopen(services.store, await services.calendar.get(), code.strip().upper(),
                                     actor=actor, reason=reason, policy=DeadlinePolicy.from_settings(services.settings))

    case = run()
    click.echo(f"{case.code}: {case.status}, reopened {case.reopen_count}×; first response due "
               f"{case.first_response_due.isoformat() if case.first_response_due else '-'}, result due "
               f"{case.result_due.isoformat() if case.result_due else '-'}")


@main.command("ingest")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def ingest_files(files: tuple[Path, ...]) -> None:
    """Ingest intakes from JSON Lines files (one complaint-model object per line).

    Good lines are stored (exactly once, so re-running a file is safe); bad lines are reported
    with their file and line number, and the command then exits with status 1.
    """
    intakes: list[tuple[str, Intake]] = []
    problems: list[str] = []
    for file in files:
        # JSON Lines ends records with "\n" only: U+2028, U+0085 or a form feed inside a string are text,
        # which str.splitlines() would cut.
        for number, line in enumerate(file.read_text("utf-8").split("\n"), start=1):
            line = line.removesuffix("\r")
            if not line.strip():
                continue
            where = f"{file}:{number}"
            try:
                intakes.append((where, Intake.build(**json.loads(line))))
            except json.JSONDecodeError as exc:
                problems.append(f"{where}: not JSON: {exc.msg}")
            except (IntakeError, TypeError) as exc:
                problems.append(f"{where}: {exc}")

    @with_services
    async def run(services: Services) -> tuple[int, int]:
        created = duplicates = 0
        for where, intake in progress(intakes, desc="ingest"):
            try:
                result = await services.ingestor.ingest(intake)
            except ValueError as exc:
                problems.append(f"{where}: {exc}")
                continue
            created += result.created
            duplicates += result.duplicate
        return created, duplicates

    created, duplicates = run() if intakes else (0, 0)
    for problem in problems:
        click.echo(problem, err=True)
    click.echo(f"{created} new cases, {duplicates} already stored, {len(problems)} rejected")
    if problems:
        sys.exit(1)


# ----- calendar --------------------------------------------------------------------------------

@main.group()
def calendar() -> None:
    """Working-day calendar overrides (days the chinese-calendar package does not know)."""


def _parse_day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date like 2027-01-01") from None


@calendar.command("set")
@click.argument("day")
@click.option("--workday/--holiday", required=True, help="Declare the day a working day or a day off.")
@click.option("--note", default=None)
@click.option("--actor", default="admin:cli", show_default=True)
def calendar_set(day: str, workday: bool, note: str | None, actor: str) -> None:
    """Declare DAY a working day or a day off."""
    parsed = _parse_day(day)

    @with_services
    async def run(services: Services) -> int:
        return await services.calendar.set_override(parsed, workday, note=note, actor=actor)

    moved = run()
    click.echo(f"{parsed}: {'working day' if workday else 'day off'}; deadlines of {moved} open case(s) recomputed")


@calendar.command("unset")
@click.argument("day")
def calendar_unset(day: str) -> None:
    """Remove the override of DAY."""
    parsed = _parse_day(day)

    @with_services
    async def run(services: Services) -> bool:
        return await services.calendar.remove_override(parsed, actor="admin:cli")

    if not run():
        raise click.ClickException(f"{parsed} has no override")
    click.echo(f"{parsed}: override removed")


@calendar.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--year", type=int, default=None, help="Check that the file is this year's schedule.")
@click.option("--actor", default="admin:cli", show_default=True)
def calendar_import(file: Path, year: int | None, actor: str) -> None:
    """Import one year's official schedule (statutory holidays and make-up workdays) from FILE
    (.toml or .csv, format in the README) and recompute the deadlines of every open case.

    Nothing is written when any row is bad: each is named by its line and the exit status is 1."""
    try:
        schedule = parse_schedule(file.read_bytes(), file.name, year=year)
    except ScheduleError as exc:
        for problem in exc.problems:
            click.echo(f"{file}: {problem}", err=True)
        raise SystemExit(1) from None

    @with_services
    async def run(services: Services):  # type: ignore[no-untyped-def]
        return await services.calendar.import_schedule(schedule, actor=actor)

    result = run()
    click.echo(f"{result.year}: {result.holidays} day(s) off and {result.workdays} make-up workday(s) imported; "
               f"deadlines of {result.cases_moved} open case(s) recomputed")


@calendar.command("list")
def calendar_list() -> None:
    """List the overrides."""

    @with_services
    async def run(services: Services):  # type: ignore[no-untyped-def]
        return await services.calendar.list_overrides()

    for row in run():
        click.echo(f"{row.day}  {'working day' if row.workday else 'day off'}  {row.note or ''}")


@calendar.command("check")
@click.argument("day")
def calendar_check(day: str) -> None:
    """Say whether DAY is a working day, and whether the calendar really knows."""
    parsed = _parse_day(day)

    @with_services
    async def run(services: Services):  # type: ignore[no-untyped-def]
        return (await services.calendar.get()).day_kind(parsed)

    kind = run()
    click.echo(f"{parsed}: {'working day' if kind.workday else 'day off'}"
               + ("" if kind.known else " (assumed from the weekday: the calendar does not cover this year)"))


# ----- outbox ----------------------------------------------------------------------------------

@main.group()
def outbox() -> None:
    """Outgoing messages (acknowledgements, replies, upstream pushes)."""


@outbox.command("list")
@click.option("--status", type=click.Choice(["pending", "sending", "sent", "failed"]), default=None)
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
def outbox_list(status: str | None, limit: int) -> None:
    """List outbox rows, newest first (recipients are not shown)."""

    @with_services
    async def run(services: Services):  # type: ignore[no-untyped-def]
        query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
        if status:
            query = query.where(OutboxMessage.status == status)
        async with services.store.read() as session:
            return list((await session.execute(query)).scalars())

    for row in run():
        click.echo(f"{row.id:>6} {row.channel:<8} {row.kind:<16} {row.status:<8} attempts={row.attempts} "
                   f"{row.last_error or ''}")


@outbox.command("retry")
@click.argument("outbox_id", type=int)
def outbox_retry(outbox_id: int) -> None:
    """Queue a failed message again."""

    @with_services
    async def run(services: Services) -> bool:
        return await retry_failed(services.store, outbox_id)

    if not run():
        raise click.ClickException(f"outbox row {outbox_id} does not exist or has not failed")
    click.echo(f"outbox row {outbox_id} queued again")


# ----- triage ----------------------------------------------------------------------------------

def _mount_triage() -> None:
    """``hcp triage …`` comes from the triage package; corrections are read from our database."""
    try:
        from triage.cli import triage_group
    except ImportError:  # the package is optional at this layer; its absence must not break hcp
        return

    def load_corrections() -> list:  # type: ignore[type-arg]
        from triage.suggest import Correction

        @with_services
        async def run(services: Services):  # type: ignore[no-untyped-def]
            async with services.store.read() as session:
                rows = (await session.execute(
                    select(TriageCorrection, Case.code)
                    .join(Case, Case.id == TriageCorrection.case_id)
                    .order_by(TriageCorrection.id))).all()
            return [Correction(text=c.text, old_label=c.old_label, old_reason=c.old_reason, new_label=c.new_label,
                               new_reason=c.new_reason, case_code=code) for c, code in rows]

        return run()

    class _TriageWithDatabase(click.Group):
        def invoke(self, ctx: click.Context):  # type: ignore[no-untyped-def]
            ctx.obj = {**(ctx.obj or {}), "load_corrections": load_corrections}
            return super().invoke(ctx)

    group = _TriageWithDatabase(name="triage", commands=triage_group.commands, help=triage_group.help)
    main.add_command(group)


_mount_triage()


# Every feature's command group, in one list.
for _group in (email_cli.email_group, users_cli.users_group, keys_cli.keys_group, rosters_cli.rosters_group,
               api_cli.api_group, paper_cli.paper_group, paper_cli.slips_group, web_cli.web_group,
               results_cli.report_group, results_cli.demo_group, phone_cli.phone_group,
               wechat_cli.wechat_group, ops_cli.backup_command, ops_cli.restore_command):
    main.add_command(_group)


if __name__ == "__main__":
    main()
