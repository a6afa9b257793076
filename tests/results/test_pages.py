"""The public page, the hall screen and the reports page: figures shown, personal data never."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from gateway.app import create_app
from gateway.core.db.models import Case
from gateway.core.services import Services
from gateway.results import views
from tests.helpers import local, make_intake
from tests.results import dataset
from tests.staff import anonymous_client, make_staff, signed_in

PERSONAL = [*dataset.NAMES, *dataset.PHONES, *dataset.EMAILS, "138****5678"]


@pytest.fixture(autouse=True)
def november(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages default to the current month: pin "today" into the month of the hand-made cases."""
    monkeypatch.setattr(views, "today", lambda tz: date(2026, 11, 20))


def assert_anonymous(text: str) -> None:
    for value in PERSONAL:
        assert value not in text, f"personal data {value!r} leaked"
    for name in dataset.NAMES:
        assert name[0] + "*" not in text, "not even a masked name belongs on a public page"


async def test_public_page_shows_figures_charts_and_public_replies_only(services: Services) -> None:
    await dataset.load(services)
    app = create_app(services=services, run_workers=False)
    async with anonymous_client(app) as client:
        page = await client.get("/public")
        other = await client.get("/public?month=2026-10")
        bad = await client.get("/public?month=november")
    assert page.status_code == 200
    text = page.text
    assert_anonymous(text)
    assert "<svg" in text and "金屯镇" in text and "梁宝寺镇" in text
    assert "57.1%" in text, "好评率 4/7 of the month"
    assert "4 / 7" in text
    assert dataset.PUBLIC_REPLY in text, "the public reply of the rectified case is shown"
    assert "联系电话***" in text, "a phone number inside a public reply is scrubbed"
    assert "玩手机" not in text and "跑了好几趟" not in text, "citizens' own texts are never published"
    assert "<script" not in text and "cdn" not in text.lower()
    assert other.status_code == 200 and "本月暂无评价" in other.text
    assert bad.status_code == 400 and "月份格式" in bad.text


async def test_hall_screen_refreshes_itself_and_stays_anonymous(services: Services) -> None:
    await dataset.load(services)
    app = create_app(services=services, run_workers=False)
    async with anonymous_client(app) as client:
        screen = await client.get("/screen/jintun")
        missing = await client.get("/screen/atlantis")
        script = await client.get("/static/screen.js")
    assert screen.status_code == 200
    assert_anonymous(screen.text)
    assert "金屯镇为民服务大厅" in screen.text and 'src="http://testserver/static/screen.js"' in screen.text
    assert 'data-refresh-seconds="60"' in screen.text and "<svg" in screen.text
    assert dataset.PUBLIC_REPLY in screen.text
    assert "<script>" not in screen.text, "no inline script under the CSP"
    assert missing.status_code == 404 and "没有这个服务大厅" in missing.text
    assert script.status_code == 200 and "setInterval(refresh" in script.text


async def test_reports_page_and_downloads_for_supervisors(services: Services) -> None:
    codes = await dataset.load(services)
    await make_staff(services, "chief", ["supervisor"], [])
    app = create_app(services=services, run_workers=False)
    async with signed_in(app, "chief") as client:
        page = await client.get("/reports?from=2026-11-01&to=2026-11-30")
        xlsx = await client.get("/reports/export.xlsx?from=2026-11-01&to=2026-11-30")
        csv_response = await client.get("/reports/export.csv?from=2026-11-01&to=2026-11-30&hall=jintun")
        backwards = await client.get("/reports?from=2026-11-30&to=2026-11-01")
    assert page.status_code == 200
    assert "57.1%" in page.text and codes["c5"] in page.text, "the unvisited real-name 差评 is listed"
    assert_anonymous(page.text)
    assert backwards.status_code == 400 and "结束日期早于开始日期" in backwards.text
    assert xlsx.status_code == 200 and xlsx.headers["content-type"].startswith("application/vnd.openxml")
    book = load_workbook(io.BytesIO(xlsx.content))
    assert book.sheetnames[:2] == ["通报", "镇街排名"]
    assert "未回访实名差评" in book.sheetnames and "超期案件" in book.sheetnames
    assert book["未回访实名差评"]["A2"].value == codes["c5"]
    assert csv_response.status_code == 200
    content = csv_response.content.decode("utf-8")
    assert content.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(content.lstrip("\ufeff"))))
    assert rows[0][0] == "受理编号" and len(rows) == 1 + 9, "nine cases of 金屯镇"
    assert "王**" in content and "138****5678" in content
    for value in PERSONAL[:-1]:
        assert value not in content


async def test_reports_refuse_other_roles(services: Services) -> None:
    await make_staff(services, "clerk", ["handler"], ["jintun"])
    app = create_app(services=services, run_workers=False)
    async with signed_in(app, "clerk") as client:
        page = await client.get("/reports")
        xlsx = await client.get("/reports/export.xlsx")
    assert page.status_code == 403 and xlsx.status_code == 403


async def test_public_and_screen_rates_leave_out_cases_still_within_their_deadline(services: Services) -> None:
    """整改率 = rectified / (rectified + overdue unrectified); a 差评 whose deadline is still ahead
    is 整改中, shown beside the rate, not counted as a failure."""
    await dataset.load(services)
    now = datetime.now(UTC)
    for ref, due in (("in-time", now + timedelta(days=3)), ("late", now - timedelta(days=3))):
        result = await services.ingestor.ingest(make_intake(
            source_ref=ref, received_at=local(2026, 11, 10, 9, 0), text="跑了好几趟 #time_limited",
            rating="不满意", reasons=["repeat_trips"], hall="jintun", window="w01"))
        async with services.store.write() as session:
            case = (await session.execute(select(Case).where(Case.id == result.case_id))).scalar_one()
            case.first_response_due, case.first_responded_at, case.result_due = due, now, due
    app = create_app(services=services, run_workers=False)
    async with anonymous_client(app) as client:
        public = (await client.get("/public")).text
        screen = (await client.get("/screen/jintun")).text
    # Three rectified, two overdue ("late" and the unrated complaint c8, handled as a 差评): 3 / 5,
    # and one 整改中 (it would be 3 / 6 = 50.0% with it).
    assert "60.0%" in public and "3 / 5" in public and "整改中 1 件" in public
    assert '差评整改率</span><span class="h-value">60.0%' in public
    assert '<td class="num">60.0%</td>' in public, "the town and the month rates follow the same rule"
    assert '差评整改率</span><span class="t-value">60.0%' in screen and "整改中 1 件" in screen
    # the rectified list names the town once: "金屯镇 · 综合受理窗口", not "金屯镇 · 金屯镇·综合受理窗口"
    assert '<p class="meta">金屯镇 · ' in public and "金屯镇 · 金屯镇·" not in public


async def test_a_future_month_on_the_public_page_says_so(services: Services) -> None:
    await dataset.load(services)
    app = create_app(services=services, run_workers=False)
    async with anonymous_client(app) as client:
        future = await client.get("/public?month=2027-03")
        malformed = await client.get("/public?month=2026-13")
    assert future.status_code == 200
    assert "2027年3月尚未到来，还没有评价数据" in future.text and 'role="status"' in future.text
    assert "<strong>2026年11月</strong>" in future.text and "57.1%" in future.text, "this month is shown instead"
    assert malformed.status_code == 400 and "月份格式应为" in malformed.text


async def test_the_hall_screen_shows_years_and_a_qr_code_only_with_a_public_address(services: Services) -> None:
    await dataset.load(services)
    app = create_app(services=services, run_workers=False)
    async with anonymous_client(app) as client:
        unpublished = (await client.get("/screen/jintun")).text
        services.settings.public_url = "https://hcp.example.cn"
        services.settings._public_url_set = True  # as if HCP_PUBLIC_URL had been set
        published = (await client.get("/screen/jintun")).text
    # Without HCP_PUBLIC_URL there is nothing to scan: the words go too.
    assert "扫码评价" not in unpublished and "screen-qr" not in unpublished
    assert "扫码评价" in published and 'class="screen-qr"' in published
    # The code is the address: a wall screen prints no URL beside it (nobody types one off a wall); the
    # code keeps its accessible name.
    assert "https://hcp.example.cn/f" not in published and "hcp.example.cn" not in published.split("<svg")[0]
    assert 'role="img"' in published and 'aria-label="扫码评价' in published
    # Dates carry their year: the rectified case (answered 2 November) and the 30 days' range.
    assert '<span class="when">整改答复 <time datetime="2026-11-02">2026-11-02</time></span>' in published
    assert "2026年10月22日—11月20日" in published


async def test_unrated_complaints_are_named_beside_the_bad_review_count(services: Services) -> None:
    """The walk saw 差评（采纳）0 beside 整改率 100% (1/1): the 整改率 counts unrated complaints handled
    like 差评, and the count beside it must say they exist (issue 24's rule, one rule everywhere)."""
    await dataset.load(services)
    await make_staff(services, "sup", ["supervisor"], [])
    app = create_app(services=services, run_workers=False)
    async with anonymous_client(app) as client:
        public = (await client.get("/public")).text
    async with signed_in(app, "sup") as client:
        reports = (await client.get("/reports?from=2026-11-01&to=2026-11-30")).text
    assert dataset.EXPECTED["complaints"] == 1
    assert '<span class="cell-note">另有投诉 1</span>' in public
    assert "也计未评等级但需整改的投诉" in public
    assert "另有未评级投诉 1（按差评办理）" in public and "另有未评级投诉 1（按差评办理）" in reports


async def test_screen_without_a_hall_leads_to_the_list_of_screens(services: Services) -> None:
    await dataset.load(services)
    app = create_app(services=services, run_workers=False)
    async with anonymous_client(app) as client:
        bare = await client.get("/screen", follow_redirects=False)
        public = await client.get("/public")
    assert bare.status_code == 303 and bare.headers["location"] == "/public#h-towns"
    assert 'id="h-towns"' in public.text and '<a href="/screen/jintun">查看</a>' in public.text
