"""Text that leaves the system in a spreadsheet, and names staff type in: inert and printable.

A citizen's ``=HYPERLINK("http://evil.example/","click")`` must reach a supervisor's CSV or
workbook as text, never as a formula (OWASP's CSV-injection rule: a cell that starts with
``= + - @``, a tab or a carriage return gets a leading ``'``).  openpyxl refuses the C0 control
characters XML 1.0 cannot carry and would fail the whole workbook with one of them, so they are
removed instead.  Names staff enter (halls, windows, service items, rosters, accounts) must hold no
control character at all: they are shown in lists, exports and mail headers.
"""

from __future__ import annotations

import re
import unicodedata

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# What openpyxl's ILLEGAL_CHARACTERS_RE refuses (XML 1.0 has no place for them), plus DEL.
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def printable(value: str) -> str:
    """``value`` without the control characters a workbook cannot hold (tab and line breaks stay)."""
    return _XML_ILLEGAL.sub("", value)


def is_formula_like(value: str) -> bool:
    return value.startswith(FORMULA_START)


def inert(value: str) -> str:
    """A CSV cell that no spreadsheet evaluates: printable, with a leading ``'`` where needed."""
    value = printable(value)
    return "'" + value if is_formula_like(value) else value


def check_name(value: str, what: str = "名称") -> str:
    """``value`` stripped, or ``ValueError`` when it holds a control character (tab, CR, NUL, …)."""
    if any(unicodedata.category(ch) == "Cc" or ch in "\u2028\u2029" for ch in value):
        raise ValueError(f"{what}不能包含控制字符（如换行、制表符）")
    return value.strip()
