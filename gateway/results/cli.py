"""``hcp report`` (the supervisors' Excel and CSV reports) and ``hcp demo`` (demo data)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from gateway.core.cli import load_settings, progress, with_services
from gateway.core.services import Services


def _today(tz: str) -> date:
    return datetime.now(UTC).astimezone(ZoneInfo(tz)).date()


def _parse_day(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date like 2026-11-01", param_hint=name) from None


def _codes(value: str | None) -> tuple[str, ...] | None:
    if not value:
        return None
    return tuple(part.strip() for part in value.split(",") if part.strip())


@click.group(name="report")
def report_group() -> None:
    """The supervisors' reports (通报): Excel workbook and CSV of cases."""


def _filters(services: Services, day_from: str, day_to: str, halls: str | None, channels: str | None,
             items: str | None, sources: str | None = None):  # type: ignore[no-untyped-def]
    from gateway.results.figures import Filters, Period

    start, end = _parse_day(day_from, "--from"), _parse_day(day_to, "--to")
    assert start is not None and end is not None
    return Filters(Period(start, end, services.settings.timezone), halls=_codes(halls),
                   channels=_codes(channels), service_items=_codes(items), sources=_codes(sources))


_period_options = [
    click.option("--from", "day_from", required=True, help="First day (YYYY-MM-DD, Asia/Shanghai)."),
    click.option("--to", "day_to", required=True, help="Last day, included."),
    click.option("--hall", "halls", default=None, help="Only these hall codes (comma-separated)."),
    click.option("--channel", "channels", default=None, help="Only these channels (email,phone,paper,web)."),
    click.option("--item", "items", default=None, help="Only these service item codes."),
    click.option("--source", "sources", default=None,
                 help="Only these evaluation sources (once,matter,complaint,box,hotline,email,supervision)."),
    click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), required=True,
                 help="File to write."),
]


def _with_period_options(func):  # type: ignore[no-untyped-def]
    for option in reversed(_period_options):
        func = option(func)
    return func


@report_group.command("xlsx")
@_with_period_options
def report_xlsx(day_from: str, day_to: str, halls: str | None, channels: str | None, items: str | None,
                sources: str | None, output: Path) -> None:
    """Excel workbook of a period: 通报 figures, town ranking, trends, overdue and unvisited cases."""
    from gateway.results.assessment import AssessmentRulesError, read_rules
    from gateway.results.report import write_workbook

    try:
        rules = read_rules(load_settings().assessment_rules)
    except AssessmentRulesError as exc:
        raise click.ClickException(f"the 考核 rules cannot be used (HCP_ASSESSMENT_RULES):\n{exc}") from None

    @with_services
    async def run(services: Services) -> dict:  # type: ignore[type-arg]
        filters = _filters(services, day_from, day_to, halls, channels, items, sources)
        return await write_workbook(services, filters, output, rules)

    summary = run()
    click.echo(f"{output}: {summary['evaluations']} evaluations, {summary['overdue']} overdue, "
               f"{summary['unvisited']} real-name 差评 without return visit")


@report_group.command("csv")
@_with_period_options
def report_csv(day_from: str, day_to: str, halls: str | None, channels: str | None, items: str | None,
               sources: str | None, output: Path) -> None:
    """CSV of the cases of a period (personal data masked), UTF-8 with BOM for Excel."""
    from gateway.results.export import write_cases_csv

    @with_services
    async def run(services: Services) -> int:
        filters = _filters(services, day_from, day_to, halls, channels, items, sources)
        with output.open("w", encoding="utf-8-sig", newline="") as handle:
            return await write_cases_csv(services, filters, handle)

    click.echo(f"{output}: {run()} cases")


@report_group.command("check-assessment")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False), required=False)
def check_assessment(file: Path | None) -> None:
    """Check a 考核 rules file (default: the one in force); every problem with its line."""
    from gateway.results.assessment import RATE_LABELS, AssessmentRulesError, read_rules

    path = file or load_settings().assessment_rules
    try:
        rules = read_rules(path)
    except AssessmentRulesError as exc:
        raise click.ClickException(str(exc)) from None
    weights = "，".join(f"{RATE_LABELS[n]} {w:g}" for n, w in rules.weights.model_dump().items())
    click.echo(f"{path or 'default rules'}: ok; full marks {rules.full_marks:g} ({weights})")


@click.group(name="demo")
def demo_group() -> None:
    """Demo data for a new installation and for the benchmarks."""


@demo_group.command("seed")
@click.option("--cases", "count", type=click.IntRange(1, 10_000_000), required=True, help="How many cases.")
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed (same seed, same data).")
@click.option("--days", type=click.IntRange(1, 3660), default=730, show_default=True,
              help="Spread the cases over this many days before --until.")
@click.option("--until", default=None, help="Last day of the demo data (YYYY-MM-DD; default today).")
def demo_seed(count: int, seed: int, days: int, until: str | None) -> None:
    """Insert realistic demo cases (codes DEMOyyyymmdd-nnnnn) over all towns, channels and states."""
    from gateway.results import demo, rollup

    settings = load_settings()
    last_day = _parse_day(until, "--until") or _today(settings.timezone)

    @with_services
    async def run(services: Services) -> dict:  # type: ignore[type-arg]
        calendar = await services.calendar.get()
        with progress(range(count), total=count, desc="demo cases") as bar:  # type: ignore[attr-defined]
            totals = await demo.seed_demo(
                services.store, services.cipher, calendar, cases=count, seed=seed, until=last_day, days=days,
                tz=settings.timezone, tracking_prefix=settings.tracking_prefix, progress=bar.update)
        first = date.fromisoformat(totals["first_day"])
        with progress(range(days), total=days, desc="figures roll-up") as day_bar:  # type: ignore[attr-defined]
            await rollup.after_bulk_load(services.store, [first + timedelta(days=i) for i in range(days)],
                                         settings.timezone, progress=day_bar)
        return totals

    totals = run()
    click.echo(f"seeded {totals['cases']} demo cases ({totals['messages']} messages, {totals['events']} events, "
               f"{totals['contacts']} contacts) from {totals['first_day']} to {totals['last_day']}")
