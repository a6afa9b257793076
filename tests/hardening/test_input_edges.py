"""Input edges (issue 23, point 7): JSON Lines, line breaks in headers, unfixable outbox errors, bad
paging and filter parameters, notices from codes, and which attachments are shown inline."""

from __future__ import annotations

import json
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select

from channels.intake import Attachment
from gateway.app import create_app
from gateway.core.db.models import Case, OutboxMessage
from gateway.core.outbox import OutboxDelivery, OutgoingMessage, SendResult, enqueue
from gateway.core.services import Services
from tests.gateway.test_cli import hcp
from tests.helpers import local, make_intake
from tests.staff import make_staff, signed_in

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def test_json_lines_split_on_newline_only(tmp_path: Path) -> None:
    texts = ["第一行\u2028第二行，窗口态度差", "下一段\u0085还是同一条", "分页\x0c符也是正文"]
    lines = [json.dumps({"channel": "email", "source_ref": f"<l{i}@qq.com>", "received_at": "2026-11-28T09:00:00+08:00",
                         "text": text, "subject": "意见"}, ensure_ascii=False) for i, text in enumerate(texts)]
    (tmp_path / "in.jsonl").write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    result = hcp(tmp_path, "ingest", "in.jsonl")
    assert result.returncode == 0, result.stdout + result.stderr
    shown = hcp(tmp_path, "cases", "list", "--json")
    assert len(json.loads(shown.stdout)) == 3


def test_line_breaks_leave_subjects_and_names() -> None:
    intake = make_intake(subject="投诉\r\nBcc: everyone@example.com\u2028第二行",
                         contact={"name": "王\n小明", "phone": "13812345678"})
    assert intake.subject == "投诉 Bcc: everyone@example.com 第二行"
    assert intake.contact.name == "王 小明"
    mail = EmailMessage()
    mail["Subject"] = intake.subject  # would raise ValueError with the line break


class HeaderSender:
    """Builds the header as the SMTP sender does: a line break in it raises ``ValueError``."""

    def __init__(self) -> None:
        self.calls = 0

    async def send(self, message: OutgoingMessage) -> SendResult:
        self.calls += 1
        mail = EmailMessage()
        mail["Subject"] = message.subject or ""
        return SendResult(ok=True)


@SQLITE
async def test_an_outbox_error_retrying_cannot_fix_fails_at_once(services: Services) -> None:
    await services.store.run_write(lambda session: enqueue(session, services.cipher, OutgoingMessage(
        channel="email", kind="acknowledgement", recipient="a@163.com", body="收到", subject="旧数据\r\n第二行",
        dedup_key="x1"), now=local(2026, 11, 27, 9, 0)))
    sender = HeaderSender()
    delivery = OutboxDelivery(services.store, services.cipher, {"email": sender}, max_attempts=8)
    counts = await delivery.run_once(local(2026, 11, 27, 9, 1))
    async with services.store.read() as session:
        row = (await session.execute(select(OutboxMessage))).scalar_one()
    assert counts["failed"] == 1 and sender.calls == 1
    assert row.status == "failed" and row.attempts == 1
    assert "重试也不会成功" in (row.last_error or "") and "ValueError" in (row.last_error or "")


@SQLITE
async def test_bad_paging_and_filter_parameters_are_400(services: Services) -> None:
    await services.ingestor.ingest(make_intake())
    await make_staff(services, "chief", ["supervisor", "triage"], [])
    app = create_app(services=services, run_workers=False)
    async with signed_in(app, "chief") as client:
        answers = {url: await client.get(url) for url in (
            "/cases?before=99999999999999999999999", "/cases?before=-1", "/reports?overdue_after=x",
            "/reports?visit_after=2026-11-01T00:00:00|99999999999999999999999",
            "/reports?overdue_after=2026-11-01|1", "/reports?hall=jin%00tun", "/cases?hall=%00",
            "/triage?after=0|2026-11-01T00:00:00%2B00:00|0.5|99999999999999999999999")}
    for url, response in answers.items():
        expected = 200 if url.startswith("/triage") else 400
        assert response.status_code == expected, (url, response.status_code)
        if expected == 400:
            assert "<!doctype html>" in response.text.lower() and ("参数" in response.text or "无效" in response.text)


@SQLITE
async def test_notices_come_from_codes_not_from_the_link(services: Services) -> None:
    await make_staff(services, "op", ["operator", "triage"], [])
    app = create_app(services=services, run_workers=False)
    forged = "系统升级，请拨打 400-000-0000 领取补贴"
    async with signed_in(app, "op") as client:
        triage = await client.get("/triage", params={"done": forged})
        hotline = await client.get("/hotline", params={"done": forged})
        coded = await client.get("/triage", params={"done": "triage_accepted", "case": "JX20261127-0001"})
        bad_value = await client.get("/triage", params={"done": "triage_accepted", "case": forged})
        visit = await client.get("/hotline", params={"done": "visit_unreached", "case": "JX20261127-0001"})
    assert triage.status_code == hotline.status_code == 200
    assert forged not in triage.text and forged not in hotline.text and forged not in bad_value.text
    assert "已确认 JX20261127-0001" in coded.text
    assert "JX20261127-0001 未接通，已留在回拨列表中" in visit.text


@SQLITE
async def test_only_raster_images_are_shown_inline(services: Services) -> None:
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
    files = [Attachment.from_bytes("a.svg", "IMAGE/SVG+XML", svg), Attachment.from_bytes("b.png", "Image/PNG", png),
             Attachment.from_bytes("c.html", "text/html", b"<b>x</b>"),
             Attachment.from_bytes("d.jpg", "image/x-icon", svg + b" ")]
    result = await services.ingestor.ingest(make_intake(attachments=files))
    await make_staff(services, "chief", ["supervisor"], [])
    app = create_app(services=services, run_workers=False)
    async with services.store.read() as session:
        code = (await session.execute(select(Case.code).where(Case.id == result.case_id))).scalar_one()
    async with signed_in(app, "chief") as client:
        served = {f.name: await client.get(f"/cases/{code}/files/{f.sha256}") for f in files}
    for name, response in served.items():
        assert response.status_code == 200, name
        disposition = response.headers["content-disposition"]
        if name == "b.png":
            assert disposition.startswith("inline") and response.headers["content-type"] == "image/png"
        else:
            assert disposition.startswith("attachment"), name
            assert response.headers["content-type"] == "application/octet-stream", name


@SQLITE
async def test_roster_and_account_notices_are_codes_too(services: Services) -> None:
    await make_staff(services, "root", ["admin"], [])
    app = create_app(services=services, run_workers=False)
    forged = "请立即拨打 400-000-0000"
    async with signed_in(app, "root") as client:
        users = await client.get("/admin/users", params={"done": forged})
        rosters = await client.get("/rosters", params={"done": forged})
        done = await client.post_form("/admin/users", {"op": "add", "username": "li", "password": "correct-horse-43",
                                                       "roles": "supervisor"})
        shown = await client.get(done.headers["location"])
    assert forged not in users.text and forged not in rosters.text
    assert done.status_code == 303 and "已完成：新建账号" in shown.text
