"""Generated from the app's route table: every route declares its access, and every staff route
refuses anonymous callers and every role it does not admit.  A new route without a declaration,
or one whose guard is missing, fails here."""

from __future__ import annotations

import pytest
from starlette.routing import Mount, Route

from gateway.app import create_app
from gateway.auth.access import access_of
from gateway.auth.roles import ROLES
from gateway.core.services import Services
from tests.staff import anonymous_client, make_staff, signed_in


def _routes() -> list[Route]:
    app = create_app(run_workers=False)
    return [route for route in app.routes if isinstance(route, Route)]


def _sample_path(route: Route) -> str:
    values = {name: (1 if type(conv).__name__ in {"IntegerConvertor", "FloatConvertor"} else "x")
              for name, conv in route.param_convertors.items()}
    return route.url_path_for(route.name, **values)


def test_every_route_declares_who_may_call_it() -> None:
    app = create_app(run_workers=False)
    undeclared = [route.path for route in app.routes if isinstance(route, Route) and access_of(route.endpoint) is None]
    mounts = [route.path for route in app.routes if isinstance(route, Mount) and route.path != "/static"]
    assert undeclared == [] and mounts == []


def _staff_routes() -> list[tuple[Route, str]]:
    pairs = []
    for route in _routes():
        access = access_of(route.endpoint)
        if access is not None and not access.public:
            pairs.extend((route, method) for method in sorted(route.methods or {"GET"}) if method != "HEAD")
    return pairs


async def test_staff_routes_refuse_anonymous_callers(services: Services) -> None:
    app = create_app(services=services, run_workers=False)
    failures = []
    async with anonymous_client(app) as client:
        for route, method in _staff_routes():
            response = await client.request(method, _sample_path(route), headers={"accept": "application/json"})
            if response.status_code != 401:
                failures.append((method, route.path, response.status_code))
    assert failures == []
    assert _staff_routes(), "the route table has staff routes"


@pytest.mark.parametrize("role", list(ROLES))
async def test_staff_routes_refuse_roles_they_do_not_admit(services: Services, role: str) -> None:
    await make_staff(services, f"user-{role}", [role], ["jintun"])
    app = create_app(services=services, run_workers=False)
    failures = []
    async with signed_in(app, f"user-{role}") as client:
        for route, method in _staff_routes():
            access = access_of(route.endpoint)
            assert access is not None
            if role in access.roles:
                continue
            response = await client.request(method, _sample_path(route), headers={"accept": "application/json"})
            if response.status_code != 403:
                failures.append((method, route.path, response.status_code))
    assert failures == []
