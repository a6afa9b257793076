"""The part of a mail body worth triaging: without quoted earlier messages and signatures.

The full text stays in ``Intake.text``; only the classifier reads the trimmed one, so a reply
that quotes our acknowledgement (“您的意见已受理…”) is judged by what the citizen wrote.
"""

from __future__ import annotations

import re

# A line that starts a quoted earlier message: everything from it on is the quote.
_QUOTE_HEADERS = [
    re.compile(r"^-{2,}\s*(original message|原始邮件|原始郵件|转发邮件|forwarded message)\s*-{2,}", re.I),
    re.compile(r"^_{5,}\s*$"),  # Outlook's rule above "From: … Sent: …"
    re.compile(r"^on .{4,200} wrote:\s*$", re.I),
    re.compile(r"^在 ?.{4,120}(写道|寫道)[:：]\s*$"),
    re.compile(r"^.{0,80}\d{4}年\d{1,2}月\d{1,2}日.{0,80}(写道|寫道)[:：]\s*$"),
]
_HEADER_BLOCK = re.compile(r"^(发件人|寄件者|from)\s*[:：]", re.I)
_HEADER_FOLLOW = re.compile(r"^(发送时间|寄件日期|日期|时间|sent|date|收件人|to|主题|subject)\s*[:：]", re.I)
_SIGNATURE_START = re.compile(r"^(--|—{2,}|-{3,}|__)\s*$")
_MOBILE_SIGNATURE = re.compile(
    r"^(发自我的|來自我的|sent from my|来自网易邮箱|来自 ?qq ?邮箱|发自网易邮箱|来自我的华为|来自华为|"
    r"get outlook for)", re.I)


def strip_quotes_and_signature(text: str) -> str:
    """``text`` without ``>`` quotes, the quoted message under a reply header, and signatures."""
    lines = text.split("\n")
    kept: list[str] = []
    for index, line in enumerate(lines):
        stripped = line.strip()
        if any(pattern.match(stripped) for pattern in _QUOTE_HEADERS):
            break
        if _HEADER_BLOCK.match(stripped) and any(
                _HEADER_FOLLOW.match(following.strip()) for following in lines[index + 1:index + 4]):
            break
        if _SIGNATURE_START.match(line.rstrip()) or line == "-- ":
            break
        if stripped.startswith((">", "＞")):
            continue
        if _MOBILE_SIGNATURE.match(stripped):
            continue
        kept.append(line)
    result = "\n".join(kept).strip()
    return re.sub(r"\n{3,}", "\n\n", result)
