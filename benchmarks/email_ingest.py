"""E-mail intake speed against a private Dovecot: messages/s for three depths of work.

    python benchmarks/email_ingest.py [--messages 2000] [--classifier triage|fixed] [--database URL]
                                      [--batch 50] [--concurrency 50] [--triage-processes N]

(a) bare imapclient ``BODY.PEEK[]`` fetch in batches; (b) the same plus ``email`` parsing with
``policy.default`` and reading the body; (c) the full path of ``hcp email poll``: Message-ID
pre-check, fetch (the next batch while the current one is ingested), our parser, triage, the
ingest transactions (group commit: case, message, raw blob, contact, events, acknowledgement) and
flagging ``\\Seen``.  (a) and (b) are the best of three passes; (c) runs once on a fresh database
and is checked for exactly-once afterwards (a second poll finds nothing, one case per message).
Messages (``benchmarks/mail_shapes.py``) are shaped as QQ Mail, 163, Outlook and iPhone send them:
relay headers, plain and HTML alternatives, GB18030, GBK and UTF-8, base64 and quoted-printable,
a quoted earlier message; 3.6 KB and ~350 characters of text on average.  ``--shape simple`` runs
the earlier single-part mail (3.3 KB, a 920-character body), which is far cheaper to parse.

(c) runs as the gateway is configured by default: the triage in one worker process where there is a
second core (``HCP_TRIAGE_PROCESSES=-1``; ``--triage-processes N`` to choose), and then (c0) the
same with the triage in-line, for comparison.  Each prints where its time goes: our parser, triage
(in-line only), and this process's CPU against wall time.

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
from email import policy
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pydantic import SecretStr  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from benchmarks import mail_shapes  # noqa: E402
from gateway.core.db.models import Case  # noqa: E402
from gateway.core.services import Services  # noqa: E402
from gateway.core.settings import Settings  # noqa: E402
from gateway.core.triage_service import resolve_processes  # noqa: E402
from gateway.email import EmailOptions, ImapPoller  # noqa: E402
from tests.email.conftest import Dovecot, start_dovecot  # noqa: E402


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


# ----- (c) --------------------------------------------------------------------------------------

async def full_ingest(dovecot: Dovecot, args: argparse.Namespace, data_dir: Path, *,
                      processes: int) -> tuple[dict[str, Any], float]:
    settings = Settings(data_dir=data_dir, database_url=args.database, imap_host="127.0.0.1", imap_port=dovecot.port,
                        imap_user=dovecot.user, imap_password=SecretStr(dovecot.password), imap_security="plain",
                        run_workers=False, triage_processes=processes, _env_file=None)  # type: ignore[call-arg]
    classifier = None
    if args.classifier == "fixed":
        from tests.helpers import FixedClassifier

        classifier = FixedClassifier()
    services = Services.create(settings, classifier=classifier)
    await services.prepare_database()
    await services.start_triage()  # jieba and the rules (here or in the workers) before timing
    triage_seconds = 0.0
    if processes == 0:  # time the in-line triage (in workers it overlaps the rest)
        original = services.classifier.classify

        def timed_classify(*a: Any, **k: Any) -> Any:
            nonlocal triage_seconds
            started = time.perf_counter()
            try:
                return original(*a, **k)
            finally:
                triage_seconds += time.perf_counter() - started

        services.classifier.classify = timed_classify  # type: ignore[method-assign]
        services.classifier.classify_async = None  # type: ignore[method-assign,assignment]
    options = EmailOptions(batch=args.batch, concurrency=args.concurrency)
    poller = ImapPoller(services, options)
    cpu = time.process_time()
    start = time.perf_counter()
    counts = await poller.poll_once(force=True)
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu
    t = poller.timings
    n = max(t.messages, 1)
    label = f"(c{processes})"
    where = (f"triage in {processes} worker process{'es' if processes > 1 else ''}" if processes else
             f"triage in this process {triage_seconds / n * 1000:.2f} ms")
    print(f"    {label} per message: our parser {t.parse / n * 1000:.2f} ms, {where}; this process's CPU "
          f"{cpu / n * 1000:.2f} ms of {elapsed / n * 1000:.2f} ms wall; IMAP round trips (in threads, overlapped) "
          f"{t.imap / n * 1000:.2f} ms")
    batcher = services.ingestor.batcher
    if batcher is not None:
        print(f"    {label} group commit: {batcher.batched} of {t.messages} intakes in {batcher.batches} shared "
              "transactions")
    again = await ImapPoller(services, options).poll_once(force=True)
    async with services.store.read() as session:
        stored = (await session.execute(select(func.count()).select_from(Case))).scalar_one()
    assert again == {} and stored == counts.get("ingested"), (again, stored, counts)
    await services.close()
    return counts, elapsed


def best_of(runs: int, dovecot: Dovecot, parse: bool) -> tuple[int, float]:
    results = [fetch_all(dovecot, parse=parse) for _ in range(runs)]
    return min(results, key=lambda result: result[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--classifier", choices=["triage", "fixed"], default="triage")
    parser.add_argument("--shape", choices=["realistic", "simple"], default="realistic",
                        help="the mail: QQ/163/Outlook/iPhone shapes, or the earlier single-part 920-character one")
    parser.add_argument("--database", default=None, help="database URL (default: SQLite in a temp dir)")
    parser.add_argument("--triage-processes", type=int, default=None,
                        help="triage worker processes for (c) (default: as the gateway chooses, "
                             "HCP_TRIAGE_PROCESSES=-1); (c0), triage in-line, runs too for comparison")
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="hcp-bench-dovecot-"))
    process, dovecot = start_dovecot(directory, tls=False)
    data_dirs = [Path(tempfile.mkdtemp(prefix="hcp-bench-data-")) for _ in range(2)]
    try:
        make = mail_shapes.realistic if args.shape == "realistic" else mail_shapes.simple
        raws = [make(i) for i in range(args.messages)]
        client = dovecot.client()
        start = time.perf_counter()
        for raw in raws:
            client.append("INBOX", raw)
        client.logout()
        print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; "
              f"appended {len(raws)} {args.shape} messages, {sum(map(len, raws)) / len(raws) / 1024:.1f} KB "
              f"average, in {time.perf_counter() - start:.1f} s")
        n, seconds = best_of(3, dovecot, parse=False)
        print(f"(a) bare imapclient fetch        {rate(n, seconds)}")
        n, seconds = best_of(3, dovecot, parse=True)
        b = n / seconds
        print(f"(b) fetch + email parse          {rate(n, seconds)}")
        processes = resolve_processes(-1 if args.triage_processes is None else args.triage_processes)
        counts, seconds = asyncio.run(full_ingest(dovecot, args, data_dirs[0], processes=processes))
        c = counts.get("ingested", 0) / seconds
        print(f"(c) full ingest, classifier={args.classifier}, {processes} triage worker process(es)   "
              f"{rate(counts.get('ingested', 0), seconds)}   {counts}")
        print(f"(c) / (b) = {c / b:.2f}  (goal ≥ 0.5)")
        if processes and args.classifier == "triage" and not args.database:  # (c0) needs a fresh database
            counts, seconds = asyncio.run(full_ingest(dovecot, args, data_dirs[1], processes=0))
            inline = counts.get("ingested", 0) / seconds
            print(f"(c0) the same, triage in-line   {rate(counts.get('ingested', 0), seconds)}   "
                  f"(c0) / (b) = {inline / b:.2f}")
        print(f"load average now {os.getloadavg()[0]:.1f}")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
        shutil.rmtree(directory, ignore_errors=True)
        for data_dir in data_dirs:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
