"""Fast matching of many regex patterns on short texts.

One big alternation defeats ``re``'s literal-prefix search and costs as much as
segmentation itself.  Instead each pattern is compiled alone and indexed by the
set of characters it can start with (worked out from ``re``'s parse tree); a
pattern only runs on a text that contains one of its possible first characters.
"""

from __future__ import annotations

import re
from typing import Any

try:  # Python 3.11+
    from re import _constants as _c  # type: ignore[attr-defined]
    from re import _parser as _p  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    import sre_constants as _c  # type: ignore[no-redef]
    import sre_parse as _p  # type: ignore[no-redef]

_ANY = None  # "could start with any character"
_MAX_RANGE = 4000


def _first(items: list[tuple[Any, Any]]) -> tuple[set[str] | None, bool]:
    """First-character set of a sequence of parse items, and whether it can match empty."""
    out: set[str] = set()
    for op, av in items:
        fs, nullable = _first_item(op, av)
        if fs is _ANY:
            return _ANY, False
        out |= fs
        if not nullable:
            return out, False
    return out, True


def _first_item(op: Any, av: Any) -> tuple[set[str] | None, bool]:
    if op is _c.LITERAL:
        return {chr(av)}, False
    if op is _c.IN:
        chars: set[str] = set()
        for iop, iav in av:
            if iop is _c.LITERAL:
                chars.add(chr(iav))
            elif iop is _c.RANGE:
                lo, hi = iav
                if hi - lo > _MAX_RANGE:
                    return _ANY, False
                chars.update(chr(x) for x in range(lo, hi + 1))
            else:  # NEGATE, CATEGORY, ...
                return _ANY, False
        return chars, False
    if op is _c.BRANCH:
        out: set[str] = set()
        nullable = False
        for alt in av[1]:
            fs, n = _first(list(alt))
            if fs is _ANY:
                return _ANY, False
            out |= fs
            nullable = nullable or n
        return out, nullable
    if op is _c.SUBPATTERN:
        return _first(list(av[-1]))
    if op in (_c.MAX_REPEAT, _c.MIN_REPEAT):
        lo, _hi, sub = av
        fs, n = _first(list(sub))
        return fs, (lo == 0 or n)
    if op is _c.AT:
        return set(), True
    return _ANY, False


def first_chars(pattern: str) -> frozenset[str] | None:
    """Characters a match of ``pattern`` can start with, or None if unknown / any."""
    try:
        fs, nullable = _first(list(_p.parse(pattern)))
    except Exception:
        return None
    if fs is _ANY or nullable or not fs:
        return None
    return frozenset(fs)


# Characters so common in feedback text that gating on them saves nothing.
_COMMON = frozenset("的一不是了人我在有他这说个们来到时要就出会也你对生能而子那得于着下自之年过发后作里用道行所然"
                    "家种事成方多经么去法学如都同现当没动面起看定天分还进好小部其些主样理心她本前开但因只从想实"
                    "日军者意无力它与长把机十民第公此已工使情明性知全三又关点正业外将两高间由问很最重并物手应战"
                    "向头文体政美相见被利什二等产或新己制身果加西斯月话合回特代内信表化老给世位次度门任常先海通"
                    "教儿原东声提立及比员解水名真论处走义各入几口认条平系气题活尔更别打女变四神总何电数安少报才"
                    "结反受目太量再感建务做接必场件计管期市直德资命山金指克许统区保至队形社便空决治展马科司五基"
                    "眼书非则听白却界达光放强即像难且权思王象完设式色路记南品住告类求据程北边死张该交规万取拉格"
                    "望觉术领共确传师观清今切院让识候带导争运笑飞风步改收根干造言联持组每济车亲极林服快办议往元"
                    "英士证近失转夫令准布始怎呢存未远叫台单影具罗字爱击流备兵连调深商算质团集百需价花党华城石级"
                    "整府离况亚请技际约示复病息究线似官火断精满支视消越器容照须九增研写称企八功吗包片史委乎查轻"
                    "0123456789 ，。、")


def _score(chars: frozenset[str]) -> float:
    return sum(8.0 if ch in _COMMON else 1.0 for ch in chars)


def _req_items(items: list[tuple[Any, Any]]) -> list[frozenset[str]]:
    """Sets of which a match of this sequence contains one character each."""
    out: list[frozenset[str]] = []
    for op, av in items:
        out.extend(_req_item(op, av))
    return out


def _req_item(op: Any, av: Any) -> list[frozenset[str]]:
    if op is _c.LITERAL or op is _c.IN:
        fs, _ = _first_item(op, av)
        return [] if fs is _ANY or not fs else [frozenset(fs)]
    if op is _c.SUBPATTERN:
        return _req_items(list(av[-1]))
    if op in (_c.MAX_REPEAT, _c.MIN_REPEAT):
        lo, _hi, sub = av
        return _req_items(list(sub)) if lo >= 1 else []
    if op is _c.BRANCH:
        union: set[str] = set()
        for alt in av[1]:
            sets = _req_items(list(alt))
            if not sets:
                return []
            union |= min(sets, key=_score)
        return [frozenset(union)]
    return []


def required_sets(pattern: str, keep: int = 3) -> list[frozenset[str]] | None:
    """Character sets of which every match must contain at least one character each,
    rarest first (worked out recursively from the parse tree)."""
    try:
        sets = _req_items(list(_p.parse(pattern)))
    except Exception:
        return None
    if not sets:
        return None
    sets = sorted(set(sets), key=_score)
    return sets[:keep]


class PatternSet:
    """Many (pattern, payload) pairs; ``finditer(text)`` yields (match, payload)."""

    def __init__(self, items: list[tuple[str, Any]]):
        self._compiled: list[tuple[re.Pattern[str], Any, tuple[frozenset[str], ...]]] = []
        self._index: dict[str, list[int]] = {}
        self._always: list[int] = []
        for pat, payload in items:
            idx = len(self._compiled)
            req = required_sets(pat)
            self._compiled.append((re.compile(pat), payload, tuple(req[1:]) if req else ()))
            if req is None:
                self._always.append(idx)
            else:
                for ch in req[0]:
                    self._index.setdefault(ch, []).append(idx)

    def __len__(self) -> int:
        return len(self._compiled)

    def finditer(self, text: str):  # type: ignore[no-untyped-def]
        chars = set(text)
        todo: set[int] = set(self._always)
        index = self._index
        for ch in chars:
            ids = index.get(ch)
            if ids is not None:
                todo.update(ids)
        compiled = self._compiled
        for i in sorted(todo):
            rx, payload, more = compiled[i]
            if more and any(req.isdisjoint(chars) for req in more):
                continue
            for m in rx.finditer(text):
                yield m, payload
