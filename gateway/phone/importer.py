"""``hcp phone import``: read call records from a file (or Twilio's REST API) and store them.

Parsing is pure (``channels.phone.cdr``); storing goes in batches through ``CallStore``.  Rows that
cannot be read are reported with their row numbers and the rest is kept; re-running the same
import stores nothing twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from channels.phone.cdr import CallRecord, ParsedCalls, parse_asterisk, parse_mapped_csv, parse_twilio_calls
from gateway.phone.calls import CallStore, StoreCounts, batches
from gateway.phone.options import PhoneOptions

if TYPE_CHECKING:
    from gateway.core.services import Services


@dataclass
class ImportReport:
    parsed: ParsedCalls
    counts: StoreCounts


def read_file(path: Path, fmt: str, *, mapping: dict[str, str] | None = None, tz: str = "Asia/Shanghai",
              area_code: str = "0537") -> ParsedCalls:
    """Parse a call-record file; raise ``ValueError`` for a file that cannot be read at all."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except OSError as exc:
        raise ValueError(f"{path}: {exc.strerror}") from None
    if fmt == "asterisk":
        return parse_asterisk(data, tz=tz, area_code=area_code)
    if fmt == "csv":
        return parse_mapped_csv(data, mapping, tz=tz, area_code=area_code)
    if fmt == "twilio":
        try:
            loaded: Any = json.loads(data.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path}: not Twilio call JSON: {exc}") from None
        items = loaded.get("calls") if isinstance(loaded, dict) else loaded
        if not isinstance(items, list):
            raise ValueError(f"{path}: expected a list of calls or an object with \"calls\"")
        return parse_twilio_calls(items, area_code=area_code)
    raise ValueError(f"unknown format {fmt!r}: asterisk, csv or twilio")


async def fetch_twilio_calls(services: Services, *, since: datetime, limit: int | None = None,
                             area_code: str = "0537") -> ParsedCalls:
    """Twilio's call list through the REST API (inbound calls to ``HCP_TWILIO_FROM`` since ``since``)."""
    from twilio.http.async_http_client import AsyncTwilioHttpClient

    from gateway.phone.sms import make_client

    settings = services.settings
    async with AsyncTwilioHttpClient(timeout=60) as http:
        client = make_client(settings, http)
        options: dict[str, Any] = {"start_time_after": since, "limit": limit, "page_size": 200}
        if settings.twilio_from:
            options["to"] = settings.twilio_from
        calls = await client.calls.list_async(**options)
    return parse_twilio_calls(calls, area_code=area_code)


async def store_parsed(services: Services, parsed: ParsedCalls, *, options: PhoneOptions | None = None,
                       progress: Callable[[int], None] | None = None) -> StoreCounts:
    """Store the good records in committed batches; returns what happened."""
    options = options or PhoneOptions()
    store = CallStore(services.cipher, await services.calendar.get(), options)
    total = StoreCounts()
    records: list[CallRecord] = [record for _, record in sorted(parsed.records, key=lambda r: r[1].started_at)]
    for batch in batches(records):
        counts = await services.store.run_write(lambda session, batch=batch: store.store(session, batch))
        total.add(counts)
        if progress is not None:
            progress(len(batch))
    return total
