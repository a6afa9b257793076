"""12345 work-order import: parse a GBK CSV export of N orders, import it (one case per order through
the ingest, with the real jieba triage unless --fixed-triage), then import it again.

    python benchmarks/phone_12345.py [--n 2000] [--fixed-triage] [--postgres postgresql+asyncpg://postgres@127.0.0.1/test]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
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

from channels.phone.workorders import parse_orders
from gateway.core.db.models import Case
from gateway.core.services import Services
from gateway.core.settings import Settings
from gateway.phone.workorders import import_orders

TOWNS = ("金屯镇", "嘉祥街道", "卧龙山街道", "马村镇", "纸坊镇", "梁宝寺镇")
TEXTS = ("为民服务大厅社保窗口上午九点还没有人上班，群众排队等了半小时",
         "办理不动产登记时工作人员态度生硬，说话很冲，要求整改",
         "大厅取号机坏了好几天，没人修，老人不会用手机取号",
         "医保报销材料来回跑了三趟，每次说法都不一样",
         "窗口工作人员耐心细致，一次就办好了，提出表扬")


def export(n: int) -> bytes:
    rng = random.Random(12345)
    start = datetime(2026, 11, 2, 8, 0)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["工单编号", "来电时间", "来电号码", "诉求人", "诉求内容", "所属镇街", "承办单位", "办理时限"])
    for index in range(n):
        moment = start + timedelta(minutes=index * 7)
        writer.writerow([f"JN12345-{moment:%Y%m%d}-{index:05d}", f"{moment:%Y-%m-%d %H:%M:%S}",
                         f"13{rng.randint(0, 9)}{rng.randint(10_000_000, 99_999_999)}", "王**", rng.choice(TEXTS),
                         rng.choice(TOWNS), "镇人民政府", rng.choice(("3个工作日", "5天", ""))])
    return buffer.getvalue().encode("gbk")


async def run(url: str, data: bytes, n: int, fixed: bool) -> None:
    from tests.helpers import FixedClassifier

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), database_url=url, triage_processes=0, _env_file=None)  # type: ignore[call-arg]
        services = Services.create(settings, classifier=FixedClassifier() if fixed else None)
        await services.prepare_database()
        await services.start_triage()
        began = time.perf_counter()
        parsed = parse_orders(data)
        parse_s = time.perf_counter() - began
        began = time.perf_counter()
        first = await import_orders(services, parsed)
        first_s = time.perf_counter() - began
        began = time.perf_counter()
        again = await import_orders(services, parsed)
        again_s = time.perf_counter() - began
        async with services.store.read() as session:
            cases = (await session.execute(select(func.count()).select_from(Case))).scalar_one()
        await services.close()
    assert cases == n and first.new == n and again.already == n, "exactly once violated"
    print(f"{url.split(':')[0]:<22} parse {n / parse_s:>8,.0f} rows/s | import {n / first_s:>6,.0f} orders/s | "
          f"re-import {n / again_s:>6,.0f} orders/s | {cases} cases")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--fixed-triage", action="store_true")
    parser.add_argument("--postgres", default=None)
    args = parser.parse_args()
    data = export(args.n)
    with tempfile.TemporaryDirectory() as tmp:
        await run(f"sqlite+aiosqlite:///{tmp}/bench.db", data, args.n, args.fixed_triage)
    if args.postgres:
        name = f"hcp_bench_{uuid.uuid4().hex[:8]}"
        admin = create_async_engine(args.postgres, isolation_level="AUTOCOMMIT")
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            await run(args.postgres.rsplit("/", 1)[0] + f"/{name}", data, args.n, args.fixed_triage)
        finally:
            async with admin.connect() as connection:
                await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await admin.dispose()


if __name__ == "__main__":
    asyncio.run(main())
