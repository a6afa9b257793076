"""Evaluation arithmetic on a small hand-checked example, and the eval CLI."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from triage.cli import triage_group
from triage.evaluate import DataError, Prediction, compute_metrics, macro_f1, read_jsonl

# gold label, gold reason, predicted label, predicted reason, sent to review
HAND = [
    ("immediate", "attitude", "immediate", "attitude", False),
    ("immediate", "facilities", "time_limited", "steps", False),
    ("time_limited", "efficiency", "time_limited", "efficiency", True),
    ("coordinated", "complex", "coordinated", "cross_department", False),
    ("none", "praise", "none", "praise", False),
    ("none", "spam", "immediate", "attitude", True),
]


def test_metrics_by_hand():
    m = compute_metrics([h[0] for h in HAND], [h[1] for h in HAND],
                        [Prediction(h[2], h[3], h[4]) for h in HAND])
    # immediate: tp 1, fp 1 (spam), fn 1 (facilities)  -> P 1/2, R 1/2, F1 1/2
    assert m["per_label"]["immediate"] == pytest.approx(
        {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2})
    # time_limited: tp 1, fp 1, fn 0 -> P 1/2, R 1, F1 2/3
    assert m["per_label"]["time_limited"]["f1"] == pytest.approx(2 / 3)
    assert m["per_label"]["time_limited"]["recall"] == 1.0
    assert m["per_label"]["coordinated"]["f1"] == 1.0
    # none: tp 1, fp 0, fn 1 -> P 1, R 1/2, F1 2/3
    assert m["per_label"]["none"]["precision"] == 1.0
    assert m["per_label"]["none"]["recall"] == 0.5
    assert m["macro_f1"] == pytest.approx((0.5 + 2 / 3 + 1 + 2 / 3) / 4)
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["reason_accuracy"] == pytest.approx(3 / 6)
    # auto-routed: items 1, 2, 4, 5, of which 1, 4, 5 have the right label
    assert m["auto_precision"] == pytest.approx(3 / 4)
    assert m["review_share"] == pytest.approx(2 / 6)
    assert m["confusion"]["none"]["immediate"] == 1
    assert m["confusion"]["immediate"]["time_limited"] == 1
    assert sum(sum(row.values()) for row in m["confusion"].values()) == 6


def test_macro_f1_ignores_absent_labels():
    assert macro_f1(["none", "none"], ["none", "none"]) == 1.0


def test_no_auto_routed_items():
    m = compute_metrics(["none"], ["praise"], [Prediction("none", "praise", True)])
    assert m["auto_precision"] is None and m["review_share"] == 1.0


def test_read_jsonl_errors(tmp_path):
    p = tmp_path / "d.jsonl"
    p.write_text('{"text": "a", "label": "none"}\n{"text": "b", "label": \n', encoding="utf-8")
    with pytest.raises(DataError, match=r"d.jsonl:2: bad JSON"):
        read_jsonl(p)
    p.write_text('{"text": "a", "label": "urgent"}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r":1: unknown label 'urgent'"):
        read_jsonl(p)
    with pytest.raises(DataError, match="cannot read"):
        read_jsonl(tmp_path / "missing.jsonl")


def test_eval_cli_json(data_dir, triager):
    path = data_dir / "small_eval.jsonl"
    res = CliRunner().invoke(triage_group, ["eval", str(path), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    for key in ("macro_f1", "accuracy", "per_label", "confusion", "reason_accuracy", "auto_precision",
                "review_share"):
        assert key in out
    # s5 is deliberately mislabelled (a smelly toilet is not 'coordinated')
    assert out["n"] == 5
    assert out["accuracy"] == pytest.approx(4 / 5)
    assert out["confusion"]["coordinated"]["immediate"] == 1
    # figures agree with classify() on the same items
    recs = read_jsonl(path)
    preds = [triager.classify(r["text"], channel=r["channel"]) for r in recs]
    expect = compute_metrics([r["label"] for r in recs], [r["reason"] for r in recs],
                             [Prediction(p.label, p.reason, p.needs_review) for p in preds])
    assert out["macro_f1"] == pytest.approx(expect["macro_f1"])
    assert out["review_share"] == pytest.approx(expect["review_share"])


def test_eval_cli_text_and_errors(data_dir):
    res = CliRunner().invoke(triage_group, ["eval", str(data_dir / "small_eval.jsonl"), "--errors"])
    assert res.exit_code == 0, res.output
    assert "macro-F1" in res.output and "confusion" in res.output
    assert "[s5] gold coordinated/complex -> predicted immediate/environment" in res.output
    assert "臭" in res.output  # the deciding terms are listed
    assert "[s1]" not in res.output


def test_eval_cli_bad_input(tmp_path):
    runner = CliRunner()
    res = runner.invoke(triage_group, ["eval", str(tmp_path / "none.jsonl")])
    assert res.exit_code == 1 and "cannot read" in res.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "厕所臭", "label": "immediate"}\nnot json\n', encoding="utf-8")
    res = runner.invoke(triage_group, ["eval", str(bad)])
    assert res.exit_code == 1 and "bad.jsonl:2: bad JSON" in res.output
    rules = tmp_path / "r.toml"
    rules.write_text("[settings\n", encoding="utf-8")
    good = tmp_path / "good.jsonl"
    good.write_text('{"text": "厕所臭", "label": "immediate"}\n', encoding="utf-8")
    res = runner.invoke(triage_group, ["eval", str(good), "--rules", str(rules)])
    assert res.exit_code == 1 and "r.toml:1: syntax error" in res.output


def test_heldout_set_is_well_formed(data_dir):
    recs = read_jsonl(data_dir / "heldout.jsonl")
    assert len(recs) >= 60
    assert {r["channel"] for r in recs} == {"email", "phone", "paper", "web"}
    assert {r["label"] for r in recs} == {"immediate", "time_limited", "coordinated", "none"}


@pytest.mark.parametrize(
    ("name", "floor"),
    [("heldout.jsonl", 0.95), ("probe.jsonl", 0.95), ("unseen_tune.jsonl", 0.95)],
)
def test_packaged_triage_keeps_its_figures(data_dir, triager, name, floor):
    """Regression floors on our own labelled sets (unseen_holdout.jsonl is kept out of tests
    on purpose: it is only measured, never tuned on)."""
    from triage.evaluate import evaluate_file

    m, _pairs = evaluate_file(triager, data_dir / name)
    assert m["macro_f1"] >= floor
    assert m["auto_precision"] >= 0.95 and m["review_share"] <= 0.25


def test_unseen_sets_are_well_formed_and_disjoint(data_dir):
    tune = read_jsonl(data_dir / "unseen_tune.jsonl")
    hold = read_jsonl(data_dir / "unseen_holdout.jsonl")
    assert len(tune) + len(hold) >= 250
    for recs in (tune, hold):
        assert {r["label"] for r in recs} == {"immediate", "time_limited", "coordinated", "none"}
        assert {r["channel"] for r in recs} == {"email", "phone", "paper", "web"}
        assert all(r["reason"] for r in recs)
    assert not {r["text"] for r in tune} & {r["text"] for r in hold}
    assert not {r["id"] for r in tune} & {r["id"] for r in hold}


@pytest.mark.parametrize("name", ["blind_set_a.jsonl", "blind_set_b.jsonl"])
def test_the_packaged_triage_beats_the_baseline_on_text_written_blind(data_dir, triager, name):
    """Issue 19's goal on sets written from the rubric alone by people who saw neither the rules, the
    code nor dev.jsonl (never trained on): macro-F1 at least 0.03 above the TF-IDF + logistic
    regression bar trained on dev.jsonl, auto-routed precision >= 0.95 with <= 20 % sent to review."""
    from triage.baseline import make_baseline
    from triage.evaluate import compute_metrics, evaluate_file

    m, _pairs = evaluate_file(triager, data_dir / name)
    recs = read_jsonl(data_dir / name)
    from triage.evaluate import Prediction
    from triage.train import BASE_DATA

    dev = [r for r in read_jsonl(BASE_DATA) if str(r["id"]).startswith("dev-")]  # dev.jsonl, as packaged
    assert len(dev) == 200
    bar = 0.0
    for c in (1.0, 10.0, 100.0):
        baseline = make_baseline(c)
        baseline.fit([r["text"] for r in dev], [r["label"] for r in dev])
        preds = [Prediction(str(label), None) for label in baseline.predict([r["text"] for r in recs])]
        bar = max(bar, compute_metrics([r["label"] for r in recs], [r.get("reason") for r in recs], preds)["macro_f1"])
    assert m["macro_f1"] >= bar + 0.03
    assert m["auto_precision"] >= 0.95 and m["review_share"] <= 0.20
