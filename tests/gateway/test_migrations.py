"""Upgrading a database that holds data keeps every row (no cascade through a table rebuild)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import func, select

from gateway.core.db.migrate import upgrade
from gateway.core.db.models import Case, CaseEvent, Contact, Message
from gateway.core.services import Services
from gateway.core.settings import Settings
from tests.helpers import FixedClassifier, make_intake


async def test_upgrading_across_every_migration_keeps_cases_and_their_children(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    await asyncio.to_thread(upgrade, url, "0006")
    old = Services.create(Settings(data_dir=tmp_path, database_url=url, run_workers=False),
                          classifier=FixedClassifier())
    async with old.store.write() as session:  # a case as 0006 knew it, written by hand
        from sqlalchemy import text

        await session.execute(text(
            "INSERT INTO cases (code, channel, status, received_at, created_at, updated_at, text, reasons, "
            "real_name, needs_review, triage_terms, deadline_uncertain, paused_seconds) VALUES "
            "('OLD-0001', 'web', 'triaged', '2026-11-27 02:00:00.000000', '2026-11-27 02:00:00.000000', "
            "'2026-11-27 02:00:00.000000', 't', '[]', 0, 0, '[]', 0, 0)"))
        await session.execute(text(
            "INSERT INTO case_messages (case_id, direction, channel, source_ref, at, text, public, extra) "
            "VALUES (1, 'in', 'web', 'r1', '2026-11-27 02:00:00.000000', 't', 0, '{}')"))
        await session.execute(text(
            "INSERT INTO case_events (case_id, at, actor, kind, data) "
            "VALUES (1, '2026-11-27 02:00:00.000000', 'x', 'received', '{}')"))
        await session.execute(text("INSERT INTO contacts (case_id, key_id) VALUES (1, 'k')"))
    await old.close()
    services = Services.create(Settings(data_dir=tmp_path, database_url=url, run_workers=False),
                               classifier=FixedClassifier())
    await services.prepare_database()  # the app's own start-up path, to head
    try:
        async with services.store.read() as session:
            counts = [(await session.execute(select(func.count()).select_from(m))).scalar_one()
                      for m in (Case, Message, CaseEvent, Contact)]
        assert counts == [1, 1, 1, 1]
        result = await services.ingestor.ingest(make_intake(source_ref="after"))
        assert result.created
    finally:
        await services.close()


async def test_the_results_migration_fills_each_case_source_from_its_channel_and_first_message(
        tmp_path: Path) -> None:
    from sqlalchemy import text

    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    await asyncio.to_thread(upgrade, url, "0008")
    old = Services.create(Settings(data_dir=tmp_path, database_url=url, run_workers=False),
                          classifier=FixedClassifier())
    cases = [("A1", "web", '{"form": "window", "entry": "web"}'), ("A2", "web", '{"matter_no": "BJ1", "client": "q"}'),
             ("A3", "web", '{"form": "general", "entry": "supervision"}'), ("A4", "web", '{"form": "general"}'),
             ("A5", "phone", "{}"), ("A6", "paper", "{}"), ("A7", "wechat", None)]
    async with old.store.write() as session:
        for number, (code, channel, extra) in enumerate(cases, start=1):
            await session.execute(text(
                "INSERT INTO cases (code, channel, status, received_at, created_at, updated_at, text, reasons, "
                "real_name, needs_review, triage_terms, deadline_uncertain, paused_seconds) VALUES "
                f"('{code}', '{channel}', 'triaged', '2026-11-27 02:00:00.000000', '2026-11-27 02:00:00.000000', "
                "'2026-11-27 02:00:00.000000', 't', '[]', 0, 0, '[]', 0, 0)"))
            if extra is not None:
                await session.execute(text(
                    "INSERT INTO case_messages (case_id, direction, channel, source_ref, at, text, public, extra) "
                    f"VALUES ({number}, 'in', '{channel}', 'r{number}', '2026-11-27 02:00:00.000000', 't', 0, "
                    f"'{extra}')"))
    await old.close()
    await asyncio.to_thread(upgrade, url, "head")
    services = Services.create(Settings(data_dir=tmp_path, database_url=url, run_workers=False),
                               classifier=FixedClassifier())
    try:
        async with services.store.read() as session:
            sources = dict((await session.execute(select(Case.code, Case.source))).all())
        assert sources == {"A1": "once", "A2": "matter", "A3": "supervision", "A4": "complaint", "A5": "hotline",
                           "A6": "box", "A7": "wechat"}
    finally:
        await services.close()
