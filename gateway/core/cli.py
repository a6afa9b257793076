"""Shared plumbing of the ``hcp`` subcommands: settings, services, async running, errors."""

from __future__ import annotations

import asyncio
import functools
import json
import sys
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import click
from pydantic import ValidationError
from tqdm import tqdm

from channels.intake import IntakeError
from gateway.core.cases import CaseNotFound
from gateway.core.db.migrate import SchemaTooNew
from gateway.core.ingest import IngestError
from gateway.core.registry import RegistryError
from gateway.core.services import Services
from gateway.core.settings import MissingLocalKey, Settings
from gateway.core.workflow import WorkflowError

T = TypeVar("T")
USER_ERRORS = (IntakeError, IngestError, CaseNotFound, WorkflowError, RegistryError, SchemaTooNew, ValueError,
               MissingLocalKey)


def load_settings(*, may_create: bool = False) -> Settings:
    """The settings of this run; only ``hcp db upgrade`` (``may_create``) may generate key files."""
    try:
        settings = Settings()
        settings.allow_new_keys(may_create)
        return settings
    except ValidationError as exc:
        problems = "; ".join(f"HCP_{'.'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
        raise click.ClickException(f"invalid configuration: {problems}") from None
    except ValueError as exc:
        raise click.ClickException(f"invalid configuration: {exc}") from None


def database_exists(settings: Settings) -> bool:
    """Whether the configured database already holds a schema (an SQLite file is not created to ask)."""
    url = settings.resolved_database_url
    if url.startswith("sqlite"):
        from sqlalchemy.engine import make_url

        database = make_url(url).database
        if not database or database == ":memory:":
            return False
        path = Path(database)
        return path.is_file() and path.stat().st_size > 0
    from gateway.core.db.migrate import current

    return current(url) is not None


def describe_location(settings: Settings) -> str:
    """``数据库 …；数据目录 …`` with any password hidden: what every writing command prints."""
    url = settings.public_view()["database_url"]
    return f"hcp: 数据库 {url}；数据目录 {settings.data_dir}"


def require_database(settings: Settings) -> None:
    """Refuse to run on a database that does not exist yet: only ``hcp db upgrade`` creates one.

    Run from the wrong folder or with a mistyped setting, a command used to create an empty
    database and new keys silently; slips printed that way fail their signature check later.
    """
    if not database_exists(settings):
        raise click.ClickException(
            f"找不到数据库（{settings.public_view()['database_url']}，数据目录 {settings.data_dir}）。"
            "新建数据库请运行 `hcp db upgrade`（`make run` 会先运行它）；若已有数据库，"
            "请用 HCP_CONFIG、./hcp.toml 或 /etc/hcp/hcp.toml 指向它（`hcp config` 显示当前设置）。")


def with_services(func: Callable[..., Awaitable[T]]) -> Callable[..., T]:
    """Run an async command body with ready services (migrated database) and friendly errors."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        settings = load_settings()
        require_database(settings)
        click.echo(describe_location(settings), err=True)

        async def body() -> T:
            services = Services.create(settings)
            try:
                await services.prepare_database()
                return await func(services, *args, **kwargs)
            finally:
                await services.close()

        try:
            return asyncio.run(body())
        except USER_ERRORS as exc:
            # An error may name the command-line option to fix (``UserError.option``); the web doesn't.
            option = getattr(exc, "option", None)
            raise click.ClickException(f"{exc} ({option})" if option else str(exc)) from None

    return wrapper


def print_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def progress_bar(*, total: int | None, desc: str, unit: str = "页") -> tqdm:
    """A bar updated by hand (``bar.update(1)``) on a terminal; silent when output is piped or redirected."""
    return tqdm(total=total, desc=desc, unit=unit, disable=None if sys.stderr.isatty() else True, file=sys.stderr)


def progress(items: Iterable[T], *, total: int | None = None, desc: str) -> Iterable[T]:
    """A progress bar on a terminal, nothing when output is piped or redirected."""
    return tqdm(items, total=total, desc=desc, unit="件", disable=None if sys.stderr.isatty() else True,
                file=sys.stderr)
