"""Two gateway processes and two worker processes on one PostgreSQL database (issue 23, point 10).

Real ``hcp serve --no-workers`` and ``hcp worker`` processes.  Citizens submit through both
gateways; the first worker is killed with SIGKILL while Twilio (a local fake) holds its request,
so that message reached the provider but was never recorded; the second worker takes over after
the lease.  Every acknowledged submission must exist once and every SMS reach Twilio once.
"""

from __future__ import annotations

import asyncio
import html
import os
import re
import signal
import socket
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from aiohttp import web
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from channels.web.links import window_path
from gateway.core.settings import Settings
from tests.conftest import POSTGRES_ADMIN_URL, REQUIRE_POSTGRES, _admin
from tests.phone.conftest import ACCOUNT, FROM, TOKEN, sid

PER_GATEWAY = 5
TOKEN_FIELD = re.compile(r'name="t" value="([^"]+)"')
CODE = re.compile(r'id="tracking-code">([^<]+)<')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SlowTwilio:
    """Takes each SMS (counted at once, as the provider would send it) and answers after ``hold``."""

    def __init__(self) -> None:
        self.posts: list[dict[str, str]] = []
        self.first = asyncio.Event()
        self.release = asyncio.Event()

    async def messages(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.posts.append(form)
        self.first.set()
        await self.release.wait()
        return web.json_response({"sid": sid("SM"), "account_sid": ACCOUNT, "to": form["To"], "from": FROM,
                                  "body": form["Body"], "status": "queued", "date_created": None,
                                  "uri": "/x.json", "subresource_uris": {}}, status=201)

    async def listing(self, request: web.Request) -> web.Response:
        to = request.query.get("To")
        listed = [{"sid": f"SMposted{i:026d}", "account_sid": ACCOUNT, "to": p["To"], "from": FROM, "body": p["Body"],
                   "status": "sent", "date_created": None, "uri": "/x.json", "subresource_uris": {}}
                  for i, p in enumerate(self.posts) if p["To"] == to]
        return web.json_response({"messages": listed, "next_page_uri": None, "page": 0, "page_size": 50,
                                  "first_page_uri": request.path, "previous_page_uri": None, "uri": request.path,
                                  "start": 0, "end": len(listed)})


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_two_gateway_and_two_worker_processes(tmp_path: Path) -> None:
    name = f"hcp_procs_{uuid.uuid4().hex[:8]}"
    try:
        await _admin(f'CREATE DATABASE "{name}"')
    except Exception as exc:
        if REQUIRE_POSTGRES:
            pytest.fail(f"PostgreSQL unreachable: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    fake = SlowTwilio()
    app = web.Application()
    app.router.add_post("/2010-04-01/Accounts/{account}/Messages.json", fake.messages)
    app.router.add_get("/2010-04-01/Accounts/{account}/Messages.json", fake.listing)
    runner = web.AppRunner(app)
    await runner.setup()
    twilio_port = free_port()
    await web.TCPSite(runner, "127.0.0.1", twilio_port).start()
    data_dir = tmp_path / "var"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2]), "HCP_DATABASE_URL": url,
           "HCP_DATA_DIR": str(data_dir), "HCP_SMS_PROVIDER": "twilio", "HCP_TWILIO_ACCOUNT_SID": ACCOUNT,
           "HCP_TWILIO_AUTH_TOKEN": TOKEN, "HCP_TWILIO_FROM": FROM,
           "HCP_TWILIO_API_BASE_URL": f"http://127.0.0.1:{twilio_port}", "HCP_WORKER_INTERVAL_SECONDS": "0.2",
           "HCP_OUTBOX_LEASE_SECONDS": "3", "HCP_OUTBOX_BATCH": "2",
           "HCP_WEB_SUBMISSIONS_PER_CLIENT": "1000", "HCP_TRIAGE_PROCESSES": "0", "HCP_LOG_LEVEL": "WARNING"}
    hcp = [sys.executable, "-m", "gateway.cli"]
    # What an administrator runs first: schema, default halls and key files, made once before four
    # processes start (every other command refuses to create them).
    made = await asyncio.to_thread(subprocess.run, [*hcp, "db", "upgrade"], env=env, capture_output=True, text=True,
                                   timeout=120)
    assert made.returncode == 0, made.stderr
    key = Settings(data_dir=data_dir, database_url=url, _env_file=None).signing_key()  # type: ignore[call-arg]
    ports = [free_port(), free_port()]
    processes: list[subprocess.Popen[bytes]] = []
    engine = create_async_engine(url)
    try:
        for port in ports:
            with (tmp_path / f"serve-{port}.log").open("w") as log:
                processes.append(subprocess.Popen([*hcp, "serve", "--no-workers", "--host", "127.0.0.1",
                                                   "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                                                  stderr=log))
        async with httpx.AsyncClient(timeout=30) as probe:
            for port in ports:
                for _ in range(900):  # up to 90 s: two gateways start side by side on a busy machine
                    try:
                        if (await probe.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.1)
                else:
                    pytest.fail(f"gateway on {port} did not start: {(tmp_path / f'serve-{port}.log').read_text()}")

        async def submit(port: int, n: int) -> str:
            base = f"http://127.0.0.1:{port}"
            async with httpx.AsyncClient(base_url=base, timeout=30) as browser:
                path = window_path(key, "jintun", "w01")
                page = await browser.get(path)
                token = html.unescape(TOKEN_FIELD.search(page.text).group(1))  # type: ignore[union-attr]
                sent = await browser.post(path, data={"t": token, "text": f"排队太久 {port}-{n}",
                                                      "phone": "13812345678", "reply": "sms", "consent": "1"})
                assert sent.status_code == 303, sent.text[:300]
                receipt = await browser.get(sent.headers["location"])
                return CODE.search(receipt.text).group(1)  # type: ignore[union-attr]

        codes = await asyncio.gather(*(submit(port, n) for port in ports for n in range(PER_GATEWAY)))
        doomed = subprocess.Popen([*hcp, "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        processes.append(doomed)
        await asyncio.wait_for(fake.first.wait(), 120)
        doomed.send_signal(signal.SIGKILL)  # Twilio holds its request: taken, never recorded
        doomed.wait()
        fake.release.set()
        processes.append(subprocess.Popen([*hcp, "worker"], env=env, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL))
        processes.append(subprocess.Popen([*hcp, "worker"], env=env, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL))
        statuses: list[str] = []
        for _ in range(600):
            async with engine.connect() as connection:
                statuses = list((await connection.execute(text("SELECT status FROM outbox"))).scalars())
            if len(statuses) == 2 * PER_GATEWAY and set(statuses) == {"sent"}:
                break
            await asyncio.sleep(0.2)
        async with engine.connect() as connection:
            stored = Counter((await connection.execute(text("SELECT code FROM cases"))).scalars())
            ids = list((await connection.execute(text("SELECT id FROM outbox"))).scalars())
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        await engine.dispose()
        await runner.cleanup()
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    assert stored == Counter(codes) and len(codes) == 2 * PER_GATEWAY, "every acknowledged submission once"
    assert statuses == ["sent"] * len(ids), statuses
    handed = Counter(int(parse_qs(urlparse(post["StatusCallback"]).query)["outbox"][0]) for post in fake.posts)
    assert handed == Counter({row_id: 1 for row_id in ids}), "every SMS reached Twilio once"
