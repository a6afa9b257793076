"""Each deadline reminder is raised once: overlapping sweeps, a paused clock, a deadline that moves
while it is already missed (resume, triage correction).  On SQLite and PostgreSQL.

The walk of the staff pages saw "期限提醒：首次回复已超时" twice on one demo case, a minute apart:
the reminder key was ``(case, kind, due_at)``, so a missed deadline that moved (the clock resumed
after a pause, a triage correction) was reminded again at the next sweep.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import time_machine
from sqlalchemy import select

from gateway.auth.users import add_user
from gateway.console import actions
from gateway.core import cases as ops
from gateway.core.db.models import Case, CaseEvent, CaseReminder
from gateway.core.reminders import ReminderPolicy, sweep
from gateway.core.services import Services
from gateway.core.settings import Settings
from tests.helpers import FixedClassifier, local, make_intake

POLICY = ReminderPolicy(warning=timedelta(minutes=30), coordinated_working_days=1)


async def supervisor(services: Services) -> actions.Actor:
    return actions.Actor(await add_user(services.store, "sup", "correct-horse-42", ["supervisor"]))


async def reminders(services: Services) -> list[tuple[str, str]]:
    """(kind, note) of every reminder on the timelines, and the rows behind them, oldest first."""
    async with services.store.read() as session:
        events = (await session.execute(select(CaseEvent.data, CaseEvent.note).where(
            CaseEvent.kind == "reminder").order_by(CaseEvent.id))).all()
        rows = (await session.execute(select(CaseReminder.kind).order_by(CaseReminder.id))).scalars().all()
    assert [data["reminder"] for data, _ in events] == list(rows), "one timeline event per reminder row"
    return [(data["reminder"], note) for data, note in events]


async def test_overlapping_sweeps_of_two_workers_raise_each_reminder_once(services: Services,
                                                                         settings: Settings) -> None:
    for n in range(6):  # immediate: first response due 11:00, result due 30 Nov 17:00
        await services.ingestor.ingest(make_intake(source_ref=f"r{n}"))
    other = Services.create(settings, classifier=FixedClassifier())  # a second process: its own pool
    try:
        calendar = await services.calendar.get()
        now = local(2026, 12, 1, 9, 0)
        counts = await asyncio.gather(*(sweep(s.store, calendar, POLICY, now=now)
                                        for s in (services, other, services, other)))
        assert sum(counts) == 12, counts
        assert await sweep(other.store, calendar, POLICY, now=now + timedelta(minutes=1)) == 0
    finally:
        await other.close()
    kinds = [kind for kind, _ in await reminders(services)]
    assert sorted(kinds) == ["first_response_overdue"] * 6 + ["result_overdue"] * 6


async def test_a_missed_deadline_moved_by_a_resumed_clock_is_not_reminded_again(services: Services) -> None:
    code = (await services.ingestor.ingest(make_intake())).case_code  # first response due 11:00
    sup = await supervisor(services)
    calendar = await services.calendar.get()
    with time_machine.travel(local(2026, 11, 27, 11, 5), tick=False):
        assert await sweep(services.store, calendar, POLICY) == 1
        await actions.pause(services, code, sup, "等待群众补充材料")
    with time_machine.travel(local(2026, 11, 27, 11, 6), tick=False):
        await actions.resume(services, code, sup)
    with time_machine.travel(local(2026, 11, 27, 11, 7), tick=False):
        assert await sweep(services.store, calendar, POLICY) == 0, "the same missed deadline, a minute later"
    assert await reminders(services) == [("first_response_overdue", "首次回复已超时")]


async def test_a_paused_clock_raises_nothing_and_the_moved_deadline_is_reminded_once(services: Services) -> None:
    code = (await services.ingestor.ingest(make_intake())).case_code  # first response due 11:00
    sup = await supervisor(services)
    calendar = await services.calendar.get()
    with time_machine.travel(local(2026, 11, 27, 10, 0), tick=False):
        await actions.pause(services, code, sup, "等待群众补充材料")
    with time_machine.travel(local(2026, 11, 27, 12, 0), tick=False):
        assert await sweep(services.store, calendar, POLICY) == 0, "paused before its deadline: not overdue"
    with time_machine.travel(local(2026, 11, 27, 14, 0), tick=False):
        await actions.resume(services, code, sup)  # due 11:00 + 4 h = 15:00
    async with services.store.read() as session:
        due = (await session.execute(select(Case.first_response_due).where(Case.code == code))).scalar_one()
    assert due == local(2026, 11, 27, 15, 0)
    assert await sweep(services.store, calendar, POLICY, now=local(2026, 11, 27, 14, 40)) == 1
    assert await sweep(services.store, calendar, POLICY, now=local(2026, 11, 27, 14, 41)) == 0
    assert await sweep(services.store, calendar, POLICY, now=local(2026, 11, 27, 15, 1)) == 1
    assert [kind for kind, _ in await reminders(services)] == ["first_response_warning", "first_response_overdue"]


async def test_a_triage_correction_of_an_overdue_case_does_not_remind_it_again(services: Services) -> None:
    code = (await services.ingestor.ingest(make_intake(text="态度不好 #immediate"))).case_code
    calendar = await services.calendar.get()
    now = local(2026, 12, 3, 9, 0)
    assert await sweep(services.store, calendar, POLICY, now=now) == 2
    await ops.reclassify(services.store, calendar, code, "time_limited", "procedure", actor="triage:zhao", now=now)
    assert await sweep(services.store, calendar, POLICY, now=now + timedelta(minutes=1)) == 0, \
        "new dates (30 Nov, 2 Dec), both already missed when the first reminders went out"
    assert sorted(kind for kind, _ in await reminders(services)) == ["first_response_overdue", "result_overdue"]
