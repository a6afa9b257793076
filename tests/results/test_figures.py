"""Each formula of gateway.results.figures on the hand-made cases of ``dataset.py`` (both databases)."""

from __future__ import annotations

from datetime import date

import pytest

from gateway.core.services import Services
from gateway.results import rollup
from gateway.results.figures import COUNTERS, RATES, Counts, Dim, Filters, Period, compute, percent, totals
from gateway.results.lists import return_visit_exceptions
from tests.results import dataset

NOVEMBER = Period(date(2026, 11, 1), date(2026, 11, 30))


@pytest.fixture
async def loaded(services: Services) -> dict[str, str]:
    codes = await dataset.load(services)
    await rollup.refresh(services.store, services.settings.timezone)
    return codes


async def test_every_counter_and_rate_of_the_hand_made_cases(services: Services, loaded: dict[str, str]) -> None:
    async with services.store.read() as session:
        counts = await totals(session, Filters(NOVEMBER))
    assert {name: counts[name] for name in dataset.EXPECTED} == dataset.EXPECTED
    for name, expected in dataset.EXPECTED_RATES.items():
        assert counts.rate(name) == (pytest.approx(expected) if expected is not None else None), name


async def test_the_raw_path_and_the_rollup_agree(services: Services, loaded: dict[str, str]) -> None:
    async with services.store.read() as session:
        by_hall = await compute(session, Filters(NOVEMBER), [Dim.HALL])  # roll-up
        by_item = await compute(session, Filters(NOVEMBER), [Dim.SERVICE_ITEM])  # cases table
    hall_total, item_total = Counts(), Counts()
    for row in by_hall:
        hall_total.add(row.counts)
    for row in by_item:
        item_total.add(row.counts)
    assert dict(hall_total) == dict(item_total) == {**dict(Counts()), **dataset.EXPECTED}


async def test_grouping_by_town_window_channel_and_time(services: Services, loaded: dict[str, str]) -> None:
    async with services.store.read() as session:
        halls = await compute(session, Filters(NOVEMBER), [Dim.HALL])
        days = await compute(session, Filters(NOVEMBER), [Dim.DAY])
        weeks = await compute(session, Filters(NOVEMBER), [Dim.WEEK])
        months = await compute(session, Filters(NOVEMBER), [Dim.MONTH])
        channels = await compute(session, Filters(NOVEMBER), [Dim.CHANNEL])
        windows = await compute(session, Filters(NOVEMBER, halls=("jintun",)), [Dim.WINDOW])
        hall_days = await compute(session, Filters(NOVEMBER), [Dim.HALL, Dim.WEEK])
    assert [(r.label(Dim.HALL), r.counts["evaluations"]) for r in halls] == [("金屯镇", 9), ("梁宝寺镇", 1)]
    assert [(r.code(Dim.DAY), r.counts["evaluations"]) for r in days] == [
        ("2026-11-02", 8), ("2026-11-03", 1), ("2026-11-09", 1)]
    assert [(r.code(Dim.WEEK), r.label(Dim.WEEK), r.counts["evaluations"]) for r in weeks] == [
        ("2026-W45", "2026年第45周", 9), ("2026-W46", "2026年第46周", 1)]
    assert [(r.label(Dim.MONTH), r.counts["good"]) for r in months] == [("2026年11月", 4)]
    assert {r.code(Dim.CHANNEL): r.counts["evaluations"] for r in channels} == {
        "email": 1, "paper": 2, "phone": 1, "web": 6}
    assert {r.code(Dim.WINDOW): r.counts["evaluations"] for r in windows} == {
        "jintun:w01": 5, "jintun:w02": 2, "jintun:w03": 1, "": 1}
    assert [(r.code(Dim.HALL), r.code(Dim.WEEK)) for r in hall_days] == [
        ("jintun", "2026-W45"), ("liangbaosi", "2026-W46")]
    jintun = halls[0].counts
    assert jintun.rate("good_rate") == pytest.approx(3 / 6)
    assert halls[1].counts.rate("good_rate") == 1.0 and halls[1].counts.rate("reply_rate") is None


async def test_filters_and_periods_in_shanghai_days(services: Services, loaded: dict[str, str]) -> None:
    async with services.store.read() as session:
        tuesday = await totals(session, Filters(Period(date(2026, 11, 3), date(2026, 11, 3))))
        phone = await totals(session, Filters(NOVEMBER, channels=("phone",)))
        item = await totals(session, Filters(NOVEMBER, service_items=("SB001",)))
        other_town = await totals(session, Filters(NOVEMBER, halls=("mandong",)))
        october = await totals(session, Filters(Period(date(2026, 10, 1), date(2026, 10, 31))))
    assert tuesday["evaluations"] == 1 and tuesday["satisfied"] == 0 and tuesday["visit_answered"] == 1
    assert phone["bad_time_limited"] == 1 and phone["rectified_time_limited"] == 1
    assert item["evaluations"] == 0
    assert other_town["evaluations"] == 0 and other_town.rate("good_rate") is None
    assert october["evaluations"] == 0


async def test_rollup_follows_later_handling(services: Services, loaded: dict[str, str]) -> None:
    from gateway.core.workflow import apply_transition
    from tests.helpers import local

    code = loaded["c5"]
    cid = await dataset.case_id(services, code)
    async with services.store.write() as session:
        await apply_transition(session, cid, "return_visit", actor="test", note="回访", data={"satisfied": True},
                               now=local(2026, 11, 10, 9, 0))
    await rollup.refresh(services.store, services.settings.timezone)
    async with services.store.read() as session:
        counts = await totals(session, Filters(NOVEMBER))
    assert counts["rn_visited"] == 3 and counts.rate("return_visit_rate") == 1.0
    assert counts["satisfied"] == 2 and counts["visit_answered"] == 3


async def test_return_visit_exceptions_are_listed_by_case(services: Services, loaded: dict[str, str]) -> None:
    from gateway.results.figures import Names

    async with services.store.read() as session:
        names = await Names.load(session)
        page = await return_visit_exceptions(session, names, Filters(NOVEMBER))
    assert [row["code"] for row in page.rows] == [loaded["c5"]]
    assert page.cursor is None
    assert "name" not in page.rows[0] and "phone" not in page.rows[0]


def test_every_rate_names_known_counters_and_percent_formats() -> None:
    names = {c.name for c in COUNTERS}
    for rate in RATES:
        assert set(rate.numerator) <= names and set(rate.denominator) <= names
    assert percent(2 / 3) == "66.7%" and percent(None) == "—" and percent(1.0) == "100.0%"


def test_a_period_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="ends"):
        Period(date(2026, 11, 2), date(2026, 11, 1))


async def test_staff_member_dimension_from_roster_attribution(services: Services, loaded: dict[str, str]) -> None:
    from sqlalchemy import insert, select, update

    from gateway.core.db.models import Case, Hall
    from gateway.core.db.models_rosters import StaffMember

    async with services.store.write() as session:
        hall_id = (await session.execute(select(Hall.id).where(Hall.code == "jintun"))).scalar_one()
        staff_id = (await session.execute(insert(StaffMember).values(
            hall_id=hall_id, employee_no="007", name="窗口员甲", active=True).returning(StaffMember.id))).scalar_one()
        for ref in ("c1", "c4", "c9"):
            await session.execute(update(Case).where(Case.code == loaded[ref]).values(staff_id=staff_id))
    await rollup.rebuild_days(services.store, [date(2026, 11, 2), date(2026, 11, 3)], "Asia/Shanghai")
    async with services.store.read() as session:
        by_staff = await compute(session, Filters(NOVEMBER), [Dim.STAFF])  # roll-up
        raw = await compute(session, Filters(NOVEMBER, channels=("web",)), [Dim.STAFF, Dim.WINDOW])  # cases
    named = {r.label(Dim.STAFF): r.counts for r in by_staff}
    assert set(named) == {"窗口员甲（007）", "未归属"}
    mine = named["窗口员甲（007）"]
    assert (mine["evaluations"], mine["good"], mine["rated"], mine["satisfied"]) == (3, 1, 3, 1)
    assert mine.rate("good_rate") == pytest.approx(1 / 3) and mine.rate("return_visit_rate") == 1.0
    assert named["未归属"]["evaluations"] == 7
    assert {(r.code(Dim.STAFF), r.code(Dim.WINDOW)): r.counts["evaluations"] for r in raw} == {
        ("jintun:007", "jintun:w01"): 2, ("jintun:007", "jintun:w03"): 1, ("", "jintun:w01"): 2,
        ("", "liangbaosi:w01"): 1}
