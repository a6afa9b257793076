"""Error pages speak Chinese only (a sentence and a way back), with the HTTP status kept, and the
hotline's form addresses open as pages when followed as links."""

from __future__ import annotations

import re

from gateway.app import create_app
from gateway.core.services import Services
from tests.staff import anonymous_client, make_staff, signed_in

LATIN_WORD = re.compile(r"[A-Za-z]{3,}")


def _visible(html: str) -> str:
    body = html.split("<body>", 1)[1]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))


async def test_404_and_405_pages_are_chinese_only_and_lead_back(services: Services) -> None:
    await make_staff(services, "chief", ["supervisor"], [])
    app = create_app(services=services, run_workers=False)
    async with anonymous_client(app) as client:
        missing = await client.get("/no-such-page")
        wrong_method = await client.get("/logout")
    async with signed_in(app, "chief") as client:
        staff_missing = await client.get("/cases/no/such/page", headers={"referer": "http://testserver/supervise"})
    assert missing.status_code == 404 and staff_missing.status_code == 404 and wrong_method.status_code == 405
    for page in (missing, wrong_method, staff_missing):
        text = _visible(page.text)
        assert "Not Found" not in page.text and "Method Not Allowed" not in page.text
        assert not LATIN_WORD.search(text), text
        title = re.search(r"<title>(.*?)</title>", page.text).group(1)
        assert not LATIN_WORD.search(title) and not title.startswith(str(page.status_code)), title
    assert "找不到这个页面" in missing.text and "页面不存在" in missing.text and 'href="/"' in missing.text
    assert "不能直接打开" in wrong_method.text
    assert 'href="/supervise"' in staff_missing.text and 'href="/console"' in staff_missing.text


async def test_the_hotline_form_addresses_open_as_pages(services: Services) -> None:
    await make_staff(services, "op", ["operator"], [])
    app = create_app(services=services, run_workers=False)
    async with signed_in(app, "op") as client:
        for path, target in (("/hotline/history", "/hotline#history-title"),
                             ("/hotline/visits", "/hotline/callbacks"),
                             ("/hotline/calls", "/hotline"),
                             ("/hotline/reveal", "/hotline")):
            followed = await client.get(path)
            assert followed.status_code == 303 and followed.headers["location"] == target, path
            page = await client.get(target.split("#")[0])
            assert page.status_code == 200, path
