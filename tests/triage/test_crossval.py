"""k-fold cross-validation: fold construction, the out-of-fold figures by hand, the CLI."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from click.testing import CliRunner

from triage.cli import triage_group
from triage.crossval import cross_validate, stratified_folds
from triage.evaluate import Prediction


def test_folds_partition_the_items_and_spread_each_stratum():
    strata = ["a"] * 7 + ["b"] * 5 + ["c"] * 3
    folds = stratified_folds(strata, 5, seed=3)
    assert sorted(i for f in folds for i in f) == list(range(15))  # every item exactly once
    assert max(map(len, folds)) - min(map(len, folds)) <= 1
    for s in "abc":
        per_fold = [sum(1 for i in f if strata[i] == s) for f in folds]
        assert max(per_fold) - min(per_fold) <= 1, (s, per_fold)
    assert folds == stratified_folds(strata, 5, seed=3)  # deterministic for a seed
    assert folds != stratified_folds(strata, 5, seed=4)


def test_fold_errors():
    with pytest.raises(ValueError, match="at least 2"):
        stratified_folds(["a", "b"], 1)
    with pytest.raises(ValueError, match="more than the 2 items"):
        stratified_folds(["a", "b"], 3)


# Six items, k = 3: each fold holds one attitude and one praise item.
RECORDS = [{"id": f"r{i}", "text": f"text {i}", "label": lab, "reason": rea}
           for i, (lab, rea) in enumerate([("immediate", "attitude")] * 3 + [("none", "praise")] * 3)]


def memorizer(train):
    """Says 'immediate' only for texts it was trained on: scores perfectly if test items leak into training."""
    seen = {r["text"]: (r["label"], r["reason"]) for r in train}

    def classify(r):
        lab, rea = seen.get(r["text"], ("none", "praise"))
        return Prediction(lab, rea, needs_review=r["id"] == "r5")

    return classify


def test_out_of_fold_figures_by_hand():
    m = cross_validate(RECORDS, memorizer, k=3, seed=0)
    # No test item is ever in its training part, so every prediction is none/praise.
    # immediate: tp 0 -> F1 0; none: P 3/6, R 3/3 -> F1 2/3; macro = (0 + 2/3) / 2
    assert m["macro_f1"] == pytest.approx(1 / 3)
    assert m["accuracy"] == pytest.approx(0.5)
    assert m["reason_accuracy"] == pytest.approx(0.5)
    assert m["confusion"]["immediate"]["none"] == 3 and m["confusion"]["none"]["none"] == 3
    # r5 went to review: 5 auto-routed, of which the 2 praise items are right
    assert m["review_share"] == pytest.approx(1 / 6)
    assert m["auto_precision"] == pytest.approx(2 / 5)
    # each fold is {attitude, praise} -> {none, none}: macro-F1 1/3 in every fold
    assert m["fold_macro_f1"] == pytest.approx([1 / 3] * 3)
    assert m["macro_f1_mean"] == pytest.approx(1 / 3) and m["macro_f1_sd"] == pytest.approx(0.0)
    assert m["k"] == 3 and m["n"] == 6


def test_every_item_is_predicted_once_by_a_model_that_never_saw_it():
    calls: Counter[str] = Counter()

    def trainer(train):
        train_ids = {r["id"] for r in train}

        def classify(r):
            assert r["id"] not in train_ids
            calls[r["id"]] += 1
            return Prediction(r["label"], r["reason"])

        return classify

    m = cross_validate(RECORDS, trainer, k=2, seed=1)
    assert calls == Counter({r["id"]: 1 for r in RECORDS})
    assert m["macro_f1"] == 1.0


def test_cv_cli(tmp_path):
    path = tmp_path / "d.jsonl"
    rows = [
        ("immediate", "attitude", "工作人员态度恶劣，爱答不理"), ("immediate", "attitude", "窗口的人一直玩手机不理人"),
        ("immediate", "attitude", "说话太冲，大吼大叫"), ("time_limited", "efficiency", "排队排了三个小时"),
        ("time_limited", "efficiency", "办事太慢，等了一上午"),
        ("time_limited", "efficiency", "审批拖了两个月还没下来"),
        ("none", "praise", "服务很好，谢谢"), ("none", "praise", "工作人员很热情，点赞"),
        ("none", "praise", "办得快，满意"),
    ]
    path.write_text("\n".join(json.dumps({"text": t, "label": lab, "reason": rea}, ensure_ascii=False)
                              for lab, rea, t in rows) + "\n", encoding="utf-8")
    res = CliRunner().invoke(triage_group, ["cv", str(path), "-k", "3", "--json", "--no-corrections"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["items"] == 9 and out["k"] == 3
    assert set(out["results"]) == {"rules", "model", "triage"}
    for m in out["results"].values():
        assert len(m["fold_macro_f1"]) == 3 and 0 <= m["macro_f1"] <= 1
    text = CliRunner().invoke(triage_group, ["cv", str(path), "-k", "3"])
    assert text.exit_code == 0 and "triage" in text.output and "3-fold" in text.output
    bad = CliRunner().invoke(triage_group, ["cv", str(path), "-k", "20"])
    assert bad.exit_code == 1 and "need at least k=20" in bad.output
