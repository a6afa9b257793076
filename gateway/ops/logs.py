"""Logging for ``hcp serve`` and ``hcp worker``: readable lines, or with ``HCP_LOG_FORMAT=json`` one
JSON object a line for a log collector.

The JSON form never carries what could be personal data: an exception is logged by its type and
the code locations of its traceback, not its message (a database error's message holds the
parameters of the failed statement), and a request by method, path without the query string and
status, without the client's address.  The project's own log messages name cases by code and
never contain a citizen's name, phone, address or text.
"""

from __future__ import annotations

import json
import logging
import traceback
from datetime import UTC, datetime
from typing import Any


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) == 5:
            _client, method, path, _version, status = record.args
            entry.update(event="request", method=method, path=str(path).split("?", 1)[0], status=status)
        else:
            entry["message"] = record.getMessage()
        if record.exc_info and record.exc_info[0] is not None:
            entry["exception"] = record.exc_info[0].__name__
            entry["where"] = [f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno}:{frame.name}"
                              for frame in traceback.extract_tb(record.exc_info[2])][-8:]
        return json.dumps(entry, ensure_ascii=False)


def logging_config(level: str, fmt: str) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for the app and uvicorn alike (``uvicorn.run(log_config=…)``)."""
    formatter: dict[str, Any] = ({"()": JsonFormatter} if fmt == "json"
                                 else {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"})
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"main": formatter},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "main", "stream": "ext://sys.stderr"}},
        "root": {"handlers": ["stderr"], "level": level.upper()},
        "loggers": {name: {"handlers": [], "propagate": True, "level": level.upper()}
                    for name in ("uvicorn", "uvicorn.error", "uvicorn.access")},
    }
