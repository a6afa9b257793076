"""The learned evidence inside the triage: when it is consulted, what it shows, how it is switched
off, and that a bad model never breaks classification or a reload."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import pytest
from click.testing import CliRunner

from triage import Triager
from triage.cli import triage_group
from triage.learn import Example, NaiveBayes
from triage.rules import DEFAULT_RULES_PATH, LearnedSettings, RulesError, load_rules

# A text no rule knows: without the model it is none/None and goes to review.
UNKNOWN = "柜台那位同志哐哐盖章嗖嗖翻页"


@pytest.fixture(scope="module")
def tiny_model() -> NaiveBayes:
    att = [("柜台", "同志", "哐", "盖章"), ("同志", "哐"), ("柜台", "哐", "翻页")]
    pra = [("谢谢",), ("满意", "谢谢")]
    return NaiveBayes.train([Example(w, "attitude") for w in att] + [Example(w, "praise") for w in pra], alpha=0.5)


def _with_model(triager: Triager, model: NaiveBayes, **settings) -> Triager:
    lr = LearnedSettings(model_path=Path("<test>"), **settings)
    return Triager(dataclasses.replace(triager.rules, learned=lr), model=model)


def test_rules_alone_know_nothing_here(triager):
    plain = Triager(dataclasses.replace(triager.rules, learned=None))
    res = plain.classify(UNKNOWN)
    assert res.label == "none" and res.needs_review
    assert not any(t.source == "nb" for t in res.terms)


def test_model_adds_evidence_with_its_words(triager, tiny_model):
    t = _with_model(triager, tiny_model, weight=2.0, temperature=1.0, max_confidence=0.7)
    res = t.classify(UNKNOWN)
    assert (res.label, res.reason) == ("immediate", "attitude")
    nb = [x for x in res.terms if x.source == "nb"]
    assert nb and all(x.reason == "attitude" for x in nb)
    for x in nb:  # words of the text, with offsets into it
        assert UNKNOWN[x.start:x.end] == x.term
    assert sum(x.weight for x in nb) <= 2.0 + 1e-9
    assert res.to_dict()["terms"][0]["source"] in ("nb", "rules")
    # a decision resting on the model alone is capped, here below the review threshold
    assert res.confidence <= 0.7
    assert res.needs_review == (res.confidence < t.rules.review_threshold)


def test_model_not_consulted_when_rules_are_strong(triager, tiny_model):
    t = _with_model(triager, tiny_model, weight=2.0, temperature=1.0, apply_below=2.0)
    res = t.classify("柜台那位同志一直玩手机，爱答不理，哐哐盖章")
    assert res.label == "immediate"
    assert not any(x.source == "nb" for x in res.terms)


def test_switched_off(triager, tiny_model):
    t = _with_model(triager, tiny_model, enabled=False)
    assert t.learned_model() is None
    assert not any(x.source == "nb" for x in t.classify(UNKNOWN).terms)


def test_weak_model_evidence_alone_makes_no_complaint(triager, tiny_model):
    # high temperature: a small margin, so a little evidence that must not become a label
    t = _with_model(triager, tiny_model, weight=0.5, temperature=50.0)
    res = t.classify(UNKNOWN)
    assert res.label == "none" and res.needs_review


def test_packaged_rules_name_a_model_that_loads(triager):
    lr = triager.rules.learned
    assert lr is not None and lr.enabled and lr.model_path.name == "nb_model.json"
    model = triager.learned_model()
    assert model is not None and model.n_items >= 300
    assert triager.learned_model() is model  # loaded once


def _rules_with(tmp_path: Path, learned: str, model_text: str | None) -> Path:
    if model_text is not None:
        (tmp_path / "m.json").write_text(model_text, encoding="utf-8")
    (tmp_path / "userdict.txt").write_text((DEFAULT_RULES_PATH.parent / "userdict.txt").read_text("utf-8"), "utf-8")
    raw = DEFAULT_RULES_PATH.read_text(encoding="utf-8")
    raw = raw[: raw.index("[learned]")] + learned
    p = tmp_path / "r.toml"
    p.write_text(raw, encoding="utf-8")
    return p


def test_broken_model_at_run_time_falls_back_to_rules(tmp_path, triager, tiny_model, caplog):
    good = json.dumps(tiny_model.to_dict(), ensure_ascii=False)
    path = _rules_with(tmp_path, '[learned]\nmodel = "m.json"\n', good)
    t = Triager.from_rules_file(path)
    (tmp_path / "m.json").write_text("{broken", encoding="utf-8")  # damaged after loading the rules
    with caplog.at_level(logging.WARNING, logger="triage.engine"):
        res = t.classify(UNKNOWN)
    assert res.label == "none"
    assert "learned model not used" in caplog.text


def test_reload_with_a_broken_model_keeps_the_last_good(tmp_path, triager, tiny_model):
    t = Triager(triager.rules)
    path = _rules_with(tmp_path, '[learned]\nmodel = "m.json"\n', '{"kind": "naive_bayes", "version": 7}')
    with pytest.raises(RulesError, match="model version 7"):
        t.reload(path)
    assert t.rules.source == triager.rules.source
    res = CliRunner().invoke(triage_group, ["check-rules", str(path)])
    assert res.exit_code == 1 and "model version 7" in res.output


@pytest.mark.parametrize(
    ("learned", "message"),
    [
        ('[learned]\nmodel = "nope.json"\n', "learned.model: model file"),
        ('[learned]\nmodel = "m.json"\nweight = 0\n', "learned.weight must be a number in [0, 10] and > 0"),
        ('[learned]\nmodel = "m.json"\ntemperature = "hot"\n', "learned.temperature must be a number"),
        ('[learned]\nmodel = "m.json"\nmax_confidence = 1.5\n', "learned.max_confidence must be a number in [0, 1]"),
        ('[learned]\nmodel = "m.json"\ntop_terms = 2.5\n', "learned.top_terms must be an integer"),
        ('[learned]\nmodel = "m.json"\nenabled = "yes"\n', "learned.enabled must be true or false"),
        ('[learned]\nmodel = "m.json"\ncolour = 1\n', "unknown key 'colour' in [learned]"),
        ("[learned]\nweight = 1\n", "[learned] needs model"),
    ],
)
def test_learned_section_is_validated(tmp_path, tiny_model, learned, message):
    path = _rules_with(tmp_path, learned, json.dumps(tiny_model.to_dict()))
    with pytest.raises(RulesError) as ei:
        load_rules(path)
    assert any(message in e for e in ei.value.errors), ei.value.errors
    line = next(e for e in ei.value.errors if message in e)
    assert line.startswith(f"{path}:") and line.split(":")[1].isdigit()  # names the line


def test_missing_model_is_fine_for_training(tmp_path):
    path = _rules_with(tmp_path, '[learned]\nmodel = "later.json"\n', None)
    assert load_rules(path, check_model=False).learned is not None
    with pytest.raises(RulesError, match="does not exist"):
        load_rules(path)


def test_train_cli_writes_a_model_the_rules_can_use(tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in [
        {"text": "柜台同志咔咔盖章", "label": "immediate", "reason": "attitude"},
        {"text": "谢谢，满意", "label": "none", "reason": "praise"},
    ]) + "\n", encoding="utf-8")
    corr = tmp_path / "c.jsonl"
    corr.write_text(json.dumps({"text": "同志咔咔签字", "old_label": "none", "new_label": "immediate",
                                "new_reason": "attitude", "case_code": "C-1"}, ensure_ascii=False) + "\n"
                    + json.dumps({"text": "只改了类别", "new_label": "immediate"}, ensure_ascii=False) + "\n",
                    encoding="utf-8")
    out = tmp_path / "m.json"
    res = CliRunner().invoke(triage_group, ["train", "--data", str(data), "--corrections", str(corr), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "3 items" in res.output and "1 rows without a reason skipped" in res.output
    model = NaiveBayes.load(out)
    assert model.doc_counts["attitude"] == 2 and model.sources[-1] == "c.jsonl: 2 corrections"
    empty = CliRunner().invoke(triage_group, ["train", "-o", str(out)])
    assert empty.exit_code == 2 and "nothing to train on" in empty.output
