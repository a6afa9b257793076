"""The naive Bayes component: arithmetic on a hand-checked set, the model file, training from rows."""

from __future__ import annotations

import json
import math

import pytest

from triage.learn import (
    REASON_LIST,
    Example,
    ModelError,
    NaiveBayes,
    examples_from_records,
    features,
    located_features,
    train_from_records,
)

# Two reasons, three words, alpha = 1:
#   attitude: {凶}, {凶, 慢}     -> counts 凶 2, 慢 1, 好 0 (total 3)
#   praise:   {好, 好}           -> counts 好 1 (a word counts once per item; total 1)
# P(w | r) = (count + 1) / (total + |V| = 3):
#   attitude: 凶 3/6, 慢 2/6, 好 1/6;  praise: 凶 1/4, 慢 1/4, 好 2/4
# Prior: the two labels that have data get 1/2 each (one reason each).
HAND = [Example(("凶",), "attitude"), Example(("凶", "慢"), "attitude"), Example(("好", "好"), "praise")]


@pytest.fixture
def model() -> NaiveBayes:
    return NaiveBayes.train(HAND, alpha=1.0)


def test_counts_are_binary_per_item(model):
    assert model.doc_counts["attitude"] == 2 and model.doc_counts["praise"] == 1
    assert model.word_counts == {"凶": {"attitude": 2}, "慢": {"attitude": 1}, "好": {"praise": 1}}
    assert model.n_items == 3


def test_log_probabilities_by_hand(model):
    vocab, logp, prior, present = model.compile()
    att, pra = REASON_LIST.index("attitude"), REASON_LIST.index("praise")
    assert logp[vocab["凶"], att] == pytest.approx(math.log(3 / 6))
    assert logp[vocab["慢"], att] == pytest.approx(math.log(2 / 6))
    assert logp[vocab["好"], att] == pytest.approx(math.log(1 / 6))
    assert logp[vocab["凶"], pra] == pytest.approx(math.log(1 / 4))
    assert logp[vocab["好"], pra] == pytest.approx(math.log(2 / 4))
    assert prior[att] == pytest.approx(math.log(1 / 2)) and prior[pra] == pytest.approx(math.log(1 / 2))
    assert present.sum() == 2 and math.isinf(prior[REASON_LIST.index("steps")])  # reasons without items are out


def test_posterior_by_hand(model):
    # 凶: attitude 1/2 * 3/6 = 1/4, praise 1/2 * 1/4 = 1/8 -> P(immediate) = 2/3
    p = model.posterior(["凶"])
    assert p["immediate"] == pytest.approx(2 / 3) and p["none"] == pytest.approx(1 / 3)
    assert p["time_limited"] == 0 and p["coordinated"] == 0
    # 凶 慢 好: attitude 3/6 * 2/6 * 1/6 = 1/36, praise 1/4 * 1/4 * 2/4 = 1/32 -> P(none) = 36/68
    p = model.posterior(["凶", "慢", "好", "好"])  # a repeated word counts once
    assert p["none"] == pytest.approx(36 / 68)
    # temperature 2 takes the square root of the likelihood ratio: sqrt(2) : 1
    assert model.posterior(["凶"], temperature=2.0)["immediate"] == pytest.approx(math.sqrt(2) / (1 + math.sqrt(2)))
    # unknown words change nothing: the prior
    assert model.posterior(["从没见过"])["immediate"] == pytest.approx(0.5)


def test_reason_scores_are_the_log_joint(model):
    scores, rows = model.reason_scores(["凶", "慢", "未知"])
    assert len(rows) == 2
    assert scores[REASON_LIST.index("attitude")] == pytest.approx(math.log(1 / 2) + math.log(3 / 6) + math.log(2 / 6))


def test_save_and_load_round_trip(model, tmp_path):
    path = tmp_path / "m.json"
    model.save(path)
    again = NaiveBayes.load(path)
    assert again.word_counts == model.word_counts and again.doc_counts == model.doc_counts
    assert again.alpha == 1.0 and again.feature_kind == "words"
    assert again.posterior(["凶"]) == pytest.approx(model.posterior(["凶"]))
    assert not (tmp_path / "m.json.tmp").exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"version": 9}, "model version 9"),
        ({"kind": "svm"}, "not a naive Bayes model"),
        ({"alpha": 0}, "alpha must be a number"),
        ({"features": "letters"}, "unknown features 'letters'"),
        ({"doc_counts": {"attitude": -1}}, "bad document count 'attitude'"),
        ({"doc_counts": {"no_such": 1}}, "bad document count 'no_such'"),
        ({"word_counts": {"凶": {"attitude": 5}}}, "bad count for word '凶', reason 'attitude': 5"),
        ({"word_counts": {"凶": 3}}, "counts of word '凶' must be an object"),
        ({"doc_counts": {}, "word_counts": {}}, "no training items"),
    ],
)
def test_bad_model_files(model, tmp_path, change, message):
    d = {**model.to_dict(), **change}
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(d, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(ModelError, match=message):
        NaiveBayes.load(path)


def test_unreadable_model_files(tmp_path):
    with pytest.raises(ModelError, match="cannot read model"):
        NaiveBayes.load(tmp_path / "missing.json")
    (tmp_path / "x.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelError, match="not a JSON model file"):
        NaiveBayes.load(tmp_path / "x.json")


def test_features_and_their_offsets():
    tokens = ["排队", "，", "排", "了", "3", "个", "小时", " ", "!!"]
    assert features(tokens) == ["排队", "排", "了", "#", "个", "小时"]
    located = located_features(tokens, "words+bigrams")
    text = "".join(tokens)
    for f, a, b in located:
        assert text[a:b] == (f[1:] if f.startswith("~") else f) or f == "#"
    assert ("~排了", 3, 5) in located and ("小时", 7, 9) in located


def test_training_rows_need_a_reason_of_their_label():
    rows = [
        {"text": "态度凶", "label": "immediate", "reason": "attitude"},
        {"text": "态度凶", "label": "none", "reason": "attitude"},  # reason of another label
        {"text": "好", "label": "none", "reason": None},
    ]
    examples, skipped = examples_from_records(rows, lambda t: list(t))
    assert skipped == 2 and examples == [Example(("态", "度", "凶"), "attitude")]
    model, skipped = train_from_records(rows, lambda t: list(t), alpha=0.5, sources=["hand"])
    assert model.n_items == 1 and model.sources == ["hand"] and model.alpha == 0.5
    with pytest.raises(ValueError, match="no labelled items"):
        train_from_records(rows[1:], lambda t: list(t))
