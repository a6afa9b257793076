"""Length-preserving text normalisation and e-mail clean-up.

Every transformation here maps one character to exactly one character (or
blanks a region with spaces), so character offsets found in the normalised
text are valid offsets into the original text.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache


def _opencc_table() -> dict[int, str]:
    """Traditional -> simplified, one character to one character.

    Built from OpenCC's own character dictionary (the phrase tables can change
    the length of the text, which would break offsets)."""
    table: dict[int, str] = {}
    try:
        import opencc  # local import: no work at package import time

        base = os.path.join(os.path.dirname(opencc.__file__), "dictionary")
        for name in ("TSCharacters.txt",):
            path = os.path.join(base, name)
            if not os.path.exists(path):
                continue
            with open(path, encoding="utf-8") as fh:
                for line in fh:
                    parts = line.rstrip("\n").split("\t")
                    if len(parts) != 2:
                        continue
                    src, dst = parts[0], parts[1].split(" ")[0]
                    if len(src) == 1 and len(dst) == 1 and ord(src) not in table:
                        table[ord(src)] = dst
    except ImportError:  # pragma: no cover - dependency is declared
        pass
    if not table:  # pragma: no cover - fall back to the public API, char by char
        from opencc import OpenCC

        cc = OpenCC("t2s")
        for cp in range(0x4E00, 0x9FFF + 1):
            ch = chr(cp)
            out = cc.convert(ch)
            if len(out) == 1 and out != ch:
                table[cp] = out
    return table


@lru_cache(maxsize=1)
def translation_table() -> dict[int, str]:
    table = _opencc_table()
    # Second pass: some simplified targets are themselves variants; resolve chains.
    for k, v in list(table.items()):
        nxt = table.get(ord(v))
        if nxt is not None and nxt != v:
            table[k] = nxt
    # Full-width ASCII -> half-width, ideographic space -> space.
    for cp in range(0xFF01, 0xFF5F):
        table[cp] = chr(cp - 0xFEE0)
    table[0x3000] = " "
    table[0x00A0] = " "
    # ASCII upper case -> lower case (one to one).
    for cp in range(ord("A"), ord("Z") + 1):
        table[cp] = chr(cp + 32)
    # Full-width upper case letters map to lower-case half width directly.
    for cp in range(0xFF21, 0xFF3B):
        table[cp] = chr(cp - 0xFEE0 + 32)
    for src, dst in {"\r": "\n", "\t": " ", "\u2028": "\n", "\u3002": "。"}.items():
        table[ord(src)] = dst
    return table


def normalize(text: str) -> str:
    """Simplified characters, half-width forms, lower-case ASCII; same length."""
    return text.translate(translation_table())


# --- e-mail clean-up --------------------------------------------------------

# A line that starts a quoted reply / forwarded message: everything from here on is dropped.
_QUOTE_START = re.compile(
    r"^\s*(?:"
    r"-{2,}\s*(?:原始邮件|原邮件|转发邮件|original message|forwarded message)\s*-{2,}"
    r"|>"
    r"|在\s?.{0,40}(?:写道|wrote)\s*[:：]"
    r"|on .{0,80}wrote\s*:"
    r"|发件人\s*[:：]"
    r"|from\s*:"
    r"|_{5,}"
    r")",
    re.M,
)
# Signature / device footers and legal disclaimers: dropped from here on.
_FOOTER_START = re.compile(
    r"^\s*(?:"
    r"--\s*$"
    r"|发自我的|sent from my|来自我的|从我的.{0,10}发送"
    r"|(?:免责声明|保密声明|disclaimer|confidentiality)"
    r"|本邮件(?:及其附件)?(?:含有|包含|可能含有|仅供|仅限)"
    r"|this (?:e-?mail|message)(?: and any attachments?)? (?:is|are|may contain|contains)"
    r"|[(（]?本邮件由.{0,8}发送"
    r")",
    re.M,
)


def analysis_end(norm: str) -> int:
    """Offset where the citizen's own words end (quoted replies, footers, disclaimers cut).

    Only markers after the first line count, so a one-line text is never cut to nothing."""
    first_nl = norm.find("\n")
    if first_nl < 0:
        return len(norm)
    end = len(norm)
    m = _QUOTE_START.search(norm, first_nl + 1)
    if m:
        end = m.start()
    m = _FOOTER_START.search(norm, first_nl + 1, end)
    if m:
        end = m.start()
    return end
