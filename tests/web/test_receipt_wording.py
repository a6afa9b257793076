"""What the receipt page and the acknowledgement promise: a 好评 is thanked (nothing to rectify), a
立整立改 case gets a call back (回电) within an office hour — not an on-the-spot fix nobody can
promise on a web form — and a citizen who left no number is never promised a call."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from gateway.core.db.models import OutboxMessage
from gateway.core.services import Services
from gateway.web.lookup import Receipt
from gateway.web.views import next_steps
from tests.helpers import enable_sms, make_intake

TZ = ZoneInfo("Asia/Shanghai")
DUE = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)


def receipt(**fields: object) -> Receipt:
    values: dict = {"code": "JX20261127-0001", "status": "triaged", "category": "immediate", "needs_review": False,
                    "first_response_due": DUE, "result_due": None, "deadline_uncertain": False,
                    "reply_channel": "phone", "phone": "13812345678", "hall_name": "金屯镇",
                    "window_name": "综合受理窗口", "rating": "dissatisfied"}
    return Receipt(**{**values, **fields})  # type: ignore[arg-type]


def test_an_immediate_case_is_promised_a_call_back_within_the_hour() -> None:
    steps = next_steps(receipt(), b"k", TZ)
    assert "回电" in steps.deadline and "1 小时" in steps.deadline and "当场" not in steps.deadline


def test_an_anonymous_case_is_never_promised_a_call() -> None:
    for category in ("immediate", "time_limited", "coordinated"):
        steps = next_steps(receipt(category=category, phone=None, reply_channel=None,
                                   result_due=DUE), b"k", TZ)
        words = steps.deadline + steps.reply
        assert "回电" not in words and "联系您" not in words and "与您联系" not in words, (category, words)
        assert "进度查询" in words
        # the receipt page shows the PIN above this sentence (form_done.html)
        assert steps.pin and "上面的查询码" in steps.lookup_hint


def test_a_satisfied_evaluation_is_thanked_and_not_told_of_rectification() -> None:
    for fields in ({"category": "none", "status": "closed"}, {"category": "immediate"},
                   {"category": "time_limited", "phone": None, "reply_channel": None}):
        steps = next_steps(receipt(rating="satisfied", **fields), b"k", TZ)
        words = steps.deadline + steps.reply
        assert "感谢" in steps.deadline and "整改" not in words and "联系" not in words, (fields, words)


async def test_the_acknowledgement_of_an_immediate_case_promises_a_call_back(services: Services) -> None:
    enable_sms(services.settings)
    immediate = await services.ingestor.ingest(make_intake(source_ref="ack-immediate"))
    praise = await services.ingestor.ingest(make_intake(source_ref="ack-praise", rating="满意", reasons=[],
                                                         text="窗口人员热情周到 #time_limited"))
    async with services.store.read() as session:
        bodies = dict((await session.execute(select(OutboxMessage.case_id, OutboxMessage.body))).all())
    assert "回电" in bodies[immediate.case_id] and "1 小时" in bodies[immediate.case_id]
    assert "感谢" in bodies[praise.case_id] and "整改" not in bodies[praise.case_id]
    assert "与您联系" not in bodies[praise.case_id]
