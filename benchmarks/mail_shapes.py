"""Sample citizen mails shaped like what the hall's mailbox really receives.

Why: the e-mail benchmark's figures depend on the shape of the mail as much as on
its size.  A single-part message is cheap for any parser; the mail citizens send
from QQ Mail, 163, Outlook and phones carries a relay trail, client headers, a
plain and an HTML alternative, base64 or quoted-printable, and often a quoted
earlier message.  ``realistic(i)`` rotates through those four clients with body
texts of 50–750 characters (about 320 on average) taken from the labelled
triage data, about 3.6 KB a mail; ``simple(i)`` is the earlier single-part,
920-character shape, kept so the two can be compared.
"""

from __future__ import annotations

import base64
import quopri
import random
from email.header import Header
from email.utils import formataddr
from functools import lru_cache
from html import escape
from pathlib import Path

from triage.evaluate import read_jsonl

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests/triage/data"
PHRASES = ["窗口人员态度不好，让我等了两个小时。", "材料不全被退回三次，每次说法都不一样。",
           "办事效率太低，希望尽快整改。", "工作人员很热情，点赞！", "需要多个部门盖章，跑了好几趟。"]
NAMES = ["王小明", "李秀英", "张伟", "刘洋", "陈静", "杨磊", "赵敏", "黄海"]


@lru_cache(maxsize=1)
def _texts() -> list[str]:
    return [r["text"] for path in sorted(DATA.glob("*.jsonl")) for r in read_jsonl(path, required=("text",))]


def _body(rng: random.Random) -> str:
    """50–750 characters: one to several labelled items joined as a citizen would write them."""
    texts = _texts()
    target = int(rng.triangular(50, 750, 150))
    out = rng.choice(texts)
    while len(out) < target:
        out += "\n" + rng.choice(texts)
    return out[:target]


def _word(text: str, charset: str) -> str:
    return Header(text, charset).encode()


def _b64(data: bytes) -> str:
    return base64.encodebytes(data).decode("ascii").replace("\n", "\r\n")


def _qp(data: bytes) -> str:
    return quopri.encodestring(data).decode("ascii").replace("\n", "\r\n")


def _html(text: str, style: str) -> str:
    paragraphs = "".join(f"<div>{escape(line)}</div>" for line in text.split("\n"))
    return f'<html><head><meta charset="utf-8"></head><body><div style="{style}">{paragraphs}</div></body></html>'


def _received(i: int, relay: str) -> list[str]:
    return [f"Received: from {relay} (unknown [183.3.{i % 250}.{i % 199}]) by mx.feedback.test.local "
            f"(Postfix) with ESMTPS id 4Rb{i:06X} for <feedback@test.local>; Sat, 28 Nov 2026 09:{i % 60:02d}:12 +0800",
            f"Received: from localhost (localhost [127.0.0.1]) by {relay} with SMTP id Cq{i:08x}; "
            f"Sat, 28 Nov 2026 09:{i % 60:02d}:10 +0800"]


def _alternative(head: list[str], plain: str, html: str, charset: str, encode) -> bytes:  # type: ignore[no-untyped-def]
    boundary = "----=_NextPart_" + format(abs(hash(plain)) % 16**12, "012X")
    cte = "base64" if encode is _b64 else "quoted-printable"
    out = "\r\n".join([*head, "MIME-Version: 1.0", f'Content-Type: multipart/alternative; boundary="{boundary}"'])
    out += "\r\n\r\nThis is a multi-part message in MIME format.\r\n\r\n"
    for subtype, content in (("plain", plain), ("html", html)):
        out += (f'--{boundary}\r\nContent-Type: text/{subtype}; charset="{charset}"\r\n'
                f"Content-Transfer-Encoding: {cte}\r\n\r\n{encode(content.encode(charset))}\r\n")
    return (out + f"--{boundary}--\r\n").encode("ascii")


def _qq(i: int, rng: random.Random, text: str) -> bytes:
    name = rng.choice(NAMES)
    head = [*_received(i, "smtpbg.qq.com"),
        f"X-QQ-mid: bizesmtp{i}t1764291{i:06d}tuv{i % 97}",
        "X-QQ-SSF: 00400000000000F0", "X-QQ-GoodBg: 0",
        f"From: \"{_word(name, 'gb18030')}\" <{1000000 + i}@qq.com>",
        f"To: \"{_word('为民服务大厅', 'gb18030')}\" <feedback@test.local>",
        f"Subject: {_word('投诉建议：' + text[:12], 'gb18030')}",
        f"Date: Sat, 28 Nov 2026 09:{i % 60:02d}:08 +0800",
        f"Message-ID: <tencent_{i:032X}@qq.com>",
        "X-Priority: 3", "X-QQ-MIME: TCMime 1.0 by Tencent", "X-Mailer: QQMail 2.x", "X-QQ-Mailer: QQMail 2.x",
    ]
    html = _html(text, "font-family: 微软雅黑; font-size: 14px;")
    return _alternative(head, text, html, "gb18030", _b64)


def _netease(i: int, rng: random.Random, text: str) -> bytes:
    name = rng.choice(NAMES)
    head = [*_received(i, "m15.mail.163.com"),
        f"X-Originating-IP: [112.{i % 250}.{i % 199}.{i % 97}]",
        f"Date: Sat, 28 Nov 2026 09:{i % 60:02d}:30 +0800 (CST)",
        f"From: {_word(name, 'gbk')} <citizen{i}@163.com>",
        "To: feedback@test.local",
        f"Subject: {_word('关于办事的意见', 'gbk')}",
        "X-Priority: 3", "X-Mailer: Coremail Webmail Server Version XT5.0.14 build 20230109(dcb5de15)",
        f"X-NTES-SC: AL_Qu2cAfqZuE0s5SWYYekfmk8UgOg7XMK1vv4{i:05d}",
        f"Message-ID: <{i:x}.5c3.18c1a7b2e{i:05x}.Coremail.citizen{i}@163.com>",
        "X-Coremail-Locale: zh_CN", f"X-CM-TRANSID: _____wD3H{i:08d}--.{i % 89}S2",
    ]
    lines = text.replace("\n", "<br>")
    html = f'<div style="line-height:1.7;color:#000000;font-size:14px;font-family:Arial">{escape(lines)}</div>'
    try:  # Coremail writes GBK, and UTF-8 when the text needs it (emoji, rare characters)
        (text + html).encode("gbk")
        charset = "gbk"
    except UnicodeEncodeError:
        charset = "utf-8"
    return _alternative(head, text, html, charset, _b64)


def _outlook(i: int, rng: random.Random, text: str) -> bytes:
    name = rng.choice(NAMES)
    quoted = ("\n\n________________________________\n发件人: feedback@test.local\n发送时间: 2026年11月20日 10:15\n"
              f"收件人: {name}\n主题: 回复：关于办事的意见\n\n您好，您的意见已收到，受理编号 HC20261120-0042。")
    plain = text + quoted
    head = [*_received(i, "APC01-SG2-obe.outbound.protection.outlook.com"),
        f"ARC-Seal: i=1; a=rsa-sha256; s=arcselector9901; d=microsoft.com; cv=none; b=Zx{i:040d}",
        f"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=outlook.com; s=selector1; "
        f"h=From:Date:Subject:Message-ID:Content-Type:MIME-Version:X-MS-Exchange-SenderADCheck; "
        f"bh=Kq{i:030d}=; b=Ab{i:060d}",
        f"From: {formataddr((name, f'citizen{i}@outlook.com'), charset='utf-8')}",
        "To: \"feedback@test.local\" <feedback@test.local>",
        f"Subject: {_word('回复: 关于办事的意见', 'utf-8')}",
        f"Thread-Topic: {_word('关于办事的意见', 'utf-8')}",
        f"Thread-Index: AQHaQ{i:012d}AAA==",
        f"Date: Sat, 28 Nov 2026 01:{i % 60:02d}:41 +0000",
        f"Message-ID: <TYZPR06MB{i:07d}.apcprd06.prod.outlook.com>",
        "Accept-Language: zh-CN, en-US", "Content-Language: zh-CN",
        "X-MS-Has-Attach:", "X-MS-TNEF-Correlator:",
        "x-ms-exchange-messagesentrepresentingtype: 1",
        f"x-ms-traffictypediagnostic: TYZPR06MB{i:07d}:EE_",
    ]
    html = _html(plain, "font-family: 等线, DengXian; font-size: 12pt; color: rgb(0, 0, 0);")
    return _alternative(head, plain, html, "utf-8", _b64)


def _phone(i: int, rng: random.Random, text: str) -> bytes:
    name = rng.choice(NAMES)
    body = text + "\n\n发自我的iPhone"
    head = [*_received(i, "mx.icloud.com"),
        "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: quoted-printable",
        f"From: {formataddr((name, f'citizen{i}@icloud.com'), charset='utf-8')}",
        "Mime-Version: 1.0 (1.0)",
        f"Subject: {_word('意见', 'utf-8')}",
        f"Date: Sat, 28 Nov 2026 09:{i % 60:02d}:02 +0800",
        f"Message-Id: <{i:08X}-2C7E-4B5D-9F1A-{i:012X}@icloud.com>",
        "To: feedback@test.local", "X-Mailer: iPhone Mail (21F90)",
    ]
    return ("\r\n".join(head) + "\r\n\r\n" + _qp(body.encode("utf-8"))).encode("ascii")


SHAPES = (_qq, _netease, _outlook, _phone)


def realistic(i: int) -> bytes:
    """Mail number ``i``: QQ, 163, Outlook and iPhone in turn, each with its own text."""
    rng = random.Random(i)
    return SHAPES[i % len(SHAPES)](i, rng, _body(rng))


def simple(i: int) -> bytes:
    """The earlier benchmark mail: single part, base64, a 920-character body."""
    body = "".join(PHRASES[(i + k) % len(PHRASES)] for k in range(80))[:900] + f"\n联系电话 1381234{i % 10000:04d}"
    charset = "gb18030" if i % 2 else "utf-8"
    head = [f"From: {formataddr(('王小明', f'citizen{i}@example.cn'), charset='utf-8')}", "To: feedback@test.local",
            f"Subject: {_word(f'意见 {i}', 'utf-8')}", "Date: Fri, 27 Nov 2026 10:00:00 +0800", "MIME-Version: 1.0",
            f"Message-ID: <bench{i}@example.cn>", f'Content-Type: text/plain; charset="{charset}"',
            "Content-Transfer-Encoding: base64"]
    return ("\r\n".join(head) + "\r\n\r\n" + _b64(body.encode(charset))).encode("ascii")
