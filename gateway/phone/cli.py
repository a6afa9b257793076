"""``hcp phone …``: import the exchange's call records, list call-backs and calls, record a return visit."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from sqlalchemy import select

from channels.contact import mask_phone
from channels.phone.workorders import parse_orders, results_csv, results_xlsx
from gateway.core.cli import print_json, progress, with_services
from gateway.core.db.models_phone import PhoneCall
from gateway.core.services import Services
from gateway.phone.importer import fetch_twilio_calls, read_file, store_parsed
from gateway.phone.options import PhoneOptions
from gateway.phone.return_visits import open_callbacks, record_visit
from gateway.phone.workorders import OrderCounts, import_orders, order_results


@click.group(name="phone")
def phone_group() -> None:
    """The hotline: call records, call-backs and return visits (回访)."""


def _mapping(pairs: tuple[str, ...]) -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        field, sep, header = pair.partition("=")
        if not sep or not field.strip() or not header.strip():
            raise click.BadParameter(f"{pair!r} is not FIELD=HEADER (for example caller=主叫号码)", param_hint="--map")
        mapping[field.strip()] = header.strip()
    return mapping


@phone_group.command("import")
@click.argument("file", required=False, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["asterisk", "csv", "twilio", "12345"]), default="asterisk",
              show_default=True, help="Asterisk Master.csv, a CSV with a header, Twilio's call list, or the 12345 "
                                      "platform's work-order export (xlsx or CSV).")
@click.option("--map", "maps", multiple=True, metavar="FIELD=HEADER",
              help="CSV: which header holds a field (call_id, caller, start, status, answered_at, end, duration, "
                   "talk_seconds, agent, direction; for 12345: order_no, called_at, caller, name, text, title, town, "
                   "unit, due, kind); repeatable.")
@click.option("--tz", default=None, help="Time zone of naive CDR times (default HCP_TIMEZONE).")
@click.option("--since", default=None, metavar="YYYY-MM-DD",
              help="Twilio without FILE: calls since this day (default: the last 2 days).")
@click.option("--json", "as_json", is_flag=True, help="Print the counts and problems as JSON.")
def import_calls(file: Path | None, fmt: str, maps: tuple[str, ...], tz: str | None, since: str | None,
                 as_json: bool) -> None:
    """Import call records from FILE (or, with --format twilio and no FILE, from Twilio's REST API).

    Missed and abandoned calls become call-back tasks; answered calls are matched to the operators'
    logs by number and time.  Bad rows are reported with their row numbers; the good rows are kept.
    Importing the same records again stores nothing twice.
    """
    mapping = _mapping(maps)
    if file is None and fmt != "twilio":
        raise click.UsageError("FILE is required for --format asterisk, csv and 12345")
    if fmt == "12345":
        assert file is not None
        _import_orders(file, mapping, tz, as_json)
        return

    @with_services
    async def run(services: Services) -> tuple[dict, list]:
        options = PhoneOptions()
        zone = tz or services.settings.timezone
        try:
            ZoneInfo(zone)
        except Exception:
            raise ValueError(f"unknown time zone {zone!r}") from None
        if file is not None:
            parsed = read_file(file, fmt, mapping=mapping, tz=zone, area_code=options.area_code)
        else:
            start = (datetime.strptime(since, "%Y-%m-%d").replace(tzinfo=ZoneInfo(zone)) if since
                     else datetime.now(UTC) - timedelta(days=2))
            parsed = await fetch_twilio_calls(services, since=start, area_code=options.area_code)
        bar = progress(range(len(parsed.records)), total=len(parsed.records), desc="通话记录")
        counts = await store_parsed(services, parsed, options=options,
                                    progress=getattr(bar, "update", None))
        if hasattr(bar, "close"):
            bar.close()
        return counts.as_dict(), parsed.problems

    counts, problems = run()
    label = str(file) if file is not None else "twilio"
    if as_json:
        print_json({"counts": counts, "problems": [{"row": p.row, "kind": p.kind, "message": p.message}
                                                     for p in problems]})
    else:
        for problem in problems:
            prefix = {"error": "", "duplicate": "duplicate: ", "skipped": "skipped: "}[problem.kind]
            click.echo(f"{label}:{problem.row}: {prefix}{problem.message}", err=True)
        errors = sum(1 for p in problems if p.kind == "error")
        click.echo(f"{counts['new']} new calls, {counts['already']} already imported, {errors} rejected, "
                   f"{sum(1 for p in problems if p.kind == 'duplicate')} duplicate rows, "
                   f"{sum(1 for p in problems if p.kind == 'skipped')} skipped")
        click.echo(f"answered: {counts['answered']} ({counts['matched']} matched to operator logs, "
                   f"{counts['unmatched']} without a log); call-back tasks: {counts['callbacks']} new, "
                   f"{counts['merged']} merged into an open task, {counts['reached_later']} got through later, "
                   f"{counts['no_number']} without a number; {counts['tasks_closed']} tasks closed")
    if any(p.kind == "error" for p in problems):
        sys.exit(1)


def _import_orders(file: Path, mapping: dict[str, str], tz: str | None, as_json: bool) -> None:
    """``hcp phone import FILE --format 12345``: each work order one case (idempotent by 工单编号)."""

    @with_services
    async def run(services: Services) -> OrderCounts:
        zone = tz or services.settings.timezone
        try:
            ZoneInfo(zone)
        except Exception:
            raise ValueError(f"unknown time zone {zone!r}") from None
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise ValueError(f"{file}: {exc.strerror or exc}") from None
        try:
            parsed = parse_orders(data, mapping, tz=zone, area_code=PhoneOptions().area_code)
        except ValueError as exc:
            raise ValueError(f"{file}: {exc}") from None
        bar = progress(range(len(parsed.orders)), total=len(parsed.orders), desc="12345工单")
        counts = await import_orders(services, parsed, source_file=file.name, progress=getattr(bar, "update", None))
        if hasattr(bar, "close"):
            bar.close()
        return counts

    counts = run()
    if as_json:
        print_json({"counts": counts.as_dict(), "problems": [{"row": p.row, "kind": p.kind, "message": p.message}
                                                             for p in counts.problems]})
    else:
        for problem in counts.problems:
            prefix = {"error": "", "duplicate": "duplicate: ", "skipped": "skipped: "}[problem.kind]
            click.echo(f"{file}:{problem.row}: {prefix}{problem.message}", err=True)
        errors = sum(1 for p in counts.problems if p.kind == "error")
        click.echo(f"{counts.new} new work orders, {counts.already} already imported, {errors} rejected, "
                   f"{sum(1 for p in counts.problems if p.kind == 'duplicate')} duplicate rows"
                   + (f"; {counts.no_town} with a 所属镇街 that matches no hall" if counts.no_town else ""))
    if any(p.kind == "error" for p in counts.problems):
        sys.exit(1)


@phone_group.command("export-12345")
@click.option("-o", "--output", "output", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="The file to write (.xlsx or .csv).")
@click.option("--from", "since", default=None, metavar="YYYY-MM-DD", help="Orders called on or after this day.")
@click.option("--to", "until", default=None, metavar="YYYY-MM-DD", help="Orders called on or before this day.")
@click.option("--answered", is_flag=True, help="Only orders that have an answer.")
@click.option("--encoding", type=click.Choice(["gbk", "utf-8"]), default="gbk", show_default=True,
              help="CSV only: the platform's import takes GBK.")
@click.option("--mark", is_flag=True, help="Record the export time on the answered orders.")
def export_12345(output: Path, since: str | None, until: str | None, answered: bool, encoding: str,
                 mark: bool) -> None:
    """Write the 办理结果 of 12345 work orders in the platform's layout (工单编号, 承办单位, 办理状态, 办理结果 …)."""

    @with_services
    async def run(services: Services) -> int:
        zone = ZoneInfo(services.settings.timezone)
        try:
            start = datetime.strptime(since, "%Y-%m-%d").replace(tzinfo=zone) if since else None
            end = (datetime.strptime(until, "%Y-%m-%d").replace(tzinfo=zone) + timedelta(days=1)) if until else None
        except ValueError:
            raise ValueError("--from and --to take a day as YYYY-MM-DD") from None
        results = await order_results(services, since=start, until=end, answered_only=answered, mark=mark)
        tz = services.settings.timezone
        data = (results_xlsx(results, tz=tz) if output.suffix.lower() == ".xlsx"
                else results_csv(results, tz=tz, encoding=encoding))
        output.write_bytes(data)
        return len(results)

    count = run()
    click.echo(f"{count} work orders written to {output}")


@phone_group.command("callbacks")
@click.option("--json", "as_json", is_flag=True)
def list_callbacks(as_json: bool) -> None:
    """Open call-backs, most urgent first (missed calls, 立整立改 call backs, return visits)."""

    @with_services
    async def run(services: Services) -> list[dict]:
        tz = ZoneInfo(services.settings.timezone)
        return [entry.as_dict(tz) for entry in await open_callbacks(services)]

    entries = run()
    if as_json:
        print_json(entries)
        return
    if not entries:
        click.echo("no open call-backs")
    for entry in entries:
        click.echo(f"{entry['countdown']:<14} {entry['label']:<12} {entry['phone'] or '-':<16} "
                   f"{entry['case_code'] or entry['ref']:<18} attempts {entry['attempts']}")


@phone_group.command("calls")
@click.option("--unmatched", is_flag=True, help="Only answered calls without an operator's log.")
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def list_calls(unmatched: bool, limit: int, as_json: bool) -> None:
    """Imported calls, newest first, numbers masked."""

    @with_services
    async def run(services: Services) -> list[dict]:
        tz = ZoneInfo(services.settings.timezone)
        query = select(PhoneCall).order_by(PhoneCall.started_at.desc()).limit(limit)
        if unmatched:
            query = query.where(PhoneCall.outcome == "answered", PhoneCall.message_id.is_(None))
        async with services.store.read() as session:
            rows = list((await session.execute(query)).scalars())
        return [{"source": r.source, "call_id": r.call_id, "caller": mask_phone(services.cipher.open(r.caller_enc)),
                 "started_at": r.started_at.astimezone(tz).isoformat(), "outcome": r.outcome,
                 "talk_seconds": r.talk_seconds, "matched": r.message_id is not None} for r in rows]

    rows = run()
    if as_json:
        print_json(rows)
        return
    for row in rows:
        click.echo(f"{row['started_at'][:19]}  {row['outcome']:<9} {row['caller'] or '-':<16} "
                   f"{row['talk_seconds']:>5}s  {'matched' if row['matched'] else '':<7}  "
                   f"{row['source']}:{row['call_id']}")


@phone_group.command("visit")
@click.argument("code")
@click.option("--reached/--not-reached", required=True, help="Whether the citizen answered.")
@click.option("--satisfied/--unsatisfied", default=None, help="The citizen's verdict (reached only).")
@click.option("--note", default=None)
@click.option("--by", "who", default="cli", show_default=True, help="Who made the call.")
def visit(code: str, reached: bool, satisfied: bool | None, note: str | None, who: str) -> None:
    """Record a return visit (回访) on case CODE."""

    @with_services
    async def run(services: Services) -> dict:
        result = await record_visit(services, code.strip().upper(), reached=reached, who=who, satisfied=satisfied,
                                    note=note)
        return {"case": result.case_code, "status": result.status, "transitioned": result.transitioned}

    print_json(run())
