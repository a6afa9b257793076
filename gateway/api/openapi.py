"""The OpenAPI 3.1 document of the inbound API, built from the same pydantic models that validate
the requests, so the description cannot drift from the behaviour."""

from __future__ import annotations

from typing import Any

from gateway.api.matters import EvaluationIn, MatterIn

SIGNATURE_HEADERS = [
    ("X-HCP-Client", "client system code", r"^[a-z0-9][a-z0-9_-]{1,31}$"),
    ("X-HCP-Key", "key id (k1, k2, … during a rotation)", r"^[A-Za-z0-9_-]{1,32}$"),
    ("X-HCP-Timestamp", "Unix seconds; refused outside the allowed clock skew", r"^[0-9]{1,12}$"),
    ("X-HCP-Nonce", "16–64 random characters, never reused", r"^[A-Za-z0-9_-]{16,64}$"),
    ("X-HCP-Signature", "hex HMAC-SHA256 of timestamp, nonce, method, path and body hash", r"^[0-9a-f]{64}$"),
]


def _error(description: str) -> dict[str, Any]:
    schema = {"$ref": "#/components/schemas/Error"}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _operation(summary: str, model: str, ok: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "summary": summary,
        "parameters": [{"name": name, "in": "header", "required": True, "description": description,
                        "schema": {"type": "string", "pattern": pattern}}
                       for name, description, pattern in SIGNATURE_HEADERS],
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": {"$ref": f"#/components/schemas/{model}"}}}},
        "responses": {**ok, "400": _error("body is not JSON"), "401": _error("signature, key, clock or nonce refused"),
                      "413": _error("body too large"), "422": _error("body does not follow the schema"), **extra},
    }


def document(public_url: str) -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    for model in (MatterIn, EvaluationIn):
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    schemas["Error"] = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}
    schemas["MatterAccepted"] = {
        "type": "object", "required": ["matter_no", "created", "evaluation_link"],
        "properties": {"matter_no": {"type": "string"}, "created": {"type": "boolean"},
                       "evaluation_link": {"type": "string"}}}
    schemas["EvaluationAccepted"] = {
        "type": "object", "required": ["matter_no", "case_code", "repeat"],
        "properties": {"matter_no": {"type": "string"}, "case_code": {"type": "string"},
                       "repeat": {"type": "boolean"}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "hcp inbound API", "version": "1",
                 "description": "HMAC-signed JSON from the hall's queue-calling system and online service platforms. "
                                "Sign \"{timestamp}\\n{nonce}\\n{METHOD}\\n{path}\\n{sha256(body) hex}\" with "
                                "HMAC-SHA256 under the client's key."},
        "servers": [{"url": public_url.rstrip("/")}],
        "paths": {
            "/api/v1/matters": {"post": _operation(
                "办结通知: report a finished matter; sends the citizen an evaluation link once", "MatterIn",
                {"201": {"description": "matter stored, link sent", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/MatterAccepted"}}}},
                 "200": {"description": "the same matter again (idempotent)", "content": {"application/json": {
                     "schema": {"$ref": "#/components/schemas/MatterAccepted"}}}}}, {})},
            "/api/v1/evaluations": {"post": _operation(
                "一事一评: a ready-made evaluation of a reported matter", "EvaluationIn",
                {"201": {"description": "evaluation stored as a case", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/EvaluationAccepted"}}}},
                 "200": {"description": "the same evaluation again (idempotent)", "content": {"application/json": {
                     "schema": {"$ref": "#/components/schemas/EvaluationAccepted"}}}}},
                {"404": _error("the matter was never reported"),
                 "409": _error("the matter has already been evaluated")})},
        },
        "components": {"schemas": schemas},
    }
