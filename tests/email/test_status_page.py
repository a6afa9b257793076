"""``/email``: what staff see of the e-mail channel, and the audited reprocessing of quarantined
mail after a fix; ``hcp email status / quarantine / reprocess`` as real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

import gateway.email.imap
from gateway.app import create_app
from gateway.core.db.models import Case
from gateway.core.db.models_staff import AuditEntry
from gateway.core.services import Services
from gateway.email import EmailOptions, ImapPoller, quarantined
from tests.email import mails
from tests.email.conftest import Dovecot, free_port
from tests.staff import make_staff, signed_in

pytestmark = pytest.mark.usefixtures("mail_settings")


async def quarantine_by_parser_bug(services: Services, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch) -> str:
    """A message the parser crashes on today (a bug): kept in quarantine, the mailbox not blocked."""
    dovecot.append(mails.build("解析器缺陷影响的来信 #time_limited", message_id="<bug@example.cn>"),
                   mails.build("正常来信", message_id="<fine@example.cn>", sender=("李四", "li@example.cn")))
    real = gateway.email.imap.parse_email

    def buggy(raw: bytes, *args, **kwargs):  # type: ignore[no-untyped-def]
        if b"<bug@example.cn>" in raw:
            raise KeyError("charset table")
        return real(raw, *args, **kwargs)

    monkeypatch.setattr(gateway.email.imap, "parse_email", buggy)
    counts = await ImapPoller(services).poll_once()
    monkeypatch.undo()  # the fix is deployed
    assert counts == {"already_stored": 0, "ingested": 1, "quarantined": 1}
    (entry,) = await quarantined(services)
    assert entry["reason"] == "parser error: KeyError: 'charset table'" and entry["stored"]
    return entry["sha256"]


async def audit_entries(services: Services, action: str) -> list[AuditEntry]:
    async with services.store.read() as session:
        return list((await session.execute(select(AuditEntry).where(AuditEntry.action == action))).scalars())


async def test_status_page_and_reprocessing_after_a_fix(services: Services, dovecot: Dovecot,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    sha = await quarantine_by_parser_bug(services, dovecot, monkeypatch)
    # A later poll fails: the error shows on the page.
    real_port = services.settings.imap_port
    services.settings.imap_port = free_port()
    with pytest.raises(ConnectionRefusedError):
        await ImapPoller(services, EmailOptions()).poll_once(force=True)
    services.settings.imap_port = real_port
    await make_staff(services, "chen", ["supervisor"])
    app = create_app(services=services, run_workers=False)
    async with signed_in(app, "chen") as client:
        page = await client.get("/email")
        assert page.status_code == 200
        html = page.text
        assert "邮件渠道" in html and 'href="/email"' in html  # the page and its menu entry
        assert f"127.0.0.1:{real_port}（明文，仅限本机），文件夹 INBOX" in html
        assert "ConnectionRefusedError" in html and "连续失败</th><td class=\"num late\">1 次" in html
        assert "隔离邮件（1）" in html and "parser error: KeyError" in html and sha[:16] in html
        assert "解析程序出错，需修复后重新处理" in html
        assert "wang.xm@example.cn" not in html and "li@example.cn" not in html  # no personal data
        raw = await client.get(f"/email/quarantine/{sha[:32]}/raw")
        assert raw.status_code == 200 and raw.headers["content-type"] == "message/rfc822"
        assert b"<bug@example.cn>" in raw.content and raw.headers["cache-control"] == "no-store"
        done = await client.post_form(f"/email/quarantine/{sha[:32]}/reprocess")
        assert done.status_code == 303
        async with services.store.read() as session:
            code = (await session.execute(select(Case.code).where(Case.text.like("解析器缺陷%")))).scalar_one()
        assert done.headers["location"] == f"/email?done=ingested:{code}"
        page = (await client.get(done.headers["location"])).text
        assert f'已生成新案件，案件 <a href="/cases/{code}">{code}</a>' in page
        assert "隔离邮件（0）" in page and "已重新处理" in page and "chen" in page
        # Reprocessing again changes nothing (the entry is resolved, the ingest exactly-once).
        again = await client.post_form(f"/email/quarantine/{sha[:32]}/reprocess")
        assert again.headers["location"] == f"/email?done=ingested:{code}"
        missing = await client.post_form("/email/quarantine/0123456789abcdef/reprocess")
        assert missing.headers["location"].startswith("/email?error=")
    assert len([c for c in await _codes(services) if c == code]) == 1
    (first, *_) = await audit_entries(services, "email:reprocess")
    assert first.username == "chen" and first.detail == {"outcome": "ingested", "case": code}
    assert first.target_id == sha[:32]
    (download,) = await audit_entries(services, "email:quarantine_download")
    assert download.username == "chen" and download.target_id == sha


async def _codes(services: Services) -> list[str]:
    async with services.store.read() as session:
        return list((await session.execute(select(Case.code))).scalars())


async def test_administrators_see_the_page_but_do_not_act_on_mail(services: Services, dovecot: Dovecot,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    sha = await quarantine_by_parser_bug(services, dovecot, monkeypatch)
    await make_staff(services, "root", ["admin"])
    app = create_app(services=services, run_workers=False)
    async with signed_in(app, "root") as client:
        page = await client.get("/email")
        assert page.status_code == 200 and "隔离邮件（1）" in page.text and "重新处理</button>" not in page.text
        assert (await client.post_form(f"/email/quarantine/{sha[:32]}/reprocess")).status_code == 403
        assert (await client.get(f"/email/quarantine/{sha[:32]}/raw")).status_code == 403
    assert len(await quarantined(services)) == 1


def hcp(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "gateway.cli", "email", *args], capture_output=True, env=env,
                          timeout=120, cwd=Path(__file__).parents[2])


async def test_cli_status_quarantine_and_reprocess(services: Services, dovecot: Dovecot,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    sha = await quarantine_by_parser_bug(services, dovecot, monkeypatch)
    s = services.settings
    env = {**os.environ, "HCP_DATA_DIR": str(s.data_dir), "HCP_DATABASE_URL": s.database_url or "",
           "HCP_IMAP_HOST": "127.0.0.1", "HCP_IMAP_PORT": str(dovecot.port), "HCP_IMAP_USER": dovecot.user,
           "HCP_IMAP_PASSWORD": dovecot.password, "HCP_IMAP_SECURITY": "plain"}
    status = hcp(env, "status")
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    assert report["quarantined"] == 1 and report["imap"]["last_counts"] == {
        "already_stored": 0, "ingested": 1, "quarantined": 1}
    listed = json.loads(hcp(env, "quarantine").stdout)
    assert [e["sha256"] for e in listed] == [sha]
    raw = hcp(env, "quarantine", sha[:12])
    assert raw.returncode == 0 and b"<bug@example.cn>" in raw.stdout
    bad = hcp(env, "quarantine", "zz")
    assert bad.returncode == 1 and b"at least 8 hexadecimal digits" in bad.stderr
    done = hcp(env, "reprocess", sha[:12])
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["outcome"] == "ingested"
    assert json.loads(hcp(env, "quarantine").stdout) == []
    polled = hcp(env, "poll", "--once")
    assert polled.returncode == 0 and json.loads(polled.stdout) == {}
