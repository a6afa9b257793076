"""The inbound API against its own OpenAPI document: schemathesis generates requests from the
document (valid and invalid bodies), the test signs them as a client would, and every response
must be one the document describes — status code, content type and body schema — and never a 5xx."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.core import NotSet
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance
from starlette.testclient import TestClient

from gateway.api.clients import IssuedKey, add_client
from gateway.api.openapi import document
from gateway.api.signing import signed_headers
from gateway.app import create_app
from gateway.core.settings import Settings

schema = schemathesis.openapi.from_dict(document("http://testserver"))
SEEN: set[int] = set()


@pytest.fixture(scope="module")
def api_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, IssuedKey]]:
    root: Path = tmp_path_factory.mktemp("openapi")
    app = create_app(Settings(data_dir=root / "var", run_workers=False, _env_file=None))  # type: ignore[call-arg]
    with TestClient(app) as client:
        services = app.state.services
        issued = client.portal.call(add_client, services.store, services.cipher, "fuzz", "fuzzer")  # type: ignore[union-attr]
        yield client, issued


def test_the_document_is_served_and_lists_both_operations(api_client: tuple[TestClient, IssuedKey]) -> None:
    client, _ = api_client
    served = client.get("/api/v1/openapi.json").json()
    assert served["openapi"] == "3.1.0"
    assert set(served["paths"]) == {"/api/v1/matters", "/api/v1/evaluations"}
    assert "matter_no" in served["components"]["schemas"]["MatterIn"]["required"]


@schema.parametrize()
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_response_is_one_the_document_describes(case: schemathesis.Case,
                                                      api_client: tuple[TestClient, IssuedKey]) -> None:
    client, issued = api_client
    if isinstance(case.body, NotSet):
        body = b""
    elif isinstance(case.body, bytes):  # negative cases may be raw bytes
        body = case.body
    else:
        body = json.dumps(case.body, ensure_ascii=False).encode()
    path = case.formatted_path
    headers = {name.lower(): str(value) for name, value in (case.headers or {}).items()}
    headers.setdefault("content-type", "application/json")
    header_info = case.meta.components.get(ParameterLocation.HEADER) if case.meta else None
    if header_info is None or header_info.mode is GenerationMode.POSITIVE:
        # Schema-valid headers: replace the generated values by a real signature of this request,
        # keeping only the headers the case chose to send.
        signed = signed_headers(issued.client, issued.key_id, issued.secret.encode(), case.method, path, body,
                                timestamp=int(time.time()), nonce=secrets.token_urlsafe(16))
        headers.update({name.lower(): value for name, value in signed.items() if name.lower() in headers})
    response = client.request(case.method, path, content=body, headers=headers)
    assert response.status_code < 500, response.text
    SEEN.add(response.status_code)
    # The document cannot say which service item, hall and window codes are registered, so a
    # schema-valid body naming unknown ones is rightly refused (422, described): the
    # "schema-valid data must be accepted" check is excluded; every other check applies.
    case.validate_response(response, headers=headers, excluded_checks=[positive_data_acceptance])


def test_the_generated_requests_got_past_the_signature_check() -> None:
    """Signed requests reached validation and the store (not only 401s): 404 for unknown matters,
    422 for bodies outside the schema or naming unregistered codes."""
    assert {401, 404, 422} <= SEEN, SEEN
