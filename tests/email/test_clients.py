"""The adapter on mails shaped as real clients send them (tests/email/clients.py), and on the
broken shapes the issue names: photos kept, senders right, malformed MIME read, loops caught."""

from __future__ import annotations

import base64
import hashlib
import logging

import pytest

from channels.email.decode import decode_bytes, decode_header_value
from channels.email.mime import ALTERNATIVE, ATTACHMENT, SKIPPED, TEXT
from channels.email.parse import parse_email
from tests.email import clients
from tests.email.clients import COMPLAINT, COMPLAINT_2, CRLF, b64, message, multipart, part, photo, word


@pytest.mark.parametrize("client", sorted(clients.CLIENT_MAILS))
def test_client_shapes(client: str) -> None:
    raw, expected = clients.CLIENT_MAILS[client]()
    parsed = parse_email(raw)
    intake = parsed.intake
    assert intake is not None, parsed.verdict
    for piece in expected.text:
        assert piece in intake.text
    for piece in expected.not_in_text:
        assert piece not in intake.text
    assert intake.contact.email == expected.email
    assert intake.contact.name == expected.name
    got = [(a.name, a.media_type, a.content) for a in intake.attachments]
    assert got == list(expected.attachments)
    assert tuple(a.content_id for a in intake.attachments if a.content_id) == expected.content_ids
    for key, value in expected.extra.items():
        assert intake.extra[key] == value
    assert "mime_malformed" not in intake.extra, intake.extra.get("mime_defects")
    assert "sender_name_mismatch" not in intake.extra
    # Every leaf is accounted for: text, an alternative rendering, or a kept file.
    assert {r.role for r in parsed.parts} <= {TEXT, ALTERNATIVE, ATTACHMENT}
    assert sum(r.role == ATTACHMENT for r in parsed.parts) == len(expected.attachments)


def test_iphone_photos_survive_choosing_the_plain_text() -> None:
    """The bug: only the chosen text branch was walked, so the HTML branch's photos vanished."""
    raw, _ = clients.iphone_with_photos()
    parsed = parse_email(raw)
    assert parsed.intake is not None
    assert parsed.intake.text.startswith(COMPLAINT_2) and "<" not in parsed.intake.text
    roles = {r.path: (r.content_type, r.role) for r in parsed.parts}
    assert roles == {"1": ("text/plain", TEXT), "2.1": ("text/html", ALTERNATIVE),
                     "2.2": ("image/jpeg", ATTACHMENT), "2.3": ("image/jpeg", ATTACHMENT)}
    assert parsed.intake.extra["inline_parts"] == 2


def test_qq_subject_split_mid_character_and_phone() -> None:
    raw, _ = clients.qq_mail()
    intake = parse_email(raw).intake
    assert intake is not None
    assert intake.subject == "投诉社保窗口午休提前"
    assert intake.contact.phone == "13812345678"


def test_empty_plain_never_beats_full_html() -> None:
    raw, _ = clients.android_huawei_html_only()
    parsed = parse_email(raw)
    assert parsed.intake is not None and parsed.intake.text.startswith(COMPLAINT)
    assert [r.role for r in parsed.parts] == [ALTERNATIVE, TEXT, ATTACHMENT]


@pytest.mark.parametrize(("plain", "html", "chosen"), [
    ("请看网页版。", f"<p>{COMPLAINT}</p>", "html"),           # a stub plain part
    (COMPLAINT, f"<p>{COMPLAINT}</p><p>谢谢</p>", "plain"),     # a near tie: what the sender typed
    (COMPLAINT[:20], f"<p>{COMPLAINT}</p>", "html"),           # a truncated plain part
    (COMPLAINT, "<p>见附件</p>", "plain"),
])
def test_longest_meaningful_alternative_wins(plain: str, html: str, chosen: str) -> None:
    raw = message([("From", "a@example.cn"), ("Subject", "x"), ("Message-ID", "<alt@x>"),
                   ("Content-Type", 'multipart/alternative; boundary="b"')], CRLF + multipart(
        "multipart/alternative", "b", [
            part([("Content-Type", "text/plain; charset=utf-8")], plain.encode()),
            part([("Content-Type", "text/html; charset=utf-8")], html.encode())]).split(CRLF + CRLF, 1)[1])
    parsed = parse_email(raw)
    assert parsed.intake is not None
    text_part = next(r for r in parsed.parts if r.role == TEXT)
    assert text_part.content_type == f"text/{chosen}"


def test_mixed_keeps_plain_and_html_parts_in_order() -> None:
    """Outlook with a server-added plain disclaimer after the HTML body: both, in order."""
    raw = message([("From", "a@example.cn"), ("Subject", "x"), ("Message-ID", "<mix@x>"),
                   ("Content-Type", 'multipart/mixed; boundary="m"')], CRLF + multipart("multipart/mixed", "m", [
                       part([("Content-Type", "text/html; charset=utf-8")], f"<div>{COMPLAINT}</div>".encode()),
                       part([("Content-Type", "text/plain; charset=utf-8")], "本邮件及附件含保密信息。".encode()),
                   ]).split(CRLF + CRLF, 1)[1])
    intake = parse_email(raw).intake
    assert intake is not None
    assert intake.text == f"{COMPLAINT}\n\n本邮件及附件含保密信息。"
    assert "html_only" not in intake.extra


# ----- senders -----------------------------------------------------------------------------------

def _from(value: str, **headers: str) -> bytes:
    top = [("From", value), ("Subject", "x"), ("Message-ID", "<s@x>"), *headers.items(),
           ("Content-Type", "text/plain; charset=utf-8")]
    return message(top, CRLF + COMPLAINT.encode())


@pytest.mark.parametrize(("value", "email", "name", "mismatch"), [
    ("=?utf-8?Q?zhangsan=40county.gov.cn?= <attacker@evil.example>", "attacker@evil.example", None, True),
    (f"{word('张三, 办公室')} <zs@county.gov.cn>", "zs@county.gov.cn", "张三, 办公室", False),
    ("=?utf-8?Q?M=C3=BCller,_Bernd?= <bernd@example.de>", "bernd@example.de", "Müller, Bernd", False),
    ('"=?utf-8?B?546L5bCP5piO?=" <WangXM@Example.CN>', "wangxm@example.cn", "王小明", False),
    ('"wangxm@example.cn" <wangxm@example.cn>', "wangxm@example.cn", None, False),
    ("Wang Xiaoming wangxm@example.cn", "wangxm@example.cn", "Wang Xiaoming", False),
    ("wangxm@163.com.", "wangxm@163.com", None, False),
    ('"\\"Zhang\\" San" <z@example.cn>', "z@example.cn", '"Zhang" San', False),
])
def test_sender_is_the_addr_spec(value: str, email: str, name: str | None, mismatch: bool) -> None:
    intake = parse_email(_from(value)).intake
    assert intake is not None
    assert intake.contact.email == email
    assert intake.contact.name == name
    assert intake.extra.get("sender_name_mismatch", False) is mismatch


def test_encoded_word_that_is_an_address_is_no_sender() -> None:
    intake = parse_email(_from("=?utf-8?Q?zhangsan=40county.gov.cn?=")).intake
    assert intake is not None and intake.contact.email is None and intake.extra["sender_invalid"] is True


def test_reply_to_rule() -> None:
    one = parse_email(_from("王五 <w5@example.cn>", **{"Reply-To": "<family@example.cn>"})).intake
    assert one is not None and one.contact.email == "family@example.cn" and one.contact.name == "王五"
    assert one.extra["reply_to_used"] is True
    two = parse_email(_from("王五 <w5@example.cn>", **{"Reply-To": "a@example.cn, b@example.cn"})).intake
    assert two is not None and two.contact.email == "w5@example.cn" and "reply_to_used" not in two.extra


# ----- malformed MIME ----------------------------------------------------------------------------

def _two_parts(boundary: str = "zz") -> bytes:
    img = photo("broken")
    return (f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            ).encode() + b64(COMPLAINT.encode()) + (
        f"\r\n--{boundary}\r\nContent-Type: image/jpeg; name=p.jpg\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    ).encode() + b64(img) + f"\r\n--{boundary}--\r\n".encode()


@pytest.mark.parametrize(("content_type", "defect"), [
    ("multipart/mixed", "NoBoundaryInMultipartDefect"),
    ("multipart/alternative", "NoBoundaryInMultipartDefect"),  # was an AssertionError in _walk
    ('multipart/mixed; boundary="not-the-one"', "StartBoundaryNotFoundDefect"),
    ('multipart/mixed;\r\nboundary="zz"', "MissingHeaderBodySeparatorDefect"),  # unindented parameter
])
def test_unsplittable_multipart_is_read(content_type: str, defect: str) -> None:
    raw = (f"From: a@example.cn\r\nSubject: {word('坡道')}\r\nMessage-ID: <b@x>\r\nContent-Type: {content_type}\r\n"
           "MIME-Version: 1.0\r\n\r\n").encode() + _two_parts()
    intake = parse_email(raw).intake
    assert intake is not None
    assert intake.text == COMPLAINT and intake.subject == "坡道"
    assert [a.content for a in intake.attachments] == [photo("broken")]
    assert intake.extra["mime_malformed"] is True and defect in str(intake.extra["mime_defects"])


def test_multipart_without_any_delimiter_becomes_text() -> None:
    raw = b"From: a@example.cn\r\nSubject: x\r\nContent-Type: multipart/mixed\r\n\r\n" + COMPLAINT.encode()
    intake = parse_email(raw).intake
    assert intake is not None and intake.text == COMPLAINT
    assert "MultipartReadAsText" in str(intake.extra["mime_defects"])


def test_missing_close_delimiter_keeps_the_last_part() -> None:
    body = _two_parts().rsplit(b"\r\n--zz--", 1)[0]
    raw = b"From: a@example.cn\r\nSubject: x\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\n" + body
    intake = parse_email(raw).intake
    assert intake is not None and intake.text == COMPLAINT and len(intake.attachments) == 1
    assert "CloseBoundaryNotFoundDefect" in str(intake.extra["mime_defects"])


def test_unindented_header_continuation() -> None:
    raw = (b"From: a@example.cn\r\nSubject: =?utf-8?B?5oqV6K+J?=\r\n=?utf-8?B?5oCB5bqm?=\r\n"
           b"Message-ID: <c@x>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + COMPLAINT.encode())
    parsed = parse_email(raw)
    assert parsed.intake is not None
    assert parsed.intake.subject == "投诉态度" and parsed.source_ref == "<c@x>"
    assert parsed.intake.text == COMPLAINT


def test_body_without_blank_line_is_not_folded_into_headers() -> None:
    raw = b"From: a@example.cn\r\nSubject: x\r\n" + COMPLAINT.encode() + b"\r\n\r\nmore"
    intake = parse_email(raw).intake
    assert intake is not None and intake.subject == "x" and COMPLAINT in intake.text


def test_skipped_parts_are_recorded_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    raw = message([("From", "a@example.cn"), ("Subject", "x"), ("Message-ID", "<sig@x>"),
                   ("Content-Type", 'multipart/signed; protocol="application/pkcs7-signature"; boundary="s"')],
                  CRLF + multipart("multipart/signed", "s", [
                      part([("Content-Type", "text/plain; charset=utf-8")], COMPLAINT.encode()),
                      part([("Content-Type", "application/pkcs7-signature; name=smime.p7s"),
                            ("Content-Transfer-Encoding", "base64")], b64(b"0\x82\x05\x00sig")),
                  ]).split(CRLF + CRLF, 1)[1])
    with caplog.at_level(logging.INFO, logger="channels.email.parse"):
        parsed = parse_email(raw)
    assert parsed.intake is not None and parsed.intake.text == COMPLAINT
    assert parsed.intake.extra["parts_not_kept"] == "2 application/pkcs7-signature: cryptographic signature"
    assert [r.role for r in parsed.parts] == [TEXT, SKIPPED]
    assert "part 2 application/pkcs7-signature → skipped (cryptographic signature)" in caplog.text


def test_oversize_inline_image_is_recorded_not_dropped() -> None:
    from channels.email.parse import ParseOptions
    raw, _ = clients.iphone_with_photos()
    intake = parse_email(raw, ParseOptions(max_attachment_bytes=4000)).intake
    assert intake is not None
    assert [(a.name, a.content is None) for a in intake.attachments] == [("IMG_0423.jpeg", False),
                                                                        ("IMG_0424.jpeg", True)]
    assert "2.3 image/jpeg: too large" in str(intake.extra["parts_not_kept"])


def test_named_text_file_is_the_text_when_nothing_else_is() -> None:
    raw = message([("From", "a@example.cn"), ("Subject", "x"), ("Message-ID", "<t@x>"),
                   ("Content-Type", "text/plain; charset=gbk; name=\"投诉.txt\""),
                   ("Content-Disposition", "inline; filename=complaint.txt")], CRLF + COMPLAINT.encode("gbk"))
    intake = parse_email(raw).intake
    assert intake is not None and intake.text == COMPLAINT and intake.extra["text_from_attachment"] is True
    assert intake.attachments[0].content == COMPLAINT.encode("gbk")


# ----- charsets and headers ------------------------------------------------------------------------

def test_one_bad_byte_does_not_turn_utf8_into_gb18030() -> None:
    body = COMPLAINT.encode() + b"\xff" + "谢谢".encode()
    text, codec = decode_bytes(body, "utf-8")
    assert text == COMPLAINT + "\ufffd谢谢" and codec == "utf-8+segments"
    # A relay's GBK footer under a UTF-8 body.  (A GBK pair that happens to be valid UTF-8, like
    # 师 = CA A6, cannot be told apart and stays as UTF-8 decodes it.)
    footer = COMPLAINT.encode() + "\n来自网易邮箱".encode("gbk")
    assert decode_bytes(footer, "utf-8")[0] == COMPLAINT + "\n来自网易邮箱"
    raw = message([("From", "a@example.cn"), ("Subject", "x"), ("Content-Type", "text/plain; charset=utf-8"),
                   ("Content-Transfer-Encoding", "8bit")], CRLF + body)
    intake = parse_email(raw).intake
    assert intake is not None and intake.text.startswith(COMPLAINT)
    assert intake.extra["charsets"] == "utf-8>utf-8+segments"


def test_encoded_words_with_spaces_inside() -> None:
    assert decode_header_value("=?utf-8?Q?=E6=8A=95=E8=AF=89 =E7=AA=97=E5=8F=A3?=") == "投诉 窗口"
    spaced = base64.b64encode("投诉窗口".encode()).decode()
    assert decode_header_value(f"=?utf-8?B?{spaced[:8]} {spaced[8:]}?=") == "投诉窗口"


@pytest.mark.parametrize("subject", ["=?utf-8?Q?=E6=8A=95=E8=AF=89=0D=0A=E7=AA=97=E5=8F=A3?=",
                                     "=?utf-8?B?" + base64.b64encode("投诉\u2028窗口\x85".encode()).decode() + "?="])
def test_subject_line_breaks_never_reach_the_outbox(subject: str) -> None:
    raw = message([("From", "a@example.cn"), ("Subject", subject), ("Content-Type", "text/plain; charset=utf-8")],
                  CRLF + COMPLAINT.encode())
    intake = parse_email(raw).intake
    assert intake is not None and intake.subject is not None
    assert len(intake.subject.splitlines()) == 1 and intake.subject.replace(" ", "") == "投诉窗口"


# ----- loops -------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["suppress", "rules-loop", "subject-en", "subject-zh", "x-loop"])
def test_exchange_and_x_loop_auto_replies(kind: str) -> None:
    parsed = parse_email(clients.outlook_out_of_office(kind))
    assert parsed.intake is None and parsed.verdict is not None and parsed.verdict.kind == "auto"


def test_robot_sender_is_judged_on_the_address_not_the_display_name() -> None:
    forged = parse_email(_from("=?utf-8?Q?postmaster=40county.gov.cn?= <wangxm@example.cn>"))
    assert forged.verdict is None and forged.intake is not None
    bare = parse_email(_from("MAILER-DAEMON (Mail Delivery System)"))
    assert bare.verdict is not None and bare.verdict.kind == "bounce"


def test_display_name_with_its_own_address_keeps_the_name() -> None:
    intake = parse_email(_from("王小明 (wangxm@example.cn) <wangxm@example.cn>")).intake
    assert intake is not None and intake.contact.name == "王小明" and "sender_name_mismatch" not in intake.extra


def test_outlook_person_mail_is_not_an_auto_reply() -> None:
    raw, _ = clients.outlook_with_attachment()
    assert parse_email(raw).verdict is None
    reply = message([("From", "a@example.cn"), ("Subject", "RE: 自动答复: 受理"),
                     ("X-Auto-Response-Suppress", "DR, RN, NRN"), ("Content-Type", "text/plain; charset=utf-8")],
                    CRLF + COMPLAINT.encode())
    assert parse_email(reply).verdict is None


def test_fixture_hashes_are_stable() -> None:
    """The fixtures are deterministic, so a failure names the same bytes on every machine."""
    raw, _ = clients.iphone_with_photos()
    assert hashlib.sha256(raw).hexdigest() == hashlib.sha256(clients.iphone_with_photos()[0]).hexdigest()


def test_junk_content_type_never_reaches_the_log_or_the_row() -> None:
    raw = message([("From", "a@example.cn"), ("Subject", "x"), ("Content-Type", 'multipart/mixed; boundary="j"')],
                  CRLF + multipart("multipart/mixed", "j", [
                      part([("Content-Type", "text/plain; charset=utf-8")], COMPLAINT.encode()),
                      part([("Content-Type", "image/\r\n\tjpeg; name=a.jpg"), ("Content-Transfer-Encoding", "base64")],
                           b64(photo("junk")))]).split(CRLF + CRLF, 1)[1])
    parsed = parse_email(raw)
    assert parsed.intake is not None
    assert [r.content_type for r in parsed.parts] == ["text/plain", "application/octet-stream"]
    assert parsed.intake.attachments[0].content == photo("junk")


async def test_inline_photos_keep_their_content_id_in_storage(services) -> None:  # type: ignore[no-untyped-def]
    """An iPhone's photos are referenced from its HTML by Content-ID; the stored attachments keep it."""
    from sqlalchemy import select

    from gateway.core.db.models import Attachment

    raw, expected = clients.iphone_with_photos()
    intake = parse_email(raw).intake
    assert intake is not None
    await services.ingestor.ingest(intake)
    async with services.store.read() as session:
        stored = (await session.execute(select(Attachment.name, Attachment.content_id)
                                        .order_by(Attachment.id))).all()
    assert [(name, cid) for name, cid in stored] == list(zip(("IMG_0423.jpeg", "IMG_0424.jpeg"),
                                                            expected.content_ids, strict=True))
