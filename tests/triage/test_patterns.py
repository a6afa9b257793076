"""Pattern matching shortcuts give exactly the matches of plain ``re.finditer``."""

from __future__ import annotations

import json
import re

import pytest

from triage.normalize import normalize
from triage.patterns import PatternSet, first_chars, literal_prefixes, required_literals
from triage.rules import load_rules


@pytest.mark.parametrize(
    ("pattern", "literals", "prefixes"),
    [
        ("(?:室温|温度)[^，。]{0,4}(?:过高|过低)", ("室温", "温度"), ("室温", "温度")),
        ("(?:冷|热)得(?:要死|要命)", ("冷得要死", "冷得要命", "热得要死", "热得要命"), None),
        ("来电(?:人)?(?:咨询|询问)", None, ("来电咨询", "来电询问", "来电人咨询", "来电人询问")),
        ("跑了?[2-9](?:趟|回)", None, None),
        ("[0-9]+ ?hours?", ("hour",), None),
    ],
)
def test_required_strings(pattern, literals, prefixes):
    lits = required_literals(pattern)
    if literals is not None:
        assert set(lits) == set(literals)
    pre = literal_prefixes(pattern)
    if prefixes is not None:
        assert set(pre) == set(prefixes)
    # whatever the helpers say must hold for real matches
    for text in ("室温过高", "冷得要命啊", "来电人询问低保", "跑了3趟", "等了 2 hours"):
        for m in re.finditer(pattern, text):
            if lits:
                assert any(x in m.group() for x in lits)
            if pre:
                assert any(m.group().startswith(x) for x in pre)
            fc = first_chars(pattern)
            assert fc is None or m.group()[0] in fc


def _texts() -> list[str]:
    from pathlib import Path

    data = Path(__file__).with_name("data")
    out = []
    for name in ("heldout.jsonl", "probe.jsonl", "unseen_tune.jsonl", "small_eval.jsonl"):
        out += [normalize(json.loads(line)["text"]) for line in (data / name).read_text("utf-8").splitlines()
                if line.strip()]
    out += ["", "啊啊啊啊", "asdfgh", "一楼让去二楼，二楼又让回一楼", "县里说找市里，市里说找县里"]
    return out


@pytest.mark.parametrize("with_frequency", [False, True])
def test_packaged_patterns_match_exactly_like_finditer(triager, with_frequency):
    from triage.engine import _frequency

    rules = load_rules(None)
    pats = [(p, (r, w)) for r, rr in rules.reasons.items() for p, w in rr.patterns.items()]
    ps = PatternSet(pats, _frequency(triager._tok) if with_frequency else None)
    for text in _texts():
        got = sorted((m.start(), m.end(), p) for m, p in ps.findall(text))
        want = sorted((m.start(), m.end(), p) for pat, p in pats for m in re.finditer(pat, text))
        assert got == want, text


def test_whole_text_patterns_are_tried_once():
    ps = PatternSet([(r"^\s*([\u4e00-\u9fff])\1{3,}\s*$", "spam"), (r"(?m)^好", "m")])
    assert [p for _m, p in ps.findall("啊啊啊啊啊")] == ["spam"]
    assert ps.findall("x啊啊啊啊啊") == []
    assert [m.start() for m, _p in ps.findall("不\n好")] == [2]  # MULTILINE keeps scanning
    assert ps.unanchored == []


def test_lookarounds_are_zero_width_for_the_shortcuts():
    ps = PatternSet([("(?<![安编])排(?:了)?队", "q"), ("(?!窗口)去找", "g")])
    assert [(m.start(), p) for m, p in ps.findall("安排队 排了队 编排队 排队")] == [(4, "q"), (12, "q")]
    assert [m.start() for m, _p in ps.findall("窗口去找 去找")] == [2, 5]
