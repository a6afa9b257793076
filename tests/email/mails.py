"""Builders of sample mails as raw bytes, so each test controls charsets and encodings exactly."""

from __future__ import annotations

import base64
import quopri
from email.header import Header
from email.utils import formataddr

DEFAULT_FROM = ("王小明", "wang.xm@example.cn")


def _header_word(text: str, charset: str) -> str:
    return Header(text, charset if charset != "gb18030" else "gb18030").encode()


def build(body: str = "窗口人员态度不好，让我等了两个小时。", *, subject: str = "投诉金屯镇为民服务大厅",
          charset: str = "utf-8", encoding: str = "base64", subtype: str = "plain",
          message_id: str | None = "<m1@example.cn>", sender: tuple[str, str] | None = DEFAULT_FROM,
          headers: dict[str, str] | None = None, in_reply_to: str | None = None,
          references: str | None = None, label: str | None = None, body_bytes: bytes | None = None,
          pad_to: int | None = None) -> bytes:
    """One single-part mail.  ``label`` overrides the declared charset (for mislabelled mail)."""
    data = body_bytes if body_bytes is not None else body.encode(charset)
    if pad_to and len(data) < pad_to:
        data += b"\n" + b"x" * (pad_to - len(data))
    lines = []
    if sender:
        name, address = sender
        lines.append(f"From: {formataddr((name, address), charset='utf-8')}")
    lines += ["To: feedback@test.local", f"Subject: {_header_word(subject, 'utf-8')}",
              "Date: Fri, 27 Nov 2026 10:00:00 +0800", "MIME-Version: 1.0"]
    if message_id:
        lines.append(f"Message-ID: {message_id}")
    if in_reply_to:
        lines.append(f"In-Reply-To: {in_reply_to}")
    if references:
        lines.append(f"References: {references}")
    for key, value in (headers or {}).items():
        lines.append(f"{key}: {value}")
    lines.append(f'Content-Type: text/{subtype}; charset="{label or charset}"')
    if encoding == "base64":
        payload = base64.encodebytes(data)
    elif encoding == "quoted-printable":
        payload = quopri.encodestring(data)
    else:
        payload = data
    lines.append(f"Content-Transfer-Encoding: {encoding}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + payload.replace(b"\n", b"\r\n").replace(
        b"\r\r\n", b"\r\n")


def raw_headers(header_block: bytes, body: bytes = b"hello") -> bytes:
    return header_block.rstrip(b"\r\n") + b"\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body


def multipart(parts: list[tuple[str, dict[str, str], bytes]], *, subtype: str = "mixed",
              message_id: str = "<mp@example.cn>", subject: str = "附件材料",
              sender: tuple[str, str] = DEFAULT_FROM, extra_headers: dict[str, str] | None = None) -> bytes:
    """``parts`` are ``(content_type, extra headers, raw payload bytes already encoded)``."""
    boundary = "==b0undary=="
    head = [f"From: {formataddr(sender, charset='utf-8')}", "To: feedback@test.local",
            f"Subject: {_header_word(subject, 'utf-8')}", f"Message-ID: {message_id}",
            "MIME-Version: 1.0", f'Content-Type: multipart/{subtype}; boundary="{boundary}"']
    head += [f"{k}: {v}" for k, v in (extra_headers or {}).items()]
    out = ("\r\n".join(head) + "\r\n\r\n").encode()
    for content_type, headers, payload in parts:
        out += f"--{boundary}\r\nContent-Type: {content_type}\r\n".encode()
        out += "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode()
        out += b"\r\n" + payload + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


def b64(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


def alternative(plain: str, html: str, **kwargs) -> bytes:  # type: ignore[no-untyped-def]
    return multipart([
        ("text/plain; charset=utf-8", {"Content-Transfer-Encoding": "base64"}, b64(plain.encode())),
        ("text/html; charset=utf-8", {"Content-Transfer-Encoding": "base64"}, b64(html.encode())),
    ], subtype="alternative", **kwargs)


def with_attachment(name: str, content: bytes, *, media_type: str = "image/jpeg", body: str = "请看附件照片。",
                    **kwargs) -> bytes:  # type: ignore[no-untyped-def]
    return multipart([
        ("text/plain; charset=utf-8", {"Content-Transfer-Encoding": "base64"}, b64(body.encode())),
        (f'{media_type}; name="{_header_word(name, "utf-8")}"',
         {"Content-Transfer-Encoding": "base64",
          "Content-Disposition": f'attachment; filename="{_header_word(name, "utf-8")}"'}, b64(content)),
    ], **kwargs)


def bounce(failed: str = "wang.xm@example.cn", status: str = "5.1.1") -> bytes:
    report = (f"Reporting-MTA: dns; mx.example.cn\r\n\r\nFinal-Recipient: rfc822; {failed}\r\n"
              f"Action: failed\r\nStatus: {status}\r\n").encode()
    return multipart([
        ("text/plain; charset=us-ascii", {}, b"Delivery to the following recipient failed permanently."),
        ("message/delivery-status", {}, report),
    ], subtype='report; report-type="delivery-status"', message_id="<dsn1@mx.example.cn>",
        subject="Undelivered Mail Returned to Sender", sender=("Mail Delivery System", "MAILER-DAEMON@mx.example.cn"))
