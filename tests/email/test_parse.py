"""The pure e-mail adapter: each pipeline step and the whole parse, no servers needed."""

from __future__ import annotations

import base64
import hashlib

import pytest

from channels.email.decode import decode_bytes, decode_header_value, html_to_text
from channels.email.loops import classify
from channels.email.msgid import check_references, make_message_id
from channels.email.parse import (
    MailContext,
    ParseOptions,
    UnparseableEmail,
    parse_email,
    step_body,
    step_parse,
    step_phone,
    step_tracking_code,
)
from channels.email.quotes import strip_quotes_and_signature
from tests.email import mails

KEY = b"k" * 32


@pytest.mark.parametrize(("charset", "label", "text"), [
    ("utf-8", "utf-8", "窗口人员态度不好"),
    ("gb2312", "gb2312", "窗口人员态度不好"),
    ("gbk", "gb2312", "朱镕基时代的老办法，喆堃都不会写"),  # GBK-only characters under a GB2312 label
    ("gbk", "gbk", "办事效率太低了"),
    ("gb18030", "gb18030", "办事效率太低了𠀀"),
    ("big5", "big5", "窗口人員態度不好"),
])
@pytest.mark.parametrize("encoding", ["base64", "quoted-printable", "8bit"])
def test_body_charsets(charset: str, label: str, text: str, encoding: str) -> None:
    parsed = parse_email(mails.build(text, charset=charset, label=label, encoding=encoding))
    assert parsed.intake is not None
    assert parsed.intake.text == text


def test_unlabelled_and_mislabelled_bodies() -> None:
    gbk = "材料不全被退回三次".encode("gbk")
    assert decode_bytes(gbk, None)[0] == "材料不全被退回三次"
    assert decode_bytes(gbk, "utf-8")[0] == "材料不全被退回三次"  # declared wrong: fall back
    assert decode_bytes("材料".encode(), "x-unknown-charset")[0] == "材料"
    assert decode_bytes(b"\xff\xfe\xfa", "utf-8")[1].startswith(("gb18030", "big5hkscs", "utf-8-replace"))


def test_rfc2047_headers_including_malformed() -> None:
    word = "=?gb2312?B?" + base64.b64encode("朱镕基".encode("gbk")).decode() + "?="
    assert decode_header_value(f"投诉 {word}") == "投诉 朱镕基"
    # A multi-byte character split over two adjacent words.
    data = "态度差".encode()
    split = f"=?utf-8?B?{base64.b64encode(data[:4]).decode()}?= =?utf-8?B?{base64.b64encode(data[4:]).decode()}?="
    assert decode_header_value(split) == "态度差"
    # Missing padding, word glued to text, quoted word, Q encoding with underscores.
    unpadded = "=?utf-8?b?" + base64.b64encode("好评".encode()).decode().rstrip("=") + "?="
    assert decode_header_value("Re:" + unpadded) == "Re:好评"
    assert decode_header_value('"=?utf-8?q?=E7=8E=8B_A?=" <a@b.cn>') == '"王 A" <a@b.cn>'
    # Unlabelled 8-bit header bytes as the email package carries them (surrogate escapes).
    raw = "王小明".encode("gbk").decode("ascii", "surrogateescape")
    assert decode_header_value(raw) == "王小明"
    assert decode_header_value("=?unknown?B?" + base64.b64encode("好".encode()).decode() + "?=") == "好"


def test_unlabelled_8bit_from_and_subject() -> None:
    raw = mails.raw_headers(b"From: " + "李四".encode("gbk") + b" <li@example.cn>\r\nSubject: "
                            + "排队太久".encode() + b"\r\nMessage-ID: <x8@example.cn>")
    intake = parse_email(raw).intake
    assert intake is not None
    assert intake.subject == "排队太久"
    assert intake.contact.name == "李四"
    assert intake.contact.email == "li@example.cn"


def test_html_only_becomes_clean_text() -> None:
    html = ("<html><head><style>p{color:red}</style><script>alert(1)</script></head><body>"
            "<p>窗口&nbsp;人员&lt;态度&gt;差</p><div>第二段<br>换行</div><ul><li>一</li><li>二</li></ul>"
            "<blockquote>旧邮件内容</blockquote></body></html>")
    intake = parse_email(mails.build(html, subtype="html")).intake
    assert intake is not None
    assert "alert" not in intake.text and "color" not in intake.text and "<" not in intake.text.replace("<态度>", "")
    assert "窗口 人员<态度>差" in intake.text and "第二段\n换行" in intake.text and "- 一" in intake.text
    assert intake.extra["html_only"] is True
    assert "旧邮件内容" not in (intake.triage_text or "")
    assert html_to_text("<p>a</p><p>b</p>") == "a\n\nb"


def test_alternative_prefers_plain() -> None:
    intake = parse_email(mails.alternative("纯文本正文", "<p>网页正文</p>")).intake
    assert intake is not None and intake.text == "纯文本正文"


def test_attachments_kept_and_oversize_rejected_not_dropped() -> None:
    photo = b"\xff\xd8" + b"p" * 5000
    intake = parse_email(mails.with_attachment("现场照片.jpg", photo)).intake
    assert intake is not None
    (attachment,) = intake.attachments
    assert (attachment.name, attachment.media_type, attachment.size) == ("现场照片.jpg", "image/jpeg", 5002)
    assert attachment.sha256 == hashlib.sha256(photo).hexdigest() and attachment.content == photo

    small = parse_email(mails.with_attachment("big.pdf", photo, media_type="application/pdf"),
                        ParseOptions(max_attachment_bytes=1000)).intake
    assert small is not None
    (rejected,) = small.attachments
    assert rejected.content is None and rejected.size == 5002 and "too large" in (rejected.rejected or "")
    assert rejected.sha256 == hashlib.sha256(photo).hexdigest()


def test_quotes_and_signatures_go_to_triage_text_only() -> None:
    body = ("还是没有人联系我，请尽快处理。\n\n发自我的iPhone\n\n-- \n王小明\n某某公司\n\n"
            "------------------ 原始邮件 ------------------\n发件人: feedback\n您的意见已受理")
    assert strip_quotes_and_signature(body) == "还是没有人联系我，请尽快处理。"
    outlook = "好的\n\n发件人: 受理中心 <a@b.cn>\n发送时间: 2026年11月27日 10:00\n主题: 受理"
    assert strip_quotes_and_signature(outlook) == "好的"
    reply = "谢谢\n\nOn Fri, 27 Nov 2026 at 10:00, hcp <a@b.cn> wrote:\n> 已受理"
    assert strip_quotes_and_signature(reply) == "谢谢"
    assert strip_quotes_and_signature("在 2026年11月27日 10:00，受理中心 写道：\n> 旧") == ""
    intake = parse_email(mails.build(body)).intake
    assert intake is not None and intake.text.endswith("您的意见已受理")
    assert intake.triage_text == "还是没有人联系我，请尽快处理。"


@pytest.mark.parametrize(("text", "phone"), [
    ("请回电 13812345678 谢谢", "13812345678"),
    ("电话：+86 138-1234-5678", "13812345678"),
    ("座机 0537-6851890", "0537-6851890"),
    ("联系（0537）6851890", "0537-6851890"),
    ("订单号 2026112712345678 无电话", None),
])
def test_phone_from_body(text: str, phone: str | None) -> None:
    ctx = MailContext(raw=b"", options=ParseOptions(), fields={"text": text})
    step_phone(ctx)
    assert ctx.contact.get("phone") == phone


def test_phone_in_quote_is_not_taken() -> None:
    ctx = MailContext(raw=b"", options=ParseOptions(), fields={"text": "x\n> 13812345678", "triage_text": "x"})
    step_phone(ctx)
    assert "phone" not in ctx.contact


def test_tracking_code_from_subject() -> None:
    ctx = MailContext(raw=b"", options=ParseOptions(tracking_prefix="JX"),
                      fields={"subject": "Re: [jx20261127－0007] 您的意见已受理 XY20261127-0001"})
    step_tracking_code(ctx)
    assert ctx.fields["tracking_code"] == "JX20261127-0007"


def test_identity_and_threading() -> None:
    parsed = parse_email(mails.build(message_id="<abc@example.cn>"))
    assert parsed.source_ref == "<abc@example.cn>"
    raw = mails.build(message_id=None)
    assert parse_email(raw).source_ref == "sha256:" + hashlib.sha256(raw).hexdigest()

    ours = make_message_id(42, KEY, "hcp.test")
    forged = "<hcp.42.0000000000000000@hcp.test>"
    raw = mails.build(in_reply_to=ours, references=f"<own@example.cn> {forged} {ours}")
    keyed = parse_email(raw, ParseOptions(signing_key=KEY)).intake
    assert keyed is not None and keyed.references == (ours,) and keyed.extra["forged_references"] == 1
    unkeyed = parse_email(raw).intake
    assert unkeyed is not None and set(unkeyed.references) == {ours, "<own@example.cn>", forged}
    check = check_references([ours, forged, "<x@y>"], KEY)
    assert (check.trusted, check.forged, check.foreign) == ((ours,), (forged,), ("<x@y>",))


@pytest.mark.parametrize("headers", [
    {"Auto-Submitted": "auto-replied"}, {"X-Autoreply": "yes"}, {"X-Autorespond": "1"},
    {"Precedence": "bulk"}, {"Precedence": "junk"}, {"Precedence": "auto_reply"}, {"Precedence": "list"},
    {"Return-Path": "<>"},
])
def test_auto_replies_are_classified(headers: dict[str, str]) -> None:
    parsed = parse_email(mails.build(headers=headers))
    assert parsed.intake is None and parsed.verdict is not None and parsed.verdict.kind == "auto"


def test_human_mail_with_auto_submitted_no_is_ingested() -> None:
    assert parse_email(mails.build(headers={"Auto-Submitted": "no"})).intake is not None
    assert parse_email(mails.build(subject="自动回复：我不在办公室")).verdict is not None


def test_bounces_are_classified_with_recipients() -> None:
    parsed = parse_email(mails.bounce())
    assert parsed.verdict is not None and parsed.verdict.kind == "bounce"
    assert [(b.address, b.permanent) for b in parsed.bounces] == [("wang.xm@example.cn", True)]
    postmaster = parse_email(mails.build(sender=("", "postmaster@example.cn")))
    assert postmaster.verdict is not None and postmaster.verdict.kind == "bounce"


def test_classify_is_a_separate_step() -> None:
    ctx = MailContext(raw=mails.build(headers={"Precedence": "bulk"}), options=ParseOptions())
    step_parse(ctx)
    assert ctx.message is not None and classify(ctx.message) is not None


@pytest.mark.parametrize("raw", [b"", b"   \r\n", b"\x00\x01\x02 garbage without headers"])
def test_unparseable_raises(raw: bytes) -> None:
    with pytest.raises(UnparseableEmail):
        parse_email(raw)


def test_empty_mail_is_unusable() -> None:
    raw = b"From: a@example.cn\r\nMessage-ID: <e@x>\r\n\r\n"
    with pytest.raises(UnparseableEmail, match="not a usable"):
        parse_email(raw)


def test_body_step_alone() -> None:
    ctx = MailContext(raw=mails.alternative("p", "<b>h</b>"), options=ParseOptions())
    step_parse(ctx)
    step_body(ctx)
    assert ctx.fields["text"] == "p"
