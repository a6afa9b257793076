"""The citizen's evaluation link for a finished 办件: one evaluation, whichever path comes first."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from gateway.core.db.models import Case, Contact
from gateway.core.db.models_matters import Matter
from gateway.core.services import Services
from tests.api.helpers import ApiClientDriver, matter


async def _link_path(api: ApiClientDriver, number: str = "L1") -> str:
    response = await api.post("/api/v1/matters", matter(number))
    return "/e/" + response.json()["evaluation_link"].rsplit("/e/", 1)[1]


async def test_the_citizen_evaluates_once_through_the_link(api: ApiClientDriver, services: Services) -> None:
    path = await _link_path(api)
    page = await api.client.get(path)
    assert page.status_code == 200 and "请评价这次办事" in page.text
    assert "赵六" not in page.text and "13700001234" not in page.text
    missing = await api.client.post(path, data={"text": "x"})
    assert missing.status_code == 400 and "请选择满意程度" in missing.text
    done = await api.client.post(path, data={"rating": "dissatisfied", "reason": ["repeat_trips", "bogus"],
                                             "text": "材料退回了两次"})
    assert done.status_code == 200
    code = re.search(r'id="code">([^<]+)<', done.text).group(1)  # type: ignore[union-attr]
    again = await api.client.post(path, data={"rating": "satisfied"})
    assert again.status_code == 200 and code in again.text and "已经评价过" in again.text
    platform = await api.post("/api/v1/evaluations", {"matter_no": "L1", "rating": "satisfied",
                                                      "evaluated_at": "2026-11-30T12:00:00+08:00"})
    assert platform.status_code == 409
    async with services.store.read() as session:
        case = (await session.execute(select(Case).where(Case.code == code))).scalar_one()
        contact = (await session.execute(select(Contact).where(Contact.case_id == case.id))).scalar_one()
        stored = (await session.execute(select(Matter))).scalar_one()
    assert (case.rating, case.reasons, case.channel) == ("dissatisfied", ["repeat_trips"], "web")
    assert services.cipher.open(contact.phone_enc) == "13700001234" and stored.evaluated_case_id == case.id
    assert (await api.client.get(path)).status_code == 200


async def test_forged_and_expired_links_are_refused_clearly(api: ApiClientDriver, services: Services) -> None:
    path = await _link_path(api, "L2")
    forged = path[:-2] + ("AA" if not path.endswith("AA") else "BB")
    assert (await api.client.get(forged)).status_code == 404
    assert "评价链接无效" in (await api.client.get("/e/nonsense")).text
    async with services.store.write() as session:
        await session.execute(update(Matter).values(link_expires_at=datetime.now(UTC) - timedelta(days=1)))
    from gateway.api.matters import evaluation_url

    async with services.store.read() as session:
        stored = (await session.execute(select(Matter))).scalar_one()
    expired_path = "/e/" + evaluation_url(services, stored.id, stored.link_expires_at).rsplit("/e/", 1)[1]
    expired = await api.client.get(expired_path)
    assert expired.status_code == 410 and "评价链接已过期" in expired.text
    late = await api.client.post(expired_path, data={"rating": "satisfied"})
    assert late.status_code == 410
