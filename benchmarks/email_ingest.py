"""E-mail intake speed against a private Dovecot: messages/s for three depths of work.

    python benchmarks/email_ingest.py [--messages 2000] [--classifier triage|fixed] [--database URL]

(a) bare imapclient ``BODY.PEEK[]`` fetch in batches; (b) the same plus ``email`` parsing with
``policy.default`` and reading the body; (c) the full path of ``hcp email poll``: Message-ID
pre-check, fetch, our parser, triage, the ingest transaction (case, message, raw blob, contact,
events, acknowledgement) and flagging ``\\Seen``.  Messages are ~3.5 KB, GB18030 and UTF-8 mixed.
The goal is (c) ≥ half of (b).  Needs dovecot (scripts/system-deps.sh); runs as root or a user
that can start it.
"""

from __future__ import annotations

import argparse
import asyncio
import email
import shutil
import signal
import sys
import tempfile
import time
from email import policy
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pydantic import SecretStr  # noqa: E402

from gateway.mail import EmailOptions, ImapPoller  # noqa: E402
from gateway.services import Services  # noqa: E402
from gateway.settings import Settings  # noqa: E402
from tests.email import mails  # noqa: E402
from tests.email.conftest import start_dovecot  # noqa: E402

PHRASES = ["窗口人员态度不好，让我等了两个小时。", "材料不全被退回三次，每次说法都不一样。",
           "办事效率太低，希望尽快整改。", "工作人员很热情，点赞！", "需要多个部门盖章，跑了好几趟。"]


def sample(i: int) -> bytes:
    body = "".join(PHRASES[(i + k) % len(PHRASES)] for k in range(80))[:900] + f"\n联系电话 1381234{i % 10000:04d}"
    charset = "gb18030" if i % 2 else "utf-8"
    return mails.build(body, charset=charset, message_id=f"<bench{i}@example.cn>",
                       sender=("王小明", f"citizen{i}@example.cn"), subject=f"意见 {i}")


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:8.0f} msg/s  ({seconds:.2f} s)"


def fetch_all(dovecot, parse: bool, batch: int = 50) -> tuple[int, float]:  # type: ignore[no-untyped-def]
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


async def full_ingest(dovecot, args: argparse.Namespace, data_dir: Path) -> tuple[dict, float]:  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=data_dir, database_url=args.database, imap_host="127.0.0.1", imap_port=dovecot.port,
                        imap_user=dovecot.user, imap_password=SecretStr(dovecot.password), imap_security="plain",
                        run_workers=False, _env_file=None)  # type: ignore[call-arg]
    classifier = None
    if args.classifier == "fixed":
        from tests.helpers import FixedClassifier

        classifier = FixedClassifier()
    services = Services.create(settings, classifier=classifier)
    await services.prepare_database()
    _ = services.classifier  # load jieba and the rules before timing
    services.classifier.classify("预热", channel="email")
    poller = ImapPoller(services, EmailOptions(batch=args.batch))
    start = time.perf_counter()
    counts = await poller.poll_once(force=True)
    elapsed = time.perf_counter() - start
    await services.close()
    return counts, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--classifier", choices=["triage", "fixed"], default="triage")
    parser.add_argument("--database", default=None, help="database URL (default: SQLite in a temp dir)")
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="hcp-bench-dovecot-"))
    process, dovecot = start_dovecot(directory)
    data_dir = Path(tempfile.mkdtemp(prefix="hcp-bench-data-"))
    try:
        raws = [sample(i) for i in range(args.messages)]
        client = dovecot.client()
        start = time.perf_counter()
        for raw in raws:
            client.append("INBOX", raw)
        client.logout()
        print(f"appended {len(raws)} messages, {sum(map(len, raws)) / len(raws) / 1024:.1f} KB average, "
              f"in {time.perf_counter() - start:.1f} s")
        n, seconds = fetch_all(dovecot, parse=False)
        print(f"(a) bare imapclient fetch        {rate(n, seconds)}")
        n, seconds = fetch_all(dovecot, parse=True)
        b = n / seconds
        print(f"(b) fetch + email parse          {rate(n, seconds)}")
        counts, seconds = asyncio.run(full_ingest(dovecot, args, data_dir))
        ingested = counts.get("ingested", 0)
        c = ingested / seconds
        print(f"(c) full ingest, classifier={args.classifier:6} {rate(ingested, seconds)}   {counts}")
        print(f"(c) / (b) = {c / b:.2f}  (goal ≥ 0.5)")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
        shutil.rmtree(directory, ignore_errors=True)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
