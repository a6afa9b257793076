"""Where each channel plugs into the gateway: its outbox sender, its background jobs, its CLI
commands and its web routes.

Every channel module under ``gateway/`` that talks to the outside (mail, Twilio, …) exposes
``plugin(services) -> ChannelPlugin``; this module lists them once, so the app, the worker and the
``hcp`` command wire the same set.  A plugin whose configuration is missing returns an empty
``ChannelPlugin`` (no sender, no job) instead of failing the whole gateway.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.outbox import Sender
    from gateway.services import Services
    from gateway.workers import Job

log = logging.getLogger(__name__)

# "module:function" returning a ChannelPlugin (senders and jobs, built from services).
PLUGINS: tuple[str, ...] = ("gateway.mail:plugin", "gateway.phone.plugin:plugin", "gateway.results.upstream:plugin",
                           "gateway.api.plugin:plugin")
# "module:attribute" naming a list of Starlette routes (handlers reach services via request.app.state).
ROUTES: tuple[str, ...] = (
    "gateway.routes.auth:routes",
    "gateway.routes.console:routes",
    "gateway.routes.triage_queue:routes",
    "gateway.routes.supervise:routes",
    "gateway.routes.rosters:routes",
    "gateway.api.routes:routes",
    "gateway.api.evaluation_page:routes",
    "gateway.routes.admin:routes",
    "gateway.paper.routes:routes",
    "gateway.web.routes:routes",
    "gateway.results.routes:routes",
    "gateway.phone.routes:routes",
    "gateway.routes_email:routes",
)
# "module:attribute" naming a click group mounted under ``hcp``.
CLI_GROUPS: tuple[str, ...] = (
    "gateway.cli_email:email_group",
    "gateway.cli_users:users_group",
    "gateway.cli_keys:keys_group",
    "gateway.cli_rosters:rosters_group",
    "gateway.api.cli:api_group",
    "gateway.paper.cli:paper_group",
    "gateway.paper.cli:slips_group",
    "gateway.web.cli:web_group",
    "gateway.results.cli:report_group",
    "gateway.results.cli:demo_group",
    "gateway.phone.cli:phone_group",
)


@dataclass
class ChannelPlugin:
    senders: dict[str, Sender] = field(default_factory=dict)
    jobs: list[Job] = field(default_factory=list)


def _resolve(spec: str) -> Any:
    module_name, _, attribute = spec.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def load_plugins(services: Services) -> list[ChannelPlugin]:
    plugins = []
    for spec in PLUGINS:
        factory: Callable[[Services], ChannelPlugin] = _resolve(spec)
        plugins.append(factory(services))
    return plugins


def plugin_routes() -> list[Any]:
    return [route for spec in ROUTES for route in _resolve(spec)]


def plugin_cli_groups() -> list[Any]:
    return [_resolve(spec) for spec in CLI_GROUPS]


def senders_of(plugins: list[ChannelPlugin]) -> dict[str, Sender]:
    merged: dict[str, Sender] = {}
    for plugin in plugins:
        merged.update(plugin.senders)
    return merged
