"""E-mail intake speed against a private Dovecot: messages/s for three depths of work.

    python benchmarks/email_ingest.py [--messages 2000] [--classifier triage|fixed] [--database URL]
                                      [--batch 50] [--concurrency 16] [--triage-processes N]

(a) bare imapclient ``BODY.PEEK[]`` fetch in batches; (b) the same plus ``email`` parsing with
``policy.default`` and reading the body; (c) the full path of ``hcp email poll``: Message-ID
pre-check, fetch (the next batch while the current one is ingested), our parser, triage, the
ingest transactions (group commit: case, message, raw blob, contact, events, acknowledgement) and
flagging ``\\Seen``.  (a) and (b) are the best of three passes; (c) runs once on a fresh database
and is checked for exactly-once afterwards (a second poll finds nothing, one case per message).
Messages are ~3.3 KB, GB18030 and UTF-8 mixed, with a ~920-character body.

(c) prints where its time goes: our parser, triage (jieba rules), and CPU versus wall time.
``--triage-processes N`` adds (c*), an experiment: the same ingest with triage run in N worker
processes.  The product cannot do that yet — ``Ingestor.ingest`` classifies in-line — so the
experiment calls the group-commit queue with a precomputed outcome, as an ``Ingestor.ingest(intake,
triage=…)`` would.

The goal is (c) ≥ half of (b).  Needs dovecot (scripts/system-deps.sh); runs as root or a user
that can start it.
"""

from __future__ import annotations

import argparse
import asyncio
import email
import os
import shutil
import signal
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from email import policy
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pydantic import SecretStr  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from channels.intake import Intake  # noqa: E402
from gateway.db.models import Case  # noqa: E402
from gateway.ingest import IngestResult  # noqa: E402
from gateway.mail import EmailOptions, ImapPoller  # noqa: E402
from gateway.services import Services  # noqa: E402
from gateway.settings import Settings  # noqa: E402
from tests.email import mails  # noqa: E402
from tests.email.conftest import Dovecot, start_dovecot  # noqa: E402

PHRASES = ["窗口人员态度不好，让我等了两个小时。", "材料不全被退回三次，每次说法都不一样。",
           "办事效率太低，希望尽快整改。", "工作人员很热情，点赞！", "需要多个部门盖章，跑了好几趟。"]


def sample(i: int) -> bytes:
    body = "".join(PHRASES[(i + k) % len(PHRASES)] for k in range(80))[:900] + f"\n联系电话 1381234{i % 10000:04d}"
    charset = "gb18030" if i % 2 else "utf-8"
    return mails.build(body, charset=charset, message_id=f"<bench{i}@example.cn>",
                       sender=("王小明", f"citizen{i}@example.cn"), subject=f"意见 {i}")


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:8.0f} msg/s  ({seconds:.2f} s)"


def fetch_all(dovecot: Dovecot, parse: bool, batch: int = 50) -> tuple[int, float]:
    client = dovecot.client()
    start = time.perf_counter()
    uids = client.search(["ALL"])
    n = 0
    for i in range(0, len(uids), batch):
        for item in client.fetch(uids[i:i + batch], ["BODY.PEEK[]"]).values():
            raw = item[b"BODY[]"]
            if parse:
                message = email.message_from_bytes(raw, policy=policy.default)
                body = message.get_body(("plain", "html"))
                assert body is not None and body.get_content()
            n += 1
    elapsed = time.perf_counter() - start
    client.logout()
    return n, elapsed


# ----- the triage-in-processes experiment --------------------------------------------------------

_TRIAGER: Any = None


def _load_triager(rules: str | None) -> None:
    global _TRIAGER
    from triage import Triager

    _TRIAGER = Triager.from_rules_file(rules)
    _TRIAGER.classify("预热", channel="email")


def _classify(text: str, channel: str, rating: str | None, reasons: tuple[str, ...]) -> Any:
    return _TRIAGER.classify(text, channel=channel, rating=rating, reasons=reasons)


def pooled_ingest(services: Services, pool: ProcessPoolExecutor):  # type: ignore[no-untyped-def]
    """``Ingestor.ingest`` with the classification done in ``pool`` (mirrors its body)."""
    ingestor = services.ingestor
    loop = asyncio.get_running_loop()

    async def ingest(intake: Intake) -> IngestResult:
        text = intake.text_for_triage if not intake.subject else f"{intake.subject}\n{intake.text_for_triage}"
        triage = await loop.run_in_executor(pool, _classify, text, intake.channel.value,
                                            intake.rating.value if intake.rating else None, tuple(intake.reasons))
        calendar = await services.calendar.get()
        if ingestor.batcher is not None and ingestor.batchable(intake):
            return await ingestor.batcher.submit(intake, triage, calendar)
        return await ingestor.ingest_one(intake, triage, calendar)

    return ingest


# ----- (c) --------------------------------------------------------------------------------------

async def full_ingest(dovecot: Dovecot, args: argparse.Namespace, data_dir: Path, *,
                      processes: int = 0) -> tuple[dict[str, Any], float]:
    settings = Settings(data_dir=data_dir, database_url=args.database, imap_host="127.0.0.1", imap_port=dovecot.port,
                        imap_user=dovecot.user, imap_password=SecretStr(dovecot.password), imap_security="plain",
                        run_workers=False, _env_file=None)  # type: ignore[call-arg]
    classifier = None
    if args.classifier == "fixed":
        from tests.helpers import FixedClassifier

        classifier = FixedClassifier()
    services = Services.create(settings, classifier=classifier)
    await services.prepare_database()
    services.classifier.classify("预热", channel="email")  # load jieba and the rules before timing
    triage_seconds = 0.0
    original = services.classifier.classify

    def timed_classify(*a: Any, **k: Any) -> Any:
        nonlocal triage_seconds
        started = time.perf_counter()
        try:
            return original(*a, **k)
        finally:
            triage_seconds += time.perf_counter() - started

    services.classifier.classify = timed_classify  # type: ignore[method-assign]
    options = EmailOptions(batch=args.batch, concurrency=args.concurrency)
    pool = None
    ingest = None
    if processes:
        pool = ProcessPoolExecutor(processes, initializer=_load_triager, initargs=(settings.triage_rules,))
        for future in [pool.submit(_classify, "预热", "email", None, ()) for _ in range(processes * 2)]:
            future.result()
        ingest = pooled_ingest(services, pool)
    poller = ImapPoller(services, options, ingest=ingest)
    cpu = time.process_time()
    start = time.perf_counter()
    counts = await poller.poll_once(force=True)
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu
    t = poller.timings
    n = max(t.messages, 1)
    label = "(c*)" if processes else "(c)"
    print(f"    {label} per message: our parser {t.parse / n * 1000:.2f} ms, triage in this process "
          f"{triage_seconds / n * 1000:.2f} ms; this process's CPU {cpu / n * 1000:.2f} ms of "
          f"{elapsed / n * 1000:.2f} ms wall; IMAP round trips (in threads, overlapped) {t.imap / n * 1000:.2f} ms")
    batcher = services.ingestor.batcher
    if batcher is not None:
        print(f"    {label} group commit: {batcher.batched} of {t.messages} intakes in {batcher.batches} shared "
              "transactions")
    again = await ImapPoller(services, options).poll_once(force=True)
    async with services.store.read() as session:
        stored = (await session.execute(select(func.count()).select_from(Case))).scalar_one()
    assert again == {} and stored == counts.get("ingested"), (again, stored, counts)
    if pool is not None:
        pool.shutdown()
    await services.close()
    return counts, elapsed


def best_of(runs: int, dovecot: Dovecot, parse: bool) -> tuple[int, float]:
    results = [fetch_all(dovecot, parse=parse) for _ in range(runs)]
    return min(results, key=lambda result: result[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--classifier", choices=["triage", "fixed"], default="triage")
    parser.add_argument("--database", default=None, help="database URL (default: SQLite in a temp dir)")
    parser.add_argument("--triage-processes", type=int, default=0,
                        help="also run (c*): triage in this many worker processes (an experiment)")
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="hcp-bench-dovecot-"))
    process, dovecot = start_dovecot(directory, tls=False)
    data_dirs = [Path(tempfile.mkdtemp(prefix="hcp-bench-data-")) for _ in range(2)]
    try:
        raws = [sample(i) for i in range(args.messages)]
        client = dovecot.client()
        start = time.perf_counter()
        for raw in raws:
            client.append("INBOX", raw)
        client.logout()
        print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; appended {len(raws)} messages, "
              f"{sum(map(len, raws)) / len(raws) / 1024:.1f} KB average, in {time.perf_counter() - start:.1f} s")
        n, seconds = best_of(3, dovecot, parse=False)
        print(f"(a) bare imapclient fetch        {rate(n, seconds)}")
        n, seconds = best_of(3, dovecot, parse=True)
        b = n / seconds
        print(f"(b) fetch + email parse          {rate(n, seconds)}")
        counts, seconds = asyncio.run(full_ingest(dovecot, args, data_dirs[0]))
        c = counts.get("ingested", 0) / seconds
        print(f"(c) full ingest, classifier={args.classifier:6} {rate(counts.get('ingested', 0), seconds)}   {counts}")
        print(f"(c) / (b) = {c / b:.2f}  (goal ≥ 0.5)")
        if args.triage_processes:
            counts, seconds = asyncio.run(full_ingest(dovecot, args, data_dirs[1], processes=args.triage_processes))
            starred = counts.get("ingested", 0) / seconds
            print(f"(c*) triage in {args.triage_processes} processes   {rate(counts.get('ingested', 0), seconds)}"
                  f"   (c*) / (b) = {starred / b:.2f}")
        print(f"load average now {os.getloadavg()[0]:.1f}")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
        shutil.rmtree(directory, ignore_errors=True)
        for data_dir in data_dirs:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
