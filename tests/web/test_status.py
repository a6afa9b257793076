"""The status lookup on SQLite and PostgreSQL: code + four digits → status and public replies only."""

from __future__ import annotations

import asyncio
import html
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from starlette.applications import Starlette

from channels.web.tokens import status_pin
from gateway.app import create_app
from gateway.core.db.models import Case, Message
from gateway.core.db.models_web import LookupAttempt
from gateway.core.services import Services
from gateway.web.state import LOOKUP_FAILURES_PER_CODE, LOOKUP_FAILURES_PER_CODE_ALL
from tests.web.citizen import Citizen, citizen, link, notice, receipt_code


@pytest.fixture
def app(services: Services) -> Starlette:
    return create_app(services=services, run_workers=False)


async def submit(app: Starlette, services: Services, **fields: str) -> tuple[str, str]:
    """Submit through the form; return the tracking code and the receipt page."""
    async with citizen(app, "10.1.0.1") as person:
        await person.open(link(services))
        sent = await person.submit(link(services), **fields)
        assert sent.status_code == 303, sent.text[:2000]
        receipt = await person.get(sent.headers["location"])
    return receipt_code(receipt), receipt.text


async def add_replies(services: Services, code: str) -> None:
    async with services.store.write() as session:
        case_id = (await session.execute(select(Case.id).where(Case.code == code))).scalar_one()
        now = datetime.now(UTC)
        session.add_all([
            Message(case_id=case_id, direction="out", channel="sms", source_ref=f"reply:{code}:1", at=now,
                    author="li", text="已安排专人值守窗口。<b>谢谢</b>", public=True, extra={}),
            Message(case_id=case_id, direction="out", channel="phone", source_ref=f"reply:{code}:2", at=now,
                    author="li", text="内部备注：已批评教育当事人", public=False, extra={}),
        ])


async def look_up(person: Citizen, code: str, secret: str) -> tuple[int, str]:
    await person.open("/status")
    page = await person.submit("/status", code=code, secret=secret)
    return page.status_code, page.text


async def test_the_right_digits_show_status_and_public_replies_only(app: Starlette, services: Services) -> None:
    code, _ = await submit(app, services, rating="dissatisfied", reason="attitude",
                           text="窗口人员玩手机不理人 #immediate", name="王小明", phone="13812345678", consent="1")
    await add_replies(services, code)
    async with citizen(app) as person:
        status, page = await look_up(person, code.lower().replace("-", "－"), "5678")
    assert status == 200
    assert f'id="tracking-code">{code}<' in page and "已受理，正在分派" in page
    # What happens next and by when (立整立改: contact within the first-response deadline).
    assert 'id="next-step">工作人员将在期限前与您联系。<' in page and re.search(r'id="due">\d{4}年', page)
    assert "已安排专人值守窗口。&lt;b&gt;谢谢&lt;/b&gt;" in page
    for secret_thing in ("内部备注", "玩手机", "王", "138", "5678", "attitude", "服务态度"):
        assert secret_thing not in page, secret_thing


async def test_a_case_without_a_phone_is_looked_up_with_its_pin(app: Starlette, services: Services) -> None:
    code, receipt = await submit(app, services, rating="satisfied", text="很好")
    pin = status_pin(services.settings.signing_key(), code)
    assert f'id="pin">{pin}<' in receipt and "查询码" in receipt
    async with citizen(app) as person:
        assert (await look_up(person, code, pin))[0] == 200
        status, page = await look_up(person, code, f"{(int(pin) + 1) % 10_000:04d}")
        assert status == 400 and "受理编号或 4 位数字不对" in page
        assert "还没有公开的答复" in (await look_up(person, code, pin))[1]


async def test_malformed_input_is_named_and_not_counted(app: Starlette, services: Services) -> None:
    async with citizen(app) as person:
        status, page = await look_up(person, "<script>alert(1)</script>", "12a4")
    assert status == 400
    assert "受理编号的样子是" in page and "请输入 4 位数字" in page
    assert "<script>alert" not in page and "&lt;SCRIPT&gt;" in page
    async with services.store.read() as session:
        assert (await session.execute(select(func.count()).select_from(LookupAttempt))).scalar_one() == 0


async def test_wrong_guesses_lock_the_code_for_the_guesser_not_for_the_owner(app: Starlette,
                                                                           services: Services) -> None:
    code, _ = await submit(app, services, text="排队久", phone="13812345678", consent="1")
    async with citizen(app, "10.2.0.1") as person:
        assert (await look_up(person, code, "5678"))[0] == 200  # right answers do not count
        for guess in range(LOOKUP_FAILURES_PER_CODE):
            assert (await look_up(person, code, f"{guess:04d}"))[0] == 400
        status, page = await look_up(person, code, "5678")
        assert status == 429 and "查询错误次数太多" in html.unescape(page), "the guesser is stopped, right or wrong"
    async with citizen(app, "10.2.0.2") as owner:  # the owner, elsewhere: the lock is per address and code
        status, page = await look_up(owner, code, "5678")
    assert status == 200
    async with services.store.read() as session:
        assert (await session.execute(select(func.count()).select_from(LookupAttempt))).scalar_one() \
            == LOOKUP_FAILURES_PER_CODE + 1


async def test_a_burst_of_parallel_guesses_cannot_pass_the_limit(app: Starlette, services: Services) -> None:
    code, _ = await submit(app, services, text="排队久", phone="13812345678", consent="1")
    people = [citizen(app, f"10.3.0.{n}") for n in range(40)]
    for person in people:
        await person.open("/status")
    pages = await asyncio.gather(*(person.submit("/status", code=code, secret=f"{n:04d}")
                                   for n, person in enumerate(people)))
    statuses = [page.status_code for page in pages]
    assert statuses.count(400) <= LOOKUP_FAILURES_PER_CODE_ALL
    assert statuses.count(429) >= 40 - LOOKUP_FAILURES_PER_CODE_ALL
    for person in people:
        await person.aclose()


async def test_lookups_per_address_are_throttled(app: Starlette, services: Services) -> None:
    async with citizen(app, "10.4.0.1") as person:
        await person.open("/status")
        statuses = []
        for n in range(32):
            page = await person.submit("/status", code=f"JX20261128-{n:04d}", secret="1234")
            statuses.append(page.status_code)
    assert statuses[:30] == [400] * 30 and statuses[30:] == [429, 429]
    assert "查询次数太多" in notice(page) and int(page.headers["retry-after"]) > 0


async def test_the_lookup_form_needs_its_token(app: Starlette, services: Services) -> None:
    code, _ = await submit(app, services, text="x", phone="13812345678", consent="1")
    async with citizen(app) as person:
        await person.open(f"/status?code={code}")
        page = await person.post("/status", data={"code": code, "secret": "5678"})
        assert page.status_code == 400 and "请再点一次“查询”" in notice(page)
        assert re.search(rf'name="code" id="code" value="{code}"', page.text)
        assert (await person.submit("/status", code=code, secret="5678")).status_code == 200
