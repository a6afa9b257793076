"""Real-browser fixtures: the app served by uvicorn on a free port, and Debian's Chromium driven by
Playwright (never a downloaded browser).

Import the fixtures into a test package's ``conftest.py``::

    from tests.browser import browser, live_server  # noqa: F401

Browser tests run on SQLite only (``sqlite_services``): the storage layer is covered on both
databases by the HTTP tests, and one browser run per scenario keeps the suite fast.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from playwright.async_api import Browser, async_playwright

from gateway.app import create_app
from gateway.core.services import Services
from gateway.core.settings import Settings

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True,
         "has_touch": True, "locale": "zh-CN"}
DESKTOP = {"viewport": {"width": 1366, "height": 900}, "locale": "zh-CN"}


def chromium_path() -> str:
    for candidate in ("/usr/lib/chromium/chromium", "/usr/bin/chromium"):
        if Path(candidate).exists():
            return candidate
    found = shutil.which("chromium")
    if not found:
        pytest.fail("chromium is not installed (make system-deps installs it)")
    return found


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


@dataclass
class LiveServer:
    url: str
    services: Services


@pytest.fixture
async def sqlite_services(tmp_path: Path, sqlite_template: Path) -> AsyncIterator[Services]:
    from tests.helpers import FixedClassifier

    path = tmp_path / "hcp.db"
    shutil.copy(sqlite_template, path)
    settings = Settings(data_dir=tmp_path / "var", database_url=f"sqlite+aiosqlite:///{path}", run_workers=False,
                        _env_file=None)  # type: ignore[call-arg]
    services = Services.create(settings, classifier=FixedClassifier())
    await services.prepare_database()
    yield services
    await services.close()


@pytest.fixture
async def live_server(sqlite_services: Services) -> AsyncIterator[LiveServer]:
    """The whole app (all routes, middleware) on 127.0.0.1 and a free port, in this event loop."""
    app = create_app(services=sqlite_services, run_workers=False)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield LiveServer(f"http://127.0.0.1:{port}", sqlite_services)
    server.should_exit = True
    await task
