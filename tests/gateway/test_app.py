"""The web app starts, migrates, serves its pages and runs its background jobs."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import select
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.core.db.models import WorkerState
from gateway.core.locks import singleton
from gateway.core.services import Services
from gateway.core.settings import Settings
from tests.helpers import make_intake


def test_home_and_health_on_a_fresh_database(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "var", run_workers=True, worker_interval_seconds=0.05)
    with TestClient(create_app(settings)) as client:
        home = client.get("/")
        assert home.status_code == 200
        assert "政务服务“好差评”受理平台" in home.text and "梁宝寺镇" in home.text
        health = client.get("/healthz").json()
        assert health["ok"] is True and health["database"] == "sqlite" and health["writes_failing"] is False
        assert client.get("/readyz").json()["ok"] is True
        assert client.get("/static/hcp.css").status_code == 200
        services = client.app.state.services  # type: ignore[attr-defined]
        deadline = time.monotonic() + 10
        state = None
        while time.monotonic() < deadline and state is None:
            time.sleep(0.1)
            state = client.portal.call(_job_state, services, "job:outbox")  # type: ignore[union-attr]
        assert state is not None and state["ok"] is True, "the outbox job ran inside the gateway"
    assert (tmp_path / "var" / "hcp.db").exists()


async def _job_state(services: Services, key: str) -> dict | None:
    async with services.store.read() as session:
        row = (await session.execute(select(WorkerState).where(WorkerState.key == key))).scalar_one_or_none()
    return row.value if row else None


def test_home_counts_cases_by_state(tmp_path: Path) -> None:
    from tests.helpers import FixedClassifier

    settings = Settings(data_dir=tmp_path / "var", run_workers=False)
    services = Services.create(settings, classifier=FixedClassifier())
    with TestClient(create_app(services=services)) as client:
        client.portal.call(services.ingestor.ingest, make_intake())  # type: ignore[union-attr]
        page = client.get("/").text
    assert "已分类" in page and '<td class="num">1</td>' in page


async def test_a_singleton_job_runs_in_one_process_only(services: Services, settings: Settings) -> None:
    other = Services.create(settings, classifier=services.classifier)
    try:
        lock_dir = settings.data_dir / "locks"
        async with singleton(services.store, "hcp:imap:inbox", lock_dir) as first:
            async with singleton(other.store, "hcp:imap:inbox", lock_dir) as second:
                assert first is True and second is False
            async with singleton(other.store, "hcp:reminders", lock_dir) as unrelated:
                assert unrelated is True
        async with singleton(other.store, "hcp:imap:inbox", lock_dir) as after_release:
            assert after_release is True
    finally:
        await other.close()


def test_the_app_starts_without_libzbar_and_says_so_on_the_mailroom_page(tmp_path: Path) -> None:
    """A machine without libzbar0 loses only the QR decoding, with a clear message where it is used."""
    import subprocess
    import sys

    script = (
        "import sys; sys.modules['pyzbar.wrapper'] = None; sys.modules['pyzbar.pyzbar'] = None\n"
        "from starlette.testclient import TestClient\n"
        "from gateway.app import create_app\n"
        "from gateway.core.settings import Settings\n"
        f"app = create_app(Settings(data_dir={str(tmp_path / 'var')!r}, run_workers=False))\n"
        "with TestClient(app) as client:\n"
        "    print(client.get('/healthz').status_code)\n"
        "from channels.paper import zbar\n"
        "print(zbar.UNAVAILABLE)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).parents[2])
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "200" and "libzbar0" in done.stdout


async def test_the_favicon_is_served_and_linked(services: Services) -> None:
    import httpx

    app = create_app(services=services, run_workers=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        icon = await client.get("/favicon.ico")
        home = await client.get("/")
        screen = await client.get("/screen/jintun")
    assert icon.status_code == 200 and icon.headers["content-type"] in ("image/x-icon", "image/vnd.microsoft.icon")
    assert icon.content[:4] == b"\x00\x00\x01\x00", "a real ICO file"
    for page in (home, screen):
        assert '<link rel="icon" href="/favicon.ico"' in page.text
