"""The 考核, sources and reasons on demo data: figures that must agree with each other and with the
lists of cases behind them, whatever the random draw."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from gateway.core.db.models import Case
from gateway.core.services import Services
from gateway.results import demo, rollup
from gateway.results.assessment import assess, read_rules
from gateway.results.figures import Dim, Filters, Names, Period, compute, totals, unrated_figures
from gateway.results.lists import return_visit_exceptions
from gateway.results.reasons import REASON_CODES, reason_figures
from tests.helpers import local

PERIOD = Period(date(2026, 9, 1), date(2026, 11, 27))


async def test_demo_sources_reasons_and_assessment_agree(services: Services) -> None:
    calendar = await services.calendar.get()
    await demo.seed_demo(services.store, services.cipher, calendar, cases=400, seed=11, until=date(2026, 11, 27),
                         days=60, tz="Asia/Shanghai", tracking_prefix="JX")
    await rollup.refresh(services.store, "Asia/Shanghai")
    filters = Filters(PERIOD)
    async with services.store.read() as session:
        names = await Names.load(session)
        cases = list((await session.execute(select(Case.channel, Case.source))).all())
        by_source = {r.code(Dim.SOURCE): r.counts["evaluations"]
                     for r in await compute(session, filters, [Dim.SOURCE], names=names)}
        by_channel = {r.code(Dim.CHANNEL): r.counts["evaluations"]
                      for r in await compute(session, filters, [Dim.CHANNEL], names=names)}
        counts = await totals(session, filters, names=names)
        reasons = (await reason_figures(session, filters, None, names=names))[0]
        towns = await assess(session, filters, Dim.HALL, read_rules(), names=names, now=local(2026, 11, 28, 9))
        unvisited = await return_visit_exceptions(session, names, filters, limit=1000)
        matters = await unrated_figures(session, Filters(Period(date(2026, 9, 28), date(2026, 11, 27))), names)
    # Sources follow channels: every web case is one of the four web sources, and the others map one to one.
    assert all(source for _, source in cases)
    web = sum(by_source.get(s, 0) for s in ("once", "matter", "complaint", "supervision"))
    assert web == by_channel["web"] and by_source["box"] == by_channel["paper"]
    assert by_source["hotline"] == by_channel["phone"] and by_source["email"] == by_channel["email"]
    assert sum(by_source.values()) == 400
    # Two web cases in ten are 一事一评; in turn they come with three and two 办件, one of each evaluated:
    # 参评率 2/5 within one 办件, whatever the draw (it was 29/69 = 0.42 when the turn followed the case's
    # index, which the draw of channels decides).
    assert matters[None].evaluated == by_source["matter"]
    assert matters[None].finished == (5 * by_source["matter"] + 1) // 2
    assert matters[None].participation_rate == pytest.approx(0.4, abs=0.02)
    assert matters[None].unrated > 0, "办件 older than a week without an evaluation are 未评"
    # Every adopted 差评 is in the reasons table once; rated demo 差评 tick exactly one reason.
    assert reasons.bad == counts["bad"]
    assert sum(reasons.counts[c] for c in REASON_CODES) == reasons.bad - reasons.none
    # The 考核 ranks the 13 towns, in order, each score within bounds, its deductions from the lists.
    assert len(towns) == 13 and [s.rank for s in towns] == list(range(1, 14))
    assert [s.total for s in towns] == sorted((s.total for s in towns), reverse=True)
    assert all(0 <= s.total <= 100 for s in towns)
    listed = sorted(code for s in towns for d in s.deductions if d.name == "unvisited_real_name" for code in d.codes)
    assert listed == sorted(row["code"] for row in unvisited.rows), "the same cases as the exception list"
    for score in towns:
        assert score.total == round(max(0.0, score.earned - score.deducted), 2)
        good = next(p for p in score.parts if p.name == "good_rate")
        assert good.points == round(40 * good.numerator / good.denominator, 2)
