"""The banner while next year's holiday schedule is missing: plain Chinese for everyone, and the
command to fix it for the admin only."""

from __future__ import annotations

import re
from datetime import datetime

import time_machine

from gateway.app import create_app
from gateway.core.services import Services
from tests.helpers import local
from tests.staff import make_staff, signed_in

WHAT = "2027 年的法定节假日安排尚未导入，2027 年的截止日期将按普通周末计算"


def _banner(html: str) -> str:
    match = re.search(r'<p[^>]*id="calendar-warning".*?</p>', html, re.S)
    assert match, "no calendar banner"
    return match.group(0)


async def test_the_banner_says_what_is_missing_and_only_the_admin_gets_the_command(services: Services) -> None:
    await make_staff(services, "root", ["admin"])
    await make_staff(services, "chief", ["supervisor"], [])
    await make_staff(services, "wang", ["handler"])
    await make_staff(services, "op", ["operator"], [])
    app = create_app(services=services, run_workers=False)
    pages = {"root": "/admin/users", "chief": "/supervise", "wang": "/cases", "op": "/hotline"}
    with time_machine.travel(datetime(2026, 11, 20, 9, 0, tzinfo=local(2026, 1, 1).tzinfo), tick=False):
        assert await services.calendar.missing_schedule() == 2027  # also loads the calendar every page reads
        banners = {}
        for name, path in pages.items():
            async with signed_in(app, name) as client:
                page = await client.get(path)
                console = await client.get("/console")
            assert page.status_code == 200 and console.status_code == 200, name
            banners[name] = _banner(page.text)
            assert _banner(console.text) == banners[name], name
    for name, banner in banners.items():
        assert WHAT in banner, banner
        text = re.sub(r"<[^>]+>", "", banner)
        if name == "root":
            assert "<code>hcp calendar import" in banner and "导入后" in text
            assert 'class="alert"' in banner
        else:
            assert "hcp" not in text and "<code>" not in banner and "运行" not in text, banner
            assert "系统管理员" in text and "自动重算" in text
            assert 'class="alert"' not in banner, "nothing for them to do: not a red alert"
