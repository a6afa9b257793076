"""Fast matching of many regex patterns on short texts.

One big alternation defeats ``re``'s literal-prefix search and costs as much as
segmentation itself.  Instead each pattern is compiled alone and indexed by the
set of characters it can start with (worked out from ``re``'s parse tree); a
pattern only runs on a text that contains one of its possible first characters.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

try:  # Python 3.11+
    from re import _constants as _c  # type: ignore[attr-defined]
    from re import _parser as _p  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    import sre_constants as _c  # type: ignore[no-redef]
    import sre_parse as _p  # type: ignore[no-redef]

_ANY = None  # "could start with any character"


@lru_cache(maxsize=4096)
def _parsed_tuple(pattern: str) -> tuple[Any, ...]:
    return tuple(_p.parse(pattern))


def _parsed(pattern: str) -> list[Any]:
    """The parse tree's top-level items (parsed once per pattern: rules files have hundreds)."""
    return list(_parsed_tuple(pattern))
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
    if op in (_c.AT, _c.ASSERT, _c.ASSERT_NOT):  # zero-width: consume nothing
        return set(), True
    return _ANY, False


def first_chars(pattern: str) -> frozenset[str] | None:
    """Characters a match of ``pattern`` can start with, or None if unknown / any."""
    try:
        fs, nullable = _first(_parsed(pattern))
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
        sets = _req_items(_parsed(pattern))
    except Exception:
        return None
    if not sets:
        return None
    sets = sorted(set(sets), key=_score)
    return sets[:keep]


def _expand(op: Any, av: Any) -> tuple[str, ...] | None:
    """The strings one parse item can match, if it is made of literals, alternations of
    literals and optional parts only (at most 64 strings)."""
    if op is _c.LITERAL:
        return (chr(av),)
    if op is _c.IN:  # the parser turns (?:冷|热) into a character class
        chars: list[str] = []
        for iop, iav in av:
            if iop is _c.LITERAL:
                chars.append(chr(iav))
            elif iop is _c.RANGE and iav[1] - iav[0] < 16:
                chars.extend(chr(x) for x in range(iav[0], iav[1] + 1))
            else:
                return None
        return tuple(chars)
    if op is _c.SUBPATTERN:
        return _expand_seq(list(av[-1]))
    if op is _c.BRANCH:
        alts: list[str] = []
        for alt in av[1]:
            sub = _expand_seq(list(alt))
            if sub is None:
                return None
            alts.extend(sub)
        return tuple(dict.fromkeys(alts))
    if op in (_c.MAX_REPEAT, _c.MIN_REPEAT) and av[0] == 0 and av[1] == 1:
        sub = _expand_seq(list(av[2]))
        return None if sub is None else ("", *sub)
    if op in (_c.ASSERT, _c.ASSERT_NOT):  # lookarounds consume nothing
        return ("",)
    return None


def _expand_seq(items: list[tuple[Any, Any]]) -> tuple[str, ...] | None:
    outs: tuple[str, ...] = ("",)
    for op, av in items:
        sub = _expand(op, av)
        if sub is None:
            return None
        outs = tuple(dict.fromkeys(o + x for o in outs for x in sub))
        if len(outs) > 64:
            return None
    return outs


def required_literal_groups(pattern: str) -> list[tuple[str, ...]]:
    """Groups of strings such that every match of ``pattern`` contains one string of each group.

    Runs of top-level items made of literals, alternations of literals and
    optional parts are expanded (``(?:冷|热)得`` -> 冷得, 热得); groups with a
    string shorter than two characters are left out (a character test does that)."""
    try:
        items = _parsed(pattern)
    except Exception:
        return []
    groups: list[tuple[str, ...]] = []
    outs: tuple[str, ...] = ("",)
    for op, av in [*items, (None, None)]:
        sub = _expand(op, av) if op is not None else None
        if sub is not None:
            nxt = tuple(dict.fromkeys(o + x for o in outs for x in sub))
            if len(nxt) <= 64:
                outs = nxt
                continue
        if all(outs):
            groups.append(outs)
        outs = ("",) if sub is None else sub
    out = []
    for g in groups:
        if min(len(x) for x in g) >= 2:
            # a string that contains another one of the group adds nothing
            out.append(tuple(x for x in g if not any(y != x and y in x for y in g)))
    return out


def required_literals(pattern: str) -> tuple[str, ...] | None:
    """The most selective of :func:`required_literal_groups` by length (longest shortest
    string, then fewest strings), or None.  A substring test rules a text out far more
    often than a character test."""
    groups = required_literal_groups(pattern)
    if not groups:
        return None
    return max(groups, key=lambda g: (min(len(x) for x in g), -len(g)))


def literal_prefixes(pattern: str) -> tuple[str, ...] | None:
    """The strings every match of ``pattern`` starts with (``(?:室温|温度)[^，]{0,4}高`` ->
    室温, 温度), if its first items are literals or alternations of literals; else None."""
    try:
        items = _parsed(pattern)
    except Exception:
        return None
    outs: tuple[str, ...] = ("",)
    for op, av in items:
        sub = _expand(op, av)
        if sub is None:
            break
        nxt = tuple(dict.fromkeys(o + x for o in outs for x in sub))
        if len(nxt) > 64:
            break
        outs = nxt
    if not all(outs):
        return None
    return tuple(x for x in outs if not any(y != x and x.startswith(y) for y in outs))


def _has_each(groups: tuple[tuple[str, ...], ...], text: str) -> bool:
    """True if ``text`` holds one string of each group."""
    for group in groups:
        for lit in group:
            if lit in text:
                break
        else:
            return False
    return True


_AT_START = object()  # a pattern that can only match at position 0
_SCAN = object()  # a pattern tried at every position (first characters unknown)


def _starts_at_beginning(pattern: str) -> bool:
    """True for a pattern anchored at the start of the text (``^`` without MULTILINE, ``\\A``)."""
    try:
        items = _parsed(pattern)
        flags = re.compile(pattern).flags
    except Exception:
        return False
    return bool(items) and items[0][0] is _c.AT and items[0][1] in (_c.AT_BEGINNING, _c.AT_BEGINNING_STRING) \
        and not (items[0][1] is _c.AT_BEGINNING and flags & re.MULTILINE)


#: Above this many possible first characters, scanning with ``finditer`` is cheaper than
#: looking up every start position.
_MAX_ANCHORS = 24


class PatternSet:
    """Many (pattern, payload) pairs; ``findall(text)`` gives every (match, payload).

    Three savings make hundreds of patterns nearly free on a short text:

    * a pattern that needs one of a few strings (:func:`required_literals`) is
      indexed by their first two characters: it is looked at only if the text
      holds one of those pairs (one C-level set intersection per text), and runs
      only if it holds one of the strings; any other pattern is indexed by the
      rarest character set it needs (:func:`required_sets`);
    * every other character set it needs must be present too;
    * a pattern whose possible first characters are known is not scanned over
      every position (``re`` has no fast prefix search for an alternation such as
      ``(?:地上|地面|桌子)``): it is tried with ``match`` only where one of those
      characters occurs, found with ``str.find``.  Matches are the same,
      non-overlapping and leftmost, as those of ``finditer``.
    """

    def __init__(self, items: list[tuple[str, Any]], frequency: Callable[[str], float] | None = None):
        """``frequency(s)`` estimates how common a string is in text (jieba's word counts);
        with it, the rarest group of required strings is the one indexed."""
        #: (regex, payload, character sets still to check, groups of strings to check,
        #:  how to find start positions: _SCAN, _AT_START, first characters or prefix strings)
        self._compiled: list[tuple[re.Pattern[str], Any, tuple[frozenset[str], ...], tuple[str, ...] | None,
                                   Any]] = []
        index: dict[str, list[int]] = {}
        pairs: dict[str, list[int]] = {}
        self._always: list[int] = []
        for pat, payload in items:
            idx = len(self._compiled)
            req = required_sets(pat)
            prefixes = literal_prefixes(pat)
            groups = required_literal_groups(pat)
            if prefixes is not None and min(map(len, prefixes)) >= 2 and len(prefixes) <= 16:
                groups.append(prefixes)
            if frequency is not None:
                groups.sort(key=lambda g: sum(frequency(x) for x in g))
            else:
                groups.sort(key=lambda g: (-min(len(x) for x in g), len(g)))
            groups = list(dict.fromkeys(groups))  # the prefixes may repeat a group
            literals = groups[0] if groups else None
            also = groups[1] if len(groups) > 1 else None
            starts: Any
            if _starts_at_beginning(pat):
                starts = _AT_START  # only a match at position 0 is possible
            elif prefixes is not None and len(prefixes) <= 16:
                starts = prefixes
            else:
                first = first_chars(pat)
                starts = first if first is not None and len(first) <= _MAX_ANCHORS else _SCAN
            if literals is not None:
                # the strings decide; a character set test first is cheaper only for long lists
                needs = tuple(req or ()) if len(literals) > 8 else ()
                for lit in {x[:2] for x in literals}:
                    pairs.setdefault(lit, []).append(idx)
                # two-character strings are proven present by the pair index itself;
                # a second group of required strings is checked as well
                check = () if all(len(x) == 2 for x in literals) else (literals,)
                if also is not None:
                    check += (also,)
            elif req is None:
                needs, check = (), ()
                self._always.append(idx)
            else:
                needs, check = tuple(req[1:]), ()
                for ch in req[0]:
                    index.setdefault(ch, []).append(idx)
            self._compiled.append((re.compile(pat), payload, needs, check, starts))
        self._index = index
        self._index_keys = frozenset(index)
        self._pairs = pairs
        self._pair_keys = frozenset(pairs)

    def __len__(self) -> int:
        return len(self._compiled)

    @property
    def unanchored(self) -> list[str]:
        """Patterns scanned position by position (slow on long texts): for tuning a rules file."""
        return [c[0].pattern for c in self._compiled if c[4] is _SCAN]

    def findall(self, text: str) -> list[tuple[re.Match[str], Any]]:
        """Every (match, payload) in ``text``; see the class docstring for how it saves work."""
        out: list[tuple[re.Match[str], Any]] = []
        chars = set(text)
        todo: set[int] = set(self._always)
        index = self._index
        for ch in self._index_keys.intersection(chars):
            todo.update(index[ch])
        pairs = self._pairs
        for pair in self._pair_keys.intersection(map(operator.add, text, text[1:])):
            todo.update(pairs[pair])
        if not todo:
            return out
        compiled = self._compiled
        positions: dict[str, list[int]] = {}
        for i in sorted(todo):
            rx, payload, needs, check, how = compiled[i]
            if needs:
                skip = False
                for req in needs:
                    if req.isdisjoint(chars):
                        skip = True
                        break
                if skip:
                    continue
            if check and not _has_each(check, text):
                continue
            if how is _SCAN:
                for m in rx.finditer(text):
                    out.append((m, payload))
                continue
            if how is _AT_START:
                m = rx.match(text)
                if m is not None:
                    out.append((m, payload))
                continue
            starts: list[int] = []
            # `how` holds first characters (a frozenset) or prefix strings (a tuple)
            for key in (how.intersection(chars) if isinstance(how, frozenset) else how):
                found = positions.get(key)
                if found is None:
                    found = []
                    k = text.find(key)
                    while k >= 0:
                        found.append(k)
                        k = text.find(key, k + 1)
                    positions[key] = found
                starts.extend(found)
            if not starts:
                continue
            if len(starts) > 1:
                starts.sort()
            end = 0
            match = rx.match
            for k in starts:
                if k < end:
                    continue
                m = match(text, k)
                if m is not None:
                    out.append((m, payload))
                    end = m.end()
        return out

    def finditer(self, text: str):  # type: ignore[no-untyped-def]
        return iter(self.findall(text))
