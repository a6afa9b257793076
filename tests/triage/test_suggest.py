"""Mining the triage team's corrections for rule terms."""

from __future__ import annotations

import json

from click.testing import CliRunner

from triage.cli import triage_group
from triage.rules import DEFAULT_RULES_PATH, load_rules
from triage.suggest import Correction, suggest_terms

CORRECTIONS = [
    Correction("窗口那个小伙子上班时间一直在摸鱼，喊他半天没反应", "none", "inquiry", "immediate", "attitude", "C-1"),
    Correction("两个工作人员在后面摸鱼，群众在外面干等", "time_limited", "efficiency", "immediate", "attitude", "C-2"),
    Correction("工作时间摸鱼被我看见了，还不承认", "none", None, "immediate", "attitude", "C-3"),
    Correction("办证要等审批，审批拖沓得很，一个月了", "none", None, "time_limited", "efficiency", "C-4"),
    Correction("审批拖沓，材料交了快两个月", "immediate", "attitude", "time_limited", "efficiency", "C-5"),
    Correction("这个人说话阴阳怪气的", "none", None, "immediate", None, "C-6"),
]


def test_suggests_new_terms_with_items_behind_them():
    rules = load_rules(None)
    before = DEFAULT_RULES_PATH.read_bytes()
    sugs = suggest_terms(CORRECTIONS, rules)
    by = {(s.reason, s.term): s for s in sugs}
    moyu = by[("attitude", "摸鱼")]
    assert moyu.label == "immediate"
    assert moyu.support == 3 and set(moyu.case_codes) == {"C-1", "C-2", "C-3"}
    assert len(moyu.texts) == 3 and moyu.score > 0
    assert any(s.reason == "efficiency" and "拖沓" in s.term for s in sugs)
    # words the rules already hold for that reason are not proposed again
    assert not any(s.reason == "attitude" and s.term in rules.reasons["attitude"].terms for s in sugs)
    # nothing changes the rules by itself
    assert DEFAULT_RULES_PATH.read_bytes() == before
    assert suggest_terms([], rules) == []


def _write_jsonl(path, items):
    path.write_text("\n".join(json.dumps(c.__dict__, ensure_ascii=False) for c in items) + "\n", encoding="utf-8")


def test_suggest_cli_from_file(tmp_path):
    path = tmp_path / "corr.jsonl"
    _write_jsonl(path, CORRECTIONS)
    res = CliRunner().invoke(triage_group, ["suggest", "--corrections", str(path), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["corrections"] == 6
    moyu = next(s for s in out["suggestions"] if s["term"] == "摸鱼")
    assert moyu["reason"] == "attitude" and {i["case_code"] for i in moyu["items"]} == {"C-1", "C-2", "C-3"}
    res = CliRunner().invoke(triage_group, ["suggest", "--corrections", str(path)])
    assert res.exit_code == 0 and '"摸鱼" = 1.0' in res.output and "[reasons.attitude.terms]" in res.output


def test_suggest_cli_uses_gateway_loader():
    calls = []

    def loader():
        calls.append(1)
        return CORRECTIONS

    res = CliRunner().invoke(triage_group, ["suggest", "--json"], obj={"load_corrections": loader})
    assert res.exit_code == 0, res.output
    assert calls == [1]
    assert any(s["term"] == "摸鱼" for s in json.loads(res.output)["suggestions"])


def test_suggest_cli_errors(tmp_path):
    runner = CliRunner()
    res = runner.invoke(triage_group, ["suggest"])
    assert res.exit_code == 2 and "--corrections" in res.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "a", "new_label": "none"}\n{oops\n', encoding="utf-8")
    res = runner.invoke(triage_group, ["suggest", "--corrections", str(bad)])
    assert res.exit_code == 1 and "bad.jsonl:2: bad JSON" in res.output
    bad.write_text('{"text": "a", "new_label": "urgent"}\n', encoding="utf-8")
    res = runner.invoke(triage_group, ["suggest", "--corrections", str(bad)])
    assert res.exit_code == 1 and "bad.jsonl:1: unknown new_label 'urgent'" in res.output
    res = runner.invoke(triage_group, ["suggest", "--corrections", str(tmp_path / "missing.jsonl")])
    assert res.exit_code == 1 and "cannot read" in res.output
