"""The rules validator's messages, and reload keeping the last good rules."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.helpers import MINIMAL_RULES as MINIMAL
from triage import Triager
from triage.cli import triage_group
from triage.rules import DEFAULT_RULES_PATH, RulesError, load_rules


def _write(tmp_path: Path, text: str, name: str = "rules.toml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def _errors(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(RulesError) as ei:
        load_rules(_write(tmp_path, text))
    return ei.value.errors


def test_packaged_rules_are_valid():
    rules = load_rules(None)
    assert rules.precedence == ("coordinated", "time_limited", "immediate")
    assert 0 < rules.review_threshold < 1
    assert {"不", "没", "没有", "无", "并非", "不是"} <= rules.negation_cues
    assert "还行" in rules.post_negation_cues
    assert {"找茬窗口", "为民服务大厅", "不动产登记", "踢皮球", "来回跑"} <= set(rules.userdict)
    assert load_rules(DEFAULT_RULES_PATH).digest == rules.digest


def test_minimal_rules_load(tmp_path):
    rules = load_rules(_write(tmp_path, MINIMAL))
    assert rules.reasons["attitude"].terms == {"玩手机": 2.0, "甩脸子": 2.0}


def test_syntax_error_names_line(tmp_path):
    bad = MINIMAL.replace('"甩脸子" = 2', '"甩脸子" = = 2')
    (msg,) = _errors(tmp_path, bad)
    assert "rules.toml:13:" in msg and "syntax error" in msg


def test_unknown_label_names_line(tmp_path):
    bad = MINIMAL.replace('label = "time_limited"', 'label = "urgent"')
    (msg,) = _errors(tmp_path, bad)
    assert ":16:" in msg and "unknown label 'urgent'" in msg


def test_label_reason_mismatch(tmp_path):
    bad = MINIMAL.replace('label = "time_limited"', 'label = "immediate"')
    (msg,) = _errors(tmp_path, bad)
    assert ":16:" in msg and "belongs to label 'time_limited'" in msg


def test_unknown_reason_names_line(tmp_path):
    bad = MINIMAL + '\n[reasons.rudeness]\nlabel = "immediate"\n'
    (msg,) = _errors(tmp_path, bad)
    assert ":21:" in msg and "unknown reason 'rudeness'" in msg


def test_duplicate_term_across_reasons(tmp_path):
    bad = MINIMAL + '"玩手机" = 1\n'
    (msg,) = _errors(tmp_path, bad)
    assert ":20:" in msg and "duplicate term '玩手机'" in msg and "attitude" in msg and "line 12" in msg


def test_duplicate_term_in_one_table_is_a_syntax_error(tmp_path):
    bad = MINIMAL.replace('"甩脸子" = 2', '"甩脸子" = 2\n"玩手机" = 1')
    (msg,) = _errors(tmp_path, bad)
    assert ":14:" in msg


def test_duplicate_cue_in_list(tmp_path):
    bad = MINIMAL.replace('cues = ["不", "没有"]', 'cues = ["不", "没有", "不"]')
    (msg,) = _errors(tmp_path, bad)
    assert ":6:" in msg and "duplicate entry '不'" in msg


@pytest.mark.parametrize("weight", ['"two"', "-1", "0", "100", "true", "nan"])
def test_bad_weight_names_line(tmp_path, weight):
    bad = MINIMAL.replace('"排长队" = 2', f'"排长队" = {weight}')
    (msg,) = _errors(tmp_path, bad)
    assert ":19:" in msg and "bad weight" in msg


def test_bad_pattern_and_many_errors_at_once(tmp_path):
    bad = MINIMAL.replace('"排长队" = 2', '"排长队" = -3') + "\n[reasons.efficiency.patterns]\n'排(队' = 1\n"
    errors = _errors(tmp_path, bad)
    assert len(errors) == 2
    assert any(":19:" in e and "bad weight" in e for e in errors)
    assert any(":22:" in e and "bad pattern" in e for e in errors)


def test_bad_precedence_and_threshold(tmp_path):
    bad = MINIMAL.replace('review_threshold = 0.6', 'review_threshold = 1.5').replace(
        '"coordinated", "time_limited"', '"coordinated", "urgent"')
    errors = _errors(tmp_path, bad)
    assert any(":2:" in e and "review_threshold" in e for e in errors)
    assert any(":3:" in e and "'urgent'" in e for e in errors)


def test_missing_file(tmp_path):
    with pytest.raises(RulesError, match="cannot read"):
        load_rules(tmp_path / "nope.toml")


def test_reload_keeps_last_good_rules(tmp_path, triager):
    t = Triager(triager.rules)  # a private triager sharing the tokenizer
    good = _write(tmp_path, MINIMAL, "good.toml")
    t.reload(good)
    assert t.classify("又在玩手机").label == "immediate"
    assert t.classify("排长队").label == "time_limited"
    bad = _write(tmp_path, MINIMAL.replace('"排长队" = 2', '"排长队" = oops'), "bad.toml")
    with pytest.raises(RulesError):
        t.reload(bad)
    assert t.rules.source == str(good)  # still the last good rules
    assert t.classify("又在玩手机").label == "immediate"
    t.reload(None)
    assert t.rules.source == str(DEFAULT_RULES_PATH)


def test_check_rules_cli(tmp_path):
    runner = CliRunner()
    ok = runner.invoke(triage_group, ["check-rules", str(DEFAULT_RULES_PATH)])
    assert ok.exit_code == 0 and ok.output.startswith("OK")
    bad = _write(tmp_path, MINIMAL + '"玩手机" = 1\n"x" = 0\n')
    res = runner.invoke(triage_group, ["check-rules", str(bad)])
    assert res.exit_code == 1
    assert "rules.toml:20: duplicate term '玩手机'" in res.output
    assert "rules.toml:21: bad weight" in res.output
    res = runner.invoke(triage_group, ["check-rules", str(tmp_path / "missing.toml")])
    assert res.exit_code == 1 and "cannot read" in res.output


def test_capturing_groups_only_for_back_references(tmp_path):
    ok = MINIMAL + "\n[reasons.attitude.patterns]\n'(县|市)里[^。]{0,9}(?!\\1)(?:县|市)里' = 1\n"
    assert load_rules(_write(tmp_path, ok)).reasons["attitude"].patterns
    errs = _errors(tmp_path, MINIMAL + "\n[reasons.attitude.patterns]\n'(县|市)里' = 1\n")
    assert any("rules.toml:22: pattern '(县|市)里' in reasons.attitude must not use capturing groups" in e
               for e in errs), errs


def test_clause_breakers_must_be_breakers(tmp_path):
    text = MINIMAL.replace('cues = ["不", "没有"]',
                           'cues = ["不", "没有"]\nbreakers = ["但是", "又"]\nclause_breakers = ["但是", "而且"]')
    errs = _errors(tmp_path, text)
    assert errs == [f"{tmp_path / 'rules.toml'}:8: clause breaker '而且' is not listed in negation.breakers"]
    rules = load_rules(_write(tmp_path, text.replace('"而且"]', '"又"]')))
    assert rules.clause_breakers == frozenset({"但是", "又"})
    assert load_rules(_write(tmp_path, MINIMAL)).clause_breakers is None  # default: every breaker


def test_rules_file_with_thousands_of_terms_loads_fast(tmp_path):
    import time

    many = MINIMAL + "".join(f'"词{i:05d}" = 1\n' for i in range(5000))
    t0 = time.perf_counter()
    rules = load_rules(_write(tmp_path, many))
    assert len(rules.reasons["efficiency"].terms) == 5001
    assert time.perf_counter() - t0 < 5  # line look-ups are indexed, not a scan per term


def test_weak_evidence_without_a_clear_term_goes_to_review(tmp_path, triager):
    text = MINIMAL + '"拖沓" = 0.6\n"磨叽" = 0.6\n'
    t = Triager(triager.rules)
    t.reload(_write(tmp_path, text))
    res = t.classify("拖沓，磨叽")  # 1.2 in all: enough, but no clear term
    assert res.label == "time_limited" and res.confidence <= 0.5 and res.needs_review
    res = t.classify("排长队")  # one clear term
    assert res.label == "time_limited" and not res.needs_review
