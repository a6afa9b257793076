"""The Starlette application factory: explicit wiring, no import-time side effects."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from gateway import worker
from gateway.api import evaluation_page as api_evaluation_page
from gateway.api import routes as api_routes
from gateway.auth import admin as auth_admin
from gateway.auth import routes as auth_routes
from gateway.auth.access import csrf_token, current_user
from gateway.auth.middleware import PrincipalMiddleware
from gateway.auth.users import ensure_first_admin
from gateway.console import cases as console_cases
from gateway.console import home
from gateway.console import rosters as console_rosters
from gateway.console import supervise as console_supervise
from gateway.console import triage_queue as console_triage_queue
from gateway.core.jobs import WorkerRunner
from gateway.core.labels import (
    CALENDAR_MISSING_LABELS,
    CALLBACKS_LABEL,
    RETENTION_NOTICES,
    RN_UNVISITED_LABELS,
    actor_label,
    audit_action_label,
    audit_detail_text,
)
from gateway.core.services import Services
from gateway.core.settings import Settings
from gateway.email import routes as email_routes
from gateway.ops.metrics import MetricsMiddleware, ProcessMetrics, metrics_endpoint
from gateway.paper import routes as paper_routes
from gateway.phone import order_pages as phone_order_pages
from gateway.phone import routes as phone_routes
from gateway.results import routes as results_routes
from gateway.sms import routes as sms_routes
from gateway.ui.body_limit import BodyLimitMiddleware, NulGuardMiddleware
from gateway.ui.format import (
    case_countdown,
    local_date,
    local_time,
    rating_label,
    rating_reason_label,
    triage_reason_label,
)
from gateway.ui.http_security import SecurityHeadersMiddleware, http_error
from gateway.ui.staff_nav import staff_nav
from gateway.web import routes as web_routes
from gateway.wechat import routes as wechat_routes

log = logging.getLogger(__name__)
HERE = Path(__file__).parent

# Every feature's routes, in one list (handlers reach services through request.app.state).
FEATURE_ROUTES = (auth_routes.routes, console_cases.routes, console_triage_queue.routes, console_supervise.routes,
                  console_rosters.routes, api_routes.routes, api_evaluation_page.routes, auth_admin.routes,
                  paper_routes.routes, web_routes.routes, results_routes.routes, phone_routes.routes,
                  phone_order_pages.routes, email_routes.routes, sms_routes.routes, wechat_routes.routes)
# Each feature's own template and static folders; gateway/ui holds the shared page chrome.
FEATURE_FOLDERS = ("ui", "api", "auth", "console", "email", "paper", "phone", "results", "sms", "web", "wechat")


def body_limits(settings: Settings) -> dict[str, int]:
    """Request body limits by path prefix; everything else gets ``settings.max_request_bytes``."""
    return {
        "/login": 16 * 1024, "/logout": 16 * 1024,  # a name, a password and a token
        "/status": 16 * 1024,  # the citizen forms /f, /w/ and /e/ read at most 32 KB themselves
        "/api/": settings.api_max_body_bytes,
        "/mailroom/upload": settings.max_blob_bytes * paper_routes.MAX_FILES_PER_UPLOAD + 1024 * 1024,
        "/rosters/import": 5 * 1024 * 1024,
    }


def announce_first_admin(password: str) -> None:
    """Print the first admin's one-time password on the console: never logged, never stored in clear."""
    print("\n" + "=" * 64, file=sys.stderr)
    print("  First start: created the account 'admin' with the password", file=sys.stderr)
    print(f"      {password}", file=sys.stderr)
    print("  It is shown only now. Sign in at /login and change it (hcp users passwd admin).", file=sys.stderr)
    print("=" * 64 + "\n", file=sys.stderr, flush=True)


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
        await app.state.services.start_triage()  # jieba now, not during a citizen's first request
        gc.freeze()  # jieba's dictionary out of full GC passes: worst pause 220–330 ms → ~100 ms (web_submit.py)
        first_password = await ensure_first_admin(app.state.services.store)
        if first_password:
            announce_first_admin(first_password)
        runner_task = None
        runner = None
        if run_workers:
            runner = WorkerRunner(app.state.services, worker.all_jobs(app.state.services))
            runner_task = asyncio.create_task(runner.run())
        try:
            yield
        finally:
            if runner is not None and runner_task is not None:
                runner.stop.set()
                await runner_task
            if owned:
                await app.state.services.close()

    templates = Jinja2Templates(directory=[HERE / folder / "templates" for folder in FEATURE_FOLDERS
                                           if (HERE / folder / "templates").is_dir()])
    templates.env.globals["site_name"] = "嘉祥县政务服务好差评"
    templates.env.globals["csrf_token"] = csrf_token
    templates.env.globals["current_user"] = current_user
    templates.env.globals["calendar_missing"] = lambda request: (
        request.app.state.services.calendar.missing_schedule_cached())
    templates.env.globals["staff_nav"] = staff_nav
    templates.env.globals["calendar_missing_labels"] = CALENDAR_MISSING_LABELS
    templates.env.globals["rn_unvisited_labels"] = RN_UNVISITED_LABELS
    templates.env.globals["callbacks_label"] = CALLBACKS_LABEL
    templates.env.globals["case_countdown"] = case_countdown
    templates.env.filters["local_time"] = local_time
    templates.env.filters["local_date"] = local_date
    templates.env.globals["rating_label"] = rating_label
    templates.env.globals["actor_label"] = actor_label
    templates.env.filters["audit_action"] = audit_action_label
    templates.env.filters["audit_detail"] = audit_detail_text
    templates.env.globals["rating_reason_label"] = rating_reason_label
    templates.env.globals["triage_reason_label"] = triage_reason_label
    templates.env.globals["retention_notices"] = RETENTION_NOTICES
    https = settings.public_url.startswith("https://")
    metrics = ProcessMetrics()
    app = Starlette(
        routes=[
            Route("/", home.home, name="home"),
            Route("/favicon.ico", home.favicon, name="favicon"),
            Route("/healthz", home.healthz, name="healthz"),
            Route("/readyz", home.readyz, name="readyz"),
            Route("/metrics", metrics_endpoint, name="metrics"),
            *(route for routes in FEATURE_ROUTES for route in routes),
            Mount("/static", app=StaticFiles(packages=[(f"gateway.{folder}", "static") for folder in FEATURE_FOLDERS
                                                       if (HERE / folder / "static").is_dir()]), name="static"),
        ],
        lifespan=lifespan,
        middleware=[
            Middleware(MetricsMiddleware, metrics=metrics),
            Middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies),
            Middleware(SecurityHeadersMiddleware, https=https),
            Middleware(BodyLimitMiddleware, default=settings.max_request_bytes, by_prefix=body_limits(settings)),
            Middleware(NulGuardMiddleware),
            Middleware(SessionMiddleware, secret_key=settings.signing_key().decode(), session_cookie="hcp_session",
                       max_age=12 * 3600, same_site="lax", https_only=https),
            Middleware(PrincipalMiddleware),
        ],
        exception_handlers={HTTPException: http_error},
    )
    app.state.templates = templates
    wechat_routes.install_log_scrubber()  # WeChat puts the sender's OpenID in its callback URL
    app.state.metrics = metrics
    if services is not None:  # injected (tests, embedding): usable even without running the lifespan
        app.state.services = services
    app.state.settings = settings
    return app
