"""The evaluation link when the database fails (a read-only disk): the citizen's text comes back (issue 23.4)."""

from __future__ import annotations

import pytest

from gateway.core.services import Services
from tests.api.helpers import ApiClientDriver
from tests.api.test_evaluation_link import _link_path
from tests.hardening.test_failing_database import TYPED, make_read_only


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_failing_database_keeps_the_evaluation_text(api: ApiClientDriver, services: Services) -> None:
    path = await _link_path(api)
    await make_read_only(services)
    page = await api.client.post(path, data={"rating": "dissatisfied", "text": TYPED[:1000]})
    assert page.status_code == 503 and "暂时无法提交，您填写的内容已保留，请稍后再试" in page.text
    assert TYPED[:1000] in page.text
