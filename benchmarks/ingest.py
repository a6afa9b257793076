"""Ingest throughput: N synthetic intakes into SQLite and PostgreSQL, one process.

Prints intakes per second and peak memory for each database, with exactly-once fully on (each
intake goes through the duplicate check and the unique constraint), and checks afterwards that
every intake is stored once and a second pass over the same intakes creates nothing.

    python benchmarks/ingest.py [--n 5000] [--concurrency 16] [--postgres URL] [--fixed-triage]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from channels.intake import Intake
from gateway.core.db.models import Case
from gateway.core.services import Services
from gateway.core.settings import Settings

TEXTS = [
    "窗口工作人员态度很差，问了两遍就不耐烦，还一直低头玩手机。",
    "办社保排队排了一个多小时，只开了一个窗口，希望高峰期多开几个窗口。",
    "不动产登记要去税务那边开证明，税务又让回来找登记中心，来回跑了三趟。",
    "大厅空调不制冷，夏天太热了，饮水机也没有水。",
    "工作人员很耐心，一次就办好了，非常感谢！",
    "请问办理居住证需要带哪些材料？",
]
HALLS = ["jiaxiang", "jintun", "mandong", "macun", "huanggai"]


def make_intakes(n: int, seed: int = 7) -> list[Intake]:
    rng = random.Random(seed)
    from datetime import datetime
    from zoneinfo import ZoneInfo

    base = datetime(2026, 11, 2, 8, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    intakes = []
    for i in range(n):
        channel = rng.choice(["web", "email", "phone", "paper"])
        contact: dict[str, object] = {}
        if rng.random() < 0.6:
            contact = {"name": "张三", "phone": f"138{rng.randrange(10**8):08d}", "real_name": True}
        if channel == "email":
            contact = {**contact, "email": f"user{i}@163.com"}
        intakes.append(Intake.build(
            channel=channel, source_ref=f"bench-{i}", received_at=base + timedelta(minutes=i % 20000),
            text=rng.choice(TEXTS) + f"（编号{i}）", rating=rng.choice([None, "满意", "不满意", "非常不满意"]),
            hall=rng.choice(HALLS), contact=contact,
        ))
    return intakes


async def run_one(label: str, url: str, intakes: list[Intake], concurrency: int, fixed: bool,
                  data_dir: Path) -> None:
    classifier = None
    if fixed:
        from tests.helpers import FixedClassifier
        classifier = FixedClassifier()
    settings = Settings(data_dir=data_dir, database_url=url, run_workers=False)
    services = Services.create(settings, classifier=classifier)
    await services.prepare_database()
    await services.start_triage()  # jieba and the rules (in the worker process, by default) outside the timing
    queue = iter(intakes)

    async def worker() -> int:
        created = 0
        for intake in queue:
            created += (await services.ingestor.ingest(intake)).created
        return created

    started = time.perf_counter()
    created = sum(await asyncio.gather(*(worker() for _ in range(concurrency))))
    elapsed = time.perf_counter() - started
    queue = iter(intakes)
    again_started = time.perf_counter()
    again = sum(await asyncio.gather(*(worker() for _ in range(concurrency))))
    again_elapsed = time.perf_counter() - again_started
    async with services.store.read() as session:
        stored = (await session.execute(select(func.count()).select_from(Case))).scalar_one()
    batcher = services.ingestor.batcher
    grouping = "group commit off"
    if batcher:
        grouping = (f"group commit: {batcher.batched} of {2 * len(intakes)} intakes in {batcher.batches} shared "
                    f"transactions (mean {batcher.batched / max(batcher.batches, 1):.1f})")
    await services.close()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ok = created == stored == len(intakes) and again == 0
    print(f"{label:<10} {len(intakes):>6} intakes  {len(intakes) / elapsed:>8.0f} intakes/s  "
          f"(duplicates re-sent: {len(intakes) / again_elapsed:>7.0f}/s)  peak RSS {peak_mb:.0f} MB  "
          f"exactly-once {'OK' if ok else 'BROKEN'}; {grouping}")
    if not ok:
        raise SystemExit(f"{label}: created {created}, stored {stored}, second pass created {again}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=16,
                        help="concurrent producers (a gateway serves many requests at once)")
    parser.add_argument("--postgres", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--fixed-triage", action="store_true", help="replace jieba triage by a constant one")
    args = parser.parse_args()
    intakes = make_intakes(args.n)
    print(f"triage: {'fixed (storage only)' if args.fixed_triage else 'jieba keyword rules'}; "
          f"concurrency {args.concurrency}")
    with tempfile.TemporaryDirectory() as tmp:
        await run_one("sqlite", f"sqlite+aiosqlite:///{tmp}/bench.db", intakes, args.concurrency,
                      args.fixed_triage, Path(tmp))
        name = f"hcp_bench_{uuid.uuid4().hex[:8]}"
        admin = create_async_engine(args.postgres, isolation_level="AUTOCOMMIT")
        try:
            async with admin.connect() as connection:
                await connection.execute(text(f'CREATE DATABASE "{name}"'))
        except Exception as exc:
            print(f"postgresql skipped: {exc}")
            return
        try:
            url = args.postgres.rsplit("/", 1)[0] + f"/{name}"
            await run_one("postgresql", url, intakes, args.concurrency, args.fixed_triage, Path(tmp))
        finally:
            async with admin.connect() as connection:
                await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await admin.dispose()


if __name__ == "__main__":
    asyncio.run(main())
