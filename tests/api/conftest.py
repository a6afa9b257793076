"""The inbound API's fixture: a registered client system driving the app over ASGI."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from gateway.api.clients import add_client
from gateway.app import create_app
from gateway.core.services import Services
from tests.api.helpers import ApiClientDriver


@pytest.fixture
async def api(services: Services) -> AsyncIterator[ApiClientDriver]:
    issued = await add_client(services.store, services.cipher, "queue-jintun", "金屯镇叫号系统")
    app = create_app(services=services, run_workers=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        yield ApiClientDriver(client, issued.client, issued.key_id, issued.secret)
