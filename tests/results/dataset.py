"""A hand-made set of ten cases whose figures are worked out by hand in ``EXPECTED``.

Every case goes through the real ingest and workflow, so the figures are checked against what the
system itself records, not against rows written for the test.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from gateway.core.answered import mark_answer_delivered
from gateway.core.db.models import Case, Message
from gateway.core.services import Services
from gateway.core.workflow import apply_transition
from tests.helpers import local, make_intake

NAMES = ("王小明", "李秀英", "张建国", "赵桂兰", "陈志强")
PHONES = ("13812345678", "13987654321", "15011112222", "18633334444", "17755556666")
EMAILS = ("wangxm@qq.com", "lixiuying@163.com", "zhangjg@126.com")


@dataclass
class Spec:
    ref: str
    received: datetime
    rating: str | None
    text: str
    channel: str = "web"
    hall: str = "jintun"
    window: str | None = "w01"
    contact: dict[str, Any] | None = None
    steps: tuple[tuple[str, datetime, dict[str, Any] | None], ...] = ()
    reasons: tuple[str, ...] = ()


MON = (2026, 11, 2)
SPECS = [
    # 1-3: good ratings, no rectification (closed at ingest).
    Spec("c1", local(*MON, 9, 0), "非常满意", "服务很好"),
    Spec("c2", local(*MON, 9, 5), "满意", "很快办好了", channel="paper", window="w02"),
    Spec("c3", local(*MON, 9, 10), "基本满意", "还可以", channel="paper"),
    # 4: real-name 立整立改 差评, rectified within the hour, visited, satisfied.
    Spec("c4", local(*MON, 10, 0), "不满意", "窗口人员一直玩手机 #immediate", reasons=("attitude",),
         contact={"name": NAMES[0], "phone": PHONES[0], "email": EMAILS[0], "real_name": True},
         steps=(("start_verification", local(*MON, 10, 5), None), ("verify_valid", local(*MON, 10, 10), None),
                ("rectify", local(*MON, 10, 12), None), ("reply", local(*MON, 10, 30), None),
                ("return_visit", local(2026, 11, 3, 10, 0), {"satisfied": True}),
                ("close", local(2026, 11, 3, 11, 0), None))),
    # 5: real-name 限时整改 差评 by phone, result after its 3-working-day deadline, never visited.
    Spec("c5", local(*MON, 10, 0), "非常不满意", "跑了好几趟 #time_limited", channel="phone", window="w02",
         reasons=("repeat_trips",), contact={"name": NAMES[1], "phone": PHONES[1], "real_name": True},
         steps=(("start_verification", local(*MON, 11, 0), None), ("verify_valid", local(*MON, 12, 0), None),
                ("rectify", local(*MON, 13, 0), None), ("reply", local(2026, 11, 6, 9, 0), None))),
    # 6: 差评 found not valid (not adopted).
    Spec("c6", local(*MON, 14, 0), "不满意", "不满意 #immediate", reasons=("attitude",),
         contact={"phone": PHONES[2]},
         steps=(("start_verification", local(*MON, 14, 5), None), ("verify_not_valid", local(*MON, 15, 0), None))),
    # 7: malicious 差评 (not adopted).
    Spec("c7", local(*MON, 15, 0), "非常不满意", "乱写 #coordinated", reasons=("coordination",),
         steps=(("start_verification", local(*MON, 15, 5), None), ("verify_malicious", local(*MON, 16, 0), None))),
    # 8: an unrated e-mail complaint on the 限时整改 track: not a 差评 (the rules' 差评 are the two lowest
    #    ratings) but an unrated complaint, counted beside them (``complaints``); adopted, not yet handled.
    #    Handled as a 差评 (``figures.HANDLED``), it is in its track's 差评 and 整改率 (never rectified).
    Spec("c8", local(*MON, 16, 0), None, "材料要求太多 #time_limited", channel="email", window=None,
         contact={"name": NAMES[2], "email": EMAILS[1], "real_name": False}),
    # 9: real-name 立整立改 差评, rectified on time, visited, not satisfied.
    Spec("c9", local(2026, 11, 3, 9, 0), "不满意", "没人 #immediate", reasons=("attitude",), window="w03",
         contact={"name": NAMES[3], "phone": PHONES[3], "real_name": True},
         steps=(("start_verification", local(2026, 11, 3, 9, 1), None),
                ("verify_valid", local(2026, 11, 3, 9, 2), None), ("rectify", local(2026, 11, 3, 9, 3), None),
                ("reply", local(2026, 11, 3, 9, 40), None),
                ("return_visit", local(2026, 11, 4, 9, 0), {"satisfied": False}))),
    # 10: another town, good.
    Spec("c10", local(2026, 11, 9, 9, 0), "满意", "好", hall="liangbaosi",
         contact={"name": NAMES[4], "phone": PHONES[4], "email": EMAILS[2], "real_name": True}),
]

EXPECTED = {
    "evaluations": 10, "rated": 7, "good": 4, "bad_received": 5, "bad_valid": 3, "bad_not_valid": 1,
    "bad_malicious": 1, "bad": 3, "complaints": 1,
    "bad_immediate": 2, "rectified_immediate": 2, "on_time_immediate": 2,
    "bad_time_limited": 2, "rectified_time_limited": 1, "on_time_time_limited": 0,
    "bad_coordinated": 0, "rectified_coordinated": 0, "on_time_coordinated": 0,
    "replied": 3, "rn_bad": 3, "rn_visit_due": 3, "rn_visited": 2, "visited": 2, "visit_answered": 2,
    "satisfied": 1,
}
EXPECTED_RATES = {
    "good_rate": 4 / 7, "reply_rate": 3 / 3, "rectified_rate": 3 / 4, "on_time_rate": 2 / 3,
    "rectified_rate_immediate": 1.0, "on_time_rate_immediate": 1.0, "rectified_rate_time_limited": 1 / 2,
    "on_time_rate_time_limited": 0.0, "rectified_rate_coordinated": None, "on_time_rate_coordinated": None,
    "return_visit_rate": 2 / 3, "satisfaction_rate": 0.5,
}
PUBLIC_REPLY = "已对窗口人员批评教育并公示整改情况"


async def load(services: Services) -> dict[str, str]:
    """Ingest and handle the ten cases; return case codes by reference."""
    codes = {}
    for spec in SPECS:
        fields: dict[str, Any] = {"channel": spec.channel, "source_ref": spec.ref, "received_at": spec.received,
                                  "text": spec.text, "rating": spec.rating, "reasons": list(spec.reasons),
                                  "hall": spec.hall, "window": spec.window, "contact": spec.contact or {}}
        if spec.channel == "web" and spec.window:  # the window's QR form: 一次一评
            fields["extra"] = {"form": "window", "entry": "web"}
        result = await services.ingestor.ingest(make_intake(**fields))
        codes[spec.ref] = result.case_code
        for action, at, data in spec.steps:
            async with services.store.write() as session:
                await apply_transition(session, result.case_id, action, actor="test", note="说明", data=data, now=at)
                if action == "reply":  # handed over (counted by 答复率 only once it reached the citizen)
                    await session.execute(mark_answer_delivered(result.case_id, at))
                    session.add(Message(case_id=result.case_id, direction="out", channel="web",
                                        source_ref=f"reply-{spec.ref}", at=at, author="test", text=PUBLIC_REPLY
                                        + f"，联系电话{PHONES[0]}", public=spec.ref == "c4", extra={}))
    return codes


async def case_id(services: Services, code: str) -> int:
    async with services.store.read() as session:
        return (await session.execute(select(Case.id).where(Case.code == code))).scalar_one()
