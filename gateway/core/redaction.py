"""Personal data typed into free text, found and replaced for good when its retention time is over.

Pure (only ``re``), so it can be tested on its own and used by any part of hcp.  It differs from
``gateway.core.redact.scrub`` (the ``***`` guard on text that leaves the staff side) in two ways:
the replacement is the visible marker ``〔已清除〕`` written back to the database, and it is careful
about numbers the project or the citizen's matter needs and that are not personal: tracking codes
(``JX20261128-0007``), slip serials (``No.00012345``), scan references (``scan:<16 hex>:1:2``),
dates and times, and amounts of money (``13800元``, ``¥1,380.50``) are never touched.

What is removed: mainland mobile numbers (``13812345678``, ``+86 138 1234 5678``, ``138-1234-5678``),
landlines with an area code (``0531-82345678``, ``(010)62345678``, ``021 6234 5678``), 18-digit ID
card numbers (last character a digit or X), e-mail addresses, and bank-card-like numbers (16 to 19
digits, optionally in groups of four).  A number glued to other digits is not a match (it is part of
a longer number), so nothing is cut in the middle of a figure.
"""

from __future__ import annotations

import re

MARKER = "〔已清除〕"

_SEP = r"[ \-]"
# Each pattern is bounded by "no digit before / after"; e-mail by its own character set.
EMAIL = re.compile(r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"
                   r"(?![A-Za-z0-9\-])")
ID_CARD = re.compile(r"(?<!\d)[1-9]\d{16}[\dXx](?![\dA-Za-z])")
BANK_CARD = re.compile(rf"(?<!\d)(?:\d{{16,19}}|\d{{4}}(?:{_SEP}\d{{4}}){{3}}(?:{_SEP}?\d{{1,3}})?)(?!\d)")
MOBILE = re.compile(rf"(?<![\d+])(?:(?:\+|00)?86{_SEP}?)?1[3-9]\d(?:{_SEP}?\d{{4}}){{2}}(?!\d)")
LANDLINE = re.compile(r"(?<!\d)(?:[(（]0[1-9]\d{1,2}[)）]\s?|0[1-9]\d{1,2}[ \-]?)[2-9]\d{2,3}[ \-]?\d{4}(?!\d)"
                      r"(?:(?:转|-|ext\.?\s?)\d{1,5}(?!\d))?")
PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("email", EMAIL), ("id_card", ID_CARD), ("bank_card", BANK_CARD), ("mobile", MOBILE), ("landline", LANDLINE))

# Numbers that must stay: found first, a personal-data match overlapping one of them is not taken.
_PROTECTED = re.compile(
    r"(?<![A-Za-z0-9])[A-Za-z]{1,4}\d{8}-\d{4,6}(?!\d)"                     # tracking code JX20261128-0007
    r"|(?<![A-Za-z])(?i:no)\.?\s*[:：]?\s*\d{8,10}(?!\d)"                     # a slip serial as printed
    r"|scan:[0-9a-f]{16}:\d+:\d+"                                            # a slip's scan reference
    r"|(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])"                                # a SHA-256
    r"|(?<![\d.,])(?:[¥￥]|RMB|人民币)\s*\d[\d,]*(?:\.\d+)?"                  # ¥1,380.50
    r"|(?<![\d.,])\d[\d,]*(?:\.\d+)?\s*(?:元|块|万元|亿元|万|角|分钱)"          # 13800元
    r"|(?<!\d)\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}日?(?:\s*\d{1,2}[:：]\d{2}(?:[:：]\d{2})?)?(?!\d)"  # dates
)


def personal_spans(text: str) -> list[tuple[int, int, str]]:
    """Where personal data is in ``text``: ``(start, end, kind)``, sorted, never overlapping."""
    protected = [m.span() for m in _PROTECTED.finditer(text)]
    taken: list[tuple[int, int, str]] = []

    def free(start: int, end: int) -> bool:
        return not any(s < end and start < e for s, e in protected) and \
            not any(s < end and start < e for s, e, _ in taken)

    for kind, pattern in PATTERNS:
        for match in pattern.finditer(text):
            if free(*match.span()):
                taken.append((match.start(), match.end(), kind))
    return sorted(taken)


def redact_personal(text: str) -> tuple[str, list[str]]:
    """``text`` with every personal number and address replaced by ``MARKER``, and the kinds removed.

    Idempotent: the marker holds no digit, so a second pass finds nothing."""
    spans = personal_spans(text)
    if not spans:
        return text, []
    parts, last = [], 0
    for start, end, _ in spans:
        parts.append(text[last:start])
        parts.append(MARKER)
        last = end
    parts.append(text[last:])
    return "".join(parts), [kind for _, _, kind in spans]
