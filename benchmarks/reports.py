"""Results at scale: each dashboard figure query, the triage queue and the overdue list, at 1,000,000 cases.

Fills each database up to ``--cases`` demo cases (``hcp demo seed``'s generator, timed), brings the
daily roll-up up to date (timed), then runs every query ``--repeat`` times after one warm-up and
prints the median and the worst time against the goal of 200 ms each.

    python benchmarks/reports.py [--cases 1000000] [--sqlite PATH] [--postgres URL|none] [--repeat 5]

Defaults: SQLite in ``var/bench-reports.db`` and PostgreSQL database ``hcp_bench`` on
127.0.0.1:5432 (created when missing).  The databases are kept between runs, so seeding happens
once; ``--fresh`` starts them again.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from gateway.core.db.models import Case
from gateway.core.services import Services
from gateway.core.settings import Settings
from gateway.results import demo, rollup, views
from gateway.results.figures import Dim, Filters, Names, Period, compute
from gateway.results.lists import latest_rectified, overdue, return_visit_exceptions, triage_queue

GOAL_MS = 200.0
TZ = "Asia/Shanghai"
UNTIL = date(2026, 11, 28)  # the demo's anchor day: deterministic data whatever day the benchmark runs
NOW = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai, the demo's anchor moment


async def ensure_postgres_database(url: str) -> None:
    parsed = make_url(url)
    admin = create_async_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            exists = (await connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                               {"n": parsed.database})).first()
            if not exists:
                await connection.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    finally:
        await admin.dispose()


async def drop_postgres_database(url: str) -> None:
    parsed = make_url(url)
    admin = create_async_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    finally:
        await admin.dispose()


def upgrade_sqlite_keeping_rows(path: Path) -> None:
    """Migrate with foreign keys off, as SQLite's own guide for table rebuilds says.

    Alembic rebuilds a SQLite table to alter it (copy, drop, rename); with ``foreign_keys=ON`` the
    drop of the old ``cases`` cascades to every case's messages, events and contacts.  A kept
    benchmark database crossing such a migration would lose them, so migrate it here first.
    """
    from alembic import command
    from sqlalchemy import create_engine

    from gateway.core.db.migrate import alembic_config

    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            config = alembic_config(f"sqlite+aiosqlite:///{path}")
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            connection.commit()
    finally:
        engine.dispose()


async def fill(services: Services, target: int) -> None:
    async with services.store.read() as session:
        have = (await session.execute(select(func.count()).select_from(Case))).scalar_one()
    if have >= target:
        print(f"  {have:,} cases already there")
        return
    missing = target - have
    seed = 1000 + have  # a fresh seed for every top-up, so each is new data
    started = time.perf_counter()
    done = [0]

    def tick(n: int) -> None:
        done[0] += n
        if done[0] % 100_000 < n:
            rate = done[0] / (time.perf_counter() - started)
            print(f"    {done[0]:>9,} cases  {rate:,.0f}/s", flush=True)

    totals = await demo.seed_demo(services.store, services.cipher, await services.calendar.get(), cases=missing,
                                  seed=seed, until=UNTIL, days=730, tz=TZ, tracking_prefix="JX", progress=tick)
    seconds = time.perf_counter() - started
    rows = totals["cases"] + totals["messages"] + totals["events"] + totals["contacts"]
    print(f"  seeded {missing:,} cases ({rows:,} rows) in {seconds:,.0f} s: {missing / seconds:,.0f} cases/s")
    started = time.perf_counter()
    written = await rollup.after_bulk_load(services.store, [UNTIL - timedelta(days=i) for i in range(730)], TZ)
    print(f"  roll-up of 730 days rebuilt in {time.perf_counter() - started:,.1f} s ({written:,} rows)")


async def analyze(services: Services) -> None:
    async with services.store.write() as session:
        await session.execute(text("ANALYZE"))


def queries(services: Services, names: Names) -> list[tuple[str, Callable[[], Awaitable[Any]]]]:
    month = Period.month_of(UNTIL, TZ)
    year = Period(date(UNTIL.year, 1, 1), UNTIL, TZ)
    twelve = Period(views.month_start(UNTIL, 11), month.end, TZ)
    custom = Period(UNTIL - timedelta(days=89), UNTIL, TZ)
    two_years = Period(UNTIL - timedelta(days=729), UNTIL, TZ)
    store = services.store

    def figures(filters: Filters, by: list[Dim]) -> Callable[[], Awaitable[Any]]:
        async def run() -> Any:
            async with store.read() as session:
                return await compute(session, filters, by, names=names)
        return run

    def listing(fn: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> Callable[[], Awaitable[Any]]:
        async def run() -> Any:
            async with store.read() as session:
                return await fn(session, names, *args, **kwargs)
        return run

    return [
        ("month by town (public page)", figures(Filters(month), [Dim.HALL])),
        ("month by channel", figures(Filters(month), [Dim.CHANNEL])),
        ("month by window, all towns", figures(Filters(month), [Dim.WINDOW])),
        ("month by day", figures(Filters(month), [Dim.DAY])),
        ("month by week", figures(Filters(month), [Dim.WEEK])),
        ("12 months by month (trend)", figures(Filters(twelve), [Dim.MONTH])),
        ("year to date by town", figures(Filters(year), [Dim.HALL])),
        ("year to date by town and month", figures(Filters(year), [Dim.HALL, Dim.MONTH])),
        ("90-day custom range, one town", figures(Filters(custom, halls=("jintun",)), [])),
        ("two years, whole county", figures(Filters(two_years), [])),
        ("month by service item", figures(Filters(month), [Dim.SERVICE_ITEM])),
        ("month, one service item, by town", figures(Filters(month, service_items=("SB001",)), [Dim.HALL])),
        ("month by staff member", figures(Filters(month), [Dim.STAFF])),
        ("month by window and channel (cases table)", figures(Filters(month), [Dim.WINDOW, Dim.CHANNEL])),
        ("week, one town, web only, by window (cases)", figures(
            Filters(Period.week_of(UNTIL, TZ), halls=("jintun",), channels=("web",)), [Dim.WINDOW])),
        ("latest rectified, county (public)", listing(latest_rectified, limit=10)),
        ("latest rectified, one hall (screen)", listing(latest_rectified, hall_code="jintun", limit=6)),
        ("triage queue, first page", listing(triage_queue)),
        ("triage queue, one town", listing(triage_queue, halls=("jintun",))),
        ("overdue list, first page", listing(overdue, now=NOW)),
        ("overdue list, one town", listing(overdue, now=NOW, halls=("jintun",))),
        ("return-visit exceptions, year", listing(return_visit_exceptions, Filters(year))),
    ]


async def follow_pages(services: Services, names: Names) -> list[tuple[str, float]]:
    """Keyset paging deep into the lists: the tenth page costs what the first does."""
    results = []
    for label, fn, kwargs in (("overdue list, page 10", overdue, {"now": NOW}),
                              ("triage queue, page 10", triage_queue, {})):
        cursor = None
        async with services.store.read() as session:
            for _ in range(9):
                page = await fn(session, names, cursor=cursor, **kwargs)
                cursor = page.cursor
                if cursor is None:
                    break
            started = time.perf_counter()
            await fn(session, names, cursor=cursor, **kwargs)
            results.append((label, (time.perf_counter() - started) * 1000))
    return results


async def bench(label: str, url: str, args: argparse.Namespace, data_dir: Path) -> list[tuple[str, float, float]]:
    print(f"\n== {label}: {url.split('@')[-1]}")
    if url.startswith("sqlite") and Path(url.split("///", 1)[1]).exists():
        upgrade_sqlite_keeping_rows(Path(url.split("///", 1)[1]))
    settings = Settings(data_dir=data_dir, database_url=url, run_workers=False, _env_file=None)  # type: ignore[call-arg]
    services = Services.create(settings)
    await services.prepare_database()
    try:
        await fill(services, args.cases)
        started = time.perf_counter()
        state = await rollup.refresh(services.store, TZ)
        print(f"  roll-up refresh: {state['days']} days in {time.perf_counter() - started:,.1f} s")
        await analyze(services)
        async with services.store.read() as session:
            names = await Names.load(session)
            count = (await session.execute(select(func.count()).select_from(Case))).scalar_one()
        print(f"  {count:,} cases; each query: median and worst of {args.repeat} runs after a warm-up\n")
        rows = []
        for name, run in queries(services, names):
            await run()
            times = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                result = await run()
                times.append((time.perf_counter() - started) * 1000)
            size = len(result.rows) if hasattr(result, "rows") else len(result)
            median, worst = statistics.median(times), max(times)
            mark = "ok" if worst <= GOAL_MS else "SLOW"
            print(f"  {name:<44} {median:8.1f} ms  (worst {worst:7.1f})  {size:>4} rows  {mark}", flush=True)
            rows.append((name, median, worst))
        for name, ms in await follow_pages(services, names):
            print(f"  {name:<44} {ms:8.1f} ms  {'ok' if ms <= GOAL_MS else 'SLOW'}")
            rows.append((name, ms, ms))
        started = time.perf_counter()
        await views.public_view(services, month=UNTIL.replace(day=1))
        ms = (time.perf_counter() - started) * 1000
        print(f"  {'whole public page data (7 queries)':<44} {ms:8.1f} ms")
        return rows
    finally:
        await services.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--sqlite", type=Path, default=Path("var/bench-reports.db"))
    parser.add_argument("--postgres", default="postgresql+asyncpg://postgres@127.0.0.1:5432/hcp_bench",
                        help="PostgreSQL URL, or 'none' to skip")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--fresh", action="store_true", help="start the databases from empty")
    parser.add_argument("--only", choices=("sqlite", "postgresql"), default=None)
    args = parser.parse_args()
    results: dict[str, list[tuple[str, float, float]]] = {}
    if args.only in (None, "sqlite"):
        path = args.sqlite.resolve()
        if args.fresh and path.exists():
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        results["SQLite"] = await bench("SQLite", f"sqlite+aiosqlite:///{path}", args, path.parent)
    if args.only in (None, "postgresql") and args.postgres != "none":
        if args.fresh:
            await drop_postgres_database(args.postgres)
        await ensure_postgres_database(args.postgres)
        results["PostgreSQL"] = await bench("PostgreSQL", args.postgres, args, args.sqlite.resolve().parent)
    slow = [(db, name, worst) for db, rows in results.items() for name, _, worst in rows if worst > GOAL_MS]
    print()
    if slow:
        print(f"over the {GOAL_MS:.0f} ms goal:")
        for db, name, worst in slow:
            print(f"  {db}: {name} ({worst:.0f} ms)")
    else:
        print(f"every query within {GOAL_MS:.0f} ms on {' and '.join(results)}")


if __name__ == "__main__":
    asyncio.run(main())
