"""winmail.dat (Outlook's rich-text mode): the files inside become attachments a clerk can open."""

from __future__ import annotations

from channels.email.mime import ATTACHMENT
from channels.email.parse import parse_email
from channels.email.tnef import unpack
from tests.email import clients
from tests.email.clients import b64, message, multipart, part, photo
from tests.email.tnef import winmail

TOP = [("From", "=?gb2312?B?1cXI/Q==?= <zhangsan@example.cn>"), ("To", "haochaping@county.gov.cn"),
       ("Subject", "=?gb2312?B?zbbL3w==?="), ("Date", "Fri, 27 Nov 2026 10:11:12 +0800"),
       ("Message-ID", "<winmail-only@example.cn>"), ("MIME-Version", "1.0")]


def _winmail_only(data: bytes) -> bytes:
    return message(TOP, multipart("multipart/mixed", "b1", [part(
        [("Content-Type", 'application/ms-tnef; name="winmail.dat"'),
         ("Content-Disposition", 'attachment; filename="winmail.dat"'),
         ("Content-Transfer-Encoding", "base64")], b64(data))]))


def test_the_photo_and_document_inside_an_outlook_winmail_dat_are_kept_beside_it() -> None:
    raw, _ = clients.outlook_with_attachment(tnef=True)
    parsed = parse_email(raw)
    assert parsed.intake is not None
    names = [a.name for a in parsed.intake.attachments]
    assert names == ["winmail.dat", "大厅门口台阶照片.jpg", "情况说明.docx"]
    unpacked = [r for r in parsed.parts if r.path.endswith(("/tnef1", "/tnef2"))]
    assert [(r.content_type, r.role, r.reason) for r in unpacked] == [
        ("image/jpeg", ATTACHMENT, "unpacked from winmail.dat"),
        ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", ATTACHMENT,
         "unpacked from winmail.dat")]


def test_a_mail_that_is_only_a_winmail_dat_gets_its_text_from_inside() -> None:
    body = "您好：\n大厅东门台阶结冰，老人摔倒了，请尽快处理。\n张三"
    site = photo("ice", 900)
    parsed = parse_email(_winmail_only(winmail([("台阶.jpg", site)], body=body)))
    assert parsed.intake is not None
    assert "台阶结冰" in parsed.intake.text
    assert [(a.name, a.content) for a in parsed.intake.attachments][1:] == [("台阶.jpg", site)]


def test_a_damaged_winmail_dat_is_kept_as_it_came_and_flagged() -> None:
    broken = b"\x78\x9f\x3e\x22" + b"\x01\x00" + b"\xff" * 40
    assert unpack(b"not tnef at all") is None
    parsed = parse_email(_winmail_only(broken))
    assert parsed.intake is not None
    assert [a.name for a in parsed.intake.attachments] == ["winmail.dat"]
    assert parsed.intake.attachments[0].content == broken


def test_the_unicode_name_wins_over_outlooks_short_gbk_title() -> None:
    name = "二〇二六年十一月情况说明（定稿）.pdf"
    got = unpack(winmail([(name, b"%PDF-1.4 x")]))
    assert got is not None and [(n, t) for n, t, _ in got.files] == [(name, "application/pdf")]
