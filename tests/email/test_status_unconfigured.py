"""``/email`` with no mail server configured: the admin reads which settings to set, a clerk reads
whom to ask (a triage clerk cannot act on ``HCP_IMAP_HOST``; the walk of 2026-12-08 saw it)."""

from __future__ import annotations

from gateway.app import create_app
from gateway.core.services import Services
from tests.staff import make_staff, signed_in


async def test_setting_names_are_for_the_admin_only(services: Services) -> None:
    await make_staff(services, "clerk", ["triage"], [])
    await make_staff(services, "root", ["admin"], [])
    app = create_app(services=services, run_workers=False)
    async with signed_in(app, "clerk") as client:
        clerk = (await client.get("/email")).text
    async with signed_in(app, "root") as client:
        admin = (await client.get("/email")).text
    assert "未配置收信，请联系系统管理员。" in clerk and "未配置发信，请联系系统管理员。" in clerk
    assert "HCP_" not in clerk
    assert "请设置 HCP_IMAP_HOST、HCP_IMAP_USER、HCP_IMAP_PASSWORD" in admin and "HCP_SMTP_HOST" in admin
