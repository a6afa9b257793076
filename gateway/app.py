"""The Starlette application factory: explicit wiring, no import-time side effects."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from gateway.channel_plugins import plugin_routes
from gateway.routes import home
from gateway.services import Services
from gateway.settings import Settings
from gateway.workers import WorkerRunner, all_jobs

log = logging.getLogger(__name__)
HERE = Path(__file__).parent


def create_app(settings: Settings | None = None, *, services: Services | None = None,
               run_workers: bool | None = None) -> Starlette:
    """Build the app; ``services`` may be injected by tests, otherwise built from ``settings``."""
    settings = settings or (services.settings if services else Settings())
    run_workers = settings.run_workers if run_workers is None else run_workers

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        owned = services is None
        app.state.services = services or Services.create(settings)
        await app.state.services.prepare_database()
        runner_task = None
        runner = None
        if run_workers:
            runner = WorkerRunner(app.state.services, all_jobs(app.state.services))
            runner_task = asyncio.create_task(runner.run())
        try:
            yield
        finally:
            if runner is not None and runner_task is not None:
                runner.stop.set()
                await runner_task
            if owned:
                await app.state.services.close()

    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.globals["site_name"] = "嘉祥县政务服务好差评"
    app = Starlette(
        routes=[
            Route("/", home.home, name="home"),
            Route("/healthz", home.healthz, name="healthz"),
            *plugin_routes(),
            Mount("/static", app=StaticFiles(directory=str(HERE / "static")), name="static"),
        ],
        lifespan=lifespan,
    )
    app.state.templates = templates
    app.state.settings = settings
    return app
