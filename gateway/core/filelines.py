"""Line numbers for validation errors in the TOML and JSON files administrators edit.

``tomllib`` and ``json`` give positions only for syntax errors; a value that parses but is wrong
(an unknown kind, a missing name) is reported by pydantic with a path such as
``("halls", 3, "windows", 1, "code")``.  ``line_of`` turns that path back into the line of the
file an administrator has to fix, by reading the text the way a person would: the n-th
``[[halls]]`` header, then the key inside that block, then the n-th inline table after it.  For
JSON (no headers) it finds the entry by its ``"code"`` value.  When nothing better is found it
answers the closest line it did find, or ``None``.
"""

from __future__ import annotations

import re
from typing import Any

_HEADER = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.\-\"]+)\s*\]\]?\s*(#.*)?$")


def _key_line(lines: list[str], start: int, end: int, key: str) -> int | None:
    pattern = re.compile(rf"^\s*\"?{re.escape(key)}\"?\s*=")
    for number in range(start, end):
        if pattern.match(lines[number]):
            return number
    return None


def _toml_line(lines: list[str], loc: tuple[Any, ...]) -> int | None:
    if not loc or not isinstance(loc[0], str):
        return None
    section, rest = loc[0], list(loc[1:])
    headers = [(n, m.group(1).strip('"')) for n, line in enumerate(lines) if (m := _HEADER.match(line))]
    index = rest.pop(0) if rest and isinstance(rest[0], int) else 0
    mine = [n for n, name in headers if name == section]
    if len(mine) <= index:  # not a table: a top-level key, or a section the file lacks
        return _key_line(lines, 0, headers[0][0] if headers else len(lines), section)
    found = mine[index]
    end = next((n for n, _ in headers if n > found), len(lines))
    while rest and isinstance(rest[0], str):
        key_at = _key_line(lines, found + 1, end, rest.pop(0))
        if key_at is None:
            break
        found = key_at
        if rest and isinstance(rest[0], int):  # the n-th inline table of an array, one per line
            braces = [n for n in range(found, end) if "{" in lines[n]]
            position = rest.pop(0)
            if len(braces) > position:
                found = braces[position]
            break
    return found


def _json_line(lines: list[str], loc: tuple[Any, ...], data: Any) -> int | None:
    entry, found = data, None
    for part in loc:
        try:
            entry = entry[part]
        except (KeyError, IndexError, TypeError):
            break
        if isinstance(entry, dict) and isinstance(entry.get("code"), str):
            pattern = re.compile(rf"\"code\"\s*:\s*\"{re.escape(entry['code'])}\"")
            start = found or 0
            found = next((n for n in range(start, len(lines)) if pattern.search(lines[n])), found)
    return found


def line_of(text: str, loc: tuple[Any, ...], *, data: Any = None, json: bool = False) -> int | None:
    """The 1-based line of ``text`` where the value at pydantic path ``loc`` is written, if found."""
    lines = text.splitlines()
    found = _json_line(lines, loc, data) if json else _toml_line(lines, loc)
    return None if found is None else found + 1
