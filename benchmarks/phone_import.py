"""Call-record import: parse an Asterisk Master.csv of N rows, store it, then import it again.

Prints rows per second for parsing (pure), for the first import (one row per call, call-back tasks
for missed calls, matching of answered calls) and for the idempotent re-import, on SQLite and,
with ``--postgres URL``, on PostgreSQL.

    python benchmarks/phone_import.py [--n 20000] [--postgres postgresql+asyncpg://postgres@127.0.0.1/test]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from channels.phone.cdr import parse_asterisk
from gateway.core.db.models_phone import CallbackTask, PhoneCall
from gateway.core.services import Services
from gateway.core.settings import Settings
from gateway.phone.importer import store_parsed


def master_csv(n: int) -> str:
    rng = random.Random(7)
    start = datetime(2026, 11, 2, 8, 30)
    lines = []
    for index in range(n):
        moment = start + timedelta(seconds=index * 37)
        caller = f"13{rng.randint(0, 9)}{rng.randint(10_000_000, 99_999_999)}"
        answered = rng.random() < 0.8
        stamp = moment.strftime("%Y-%m-%d %H:%M:%S")
        cells = ["", caller, "12345", "from-trunk", f'"" <{caller}>', "SIP/trunk-1",
                 "SIP/8001-1" if answered else "", "Dial", "SIP/8001", stamp, stamp if answered else "", stamp,
                 "65", "60" if answered else "0", "ANSWERED" if answered else "NO ANSWER", "DOCUMENTATION",
                 f"1764{index:08d}.{index}", ""]
        lines.append(",".join(f'"{cell}"' for cell in cells))
    return "\n".join(lines) + "\n"


async def run(url: str, data: str, n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        services = Services.create(Settings(data_dir=Path(tmp), database_url=url, _env_file=None))  # type: ignore[call-arg]
        await services.prepare_database()
        began = time.perf_counter()
        parsed = parse_asterisk(data)
        parse_s = time.perf_counter() - began
        began = time.perf_counter()
        first = await store_parsed(services, parsed)
        first_s = time.perf_counter() - began
        began = time.perf_counter()
        again = await store_parsed(services, parsed)
        again_s = time.perf_counter() - began
        async with services.store.read() as session:
            calls = (await session.execute(select(func.count()).select_from(PhoneCall))).scalar_one()
            tasks = (await session.execute(select(func.count()).select_from(CallbackTask))).scalar_one()
        await services.close()
    assert calls == n and again.new == 0 and again.already == n, "exactly once violated"
    print(f"{url.split(':')[0]:<22} parse {n / parse_s:>9,.0f} rows/s | import {n / first_s:>7,.0f} rows/s "
          f"({first.callbacks} call-back tasks, {first.merged} merged) | re-import {n / again_s:>7,.0f} rows/s | "
          f"{calls} calls, {tasks} tasks stored")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--postgres", default=None)
    args = parser.parse_args()
    data = master_csv(args.n)
    with tempfile.TemporaryDirectory() as tmp:
        await run(f"sqlite+aiosqlite:///{tmp}/bench.db", data, args.n)
    if args.postgres:
        name = f"hcp_bench_{uuid.uuid4().hex[:8]}"
        admin = create_async_engine(args.postgres, isolation_level="AUTOCOMMIT")
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            await run(args.postgres.rsplit("/", 1)[0] + f"/{name}", data, args.n)
        finally:
            async with admin.connect() as connection:
                await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await admin.dispose()


if __name__ == "__main__":
    asyncio.run(main())
