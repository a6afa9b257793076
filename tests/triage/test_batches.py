"""A batch (``Triager.classify_many``) gives exactly the results of one item at a time.

Why it matters: the worker process, ``hcp triage eval`` and ``cv`` classify in batches for speed,
while a web form is classified alone; a complaint must not be routed differently because of the
texts that happened to arrive with it.  Results are compared whole (label, reason, confidence,
evidence with weights and positions, scores), so equal means bit for bit."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from triage import Triager
from triage.worker import classify_many as worker_classify_many

DATA = Path(__file__).with_name("data")


def _records() -> list[dict]:
    rows = []
    for name in ("heldout.jsonl", "blind_set_a.jsonl", "blind_set_b.jsonl"):
        rows += [json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows


RECORDS = _records()
# the shapes that take other paths: empty, punctuation only, one word, a number only, a long mail
ODD = ["", "。。。", "好", "谢谢", "13812345678", "排队" * 400, "  \n ", "办事效率还不如以前"]


def _items(texts, ratings=None):
    return [(t, "web", (ratings or {}).get(i), ()) for i, t in enumerate(texts)]


def test_a_batch_equals_one_at_a_time_on_the_labelled_data(triager: Triager):
    items = _items([r["text"] for r in RECORDS] + ODD, {3: "very_dissatisfied", 7: "satisfied"})
    alone = [triager.classify(t, channel=c, rating=r, reasons=s) for t, c, r, s in items]
    assert any(any(term.source == "model" for term in res.terms) for res in alone)  # the learned stage ran
    for size in (2, 7, 64, len(items)):
        together = [res for start in range(0, len(items), size)
                    for res in triager.classify_many(items[start:start + size])]
        assert together == alone, size
    assert triager.classify_many([]) == []


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(st.one_of(st.sampled_from([r["text"] for r in RECORDS] + ODD),
                                st.text(alphabet=st.sampled_from("排队太慢态度差谢谢满意，。！ 13a\n"), max_size=40)),
                      min_size=1, max_size=12),
       cut=st.integers(min_value=1, max_value=12))
def test_any_batching_of_any_texts_changes_nothing(triager: Triager, texts, cut):
    items = _items(texts)
    alone = [triager.classify(t, channel="web") for t in texts]
    assert triager.classify_many(items[:cut]) + triager.classify_many(items[cut:]) == alone


def test_the_worker_batch_keeps_one_bad_item_to_itself(triager: Triager, monkeypatch):
    import triage.worker as worker

    monkeypatch.setattr(worker, "_triager", triager)
    outcomes = worker_classify_many([("排队两个小时", "web", None, ()), (b"\xe6\x8e\x92", "web", None, ()),
                                     ("工作人员态度很差", "web", None, ())])
    assert [ok for ok, _ in outcomes] == [True, False, True]
    assert outcomes[0][1] == triager.classify("排队两个小时", channel="web")
    assert outcomes[2][1].label == "immediate"


SMALL = [("柜台同志哐哐盖章...", "attitude"), ("那位同志哐哐摔东西", "attitude"), ("谢谢你们，很满意", "praise"),
         ("满意，谢谢同志", "praise"), ("排队三个小时...等了3.5个钟头", "efficiency"),
         ("太慢了，排队排到中午", "efficiency")]
LABEL_OF = {"attitude": "immediate", "praise": "none", "efficiency": "time_limited"}


def _small_model(triager: Triager, tmp_path: Path, reasons: set[str]):
    import dataclasses

    from triage import train as tr
    from triage.linear import LinearModel

    plain = Triager(dataclasses.replace(triager.rules, learned=None))
    rows = [{"text": t, "label": LABEL_OF[r], "reason": r} for t, r in SMALL if r in reasons]
    settings = tr.Settings(min_df=1, C=10.0)
    items = tr.analyse(plain, rows)
    model = tr.fit(items, settings)
    model.save(tmp_path / "m.npz")
    matrix = tr._matrix(items, model.vocab, model.idf, settings)
    return plain, items, matrix, model, LinearModel.load(tmp_path / "m.npz")


def test_run_time_features_are_the_training_features_with_dots_and_decimals(triager: Triager, tmp_path: Path):
    """'...' is three punctuation tokens and '3.5' is '3', '.', '5': training skips the dots, and so
    must the run time (it used to count each dot as a number)."""
    _plain, items, x, model, loaded = _small_model(triager, tmp_path, set(LABEL_OF))
    expected = x @ model.coef + model.intercept
    for i, it in enumerate(items):
        z, _rows, _vals = loaded.scores(it.body, it.tokens, it.rules)
        assert np.allclose(z, expected[i], atol=1e-9), it.body


def test_a_model_without_some_labels_gives_the_same_in_a_batch(triager: Triager, tmp_path: Path):
    """A model trained on a few corrections may know only some labels, or only one: the label sums
    and the runner-up of another label must come out as one at a time."""
    texts = [t for t, _r in SMALL] + ["工作人员态度很差", "大厅太冷", "", "谢谢"]
    for reasons in ({"attitude", "praise"}, {"attitude", "efficiency", "praise"}):
        plain, *_rest, loaded = _small_model(triager, tmp_path, reasons)
        runs = [plain.analyse(t) for t in texts if plain.analyse(t)[1]]
        bodies, tokens, rules = zip(*runs, strict=True)
        together = loaded.predict_many(bodies, tokens, rules)
        for (body, toks, res), pred in zip(runs, together, strict=True):
            alone = loaded.predict(body, toks, res)
            assert (alone.label, alone.reason, alone.probability) == (pred.label, pred.reason, pred.probability)
            assert np.array_equal(alone.contrib, pred.contrib)
            assert loaded.contributions(alone, body, toks) == loaded.contributions(pred, body, toks)
            assert pred.label in {LABEL_OF[r] for r in reasons}


def test_long_pasted_tokens_are_not_remembered(triager: Triager):
    model = triager.learned_model()
    run = "x" * 5000
    body, tokens, res = triager.analyse(f"排队太久 {run} 态度差")
    assert run in tokens
    model.predict(body, tokens, res)
    assert run not in model.__dict__["_word_memo"] and "排队" in model.__dict__["_word_memo"]
