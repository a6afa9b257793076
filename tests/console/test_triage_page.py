"""The triage queue over HTTP: a correction needs a reason the clerk chose, the note sent with
转人工复核 is shown, a case decided by hand leaves the spot check, and a triage reason has one name."""

from __future__ import annotations

import re

from sqlalchemy import select

from gateway.app import create_app
from gateway.core.db.models import Case, CaseEvent
from gateway.core.services import Services
from tests.helpers import make_intake
from tests.staff import make_staff, signed_in


async def _case(services: Services, **overrides) -> str:  # type: ignore[no-untyped-def]
    return (await services.ingestor.ingest(make_intake(**overrides))).case_code


async def _get(services: Services, code: str) -> Case:
    async with services.store.read() as session:
        return (await session.execute(select(Case).where(Case.code == code))).scalar_one()


def _item(page: str, code: str) -> str:
    found = re.search(rf'id="item-{code}".*?</li>', page, re.S)
    assert found is not None, f"{code} is not in the queue"
    return found.group(0)


async def test_a_correction_without_a_chosen_reason_is_refused_and_keeps_the_note(services: Services) -> None:
    """The old page saved the category's first reason when none was sent (立整立改（环境卫生） for a
    complaint about attitude)."""
    code = await _case(services, source_ref="r1", text="推诿 态度敷衍 #immediate #review")
    await make_staff(services, "triager", ["triage"])
    app = create_app(services=services, run_workers=False)
    async with signed_in(app, "triager") as client:
        refused = await client.post_form(f"/triage/{code}/label", {"label": "time_limited", "reason": "",
                                                                  "note": "应属限时整改<b>"})
        assert refused.status_code == 400
        assert "请为“限时整改”选择原因" in refused.text and "办事流程、办理环节、办事效率" in refused.text
        form = _item(refused.text, code)
        assert ">应属限时整改&lt;b&gt;</textarea>" in form, "the typed note comes back in its box"
        assert '<option value="time_limited" selected>' in form
        other = await client.post_form(f"/triage/{code}/label", {"label": "time_limited", "reason": "attitude",
                                                                "note": "再试"})
        assert other.status_code == 400 and "原因“服务态度”不属于“限时整改”" in other.text
        assert ">再试</textarea>" in _item(other.text, code)
        case = await _get(services, code)
        assert (case.status, case.category, case.reason) == ("needs_review", "immediate", "attitude")
        done = await client.post_form(f"/triage/{code}/label", {"label": "time_limited", "reason": "procedure",
                                                               "note": "推诿属办事流程"})
        assert done.status_code == 303
    case = await _get(services, code)
    assert (case.status, case.category, case.reason) == ("triaged", "time_limited", "procedure")
    async with services.store.read() as session:
        note = (await session.execute(select(CaseEvent.note).where(
            CaseEvent.case_id == case.id, CaseEvent.kind == "reclassify"))).scalar_one()
    assert note == "立整立改（服务态度） → 限时整改（办事流程）；说明：推诿属办事流程"


async def test_the_reason_list_starts_unchosen_unless_the_suggestion_fits(services: Services) -> None:
    """Without JavaScript too: the reason box has a 请选择原因 entry that the server refuses."""
    code = await _case(services, source_ref="r2", text="态度差 #immediate #review")
    await make_staff(services, "triager", ["triage"])
    app = create_app(services=services, run_workers=False)
    async with signed_in(app, "triager") as client:
        item = _item((await client.get("/triage")).text, code)
    assert '<option value="">请选择原因</option>' in item
    assert 'data-suggested="attitude"' in item and '<option value="attitude" selected>' in item
    assert re.search(r'<select name="reason"[^>]*required', item)


async def test_the_note_sent_with_flag_for_review_is_shown_in_the_queue(services: Services) -> None:
    code = await _case(services, source_ref="r3", text="工作人员离岗 #time_limited")
    await make_staff(services, "checker", ["triage"])
    app = create_app(services=services, run_workers=False)
    async with signed_in(app, "checker") as client:
        flagged = await client.post_form(f"/cases/{code}/move", {"action": "flag_for_review",
                                                                "note": "离岗问题应属服务态度<script>"})
        assert flagged.status_code == 303
        item = _item((await client.get("/triage")).text, code)
    assert "转人工复核" in item and "checker" in item
    assert "离岗问题应属服务态度&lt;script&gt;" in item and "<script>" not in item


async def test_a_case_decided_by_hand_leaves_the_spot_check(services: Services) -> None:
    corrected = await _case(services, source_ref="r4", text="跑了三趟 #time_limited")
    untouched = await _case(services, source_ref="r5", text="大厅脏 #immediate")
    await make_staff(services, "triager", ["triage"])
    app = create_app(services=services, run_workers=False)
    async with signed_in(app, "triager") as client:
        spot = (await client.get("/triage?mode=auto")).text
        assert f'id="item-{corrected}"' in spot and f'id="item-{untouched}"' in spot
        moved = await client.post_form(f"/triage/{corrected}/label", {"label": "coordinated",
                                                                     "reason": "cross_department", "mode": "auto"})
        assert moved.status_code == 303 and moved.headers["location"].startswith("/triage?mode=auto&")
        spot = (await client.get("/triage?mode=auto")).text
    assert f'id="item-{corrected}"' not in spot and f'id="item-{untouched}"' in spot


async def test_a_triage_reason_has_one_name_on_the_case_page(services: Services) -> None:
    """The case page called the triage reason ``efficiency`` 办理时间长 (the citizen's word for their
    own reason of that code) where the timeline said 办事效率."""
    code = await _case(services, source_ref="r6", text="办理太慢 #immediate", reasons=["efficiency"])
    await make_staff(services, "lead", ["triage"])
    app = create_app(services=services, run_workers=False)
    async with signed_in(app, "lead") as client:
        assert (await client.post_form(f"/triage/{code}/label", {"label": "time_limited", "reason": "efficiency"})
                ).status_code == 303
        page = (await client.get(f"/cases/{code}")).text
    category = re.search(r"<dt>分类</dt><dd>(.*?)</dd>", page, re.S).group(1)
    assert "限时整改（办事效率）" in category and "办理时间长" not in category
    rating = re.search(r"<dt>评价</dt><dd>(.*?)</dd>", page, re.S).group(1)
    assert "办理时间长" in rating, "the citizen's own reason keeps the citizen's word"
    assert "→ 限时整改（办事效率）" in page


async def test_the_same_category_and_reason_again_is_a_confirmation_not_a_correction(services: Services) -> None:
    """The walk saw "分拣更正：限时整改（办事流程） → 限时整改（办事流程）" after Enter on a preselected reason."""
    from gateway.core.db.models import TriageCorrection

    code = await _case(services, source_ref="same-1", text="推诿 态度敷衍 #immediate #review")
    await make_staff(services, "triager", ["triage"])
    app = create_app(services=services, run_workers=False)
    async with signed_in(app, "triager") as client:
        same = await client.post_form(f"/triage/{code}/label", {"label": "immediate", "reason": "attitude", "note": ""})
        assert same.status_code == 303 and "done=triage_accepted" in same.headers["location"]
        again = await client.post_form(f"/triage/{code}/label", {"label": "immediate", "reason": "attitude",
                                                                "note": "", "mode": "auto"})
        assert again.status_code == 303 and "done=triage_unchanged" in again.headers["location"]
        page = await client.get(again.headers["location"])
        assert "的分类和原因与原来相同，没有改动" in page.text
    case = await _get(services, code)
    assert (case.status, case.category, case.reason) == ("triaged", "immediate", "attitude")
    async with services.store.read() as session:
        kinds = list((await session.execute(select(CaseEvent.kind).where(CaseEvent.case_id == case.id))).scalars())
        corrections = list((await session.execute(select(TriageCorrection))).scalars())
    assert "reclassify" not in kinds and corrections == []
