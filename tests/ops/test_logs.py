"""``HCP_LOG_FORMAT=json``: one JSON object a line, and nothing personal in it."""

from __future__ import annotations

import io
import json
import logging
import logging.config

from gateway.ops.logs import JsonFormatter, logging_config


def _line(record: logging.LogRecord) -> dict:
    text = JsonFormatter().format(record)
    assert "\n" not in text
    return json.loads(text)


def test_an_exception_is_logged_by_type_and_place_never_by_its_message() -> None:
    try:
        raise ValueError("duplicate contact 王小明 13812345678")
    except ValueError:
        import sys

        record = logging.LogRecord("gateway.core.ingest", logging.ERROR, __file__, 1, "ingest of case %s failed",
                                   ("JX20261127-0001",), sys.exc_info())
    entry = _line(record)
    assert entry["message"] == "ingest of case JX20261127-0001 failed"
    assert entry["level"] == "error" and entry["logger"] == "gateway.core.ingest"
    assert entry["exception"] == "ValueError" and entry["where"][-1].startswith("test_logs.py:")
    assert "王小明" not in json.dumps(entry, ensure_ascii=False) and "13812345678" not in json.dumps(entry)


def test_a_request_line_keeps_method_path_and_status_without_address_or_query() -> None:
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("203.0.113.9:5000", "GET", "/status?code=JX20261127-0001&phone=138", "1.1", 200), None)
    assert _line(record) | {"ts": ""} == {"ts": "", "level": "info", "logger": "uvicorn.access", "event": "request",
                                          "method": "GET", "path": "/status", "status": 200}


def test_the_configuration_routes_the_app_and_uvicorn_through_one_json_handler() -> None:
    config = logging_config("info", "json")
    stream = io.StringIO()
    logging.config.dictConfig(config)
    try:
        handler = logging.getLogger().handlers[0]
        handler.setStream(stream)  # type: ignore[attr-defined]
        logging.getLogger("gateway.worker").info("outbox: %d delivered", 3)
        logging.getLogger("uvicorn.error").info("Application startup complete.")
        lines = [json.loads(line) for line in stream.getvalue().splitlines()]
        assert [entry["message"] for entry in lines] == ["outbox: 3 delivered", "Application startup complete."]
    finally:
        logging.config.dictConfig({"version": 1, "disable_existing_loggers": False})
        logging.getLogger().handlers.clear()
