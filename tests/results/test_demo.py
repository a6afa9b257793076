"""Demo seeding on both databases: rows read back through the ORM, personal data sealed, figures sane."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from gateway.core.db.models import Case, CaseEvent, Contact, Message
from gateway.core.services import Services
from gateway.results import demo, rollup
from gateway.results.figures import Filters, Period, totals


async def test_seeded_rows_read_back_and_add_up(services: Services) -> None:
    calendar = await services.calendar.get()
    result = await demo.seed_demo(services.store, services.cipher, calendar, cases=400, seed=11,
                                  until=date(2026, 11, 27), days=60, tz="Asia/Shanghai", tracking_prefix="JX")
    assert result["cases"] == 400 and result["events"] > 800
    await rollup.refresh(services.store, "Asia/Shanghai")
    async with services.store.read() as session:
        cases = list((await session.execute(select(Case).order_by(Case.id))).scalars())
        contacts = list((await session.execute(select(Contact))).scalars())
        visits = list((await session.execute(select(CaseEvent).where(CaseEvent.kind == "return_visit"))).scalars())
        messages = (await session.execute(select(func.count()).select_from(Message))).scalar_one()
        counts = await totals(session, Filters(Period(date(2026, 9, 1), date(2026, 11, 27))))
    assert len(cases) == 400 and messages == result["messages"]
    assert [c.received_at for c in cases] == sorted(c.received_at for c in cases), "ids follow time"
    first = cases[0]
    assert first.received_at.tzinfo is not None and first.received_at <= datetime(2026, 11, 27, 16, tzinfo=UTC)
    assert first.code.startswith("DEMO2026") and isinstance(first.reasons, list)
    assert {c.channel for c in cases} == {"email", "phone", "paper", "web"}
    assert all(isinstance(v.data.get("satisfied"), bool) for v in visits) and visits
    sealed = [c for c in contacts if c.phone_enc]
    assert sealed and all(services.cipher.open(c.phone_enc).startswith("1") for c in sealed)
    assert all(services.cipher.open(c.phone_enc).encode() not in c.phone_enc for c in sealed), "encrypted at rest"
    assert counts["evaluations"] == 400
    assert 0.7 < (counts.rate("good_rate") or 0) < 0.98
    assert counts["bad_not_valid"] > 0 and counts["rn_visit_due"] > 0


async def test_a_reserved_prefix_or_a_repeated_seed_is_refused(services: Services) -> None:
    calendar = await services.calendar.get()
    with pytest.raises(demo.DemoError, match="reserved for demo cases"):
        await demo.seed_demo(services.store, services.cipher, calendar, cases=1, seed=1, until=date(2026, 11, 27),
                             days=5, tz="Asia/Shanghai", tracking_prefix="DEMO")
    await demo.seed_demo(services.store, services.cipher, calendar, cases=3, seed=2, until=date(2026, 11, 27),
                         days=5, tz="Asia/Shanghai", tracking_prefix="JX")
    with pytest.raises(demo.DemoError, match="--seed 2 is already in this database"):
        await demo.seed_demo(services.store, services.cipher, calendar, cases=3, seed=2, until=date(2026, 11, 27),
                             days=5, tz="Asia/Shanghai", tracking_prefix="JX")
    other = await demo.seed_demo(services.store, services.cipher, calendar, cases=3, seed=3,
                                 until=date(2026, 11, 27), days=5, tz="Asia/Shanghai", tracking_prefix="JX")
    assert other["cases"] == 3
    async with services.store.read() as session:
        codes = list((await session.execute(select(Case.code))).scalars())
    assert len(codes) == len(set(codes)) == 6, "a second seed continues the day's numbering"
