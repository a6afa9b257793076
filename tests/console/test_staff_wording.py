"""Words and labels a walk through the staff pages found wrong: what a heading promises is what its
list holds, one list has one name everywhere, a shortcut's letter cannot be misread."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import time_machine
from sqlalchemy import select

from gateway.app import create_app
from gateway.core.db.models import Case
from gateway.core.services import Services
from tests.helpers import local, make_intake
from tests.staff import make_staff, signed_in

NOW = datetime(2026, 12, 8, 2, 0, tzinfo=UTC)  # Tuesday 10:00 in Asia/Shanghai


@time_machine.travel(NOW, tick=False)
async def test_the_due_soon_heading_limits_the_hours_to_what_is_still_ahead(services: Services) -> None:
    """A case 586 days late sat under "即将到期和已超时（4 小时内）": the four hours bound what is
    about to fall due, not how late the overdue ones are."""
    result = await services.ingestor.ingest(make_intake(source_ref="late", received_at=local(2025, 4, 1, 9, 0)))
    async with services.store.write() as session:
        case = (await session.execute(select(Case).where(Case.code == result.case_code))).scalar_one()
        case.status, case.first_response_due = "verifying", NOW - timedelta(days=586)
    await make_staff(services, "boss", ["supervisor"])
    app = create_app(services=services, run_workers=False)
    async with signed_in(app, "boss") as client:
        page = (await client.get("/supervise")).text
        wider = (await client.get("/supervise?hours=24")).text
    heading = re.search(r'<h2 id="due-soon-title">([^<]+)</h2>', page)
    assert heading and heading.group(1) == "即将到期（4 小时内）和已超时", page[:2000]
    assert "即将到期（24 小时内）和已超时" in wider
    assert result.case_code in re.search(r'id="due-soon">.*?</table>', page, re.S).group(0)


async def test_the_operators_call_list_has_one_name_on_the_start_page_and_the_hotline(services: Services) -> None:
    await make_staff(services, "clerk", ["operator"])
    app = create_app(services=services, run_workers=False)
    async with signed_in(app, "clerk") as client:
        home = (await client.get("/console")).text
        hotline = (await client.get("/hotline")).text
        alone = (await client.get("/hotline/callbacks")).text
    count = re.search(r'<a class="work[^"]*" href="/hotline#callbacks">([^<]+) <strong>', home)
    heading = re.search(r'<h2 id="callbacks-title">([^<]+?) <span', hotline)
    assert count and heading, (home, hotline)
    assert count.group(1) == heading.group(1) == "待回电、回访"
    assert "<title>待回电、回访" in alone


async def test_start_page_shortcuts_print_their_letters_in_upper_case(services: Services) -> None:
    """"Alt+l" reads as Alt+1 (another shortcut): letters are printed as capitals, as other pages do."""
    await make_staff(services, "boss", ["supervisor"])
    app = create_app(services=services, run_workers=False)
    async with signed_in(app, "boss") as client:
        home = (await client.get("/console")).text
    shortcuts = re.findall(r"<kbd>Alt\+([^<]+)</kbd>", home)
    assert {"L", "M", "H", "W"} <= set(shortcuts), shortcuts
    assert all(key.isdigit() or key.isupper() for key in shortcuts), shortcuts
    assert 'accesskey="l"' in home, "the key itself is unchanged"
