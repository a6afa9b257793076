"""Unrated complaints are handled as 差评 (``figures.HANDLED``) in every handling figure: an overdue
unrectified complaint lowers the 整改率 and costs its deduction, and a real-name one answered
without a visit is on every "needs a return visit" list and in the 实名差评回访率."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

import time_machine
from openpyxl import load_workbook
from sqlalchemy import select

from gateway.app import create_app
from gateway.core.db.models import Case
from gateway.core.domain import CaseStatus
from gateway.core.labels import SURVEY_VISITS_LABEL, SURVEY_VISITS_NOTE
from gateway.core.services import Services
from gateway.phone.return_visits import open_callbacks
from gateway.results.figures import Counts, percent
from tests.helpers import local, make_intake
from tests.staff import make_staff, signed_in

NOW = datetime(2026, 12, 20, 2, 0, tzinfo=UTC)
PERIOD = "from=2026-12-01&to=2026-12-08"


async def _case(services: Services, ref: str, *, rating: str | None, real_name: bool, **fields: object) -> str:
    result = await services.ingestor.ingest(make_intake(
        source_ref=ref, rating=rating, reasons=["attitude"] if rating else [], text="材料要求太多 #time_limited",
        received_at=local(2026, 12, 2, 10, 0),
        contact={"name": "王小明", "phone": "138 1234 5678", "real_name": real_name}))
    async with services.store.write() as session:
        case = (await session.execute(select(Case).where(Case.code == result.case_code))).scalar_one()
        for name, value in fields.items():
            setattr(case, name, value)
    return result.case_code


def _cells(page: str, label: str) -> list[str]:
    row = re.search(rf"<tr><td class=\"num\">\d+</td><td>{label}</td>(.*?)</tr>", page, re.S)
    assert row, page
    return re.findall(r'<td class="num">([^<]*)</td>', row.group(1))


@time_machine.travel(NOW, tick=False)
async def test_unrated_complaints_count_in_every_handling_figure(services: Services) -> None:
    answered = local(2026, 12, 3, 9, 0)
    rectified = await _case(services, "t-rectified", rating="不满意", real_name=False,
                            status=CaseStatus.CLOSED.value, verdict="valid", first_responded_at=answered,
                            result_at=answered, closed_at=answered)
    overdue = await _case(services, "t-overdue-complaint", rating=None, real_name=False)
    unvisited = await _case(services, "t-unvisited-complaint", rating=None, real_name=True,
                            status=CaseStatus.REPLIED.value, first_responded_at=answered, result_at=answered)
    # A 差评 off the tracks answered straight away: 已答复 without a result, due for its visit all the same.
    told = await _case(services, "t-told", rating="不满意", real_name=True, status=CaseStatus.REPLIED.value,
                       first_responded_at=answered, category="none", first_response_due=None, result_due=None)
    await make_staff(services, "boss", ["supervisor"])
    app = create_app(services=services, run_workers=False)
    async with signed_in(app, "boss") as client:
        reports = (await client.get(f"/reports?{PERIOD}")).text
        supervise = (await client.get("/supervise")).text
        xlsx = (await client.get(f"/reports/export.xlsx?{PERIOD}")).content
    callbacks = await open_callbacks(services, now=NOW)

    late = re.search(r"超期案件（当前）.*?</table>", reports, re.S).group(0)
    assert overdue in late and rectified not in late
    # 评价数 好评率 差评 整改率 按时整改率 答复率 回访率 满意率: the overdue complaint is a failure to
    # rectify (2 rectified — the 差评 and the answered complaint — of 3, not 100%), and two real-name
    # cases are due for a visit, none visited (0%, not —).
    cells = _cells(reports, "金屯镇")
    assert cells[3] == "66.7%", cells
    assert cells[6] == "0.0%", cells
    assessment = reports.split('id="assessment"')[1].split("</section>")[0]
    assert overdue in assessment, "the overdue unrectified complaint costs its deduction"

    exceptions = reports.split("所选期间内受理的未回访实名差评")[1].split("</table>")[0]
    visits_due = supervise.split("当前待回访的实名差评")[1].split("<h2>")[0]
    hotline = {c.case_code for c in callbacks if c.kind == "return_visit"}
    for listed in (exceptions, visits_due, hotline):
        assert unvisited in listed and told in listed, listed
        assert rectified not in listed and overdue not in listed

    # The workbook's questionnaire count (hotline questionnaires, none here) is labelled as such, so it
    # cannot be read as "no visits" beside the 实名差评回访率.
    book = load_workbook(io.BytesIO(xlsx))
    survey = [[c.value for c in row] for row in book["回访问卷与未评"].iter_rows()]
    assert survey[0][1] == SURVEY_VISITS_LABEL and any(r[0] == SURVEY_VISITS_NOTE for r in survey)


def test_an_empty_denominator_is_empty_in_the_headline_and_in_its_track_alike() -> None:
    """整改中 counted live may outnumber a track's 差评 in the roll-up: 立整立改 1 差评 and none 整改中
    (0.0%), 限时整改 2 差评 and 3 整改中 ("—"): the headline is 0 of 1 — 0.0% like its one non-empty
    track — not "—" with 0/0 beside a track at 0.0%."""
    counts = Counts({"bad_immediate": 1, "bad_time_limited": 2})
    counts.pending = {"time_limited": 3}
    assert percent(counts.rate("rectified_rate_immediate")) == "0.0%"
    assert percent(counts.rate("rectified_rate_time_limited")) == "—"
    assert counts.denominator("rectified_rate") == 1 and percent(counts.rate("rectified_rate")) == "0.0%"
    counts = Counts({"bad_time_limited": 2})
    counts.pending = {"time_limited": 3}
    assert [percent(counts.rate(n)) for n in ("rectified_rate", "rectified_rate_time_limited",
                                              "rectified_rate_immediate")] == ["—", "—", "—"]


@time_machine.travel(NOW, tick=False)
async def test_reports_and_supervise_say_which_period_their_unvisited_list_covers(services: Services) -> None:
    """The same rule over two periods: /reports counts the chosen dates, /supervise everything
    waiting now.  A case received before the dates is on /supervise only, and both headings say so."""
    answered = local(2026, 12, 3, 9, 0)
    inside = await _case(services, "t-inside", rating="不满意", real_name=True, status=CaseStatus.REPLIED.value,
                         first_responded_at=answered, result_at=answered)
    before = await _case(services, "t-before", rating="不满意", real_name=True, status=CaseStatus.REPLIED.value,
                         first_responded_at=answered, result_at=answered, received_at=local(2026, 11, 20, 10, 0))
    await make_staff(services, "boss", ["supervisor"])
    app = create_app(services=services, run_workers=False)
    async with signed_in(app, "boss") as client:
        reports = (await client.get(f"/reports?{PERIOD}")).text
        supervise = (await client.get("/supervise")).text
    section = re.search(r'<h2 id="unvisited-title">([^<]*)</h2>\s*<p class="hint">(.*?)</p>(.*?)</table>',
                        reports, re.S)
    assert section, reports
    assert section.group(1) == "所选期间内受理的未回访实名差评（2026-12-01 至 2026-12-08）"
    assert "只列 2026-12-01 至 2026-12-08 受理" in section.group(2) and "当前待回访的实名差评" in section.group(2)
    assert inside in section.group(3) and before not in section.group(3)
    now = re.search(r'<h2 id="unvisited-title">([^<]*)</h2>\s*<p class="hint">(.*?)</p>(.*?)<h2', supervise, re.S)
    assert now, supervise
    assert now.group(1) == "当前待回访的实名差评" and "不论何时受理" in now.group(2)
    assert "所选期间内受理" in now.group(2)
    assert inside in now.group(3) and before in now.group(3)
