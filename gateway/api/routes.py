"""HTTP endpoints of the inbound API; they check their own HMAC signatures (``gateway.api.auth``)."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.api.auth import ApiAuthError, ApiCaller, authenticate
from gateway.api.matters import EvaluationIn, MatterError, MatterIn, record_evaluation, record_matter
from gateway.api.openapi import document
from gateway.auth.access import public


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _body(request: Request) -> bytes | JSONResponse:
    limit = request.app.state.settings.api_max_body_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        return _error(413, f"body larger than {limit} bytes")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return _error(413, f"body larger than {limit} bytes")
    return body


async def _signed_json(request: Request, model: type[BaseModel]) -> tuple[ApiCaller, Any] | JSONResponse:
    body = await _body(request)
    if isinstance(body, JSONResponse):
        return body
    try:
        caller = await authenticate(request, body)
    except ApiAuthError as exc:
        return _error(exc.status, exc.message)
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return _error(400, "body is not JSON")
    try:
        return caller, model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors())
        return _error(422, problems)


@public(why="HMAC-signed by the client system; checked in gateway.api.auth")
async def post_matter(request: Request) -> Response:
    parsed = await _signed_json(request, MatterIn)
    if isinstance(parsed, JSONResponse):
        return parsed
    caller, matter = parsed
    try:
        result = await record_matter(request.app.state.services, caller.client_id, caller.code, matter)
    except MatterError as exc:
        return _error(exc.status, str(exc))
    return JSONResponse({"matter_no": matter.matter_no, "created": result.created, "evaluation_link": result.link},
                        status_code=201 if result.created else 200)


@public(why="HMAC-signed by the client system; checked in gateway.api.auth")
async def post_evaluation(request: Request) -> Response:
    parsed = await _signed_json(request, EvaluationIn)
    if isinstance(parsed, JSONResponse):
        return parsed
    caller, evaluation = parsed
    try:
        result, repeat = await record_evaluation(request.app.state.services, caller.client_id, evaluation)
    except MatterError as exc:
        return _error(exc.status, str(exc))
    return JSONResponse({"matter_no": evaluation.matter_no, "case_code": result.case_code, "repeat": repeat},
                        status_code=200 if repeat else 201)


@public(why="the API description, no data")
async def openapi(request: Request) -> Response:
    return JSONResponse(document(request.app.state.settings.public_url))


routes = [
    Route("/api/v1/matters", post_matter, methods=["POST"], name="api_matters"),
    Route("/api/v1/evaluations", post_evaluation, methods=["POST"], name="api_evaluations"),
    Route("/api/v1/openapi.json", openapi, methods=["GET"], name="api_openapi"),
]
