"""What the adapter noticed reaches the case page: the malformed-mail and forged-sender notices,
and inline photos as images (those a browser can show)."""

from __future__ import annotations

import re

from gateway.app import create_app
from gateway.core.services import Services
from tests.email.clients import COMPLAINT, b64, photo, word
from tests.staff import make_staff, signed_in


async def test_case_page_shows_notices_and_inline_photos(services: Services) -> None:
    from channels.email.parse import parse_email

    image = photo("case-page")
    # A forged display name, no boundary parameter (the parts must be found anyway), an inline photo.
    raw = (f"From: =?utf-8?Q?zhangsan=40county.gov.cn?= <someone@else.example>\r\nSubject: {word('坡道')}\r\n"
           "Message-ID: <notice@example.cn>\r\nContent-Type: multipart/related\r\n\r\n"
           f"--rel\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>{COMPLAINT}</p><img src=\"cid:p1@x\">\r\n"
           "--rel\r\nContent-Type: image/jpeg\r\nContent-ID: <p1@x>\r\nContent-Transfer-Encoding: base64\r\n\r\n"
           ).encode() + b64(image) + (
        b"\r\n--rel\r\nContent-Type: image/heic; name=IMG_2031.HEIC\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    ) + b64(b"\x00\x00\x00\x18ftypheic") + b"\r\n--rel--\r\n"
    intake = parse_email(raw).intake
    assert intake is not None and intake.contact.email == "someone@else.example"
    result = await services.ingestor.ingest(intake)
    await make_staff(services, "boss", ["supervisor"], [])
    app = create_app(services=services, run_workers=False)
    async with signed_in(app, "boss") as client:
        page = await client.get(f"/cases/{result.case_code}")
        assert page.status_code == 200
        assert "邮件格式有误，已尽量读取" in page.text
        assert "发件人显示名与地址不符" in page.text
        assert COMPLAINT in page.text
        match = re.search(r'<img src="(/cases/[^"]+/files/[0-9a-f]+)" alt="attachment-1.jpeg"', page.text)
        assert match, "the inline photo is shown"
        assert (await client.get(match.group(1))).content == image
        # A photo browsers cannot show (HEIC from a Mac) is a link, not a broken image.
        assert 'alt="IMG_2031.HEIC"' not in page.text and ">IMG_2031.HEIC</a>" in page.text
