"""Personal data typed into free text: found and replaced before the text leaves the staff side.

``scrub`` is the last guard on every text that leaves (exports, the public page, the status lookup,
``hcp cases --json``): phone numbers, e-mail addresses and ID-card numbers become ``***``.

``public_findings``/``scrub_public`` are stricter, for a reply a handler marks *public*: they also
catch the citizen's own name (whole, or surname + 先生/女士), a surname with a form of address
(赵女士, 王大爷, 李师傅), and an ID number announced in words (身份证号 370829…).  The handler is
shown the scrubbed text and publishes that, never the original.
"""

from __future__ import annotations

import re

from gateway.core.redaction import personal_spans

PHONE = re.compile(r"(?<!\d)(?:\+?86[\s-]?)?1[3-9]\d(?:[\s-]?\d){8}(?!\d)|(?<!\d)0\d{2,3}-?\d{7,8}(?!\d)")
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
ID_CARD = re.compile(r"(?<![0-9])\d{17}[\dXx](?![0-9])")
# "身份证号：…", "身份证号码是 …", "证件号 …" with whatever follows up to a separator.
ID_ANNOUNCED = re.compile(r"(?:身份证|证件)(?:号码|号)?\s*(?:是|为|[:：])?\s*[0-9Xx*]{4,18}")
# A surname (one Han character) with a form of address: 赵女士, 王先生, 李大爷, 张阿姨, 刘师傅.
ADDRESSED = re.compile(r"[\u4e00-\u9fff](?:女士|先生|小姐|阿姨|大爷|大妈|大娘|大叔|师傅|老人|同志)")
MASK = "***"


def scrub(text: str) -> str:
    """Phone numbers, e-mail addresses, ID and bank-card numbers become ``***``.

    Everything the retention job removes for good (``gateway.core.redaction``: bank cards, landlines
    written ``(0531)8234 5678``, …) is masked too, so a text that leaves the staff side never shows
    what the database would later erase; this module's own patterns stay as a wider net (any
    separators inside a mobile number)."""
    spans = personal_spans(text)
    if spans:
        parts, last = [], 0
        for start, end, _kind in spans:
            parts += [text[last:start], MASK]
            last = end
        text = "".join(parts) + text[last:]
    return ID_CARD.sub(MASK, EMAIL.sub(MASK, PHONE.sub(MASK, text)))


def _name_patterns(name: str | None) -> list[re.Pattern[str]]:
    name = (name or "").strip()
    if len(name) < 2:
        return []
    return [re.compile(re.escape(name))]


def public_findings(text: str, name: str | None = None) -> list[str]:
    """What in ``text`` is personal data (labels, in the order found): empty when it may be published."""
    found = []
    for label, pattern in (("群众姓名", None), ("身份证号", ID_ANNOUNCED), ("称呼（如 赵女士）", ADDRESSED),
                           ("电话号码", PHONE), ("电子邮箱", EMAIL), ("身份证号", ID_CARD)):
        patterns = _name_patterns(name) if pattern is None else [pattern]
        if any(p.search(text) for p in patterns) and label not in found:
            found.append(label)
    return found


def scrub_public(text: str, name: str | None = None) -> str:
    """``text`` with every finding of ``public_findings`` replaced by ``***`` (a surname keeps its
    form of address, 赵女士 → *女士, so the sentence still reads)."""
    for pattern in _name_patterns(name):
        text = pattern.sub(MASK, text)
    text = ID_ANNOUNCED.sub(lambda m: re.sub(r"[0-9Xx*]{4,18}$", MASK, m.group()), text)
    text = ADDRESSED.sub(lambda m: "*" + m.group()[1:], text)
    return scrub(text)
