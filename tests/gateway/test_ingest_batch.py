"""Group commit: concurrent intakes share a transaction yet keep every per-intake guarantee."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from gateway.core.db.models import Case, CaseEvent, Contact, Message, OutboxMessage
from gateway.core.ingest import IngestError, _LostRace
from gateway.core.services import Services
from gateway.core.settings import Settings
from tests.helpers import FixedClassifier, enable_sms, make_intake


async def _count(services: Services, model) -> int:  # type: ignore[no-untyped-def]
    async with services.store.read() as session:
        return (await session.execute(select(func.count()).select_from(model))).scalar_one()


async def test_concurrent_intakes_are_written_together_with_everything_each_needs(services: Services) -> None:
    enable_sms(services.settings)
    intakes = [make_intake(source_ref=f"b{i}", text=f"第{i}条 #time_limited") for i in range(40)]
    await services.calendar.get()  # warm: every task then reaches the queue in the same tick
    results = await asyncio.gather(*(services.ingestor.ingest(i) for i in intakes))
    batcher = services.ingestor.batcher
    assert batcher is not None and batcher.batches >= 1 and batcher.batched >= 2
    assert all(r.created and not r.duplicate for r in results)
    codes = sorted(r.case_code for r in results)
    assert codes == [f"JX20261127-{n:04d}" for n in range(1, 41)]
    assert len({r.case_id for r in results}) == 40
    assert (await _count(services, Message), await _count(services, Contact)) == (40, 40)
    assert await _count(services, CaseEvent) == 80  # received + triage for each
    assert await _count(services, OutboxMessage) == 40  # one acknowledgement each (sms)
    async with services.store.read() as session:
        rows = (await session.execute(select(Case.code, Message.source_ref).join(Message, Message.case_id == Case.id)
                                      )).all()
    by_ref = {ref: code for code, ref in rows}
    assert all(by_ref[i.source_ref] == r.case_code for i, r in zip(intakes, results, strict=True))


async def test_copies_and_stored_duplicates_in_a_batch_return_the_first_case(services: Services) -> None:
    stored = await services.ingestor.ingest(make_intake(source_ref="old"))
    intakes = [make_intake(source_ref="old"), make_intake(source_ref="new"), make_intake(source_ref="new"),
               make_intake(source_ref="other")]
    old, new, new_again, other = await asyncio.gather(*(services.ingestor.ingest(i) for i in intakes))
    assert (old.duplicate, old.case_id) == (True, stored.case_id)
    assert new.created and new_again.duplicate and new_again.case_id == new.case_id
    assert other.created and await _count(services, Case) == 3


async def test_one_bad_intake_fails_alone(services: Services) -> None:
    intakes = [make_intake(source_ref="good-1"), make_intake(source_ref="bad", hall="atlantis"),
               make_intake(source_ref="good-2")]
    outcomes = await asyncio.gather(*(services.ingestor.ingest(i) for i in intakes), return_exceptions=True)
    assert isinstance(outcomes[1], IngestError) and "atlantis" in str(outcomes[1])
    assert outcomes[0].created and outcomes[2].created  # type: ignore[union-attr]
    assert await _count(services, Case) == 2


async def test_a_batch_that_loses_a_race_is_retried_one_by_one(services: Services,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def lose(session, items):  # type: ignore[no-untyped-def]
        calls.append(len(items))
        raise _LostRace

    monkeypatch.setattr(services.ingestor, "create_batch", lose)
    results = await asyncio.gather(*(services.ingestor.ingest(make_intake(source_ref=f"r{i}")) for i in range(5)))
    assert calls and all(r.created for r in results)
    assert len({r.case_code for r in results}) == 5 and await _count(services, Case) == 5


async def test_follow_ups_never_take_the_batch_path(services: Services) -> None:
    first = await services.ingestor.ingest(make_intake(source_ref="m1", channel="email",
                                                       contact={"email": "a@b.cn"}))
    follow = make_intake(source_ref="m2", channel="email", references=["m1"], contact={"email": "a@b.cn"})
    assert not services.ingestor.batchable(follow)
    again = await services.ingestor.ingest(follow)
    assert again.follow_up and again.case_id == first.case_id


async def test_the_acknowledgement_says_how_to_look_the_case_up(services: Services, settings: Settings) -> None:
    from channels.web.tokens import status_pin

    # The status link needs HCP_PUBLIC_URL: without it the product deliberately prints no local address.
    published = Services.create(Settings(data_dir=settings.data_dir, database_url=settings.database_url,
                                         run_workers=False, public_url="https://hcp.example.cn",
                                         _env_file=None),  # type: ignore[call-arg]
                                classifier=FixedClassifier())
    try:
        by_mail = await published.ingestor.ingest(make_intake(
            source_ref="ack-mail", channel="email", contact={"email": "a@b.cn", "preferred_channel": "email"}))
        enable_sms(published.settings)
        by_sms = await published.ingestor.ingest(make_intake(source_ref="ack-sms"))
    finally:
        await published.close()
    async with services.store.read() as session:
        bodies = dict((await session.execute(select(OutboxMessage.case_id, OutboxMessage.body))).all())
    pin = status_pin(services.settings.signing_key(), by_mail.case_code)
    assert f"查询码 {pin}" in bodies[by_mail.case_id] and "本邮件为自动回复" in bodies[by_mail.case_id]
    assert "手机号后四位" in bodies[by_sms.case_id] and "本短信为自动回复" in bodies[by_sms.case_id]
    assert "https://hcp.example.cn/status" in bodies[by_sms.case_id]
