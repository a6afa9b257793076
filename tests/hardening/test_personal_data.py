"""Personal data (issue 23, point 8): the database file is private, texts are scrubbed on the command
line and on /status, and a public reply that names the citizen is shown scrubbed before it is sent."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import select, text

from gateway.app import create_app
from gateway.core.db.models import Case, Message
from gateway.core.db.store import Store
from gateway.core.redact import public_findings, scrub_public
from gateway.core.services import Services
from gateway.core.workflow import apply_transition
from tests.gateway.test_cli import hcp
from tests.helpers import local, make_intake
from tests.staff import make_staff, signed_in
from tests.web.citizen import citizen

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
TYPED = "窗口态度差，我的电话 13912345678，邮箱 zhao@163.com，身份证 370829198001011234"


async def test_database_and_wal_files_are_private(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = tmp_path / "data" / "hcp.db"
        store = Store(f"sqlite+aiosqlite:///{path}")
        async with store.write() as session:
            await session.execute(text("CREATE TABLE t (x INTEGER)"))
            await session.execute(text("INSERT INTO t VALUES (1)"))
        files = [path, path.with_name("hcp.db-wal"), path.with_name("hcp.db-shm")]
        assert all(f.exists() for f in files)
        modes = {f.name: stat.S_IMODE(f.stat().st_mode) for f in files}
        await store.dispose()
    finally:
        os.umask(old)
    assert set(modes.values()) == {0o600}, modes


def test_cases_json_scrubs_texts(tmp_path: Path) -> None:
    intake = {"channel": "web", "source_ref": "p-1", "received_at": "2026-11-27T10:00:00+08:00", "text": TYPED,
              "rating": "不满意", "hall": "jintun", "window": "w01"}
    (tmp_path / "in.jsonl").write_text(json.dumps(intake, ensure_ascii=False) + "\n", encoding="utf-8")
    assert hcp(tmp_path, "ingest", "in.jsonl").returncode == 0
    listed = hcp(tmp_path, "cases", "list", "--json")
    code = json.loads(listed.stdout)[0]["code"]
    shown = hcp(tmp_path, "cases", "show", code, "--json")
    plain = hcp(tmp_path, "cases", "show", code)
    for output in (listed.stdout, shown.stdout, plain.stdout):
        for secret in ("13912345678", "zhao@163.com", "370829198001011234"):
            assert secret not in output
    assert "窗口态度差" in shown.stdout and "***" in shown.stdout


async def test_the_stored_triage_terms_carry_no_personal_data(tmp_path: Path, database_url: str) -> None:
    """The learned model's evidence named the number it weighed ("13912345678"); the terms are stored
    with the case and shown on staff pages and by ``hcp cases show --json``."""
    from gateway.core.settings import Settings

    settings = Settings(data_dir=tmp_path / "var", database_url=database_url, run_workers=False,
                        triage_processes=0, _env_file=None)  # type: ignore[call-arg]
    services = Services.create(settings)
    try:
        await services.prepare_database()
        await services.start_triage()
        result = await services.ingestor.ingest(make_intake(text=TYPED, source_ref="terms-1"))
        async with services.store.read() as session:
            case = await session.get(Case, result.case_id)
            assert case is not None
            terms = case.triage_terms
    finally:
        await services.close()
    assert any(t["source"] == "model" for t in terms), "the learned model weighed in"
    stored = json.dumps(terms, ensure_ascii=False)
    for secret in ("13912345678", "zhao", "163.com", "370829198001011234", "1391", "3708"):
        assert secret not in stored


def test_public_reply_patterns() -> None:
    reply = "赵女士您好，已联系赵桂兰本人核实，身份证号 3708 已登记，整改完毕。"
    assert public_findings(reply, "赵桂兰") == ["群众姓名", "身份证号", "称呼（如 赵女士）"]
    assert scrub_public(reply, "赵桂兰") == "*女士您好，已联系***本人核实，身份证号 *** 已登记，整改完毕。"
    assert public_findings("窗口已增加一名工作人员，排队时间缩短。", "赵桂兰") == []


@SQLITE
async def test_a_public_reply_naming_the_citizen_is_shown_scrubbed_first(services: Services) -> None:
    result = await services.ingestor.ingest(make_intake(contact={"name": "赵桂兰", "phone": "13812345678",
                                                                 "real_name": True}))
    async with services.store.write() as session:
        case = await session.get(Case, result.case_id)
        assert case is not None
        for action in ("start_verification", "verify_valid", "rectify"):
            case = await apply_transition(session, case.id, action, actor="t", note="说明",
                                          now=local(2026, 11, 27, 11, 0))
        code = case.code
    await make_staff(services, "wang", ["handler"], ["jintun"])
    app = create_app(services=services, run_workers=False)
    typed = "赵女士您好，赵桂兰反映的问题已整改，电话13812345678。"
    async with signed_in(app, "wang") as client:
        first = await client.post_form(f"/cases/{code}/reply", {"channel": "phone", "text": typed, "public": "1"})
        async with services.store.read() as session:
            before = (await session.execute(select(Message).where(Message.direction == "out"))).scalars().all()
        assert first.status_code == 409 and not before, "nothing is stored or sent yet"
        assert "公开答复中含有个人信息" in first.text
        assert "*女士您好，***反映的问题已整改，电话***。</textarea>" in first.text
        second = await client.post_form(f"/cases/{code}/reply", {"channel": "phone", "public": "1",
                                                                  "text": "*女士您好，***反映的问题已整改，电话***。"})
        assert second.status_code == 303
    async with services.store.read() as session:
        stored = (await session.execute(select(Message).where(Message.direction == "out"))).scalar_one()
    assert stored.public and "赵" not in stored.text.replace("*女士", "")


@SQLITE
async def test_status_lookup_scrubs_public_replies(services: Services) -> None:
    result = await services.ingestor.ingest(make_intake(source_ref="s-1", contact={"phone": "13812345678"}))
    async with services.store.write() as session:
        case = await session.get(Case, result.case_id)
        assert case is not None
        session.add(Message(case_id=case.id, direction="out", channel="web", source_ref="r-1",
                            at=local(2026, 11, 27, 12, 0), author="t", public=True, extra={},
                            text="已整改，如有问题请拨 0537-6851890 或 13900001111"))
        code = case.code
    app = create_app(services=services, run_workers=False)
    async with citizen(app) as person:
        await person.open("/status")
        page = await person.submit("/status", code=code, secret="5678")
    assert page.status_code == 200 and "已整改" in page.text
    assert "13900001111" not in page.text and "6851890" not in page.text
