"""Shared plumbing of the ``hcp`` subcommands: settings, services, async running, errors."""

from __future__ import annotations

import asyncio
import functools
import json
import sys
from collections.abc import Awaitable, Callable, Iterable
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
from gateway.core.settings import Settings
from gateway.core.workflow import WorkflowError

T = TypeVar("T")
USER_ERRORS = (IntakeError, IngestError, CaseNotFound, WorkflowError, RegistryError, SchemaTooNew, ValueError)


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(f"HCP_{'.'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
        raise click.ClickException(f"invalid configuration: {problems}") from None
    except ValueError as exc:
        raise click.ClickException(f"invalid configuration: {exc}") from None


def with_services(func: Callable[..., Awaitable[T]]) -> Callable[..., T]:
    """Run an async command body with ready services (migrated database) and friendly errors."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        async def body() -> T:
            services = Services.create(load_settings())
            try:
                await services.prepare_database()
                return await func(services, *args, **kwargs)
            finally:
                await services.close()

        try:
            return asyncio.run(body())
        except USER_ERRORS as exc:
            raise click.ClickException(str(exc)) from None

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
