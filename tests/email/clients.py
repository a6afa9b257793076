"""Mails in the shapes real clients send them, written for this project (no copied test mail).

Each builder reproduces one client's habits as they show in its raw source: the MIME tree, the
boundary style, ``X-Mailer``/``User-Agent``, charset labels (GB2312 labels on GBK bytes), the
transfer encodings and base64 line lengths, how attachment names are written (RFC 2047, RFC 2231,
raw GBK bytes) and where inline images go.  ``CLIENT_MAILS`` pairs each raw mail with what the
adapter must make of it, for ``test_clients.py``.
"""

from __future__ import annotations

import base64
import hashlib
import quopri
from dataclasses import dataclass, field
from email.header import Header

from tests.email.tnef import winmail

CRLF = b"\r\n"
COMPLAINT = "金屯镇为民服务大厅社保窗口中午不到下班时间就没人了，我带着老人等了一个半小时，请核实处理。"
COMPLAINT_2 = "窗口门口的无障碍坡道坏了，轮椅上不去，照片见附件。"


def photo(seed: str, size: int = 3000) -> bytes:
    """Deterministic bytes that start like a JPEG file."""
    out = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return out[:size] + b"\xff\xd9"


def b64(data: bytes, width: int = 76) -> bytes:
    """Base64 in lines of ``width`` characters (0: one long line, as some Android apps write)."""
    encoded = base64.b64encode(data)
    if not width:
        return encoded
    return CRLF.join(encoded[i:i + width] for i in range(0, len(encoded), width))


def qp(text: str, charset: str = "utf-8") -> bytes:
    return quopri.encodestring(text.encode(charset).replace(b"\n", b"\r\n")).replace(b"\r\n", b"\n").replace(
        b"\n", CRLF)


def word(text: str, charset: str = "utf-8", encoding: str = "b") -> str:
    if encoding == "b":
        data = text.encode("gbk" if charset.lower() == "gb2312" else charset)  # GB2312 labels on GBK bytes
        return f"=?{charset}?B?{base64.b64encode(data).decode()}?="
    return Header(text, charset).encode()


def part(headers: list[tuple[str, str]] | list[tuple[str, bytes]], body: bytes) -> bytes:
    lines = [k.encode() + b": " + (v if isinstance(v, bytes) else v.encode()) for k, v in headers]
    return CRLF.join(lines) + CRLF + CRLF + body


def multipart(content_type: str, boundary: str, children: list[bytes], *, preamble: bytes = b"",
              headers: list[tuple[str, str]] | None = None, quote: bool = True) -> bytes:
    b = boundary.encode()
    param = f'"{boundary}"' if quote else boundary
    head = [("Content-Type", f"{content_type};\r\n\tboundary={param}"), *(headers or [])]
    body = preamble + (CRLF if preamble else b"")
    for child in children:
        body += b"--" + b + CRLF + child + CRLF
    body += b"--" + b + b"--" + CRLF
    return part(head, body)


def message(top: list[tuple[str, str]] | list[tuple[str, bytes]], root: bytes) -> bytes:
    lines = [k.encode() + b": " + (v if isinstance(v, bytes) else v.encode()) for k, v in top]
    return CRLF.join(lines) + CRLF + root


@dataclass(frozen=True)
class Expected:
    text: tuple[str, ...]
    email: str | None
    name: str | None = None
    attachments: tuple[tuple[str, str, bytes], ...] = ()
    """(name, media type, content)"""
    content_ids: tuple[str, ...] = ()
    not_in_text: tuple[str, ...] = ()
    extra: dict[str, object] = field(default_factory=dict)
    malformed: bool = False


# ----- iOS Mail / Apple Mail -----------------------------------------------------------------------

def iphone_with_photos() -> tuple[bytes, Expected]:
    """iOS Mail, a message with two photos: ``alternative[plain, related[html, jpeg, jpeg]]``."""
    p1, p2 = photo("ios-1"), photo("ios-2", 4500)
    text = f"{COMPLAINT_2}\n\n\n\n\n发自我的iPhone"
    html = ('<html><head><meta http-equiv="content-type" content="text/html; charset=utf-8"></head>'
            f'<body dir="auto"><div dir="ltr">{COMPLAINT_2}</div><div dir="ltr"><img src="cid:8C1D6F1A-3B2E-4C1D-'
            '9A7B-1F2E3D4C5B6A" alt="IMG_0423.jpeg"></div><div dir="ltr"><img src="cid:E2F4A6B8-0C1D-4E3F-8A9B-'
            '7C6D5E4F3A2B" alt="IMG_0424.jpeg"><br><br><div dir="ltr">发自我的iPhone</div></div></body></html>')
    related = multipart('multipart/related; type="text/html"', "Apple-Mail-7D0B1C1E-2F3A-4B5C-8D9E-0F1A2B3C4D5E", [
        part([("Content-Type", "text/html; charset=utf-8"), ("Content-Transfer-Encoding", "quoted-printable")],
             qp(html)),
        part([("Content-Type", 'image/jpeg; name="IMG_0423.jpeg"; x-apple-part-url=8C1D6F1A-3B2E-4C1D-9A7B'),
              ("Content-Disposition", 'inline; filename="IMG_0423.jpeg"'),
              ("Content-Transfer-Encoding", "base64"),
              ("Content-Id", "<8C1D6F1A-3B2E-4C1D-9A7B-1F2E3D4C5B6A>")], b64(p1)),
        part([("Content-Type", 'image/jpeg; name="IMG_0424.jpeg"'),
              ("Content-Disposition", 'attachment; filename="IMG_0424.jpeg"'),  # some iOS versions say so
              ("Content-Transfer-Encoding", "base64"),
              ("Content-Id", "<E2F4A6B8-0C1D-4E3F-8A9B-7C6D5E4F3A2B>")], b64(p2)),
    ], quote=False)
    root = multipart("multipart/alternative", "Apple-Mail-5A1E3C2B-9F8E-4D7C-B6A5-4E3D2C1B0A9F", [
        part([("Content-Type", "text/plain; charset=utf-8"), ("Content-Transfer-Encoding", "quoted-printable")],
             qp(text)),
        related,
    ], quote=False)
    raw = message([
        ("Content-Type", "multipart/alternative; boundary=Apple-Mail-5A1E3C2B-9F8E-4D7C-B6A5-4E3D2C1B0A9F"),
        ("Content-Transfer-Encoding", "7bit"),
        ("From", f"{word('王小明')} <wangxm@icloud.com>"),
        ("Mime-Version", "1.0 (1.0)"),
        ("Date", "Fri, 27 Nov 2026 10:42:18 +0800"),
        ("Subject", word("无障碍坡道坏了")),
        ("Message-Id", "<5A1E3C2B-9F8E-4D7C-B6A5-4E3D2C1B0A9F@icloud.com>"),
        ("To", "feedback@jiaxiang.gov.cn"),
        ("X-Mailer", "iPhone Mail (21H16)"),
    ], _body_of(root))
    return raw, Expected(
        text=(COMPLAINT_2,), email="wangxm@icloud.com", name="王小明",
        attachments=(("IMG_0423.jpeg", "image/jpeg", p1), ("IMG_0424.jpeg", "image/jpeg", p2)),
        content_ids=("8C1D6F1A-3B2E-4C1D-9A7B-1F2E3D4C5B6A", "E2F4A6B8-0C1D-4E3F-8A9B-7C6D5E4F3A2B"))


def _body_of(whole_part: bytes) -> bytes:
    """The blank line and body of a part built by ``multipart`` (its Content-Type goes on top)."""
    return CRLF + whole_part.split(CRLF + CRLF, 1)[1]


def apple_mail_mixed_inline() -> tuple[bytes, Expected]:
    """Apple Mail (macOS) in plain-text mode: text, a photo, more text, all in ``multipart/mixed``."""
    p1 = photo("mac-1")
    boundary = "Apple-Mail=_3F2A1B0C-9D8E-4F7A-B6C5-D4E3F2A1B0C9"
    root = multipart("multipart/mixed", boundary, [
        part([("Content-Transfer-Encoding", "quoted-printable"), ("Content-Type", "text/plain;\r\n\tcharset=utf-8")],
             qp("坡道在大厅东门：")),
        part([("Content-Disposition", 'inline;\r\n\tfilename="IMG_2031.HEIC.jpeg"'),
              ("Content-Type", 'image/jpeg;\r\n\tx-unix-mode=0644;\r\n\tname="IMG_2031.HEIC.jpeg"'),
              ("Content-Transfer-Encoding", "base64")], b64(p1)),
        part([("Content-Transfer-Encoding", "quoted-printable"), ("Content-Type", "text/plain;\r\n\tcharset=utf-8")],
             qp("\n" + COMPLAINT_2 + "\n\n李华")),
    ])
    raw = message([
        ("From", "=?utf-8?B?5p2O5Y2O?= <lihua@me.com>"),
        ("Content-Type", f'multipart/mixed;\r\n\tboundary="{boundary}"'),
        ("Mime-Version", "1.0 (Mac OS X Mail 16.0 \\(3774.600.62\\))"),
        ("Subject", word("大厅东门坡道")),
        ("Date", "Sat, 28 Nov 2026 09:12:40 +0800"),
        ("Message-Id", "<3F2A1B0C-9D8E-4F7A-B6C5-D4E3F2A1B0C9@me.com>"),
        ("To", "feedback@jiaxiang.gov.cn"),
        ("X-Mailer", "Apple Mail (2.3774.600.62)"),
    ], _body_of(root))
    return raw, Expected(text=("坡道在大厅东门：", COMPLAINT_2), email="lihua@me.com", name="李华",
                         attachments=(("IMG_2031.HEIC.jpeg", "image/jpeg", p1),))


# ----- Outlook / Exchange --------------------------------------------------------------------------

def outlook_with_attachment(tnef: bool = False) -> tuple[bytes, Expected]:
    """Outlook 2016 through Exchange: ``mixed[alternative[plain, html], attachment]``, gb2312 labels,
    attachment names as RFC 2047 words; with ``tnef`` the rich-text variant sends winmail.dat."""
    text = f"您好：\r\n\r\n{COMPLAINT}\r\n\r\n县自然资源局 办公室\r\n张三"
    html = ('<html xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office">'
            '<head><meta http-equiv="Content-Type" content="text/html; charset=gb2312"><style><!--'
            '@font-face{font-family:等线;} p.MsoNormal{margin:0cm;font-size:10.5pt;}--></style></head>'
            f'<body lang="ZH-CN"><div class="WordSection1"><p class="MsoNormal">您好：<o:p></o:p></p>'
            f'<p class="MsoNormal">{COMPLAINT}<o:p></o:p></p><p class="MsoNormal">县自然资源局 办公室<br>张三'
            '<o:p></o:p></p></div></body></html>')
    doc = b"PK\x03\x04" + photo("docx", 2000)[4:]
    site_photo = photo("outlook-site", 1800)
    tnef_bytes = winmail([("大厅门口台阶照片.jpg", site_photo), ("情况说明.docx", doc)],
                         body=text.replace("\r\n", "\n"))
    alt_b = "_000_HK0PR03MB4961A2B3C4D5E6F7A8B9C0D1E2HK0PR03MB4961apcp_"
    mix_b = "_004_HK0PR03MB4961A2B3C4D5E6F7A8B9C0D1E2HK0PR03MB4961apcp_"
    doc_name = word("情况说明.docx", "gb2312")
    if tnef:
        body_parts = [part([("Content-Type", 'text/plain; charset="gb2312"'),
                            ("Content-Transfer-Encoding", "base64")], b64(text.encode("gbk"))),
                      part([("Content-Type", 'application/ms-tnef; name="winmail.dat"'),
                            ("Content-Disposition", 'attachment; filename="winmail.dat"'),
                            ("Content-Transfer-Encoding", "base64")], b64(tnef_bytes))]
        # the winmail.dat as received, then what Outlook put inside it
        files = (("winmail.dat", "application/ms-tnef", tnef_bytes), ("大厅门口台阶照片.jpg", "image/jpeg", site_photo),
                 ("情况说明.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", doc))
    else:
        body_parts = [
            multipart("multipart/alternative", alt_b, [
                part([("Content-Type", 'text/plain; charset="gb2312"'), ("Content-Transfer-Encoding", "base64")],
                     b64(text.encode("gbk"))),
                part([("Content-Type", 'text/html; charset="gb2312"'),
                      ("Content-Transfer-Encoding", "quoted-printable")], qp(html, "gbk")),
            ]),
            part([("Content-Type", f'application/vnd.openxmlformats-officedocument.wordprocessingml.document;\r\n'
                                   f'\tname="{doc_name}"'),
                  ("Content-Description", doc_name),
                  ("Content-Disposition", f'attachment;\r\n\tfilename="{doc_name}"; size={len(doc)};\r\n'
                                          '\tcreation-date="Fri, 27 Nov 2026 02:10:11 GMT";\r\n'
                                          '\tmodification-date="Fri, 27 Nov 2026 02:10:11 GMT"'),
                  ("Content-Transfer-Encoding", "base64")], b64(doc)),
        ]
        files = (("情况说明.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", doc),)
    root = multipart("multipart/mixed", mix_b, body_parts)
    raw = message([
        ("From", f"{word('张三', 'gb2312')} <zhangsan@zrzyj.jiaxiang.gov.cn>"),
        ("To", '"feedback@jiaxiang.gov.cn" <feedback@jiaxiang.gov.cn>'),
        ("Subject", word("关于社保窗口午间无人的反映", "gb2312")),
        ("Thread-Topic", word("关于社保窗口午间无人的反映", "gb2312")),
        ("Thread-Index", "AdrA1b2C3d4E5f6G7h8I9j0KLmNoPQ=="),
        ("Date", "Fri, 27 Nov 2026 02:10:11 +0000"),
        ("Message-ID", "<HK0PR03MB4961A2B3C4D5E6F7A8B9C0D1E2@HK0PR03MB4961.apcprd03.prod.outlook.com>"),
        ("Accept-Language", "zh-CN, en-US"),
        ("Content-Language", "zh-CN"),
        ("X-MS-Has-Attach", "yes"),
        *([("X-MS-TNEF-Correlator", "<HK0PR03MB4961A2B3C4D5E6F7A8B9C0D1E2@HK0PR03MB4961.apcprd03.prod.outlook.com>")]
          if tnef else []),
        ("MIME-Version", "1.0"),
        ("Content-Type", f'multipart/mixed;\r\n\tboundary="{mix_b}"'),
    ], _body_of(root))
    return raw, Expected(text=(COMPLAINT,), email="zhangsan@zrzyj.jiaxiang.gov.cn", name="张三", attachments=files,
                         not_in_text=("font-family", "MsoNormal"))


def outlook_out_of_office(kind: str) -> bytes:
    """Exchange's automatic replies, each marked by one signal only (``kind``)."""
    headers = {
        "suppress": [("X-Auto-Response-Suppress", "All")],
        "rules-loop": [("X-MS-Exchange-Inbox-Rules-Loop", "zhangsan@zrzyj.jiaxiang.gov.cn")],
        "subject-en": [],
        "subject-zh": [],
        "x-loop": [("X-Loop", "feedback@jiaxiang.gov.cn")],
    }[kind]
    subject = {"subject-en": "Automatic reply: [JX20261127-0003] 您的意见已受理",
               "subject-zh": word("自动答复: [JX20261127-0003] 您的意见已受理", "gb2312")}.get(kind, "Re: 受理")
    return message([
        ("From", f"{word('张三', 'gb2312')} <zhangsan@zrzyj.jiaxiang.gov.cn>"),
        ("To", "<feedback@jiaxiang.gov.cn>"),
        ("Subject", subject),
        ("Date", "Fri, 27 Nov 2026 10:11:12 +0800"),
        ("Message-ID", f"<oof-{kind}@HK0PR03MB4961.apcprd03.prod.outlook.com>"),
        *headers,
        ("Content-Type", 'text/plain; charset="gb2312"'),
        ("Content-Transfer-Encoding", "base64"),
        ("MIME-Version", "1.0"),
    ], CRLF + b64("我正在休假，12月1日返回。".encode("gbk")))


# ----- Gmail -----------------------------------------------------------------------------------------

def gmail_with_photo() -> tuple[bytes, Expected]:
    """Gmail web: ``mixed[alternative[plain, html], image]``, a Content-ID on the attachment too."""
    p1 = photo("gmail", 5000)
    alt = multipart("multipart/alternative", "000000000000b7a1c2059a7e1f2c", [
        part([("Content-Type", 'text/plain; charset="UTF-8"'), ("Content-Transfer-Encoding", "base64")],
             b64(f"{COMPLAINT_2}\r\n".encode())),
        part([("Content-Type", 'text/html; charset="UTF-8"'), ("Content-Transfer-Encoding", "base64")],
             b64(f'<div dir="ltr">{COMPLAINT_2}</div>\r\n'.encode())),
    ], quote=True)
    root = multipart("multipart/mixed", "000000000000b7a1c4059a7e1f2e", [
        alt,
        part([("Content-Type", 'image/jpeg; name="IMG_20261127_101530.jpg"'),
              ("Content-Disposition", 'attachment; filename="IMG_20261127_101530.jpg"'),
              ("Content-Transfer-Encoding", "base64"), ("Content-ID", "<f_lp3x1abc0>"),
              ("X-Attachment-Id", "f_lp3x1abc0")], b64(p1)),
    ])
    raw = message([
        ("MIME-Version", "1.0"),
        ("From", "Xiaoming Wang <wxm.jiaxiang@gmail.com>"),
        ("Date", "Fri, 27 Nov 2026 10:15:30 +0800"),
        ("Message-ID", "<CAF2x+Q1a2b3c4d5e6f7g8h9i0JkLmNoPqRsTuVwXyZ=abc@mail.gmail.com>"),
        ("Subject", word("坡道照片")),
        ("To", "feedback@jiaxiang.gov.cn"),
        ("Content-Type", 'multipart/mixed; boundary="000000000000b7a1c4059a7e1f2e"'),
    ], _body_of(root))
    return raw, Expected(text=(COMPLAINT_2,), email="wxm.jiaxiang@gmail.com", name="Xiaoming Wang",
                         attachments=(("IMG_20261127_101530.jpg", "image/jpeg", p1),), content_ids=("f_lp3x1abc0",))


# ----- QQ Mail, WeChat --------------------------------------------------------------------------------

def qq_mail() -> tuple[bytes, Expected]:
    """QQ Mail web: GB18030 everywhere in base64, the subject split in the middle of a character."""
    pdf = b"%PDF-1.4\n" + photo("qq-pdf", 1500)
    subject = "投诉社保窗口午休提前".encode("gb18030")
    half = 7  # inside the fourth character
    subject_header = (f"=?gb18030?B?{base64.b64encode(subject[:half]).decode()}?=\r\n"
                      f" =?gb18030?B?{base64.b64encode(subject[half:]).decode()}?=")
    alt = multipart("multipart/alternative", "----=_NextPart_656A1B2C_0F1E2D3C_5A6B7C8D", [
        part([("Content-Type", 'text/plain;\r\n\tcharset="gb18030"'), ("Content-Transfer-Encoding", "base64")],
             b64(f"{COMPLAINT}\r\n联系电话：138 1234 5678".encode("gb18030"))),
        part([("Content-Type", 'text/html;\r\n\tcharset="gb18030"'), ("Content-Transfer-Encoding", "base64")],
             b64(f"<div>{COMPLAINT}</div><div>联系电话：138 1234 5678</div>".encode("gb18030"))),
    ])
    root = multipart("multipart/mixed", "----=_NextPart_656A1B2C_0F1E2D3C_1A2B3C4D", [
        alt,
        part([("Content-Type", f'application/octet-stream;\r\n\tcharset="gb18030";\r\n\tname="'
                               f'{word("排队小票.pdf", "gb18030")}"'),
              ("Content-Disposition", f'attachment; filename="{word("排队小票.pdf", "gb18030")}"'),
              ("Content-Transfer-Encoding", "base64")], b64(pdf)),
    ], preamble=b"This is a multi-part message in MIME format.")
    raw = message([
        ("X-QQ-FEAT", "hx+LYZ2Fb0q1kF3Yq7pC2h0k"),
        ("X-QQ-SSF", "00000000000000F000000000000000Z"),
        ("X-QQ-XMAILINFO", "NkNUHvHr5HmvTExpaaJBQHYc3vLp"),
        ("X-QQ-mid", "webmail812t1701051234t3049187"),
        ("From", f'"{word("老王", "gb18030")}" <1234567890@qq.com>'),
        ("To", '"feedback" <feedback@jiaxiang.gov.cn>'),
        ("Subject", subject_header),
        ("Mime-Version", "1.0"),
        ("Content-Type", 'multipart/mixed;\r\n\tboundary="----=_NextPart_656A1B2C_0F1E2D3C_1A2B3C4D"'),
        ("Content-Transfer-Encoding", "8Bit"),
        ("Date", "Fri, 27 Nov 2026 10:20:34 +0800"),
        ("X-Priority", "3"),
        ("Message-ID", "<tencent_5F1A2B3C4D5E6F7A8B9C0D1E2F3A4B5C6D07@qq.com>"),
        ("X-QQ-MIME", "TCMime 1.0 by Tencent"),
        ("X-Mailer", "QQMail 2.x"),
        ("X-QQ-Mailer", "QQMail 2.x"),
    ], _body_of(root))
    return raw, Expected(text=(COMPLAINT, "联系电话"), email="1234567890@qq.com", name="老王",
                         attachments=(("排队小票.pdf", "application/octet-stream", pdf),),
                         extra={})


def wechat_forward() -> tuple[bytes, Expected]:
    """A WeChat chat forwarded to e-mail through QQ Mail: ``related[alternative[plain, html], image…]``
    with the pictures of the chat as inline images (the plain part only says "[图片]")."""
    p1, p2 = photo("wx-1"), photo("wx-2")
    chat = "微信聊天记录\n王小明 10:02\n" + COMPLAINT + "\n王小明 10:03\n[图片]\n王小明 10:03\n[图片]"
    html = ("<div>微信聊天记录</div><div>王小明 10:02</div><div>" + COMPLAINT + "</div><div>王小明 10:03</div>"
            '<div><img src="cid:wx_img_001@qq.com"></div><div>王小明 10:03</div>'
            '<div><img src="cid:wx_img_002@qq.com"></div>')
    alt = multipart("multipart/alternative", "----=_NextPart_656A1B2C_0F1E2D3C_7E8F9A0B", [
        part([("Content-Type", 'text/plain;\r\n\tcharset="utf-8"'), ("Content-Transfer-Encoding", "base64")],
             b64(chat.encode())),
        part([("Content-Type", 'text/html;\r\n\tcharset="utf-8"'), ("Content-Transfer-Encoding", "base64")],
             b64(html.encode())),
    ])
    root = multipart('multipart/related;\r\n\ttype="multipart/alternative"',
                     "----=_NextPart_656A1B2C_0F1E2D3C_6C7D8E9F",
                     [alt,
                      part([("Content-Type", 'image/jpeg;\r\n\tname="wx_img_001.jpg"'),
                            ("Content-Transfer-Encoding", "base64"), ("Content-ID", "<wx_img_001@qq.com>")], b64(p1)),
                      part([("Content-Type", 'image/jpeg;\r\n\tname="wx_img_002.jpg"'),
                            ("Content-Transfer-Encoding", "base64"), ("Content-ID", "<wx_img_002@qq.com>")], b64(p2))])
    raw = message([
        ("X-QQ-mid", "wxmail8t1701052345t2233445"),
        ("From", f'"{word("王小明")}" <wxid_8a7b6c5d4e@qq.com>'),
        ("To", '"feedback" <feedback@jiaxiang.gov.cn>'),
        ("Subject", word("王小明的聊天记录")),
        ("Mime-Version", "1.0"),
        ("Content-Type", 'multipart/related;\r\n\ttype="multipart/alternative";\r\n'
                         '\tboundary="----=_NextPart_656A1B2C_0F1E2D3C_6C7D8E9F"'),
        ("Content-Transfer-Encoding", "8Bit"),
        ("Date", "Fri, 27 Nov 2026 10:30:00 +0800"),
        ("Message-ID", "<tencent_wx_8A7B6C5D4E3F2A1B0C9D8E7F@qq.com>"),
        ("X-Mailer", "QQMail 2.x"),
    ], _body_of(root))
    return raw, Expected(text=(COMPLAINT, "微信聊天记录"), email="wxid_8a7b6c5d4e@qq.com", name="王小明",
                         attachments=(("wx_img_001.jpg", "image/jpeg", p1), ("wx_img_002.jpg", "image/jpeg", p2)),
                         content_ids=("wx_img_001@qq.com", "wx_img_002@qq.com"))


# ----- 163/126 (Coremail), Foxmail --------------------------------------------------------------------

def netease_163() -> tuple[bytes, Expected]:
    """163 web mail (Coremail): GBK bytes, an RFC 2231 attachment name in GBK, the 网易邮箱 footer."""
    xls = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + photo("163-xls", 1800)[8:]
    name_2231 = "".join(f"%{byte:02X}" for byte in "办事材料清单.xls".encode("gbk"))
    alt = multipart("multipart/alternative", "----=_Part_402215_1437815385.1701051634512", [
        part([("Content-Type", "text/plain; charset=GBK"), ("Content-Transfer-Encoding", "base64")],
             b64(f"{COMPLAINT}\r\n\r\n来自网易邮箱大师".encode("gbk"))),
        part([("Content-Type", "text/html; charset=GBK"), ("Content-Transfer-Encoding", "base64")],
             b64(f'<div style="line-height:1.7;color:#000000;font-size:14px;font-family:Arial">{COMPLAINT}'
                 '</div><br><br><span title="neteasefooter"><p>&nbsp;</p></span>'.encode("gbk"))),
    ])
    root = multipart("multipart/mixed", "----=_Part_402214_1121634386.1701051634512", [
        alt,
        part([("Content-Type", "application/vnd.ms-excel"), ("Content-Transfer-Encoding", "base64"),
              ("Content-Disposition", f"attachment; filename*=GBK''{name_2231}")], b64(xls)),
    ])
    raw = message([
        ("Date", "Fri, 27 Nov 2026 10:20:34 +0800 (CST)"),
        ("From", f'"{word("赵六", "GBK")}" <zhaoliu_1988@163.com>'),
        ("To", "feedback@jiaxiang.gov.cn"),
        ("Message-ID", "<5d2c1b0a.3f1e.18c0f2a1b3c.Coremail.zhaoliu_1988@163.com>"),
        ("Subject", word("材料清单反复要求补交", "GBK")),
        ("MIME-Version", "1.0"),
        ("Content-Type", 'multipart/mixed;\r\n\tboundary="----=_Part_402214_1121634386.1701051634512"'),
        ("X-Originating-IP", "[223.104.1.2]"),
        ("X-Priority", "3"),
        ("X-Mailer", "Coremail Webmail Server Version XT5.0.14 build 20230109(dcb5de15) Copyright (c) 2002-2026 "
                     "www.mailtech.cn 163com"),
        ("X-NTES-SC", "AL_Qu2aBfWfu0Ar5iSfYukXn0oTh+g6W8u1u/8k3YJXOp8nuCnr2ygAT1dkRXbk9Mw"),
        ("X-CM-TRANSID", "_____wD3f3+1Q2RlTQ0EAA--.12345S2"),
    ], _body_of(root))
    return raw, Expected(text=(COMPLAINT,), email="zhaoliu_1988@163.com", name="赵六",
                         attachments=(("办事材料清单.xls", "application/vnd.ms-excel", xls),))


def foxmail() -> tuple[bytes, Expected]:
    """Foxmail on Windows: a GB2312 label on GBK-only characters (镕, 喆), an attachment named in raw
    GBK bytes (no encoding at all), 76-column base64."""
    text = f"{COMPLAINT}\r\n经办人说找朱镕喆科长签字。\r\n\r\n2026-11-27\r\n\r\n孙七"
    doc = b"\xd0\xcf\x11\xe0" + photo("fox-doc", 2200)[4:]
    alt = multipart("multipart/alternative", "----=_002_NextPart824578125143_=----", [
        part([("Content-Type", 'text/plain;\r\n\tcharset="GB2312"'), ("Content-Transfer-Encoding", "base64")],
             b64(text.encode("gbk"))),
        part([("Content-Type", 'text/html;\r\n\tcharset="GB2312"'), ("Content-Transfer-Encoding", "quoted-printable")],
             qp("<html><body><div>" + text.replace("\r\n", "<br>") + "</div></body></html>", "gbk")),
    ])
    root = multipart("multipart/mixed", "----=_001_NextPart438715318218_=----", [
        alt,
        part([("Content-Type", b'application/msword;\r\n\tname="' + "申请表.doc".encode("gbk") + b'"'),
              ("Content-Transfer-Encoding", "base64"),
              ("Content-Disposition", b'attachment;\r\n\tfilename="' + "申请表.doc".encode("gbk") + b'"')], b64(doc)),
    ], preamble=b"This is a multi-part message in MIME format.")
    raw = message([
        ("Date", "Fri, 27 Nov 2026 11:02:45 +0800"),
        ("From", f'"{word("孙七", "gb2312")}" <sunqi@126.com>'),
        ("To", '"feedback" <feedback@jiaxiang.gov.cn>'),
        ("Subject", word("签字找不到人", "gb2312")),
        ("X-Priority", "3"),
        ("X-Has-Attach", "yes"),
        ("X-Mailer", "Foxmail 7.2.25.375[cn]"),
        ("Mime-Version", "1.0"),
        ("Message-ID", "<202611271102448837215@126.com>"),
        ("Content-Type", 'multipart/mixed;\r\n\tboundary="----=_001_NextPart438715318218_=----"'),
    ], _body_of(root))
    return raw, Expected(text=(COMPLAINT, "朱镕喆"), email="sunqi@126.com", name="孙七",
                         attachments=(("申请表.doc", "application/msword", doc),))


# ----- Thunderbird, Android --------------------------------------------------------------------------

def thunderbird() -> tuple[bytes, Expected]:
    """Thunderbird: format=flowed 8bit UTF-8 text and an attachment name in RFC 2231 continuations."""
    img = photo("tb", 2600)
    name = "大厅东门坡道现场照片.jpg"
    encoded = "".join(f"%{byte:02X}" for byte in name.encode())
    first, second = encoded[:45], encoded[45:]
    root = multipart("multipart/mixed", "------------0A1B2C3D4E5F6A7B8C9D0E1F", [
        part([("Content-Type", "text/plain; charset=UTF-8; format=flowed"), ("Content-Transfer-Encoding", "8bit")],
             f"{COMPLAINT_2} \r\n第二天还是这样。\r\n\r\n-- \r\n周八\r\n".encode()),
        part([("Content-Type", "image/jpeg;\r\n name*0*=UTF-8''" + first + ";\r\n name*1*=" + second),
              ("Content-Disposition", "attachment;\r\n filename*0*=UTF-8''" + first + ";\r\n filename*1*=" + second),
              ("Content-Transfer-Encoding", "base64")], b64(img, 72)),
    ], preamble=b"This is a multi-part message in MIME format.")
    raw = message([
        ("Message-ID", "<0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d@foxmail.com>"),
        ("Date", "Fri, 27 Nov 2026 11:30:00 +0800"),
        ("MIME-Version", "1.0"),
        ("User-Agent", "Mozilla Thunderbird"),
        ("Content-Language", "zh-CN"),
        ("To", "feedback@jiaxiang.gov.cn"),
        ("From", "=?UTF-8?B?5ZGo5YWr?= <zhouba@foxmail.com>"),
        ("Subject", word("坡道还是坏的")),
        ("Content-Type", 'multipart/mixed; boundary="------------0A1B2C3D4E5F6A7B8C9D0E1F"'),
    ], _body_of(root))
    return raw, Expected(text=(COMPLAINT_2, "第二天还是这样"), email="zhouba@foxmail.com", name="周八",
                         attachments=((name, "image/jpeg", img),))


def android_huawei_html_only() -> tuple[bytes, Expected]:
    """Huawei's e-mail app: an empty text/plain beside the full HTML, the photo base64 in one line."""
    img = photo("huawei", 2400)
    alt = multipart("multipart/alternative", "--_com.android.email_2436871123456789", [
        part([("Content-Type", "text/plain; charset=utf-8"), ("Content-Transfer-Encoding", "base64")], b""),
        part([("Content-Type", "text/html; charset=utf-8"), ("Content-Transfer-Encoding", "base64")],
             b64(f"<html><body><div>{COMPLAINT}</div><div><br></div><div>发自我的华为手机</div></body></html>"
                 .encode())),
    ])
    root = multipart("multipart/mixed", "--_com.android.email_2436871123456788", [
        alt,
        part([("Content-Type", "image/jpeg; name=IMG_20261127_103012.jpg"), ("Content-Transfer-Encoding", "base64"),
              ("Content-Disposition", "attachment; filename=IMG_20261127_103012.jpg; size=2402")], b64(img, 0)),
    ])
    raw = message([
        ("MIME-Version", "1.0"),
        ("Subject", word("社保窗口没人")),
        ("Message-ID", "<abcdef0123456789.android@email.android.com>"),
        ("X-Android-Message-ID", "<abcdef0123456789.android@email.android.com>"),
        ("From", "=?utf-8?B?6ZKx5Lmd?= <qianjiu@139.com>"),
        ("To", "feedback@jiaxiang.gov.cn"),
        ("Date", "Fri, 27 Nov 2026 10:30:12 +0800"),
        ("Importance", "Normal"),
        ("X-Priority", "3"),
        ("Content-Type", 'multipart/mixed; boundary="--_com.android.email_2436871123456788"'),
    ], _body_of(root))
    return raw, Expected(text=(COMPLAINT,), email="qianjiu@139.com", name="钱九",
                         attachments=(("IMG_20261127_103012.jpg", "image/jpeg", img),))


def samsung_reply_to() -> tuple[bytes, Expected]:
    """Samsung Email with a Reply-To (a shared family address answers), html and plain both full."""
    root = multipart("multipart/alternative", "--_com.samsung.android.email_1701052545125560", [
        part([("Content-Type", "text/plain; charset=utf-8"), ("Content-Transfer-Encoding", "base64")],
             b64(f"{COMPLAINT}\r\n\r\n\r\n发自我的Galaxy".encode())),
        part([("Content-Type", "text/html; charset=utf-8"), ("Content-Transfer-Encoding", "base64")],
             b64(f'<html><head><meta http-equiv="Content-Type" content="text/html; charset=UTF-8"></head><body>'
                 f'<div dir="auto">{COMPLAINT}</div><div dir="auto"><br></div><div id="composer_signature" '
                 'dir="auto"><div style="font-size:85%;color:#575757" dir="auto">发自我的Galaxy</div></div>'
                 '</body></html>'.encode())),
    ])
    raw = message([
        ("Date", "Fri, 27 Nov 2026 12:00:00 +0800"),
        ("Message-ID", "<a1b2c3d4-e5f6.samsung@email.android.com>"),
        ("From", "=?utf-8?B?5a2Z5a2Q?= <sunzi.phone@sina.com>"),
        ("Reply-To", "=?utf-8?B?5a2Z5a625Lq6?= <sun.family@sina.com>"),
        ("To", "feedback@jiaxiang.gov.cn"),
        ("Subject", word("社保窗口")),
        ("MIME-Version", "1.0"),
        ("Content-Type", 'multipart/alternative; boundary="--_com.samsung.android.email_1701052545125560"'),
    ], _body_of(root))
    return raw, Expected(text=(COMPLAINT,), email="sun.family@sina.com", name="孙子", extra={"reply_to_used": True})


CLIENT_MAILS = {
    "ios-mail-photos": iphone_with_photos,
    "apple-mail-mixed-inline": apple_mail_mixed_inline,
    "outlook-exchange": outlook_with_attachment,
    "outlook-winmail-dat": lambda: outlook_with_attachment(tnef=True),
    "gmail": gmail_with_photo,
    "qq-mail": qq_mail,
    "wechat-forward": wechat_forward,
    "163-coremail": netease_163,
    "foxmail": foxmail,
    "thunderbird": thunderbird,
    "android-huawei": android_huawei_html_only,
    "android-samsung-reply-to": samsung_reply_to,
}
