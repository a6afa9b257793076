"""The return-visit questionnaire figures and 未评率 on a hand-made set with known answers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import update

from gateway.api.clients import add_client
from gateway.api.matters import MatterIn, record_matter, sweep_unrated
from gateway.core.db.models import Case
from gateway.core.services import Services
from gateway.phone.return_visits import Questionnaire, record_visit
from gateway.results.figures import Filters, Period, survey_figures, unrated_figures
from tests.helpers import make_intake

PERIOD = Period(date(2026, 11, 1), date(2026, 11, 30))


async def _replied_case(services: Services, ref: str, hall: str, verdict: str = "valid") -> str:
    result = await services.ingestor.ingest(make_intake(source_ref=ref, hall=hall, window=None))
    async with services.store.write() as session:  # skip the handling steps: answered and verified
        await session.execute(update(Case).where(Case.id == result.case_id).values(
            status="replied", verdict=verdict, result_at=datetime.now(UTC)))
    return result.case_code


async def test_questionnaire_figures_by_town(services: Services) -> None:
    a = await _replied_case(services, "s1", "jintun")
    b = await _replied_case(services, "s2", "jintun")
    c = await _replied_case(services, "s3", "liangbaosi")
    rejected = await _replied_case(services, "s4", "jintun", verdict="malicious")
    answers = {
        a: Questionnaire("yes", "satisfied", 4, 5, 5),
        b: Questionnaire("partly", "dissatisfied", 2, None, 3),
        c: Questionnaire("no", None, 5, 3, None),
        rejected: Questionnaire("yes", "very_satisfied", 5, 5, 5),
    }
    await record_visit(services, a, reached=False, who="op")  # unreached: no questionnaire
    for code, questionnaire in answers.items():
        await record_visit(services, code, reached=True, who="op", satisfied=True, questionnaire=questionnaire)
    # A later reached call without answers does not replace the questionnaire.
    await record_visit(services, b, reached=True, who="op", note="再次回访，已满意")
    async with services.store.read() as session:
        figures = await survey_figures(session, Filters(PERIOD))
    total, jintun, lbs = figures[(None, None)], figures[("jintun", None)], figures[("liangbaosi", None)]
    assert (total.visits, jintun.visits, lbs.visits) == (3, 2, 1)  # the malicious case is not adopted
    assert (total.rectification_good, total.rectification_answered) == (1, 2)
    assert total.rectification_satisfaction_rate == pytest.approx(0.5)
    assert total.solved == {"yes": 1, "partly": 1, "no": 1}
    assert total.average("policy_awareness") == pytest.approx((4 + 2 + 5) / 3)
    assert total.average("convenience") == pytest.approx((5 + 3) / 2)
    assert jintun.average("service_satisfaction") == pytest.approx(4.0)
    assert lbs.average("service_satisfaction") is None and lbs.rectification_satisfaction_rate is None


async def test_unrated_share_is_counted_whatever_the_policy(services: Services) -> None:
    issued = await add_client(services.store, services.cipher, "queue", "叫号")
    now = datetime.now(UTC)
    for number, hall, days_ago in (("M1", "jintun", 10), ("M2", "jintun", 9), ("M3", "jintun", 1),
                                   ("M4", "liangbaosi", 8)):
        await record_matter(services, 1, issued.client, MatterIn.model_validate({
            "matter_no": number, "service_item": {"code": "SB001", "name": "养老保险"}, "hall": hall,
            "applicant": {"type": "person", "notify": "none"},
            "finished_at": (now - timedelta(days=days_ago)).isoformat()}))
    assert await sweep_unrated(services) == 3
    today = now.date()
    async with services.store.read() as session:
        figures = await unrated_figures(session, Filters(Period(today - timedelta(days=30), today)))
    assert (figures[None].finished, figures[None].unrated) == (4, 3)
    assert figures["jintun"].rate == pytest.approx(2 / 3) and figures["liangbaosi"].rate == 1.0


async def test_the_report_workbook_carries_the_questionnaire_and_unrated_sheet(services: Services) -> None:
    from gateway.results.report import build_workbook

    code = await _replied_case(services, "w1", "jintun")
    await record_visit(services, code, reached=True, who="op", satisfied=True,
                       questionnaire=Questionnaire("yes", "very_satisfied", 5, 4, 5))
    workbook, _ = await build_workbook(services, Filters(PERIOD))
    sheet = workbook["回访问卷与未评"]
    rows = [[cell.value for cell in row] for row in sheet.iter_rows(min_row=2)]
    jintun = next(r for r in rows if r[0] == "金屯镇")
    assert jintun[1] == 1 and jintun[3] == 1 and jintun[6:9] == [5, 4, 5]
    total = next(r for r in rows if r[0] == "全县合计")
    assert total[1] == 1 and rows[-1][0].startswith("回访问卷数只计"), "the note below the table names what it counts"
