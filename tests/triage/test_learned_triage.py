"""The learned stage inside the triage: what it decides and shows, how it is switched off, and that a
bad model never breaks classification or a reload."""

from __future__ import annotations

import dataclasses
import logging
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from triage import Triager
from triage.cli import triage_group
from triage.linear import LinearModel
from triage.rules import DEFAULT_RULES_PATH, LearnedSettings, RulesError, load_rules
from triage.train import Settings, analyse, fit

# A text no rule knows: the rules alone send it to review as none.
UNKNOWN = "柜台那位同志哐哐盖章嗖嗖翻页"

ROWS = [
    ("柜台同志哐哐盖章", "attitude"), ("那位同志哐哐摔东西", "attitude"), ("柜台的人哐哐拍桌子翻页", "attitude"),
    ("谢谢你们，很满意", "praise"), ("满意，谢谢同志", "praise"), ("点赞，谢谢", "praise"),
    ("排队三个小时", "efficiency"), ("等了一上午还没办完", "efficiency"), ("太慢了，排队排到中午", "efficiency"),
]


@pytest.fixture(scope="module")
def tiny_model(triager) -> LinearModel:
    rows = [{"text": t, "label": {"attitude": "immediate", "praise": "none", "efficiency": "time_limited"}[r],
             "reason": r} for t, r in ROWS]
    plain = Triager(dataclasses.replace(triager.rules, learned=None))
    model = fit(analyse(plain, rows), Settings(C=10.0, min_df=1), calibration=((0.3, 0.9), (0.2, 0.95)))
    return model


def _saved(tmp_path: Path, model: LinearModel) -> Path:
    path = tmp_path / "m.npz"
    model.save(path)
    return path


def _with_model(triager: Triager, path: Path, **settings) -> Triager:
    lr = LearnedSettings(model_path=path, **settings)
    return Triager(dataclasses.replace(triager.rules, learned=lr))


def test_rules_alone_know_nothing_here(triager):
    plain = Triager(dataclasses.replace(triager.rules, learned=None))
    res = plain.classify(UNKNOWN)
    assert res.label == "none" and res.needs_review
    assert not any(t.source == "model" for t in res.terms)


def test_model_decides_and_shows_its_ngrams_with_offsets(tmp_path, triager, tiny_model):
    t = _with_model(triager, _saved(tmp_path, tiny_model), review_below=0.5)
    res = t.classify(UNKNOWN)
    assert (res.label, res.reason) == ("immediate", "attitude")
    shown = [x for x in res.terms if x.source == "model"]
    assert shown and len(shown) <= 5
    for x in shown:
        assert x.weight > 0 and x.reason == "attitude"
        if x.start < x.end:  # n-grams and words of the text, where they stand in it
            assert UNKNOWN[x.start:x.end] == x.term
    assert any(x.term in ("哐", "哐哐", "同志", "柜台") for x in shown)
    # the calibrated confidence, and review below the threshold
    assert 0.2 <= res.confidence <= 0.95
    assert res.needs_review == (res.confidence < 0.5)
    assert res.to_dict()["scores"]["model_probability"] > 0.4


PERSONAL_ROWS = [
    ("柜台同志哐哐盖章，我电话13912345678", "attitude"), ("那位同志哐哐摔东西，联系 zhao@163.com", "attitude"),
    ("柜台的人哐哐拍桌子，身份证370829198001011234", "attitude"), ("谢谢你们，很满意", "praise"),
    ("满意，谢谢同志", "praise"), ("排队三个小时", "efficiency"), ("等了一上午还没办完", "efficiency"),
]


@pytest.mark.parametrize("text", ["柜台同志哐哐，电话 139 1234 5678，邮箱 zhao@163.com",
                                  "哐哐盖章 13912345678 身份证370829198001011234"])
def test_the_model_never_shows_a_phone_an_email_or_an_id_number(tmp_path, triager, text):
    """The terms are stored with the case and shown (``hcp cases show --json``): the learned model's
    evidence once read "13912345678" (the number feature, located at the first number)."""
    rows = [{"text": t, "label": "immediate" if r == "attitude" else "none" if r == "praise" else "time_limited",
             "reason": r} for t, r in PERSONAL_ROWS]
    plain = Triager(dataclasses.replace(triager.rules, learned=None))
    model = fit(analyse(plain, rows), Settings(C=10.0, min_df=1), calibration=((0.3, 0.9), (0.2, 0.95)))
    t = _with_model(triager, _saved(tmp_path, model), top_terms=40)
    assert [x for x in t.classify(text).terms if x.source == "model"]
    for tr in (t, triager):  # a model that learned from such texts, and the packaged one
        for x in tr.classify(text).terms:
            assert not re.search(r"\d{3}|@|zhao|163|com", x.term), x
            if x.start < x.end:
                assert text[x.start:x.end] == x.term


def test_review_threshold_is_the_calibrated_confidence(tmp_path, triager, tiny_model):
    path = _saved(tmp_path, tiny_model)
    assert _with_model(triager, path, review_below=0.99).classify(UNKNOWN).needs_review
    assert not _with_model(triager, path, review_below=0.01).classify(UNKNOWN).needs_review


def test_switched_off(tmp_path, triager, tiny_model):
    t = _with_model(triager, _saved(tmp_path, tiny_model), enabled=False)
    assert t.learned_model() is None
    assert not any(x.source == "model" for x in t.classify(UNKNOWN).terms)


def test_empty_text_keeps_the_rules_decision(tmp_path, triager, tiny_model):
    t = _with_model(triager, _saved(tmp_path, tiny_model))
    res = t.classify("。。。")
    assert (res.label, res.reason) == ("none", "spam") and res.needs_review


def test_packaged_rules_name_a_model_that_loads(triager):
    lr = triager.rules.learned
    assert lr is not None and lr.enabled and lr.model_path.name == "model.npz"
    model = triager.learned_model()
    assert model is not None and model.n_items >= 700
    assert model.meta["cv"]["macro_f1"] > 0.9 and model.meta["trained_at"]
    assert triager.learned_model() is model  # loaded once


def _rules_with(tmp_path: Path, learned: str, model: LinearModel | None) -> Path:
    if model is not None:
        model.save(tmp_path / "m.npz")
    (tmp_path / "userdict.txt").write_text((DEFAULT_RULES_PATH.parent / "userdict.txt").read_text("utf-8"), "utf-8")
    raw = DEFAULT_RULES_PATH.read_text(encoding="utf-8")
    raw = raw[: raw.index("[learned]")] + learned
    p = tmp_path / "r.toml"
    p.write_text(raw, encoding="utf-8")
    return p


def test_broken_model_at_run_time_falls_back_to_rules(tmp_path, tiny_model, caplog):
    path = _rules_with(tmp_path, '[learned]\nmodel = "m.npz"\n', tiny_model)
    t = Triager.from_rules_file(path)
    (tmp_path / "m.npz").write_bytes(b"PK broken")  # damaged after loading the rules
    with caplog.at_level(logging.WARNING, logger="triage.engine"):
        res = t.classify(UNKNOWN)
    assert res.label == "none" and not any(x.source == "model" for x in res.terms)
    assert "learned model not used" in caplog.text


def test_reload_with_a_broken_model_keeps_the_last_good(tmp_path, triager):
    t = Triager(triager.rules)
    path = _rules_with(tmp_path, '[learned]\nmodel = "m.npz"\n', None)
    (tmp_path / "m.npz").write_text("not a model", encoding="utf-8")
    with pytest.raises(RulesError, match="not a triage model file"):
        t.reload(path)
    assert t.rules.source == triager.rules.source
    res = CliRunner().invoke(triage_group, ["check-rules", str(path)])
    assert res.exit_code == 1 and "not a triage model file" in res.output


@pytest.mark.parametrize(
    ("learned", "message"),
    [
        ('[learned]\nmodel = "nope.npz"\n', "learned.model: model file"),
        ('[learned]\nmodel = "m.npz"\nreview_below = 1.5\n', "learned.review_below must be a number in [0, 1]"),
        ('[learned]\nmodel = "m.npz"\ntop_terms = 2.5\n', "learned.top_terms must be an integer"),
        ('[learned]\nmodel = "m.npz"\nenabled = "yes"\n', "learned.enabled must be true or false"),
        ('[learned]\nmodel = "m.npz"\nweight = 1\n', "unknown key 'weight' in [learned]"),
        ("[learned]\nreview_below = 0.5\n", "[learned] needs model"),
    ],
)
def test_learned_section_is_validated(tmp_path, tiny_model, learned, message):
    path = _rules_with(tmp_path, learned, tiny_model)
    with pytest.raises(RulesError) as ei:
        load_rules(path)
    assert any(message in e for e in ei.value.errors), ei.value.errors
    line = next(e for e in ei.value.errors if message in e)
    assert line.startswith(f"{path}:") and line.split(":")[1].isdigit()  # names the line


def test_missing_model_is_fine_for_training(tmp_path):
    path = _rules_with(tmp_path, '[learned]\nmodel = "later.npz"\n', None)
    assert load_rules(path, check_model=False).learned is not None
    with pytest.raises(RulesError, match="does not exist"):
        load_rules(path)


def test_check_rules_names_the_model(tmp_path, tiny_model):
    path = _rules_with(tmp_path, '[learned]\nmodel = "m.npz"\n', tiny_model)
    res = CliRunner().invoke(triage_group, ["check-rules", str(path)])
    assert res.exit_code == 0 and "learned model on (9 items" in res.output and "review below 0.8" in res.output
