"""The triage queue, the overdue list and the latest rectified cases: order, keyset pages, filters."""

from __future__ import annotations

from sqlalchemy import update

from gateway.core.db.models import Case
from gateway.core.services import Services
from gateway.core.workflow import apply_transition
from gateway.results.figures import Names
from gateway.results.lists import latest_rectified, overdue, scrub, triage_queue
from tests.helpers import local, make_intake

MON = (2026, 11, 2)


async def ingest(services: Services, ref: str, text: str, hall: str = "jintun", **fields: object) -> int:
    intake = make_intake(source_ref=ref, text=text, hall=hall, received_at=fields.pop("received_at",
                                                                                        local(*MON, 10, 0)), **fields)
    return (await services.ingestor.ingest(intake)).case_id


async def set_columns(services: Services, case_id: int, **values: object) -> None:
    async with services.store.write() as session:
        await session.execute(update(Case).where(Case.id == case_id).values(**values))


async def names_of(services: Services) -> Names:
    async with services.store.read() as session:
        return await Names.load(session)


async def test_triage_queue_by_deadline_then_confidence_in_keyset_pages(services: Services) -> None:
    late = await ingest(services, "t1", "x #immediate #review", received_at=local(*MON, 11, 0))
    early_sure = await ingest(services, "t2", "x #immediate #review", received_at=local(*MON, 9, 0))
    early_unsure = await ingest(services, "t3", "x #immediate #review", received_at=local(*MON, 9, 0))
    no_deadline = await ingest(services, "t4", "x #coordinated #review")
    other_town = await ingest(services, "t5", "x #immediate #review", hall="liangbaosi")
    await ingest(services, "t6", "x #immediate")  # triaged, not waiting for review
    await set_columns(services, early_sure, confidence=0.7)
    await set_columns(services, early_unsure, confidence=0.4)
    names = await names_of(services)
    async with services.store.read() as session:
        everything = await triage_queue(session, names)
        first = await triage_queue(session, names, limit=2)
        second = await triage_queue(session, names, limit=2, cursor=first.cursor)
        third = await triage_queue(session, names, limit=2, cursor=second.cursor)
        jintun = await triage_queue(session, names, halls=("jintun",))
    order = [early_unsure, early_sure, other_town, late, no_deadline]
    assert [r["id"] for r in everything.rows] == order and everything.cursor is None
    assert [r["id"] for r in first.rows + second.rows + third.rows] == order
    assert third.cursor is None
    assert other_town not in [r["id"] for r in jintun.rows] and len(jintun.rows) == 4
    assert all("contact" not in r and "text" not in r for r in everything.rows)


async def test_overdue_list_merges_both_kinds_of_deadline(services: Services) -> None:
    missed_call = await ingest(services, "o1", "x #immediate")
    late_result = await ingest(services, "o2", "x #time_limited")
    coordinated = await ingest(services, "o3", "x #coordinated")
    malicious = await ingest(services, "o4", "x #immediate")
    answered = await ingest(services, "o5", "x #immediate")
    await ingest(services, "o6", "谢谢", rating="满意", reasons=[])  # praise: closed at once (a 差评 never is)
    await set_columns(services, late_result, first_responded_at=local(*MON, 12, 0))
    await set_columns(services, coordinated, result_due=local(2026, 11, 4, 17, 0))
    for case_id, actions in ((malicious, ("start_verification", "verify_malicious")),
                             (answered, ("start_verification", "verify_valid", "rectify", "reply"))):
        for action in actions:
            async with services.store.write() as session:
                await apply_transition(session, case_id, action, actor="t", note="说明", now=local(*MON, 10, 30))
    names = await names_of(services)
    friday = local(2026, 11, 6, 12, 0)
    async with services.store.read() as session:
        tuesday_rows = (await overdue(session, names, now=local(2026, 11, 3, 12, 0))).rows
        page1 = await overdue(session, names, now=friday, limit=2)
        page2 = await overdue(session, names, now=friday, limit=2, cursor=page1.cursor)
        elsewhere = await overdue(session, names, now=friday, halls=("liangbaosi",))
    assert [r["id"] for r in tuesday_rows] == [missed_call]
    assert [r["id"] for r in page1.rows] == [missed_call, late_result]
    assert [r["id"] for r in page2.rows] == [coordinated] and page2.cursor is None
    # The missed call back also missed its rectification (立整立改: due at the close of 3 November).
    assert page1.rows[0]["missed"] == ["first_response", "result"] and page1.rows[1]["missed"] == ["result"]
    assert page1.rows[0]["overdue_seconds"] == (friday - local(*MON, 11, 0)).total_seconds()
    assert elsewhere.rows == []


async def test_latest_rectified_shows_public_replies_only(services: Services) -> None:
    from gateway.core.db.models import Message

    case_id = await ingest(services, "p1", "我叫王小明电话13812345678 #immediate")
    hidden = await ingest(services, "p2", "x #immediate")
    for cid in (case_id, hidden):
        for action in ("start_verification", "verify_valid", "rectify", "reply"):
            async with services.store.write() as session:
                await apply_transition(session, cid, action, actor="t", note="说明", now=local(*MON, 10, 30))
    async with services.store.write() as session:
        session.add(Message(case_id=case_id, direction="out", channel="web", source_ref="r1", at=local(*MON, 10, 30),
                            text="已整改，联系 wang@qq.com 或 0537-6851890", public=True, extra={}))
        session.add(Message(case_id=hidden, direction="out", channel="web", source_ref="r2", at=local(*MON, 10, 30),
                            text="内部答复", public=False, extra={}))
    names = await names_of(services)
    async with services.store.read() as session:
        rows = await latest_rectified(session, names)
    assert len(rows) == 1
    assert rows[0]["replies"] == ["已整改，联系 *** 或 ***"]
    assert rows[0]["hall_name"] == "金屯镇" and rows[0]["category_label"] == "立整立改"
    assert "王小明" not in str(rows) and "13812345678" not in str(rows)


def test_scrub_removes_phones_emails_and_id_numbers() -> None:
    text = "电话 138 1234 5678、+86 13912345678、0537-6851890，邮箱 a.b@163.com，身份证 37082919800101123X"
    assert scrub(text) == "电话 ***、***、***，邮箱 ***，身份证 ***"
    assert scrub("2026年11月28日 第3窗口") == "2026年11月28日 第3窗口"


def test_scrub_also_masks_what_retention_would_erase() -> None:
    """A bank card typed into a complaint, or a landline written with its area code in brackets, must
    not reach an export or the public page (the retention job erases them later; the guard on text
    leaving the staff side used to let them through); tracking codes, dates and amounts stay."""
    text = "退款请打到 6222 0212 3456 7890 123，办公室(0531)8234 5678，案件 JX20261128-0007，金额 13800元，2026-12-08"
    assert scrub(text) == "退款请打到 ***，办公室***，案件 JX20261128-0007，金额 13800元，2026-12-08"
