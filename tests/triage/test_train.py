"""Training the learned stage: run-time scoring equals the trained model, calibration, cross-validation
that never scores an item with a model that saw it, and `hcp triage train`'s adoption rule."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from triage import Triager
from triage import train as tr
from triage.cli import triage_group
from triage.linear import LinearModel, ModelError, read_meta, text_features

ROWS = [
    ("柜台同志哐哐盖章，3次了", "immediate", "attitude"), ("那位同志哐哐摔东西", "immediate", "attitude"),
    ("柜台的人拍桌子翻白眼", "immediate", "attitude"), ("谢谢你们，很满意", "none", "praise"),
    ("满意，谢谢同志 #1", "none", "praise"), ("点赞，谢谢！", "none", "praise"),
    ("排队三个小时", "time_limited", "efficiency"), ("等了一上午还没办完", "time_limited", "efficiency"),
    ("太慢了，排队排到中午12点", "time_limited", "efficiency"),
]
RECORDS = [{"id": f"r{i}", "text": t, "label": lab, "reason": rea} for i, (t, lab, rea) in enumerate(ROWS)]


@pytest.fixture(scope="module")
def items(triager):
    return tr.analyse(Triager(dataclasses.replace(triager.rules, learned=None)), RECORDS)


def test_text_features_and_their_offsets():
    body = "排队 太慢"
    feats = text_features(body, ["排队", " ", "太慢"])
    for f, a, b in feats:
        assert f[2:] == body[a:b] and " " not in f
    names = [f for f, _a, _b in feats]
    assert {"c:排", "c:排队", "c:太慢", "w:排队", "w:太慢"} <= set(names)
    assert "c:队 " not in names and "w: " not in names  # no n-gram across a blank, no blank word
    assert [f for f, *_ in text_features("3个", ["3", "个"])][-2:] == ["w:#", "w:个"]  # numbers fold to "#"
    assert all(len(f) == 4 for f, *_ in text_features("排队太慢", [], ngram_max=2, ngram_min=2))


def test_run_time_scores_equal_the_trained_model(items, tmp_path):
    s = tr.Settings(min_df=1, rule_scale=0.5)
    model = tr.fit(items, s)
    path = tmp_path / "m.npz"
    model.save(path)
    loaded = LinearModel.load(path)
    x = tr._matrix(items, model.vocab, model.idf, s)
    expected = x @ model.coef + model.intercept  # what scikit-learn's decision function computes
    for i, it in enumerate(items):
        z, _rows, _vals = loaded.scores(it.body, it.tokens, it.rules)
        assert np.allclose(z, expected[i], atol=1e-4), it.body
    # and the model fits its own training items
    assert all(loaded.predict(it.body, it.tokens, it.rules).reason == it.reason for it in items)


def test_calibration_curve_is_monotone_and_bounded():
    probs = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95]
    right = [False, False, True, False, True, True, True, True]
    curve = tr.calibrate(probs, right)
    m = LinearModel({}, None, None, None, calibration=curve)
    ys = [m.calibrate(p) for p in (0.0, 0.3, 0.45, 0.65, 0.9, 1.0)]
    assert ys == sorted(ys) and ys[0] >= 0.0 and ys[-1] <= 1.0
    assert ys[0] == pytest.approx(0.0) and ys[-1] == pytest.approx(1.0)


def test_out_of_fold_never_scores_an_item_with_a_model_that_saw_it(items, monkeypatch):
    real_fit = tr.fit
    seen: list[set[str]] = []

    def spy(train_items, s=None, calibration=None):
        seen.append({it.body for it in train_items})
        return real_fit(train_items, s or tr.Settings(), calibration)

    monkeypatch.setattr(tr, "fit", spy)
    results = tr.cross_validated(items, tr.Settings(min_df=1), k=3, text_only=False)
    assert len(seen) == 3
    folds = tr.folds(items, 3)
    for train_bodies, test in zip(seen, folds, strict=True):
        assert not train_bodies & {items[i].body for i in test}
    m = results["triage"]
    assert m["n"] == len(items) and len(m["fold_macro_f1"]) == 3 and set(results) == {"rules", "triage"}


def test_bad_model_files(tmp_path, items):
    with pytest.raises(ModelError, match="cannot read model"):
        LinearModel.load(tmp_path / "missing.npz")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"PK\x03\x04 nonsense")
    with pytest.raises(ModelError, match="not a triage model file"):
        LinearModel.load(junk)
    model = tr.fit(items, tr.Settings(min_df=1))
    bad = tmp_path / "bad.npz"
    model.coef = model.coef[:-1]
    model.save(bad)
    with pytest.raises(ModelError, match="shapes do not fit"):
        LinearModel.load(bad)
    model.coef = np.full((len(model.vocab), len(model.classes)), math.nan)
    model.save(bad)
    with pytest.raises(ModelError, match="non-finite"):
        LinearModel.load(bad)


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_train_cli_adopts_a_model_only_when_its_cv_does_not_drop(tmp_path):
    data = _write(tmp_path / "d.jsonl", RECORDS)
    corr = _write(tmp_path / "c.jsonl", [
        {"text": "同志哐哐签字", "old_label": "none", "new_label": "time_limited", "new_reason": "efficiency",
         "case_code": "C-1"},
        # the same case corrected again: only the latest counts
        {"text": "同志哐哐签字", "old_label": "time_limited", "new_label": "immediate", "new_reason": "attitude",
         "case_code": "C-1"},
        {"text": "只改了类别", "new_label": "immediate", "case_code": "C-2"},  # no reason: skipped
    ])
    out = tmp_path / "m.npz"
    args = ["train", "--no-base", "--data", str(data), "--corrections", str(corr), "-o", str(out), "-k", "3"]
    res = CliRunner().invoke(triage_group, [*args, "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    assert report["adopted"] and report["items"] == 10 and report["skipped"] == 1 and report["corrections"] == 3
    meta = read_meta(out)
    assert meta["items"] == 10 and meta["corrections"] == 3 and meta["cv"]["k"] == 3
    assert meta["sources"] == ["d.jsonl: 9 items", "c.jsonl: 3 corrections"]
    assert meta["settings"]["correction_weight"] == tr.Settings().correction_weight

    # the model in use claims a better CV figure than a retrain reaches: not adopted, file unchanged
    model = LinearModel.load(out)
    raw = LinearModel(model.vocab, model.idf, model.coef, model.intercept, model.classes, model.rule_scale,
                      model.ngram_max, model.ngram_min, model.calibration, {**model.meta, "cv": {"macro_f1": 1.01}})
    raw.save(out)
    before = out.read_bytes()
    refused = CliRunner().invoke(triage_group, args)
    assert refused.exit_code == 3 and "NOT adopted" in refused.output and "1.010" in refused.output
    assert out.read_bytes() == before
    forced = CliRunner().invoke(triage_group, [*args, "--force"])
    assert forced.exit_code == 0 and f"wrote {out}" in forced.output
    assert read_meta(out)["cv"]["macro_f1"] <= 1.0

    empty = CliRunner().invoke(triage_group, ["train", "--no-base", "-o", str(out)])
    assert empty.exit_code == 2 and "nothing to train on" in empty.output
