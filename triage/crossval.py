"""k-fold cross-validation for anything in the triage that learns from labelled data.

A model scored on the file it was trained on tells nothing, so learned parts are
judged on items held out from training: the labelled items are split into k
folds (stratified by reason, deterministic for a seed); for each fold a model
is trained on the other k-1 folds and the items of the fold are classified.
The figures are computed once over all out-of-fold predictions (every item is
predicted exactly once, by a model that never saw it), and per fold for the
spread.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable, Sequence
from typing import Any

from .evaluate import Prediction, compute_metrics


def stratified_folds(strata: Sequence[str], k: int, seed: int = 0) -> list[list[int]]:
    """Split item indices into ``k`` folds with each stratum spread evenly.

    Within a stratum the items are shuffled (``seed``) and dealt round-robin,
    continuing from the fold where the previous stratum stopped, so fold sizes
    differ by at most one.  Every index lands in exactly one fold."""
    if k < 2:
        raise ValueError("k must be at least 2")
    if k > len(strata):
        raise ValueError(f"k={k} is more than the {len(strata)} items")
    rng = random.Random(seed)
    by: dict[str, list[int]] = {}
    for i, s in enumerate(strata):
        by.setdefault(s, []).append(i)
    folds: list[list[int]] = [[] for _ in range(k)]
    nxt = 0
    for s in sorted(by):
        idx = by[s][:]
        rng.shuffle(idx)
        for i in idx:
            folds[nxt].append(i)
            nxt = (nxt + 1) % k
    return [sorted(f) for f in folds]


#: Train on records, return a function that classifies one record.
Trainer = Callable[[Sequence[dict[str, Any]]], Callable[[dict[str, Any]], Prediction]]


def cross_validate(records: Sequence[dict[str, Any]], trainer: Trainer, k: int = 5,
                   seed: int = 0) -> dict[str, Any]:
    """Out-of-fold figures for ``trainer`` over ``records`` (rubric data rows).

    Returns the metrics of :func:`~triage.evaluate.compute_metrics` over all
    out-of-fold predictions, plus ``k``, ``seed``, ``fold_macro_f1`` (one per
    fold), ``macro_f1_mean`` and ``macro_f1_sd``."""
    strata = [r.get("reason") or r["label"] for r in records]
    folds = stratified_folds(strata, k, seed)
    preds: list[Prediction | None] = [None] * len(records)
    per_fold: list[float] = []
    for test_idx in folds:
        held = set(test_idx)
        train = [r for i, r in enumerate(records) if i not in held]
        classify = trainer(train)
        fold_preds = [classify(records[i]) for i in test_idx]
        for i, p in zip(test_idx, fold_preds, strict=True):
            preds[i] = p
        m = compute_metrics([records[i]["label"] for i in test_idx], [records[i].get("reason") for i in test_idx],
                            fold_preds)
        per_fold.append(m["macro_f1"])
    done = [p for p in preds if p is not None]
    assert len(done) == len(records)
    out = compute_metrics([r["label"] for r in records], [r.get("reason") for r in records], done)
    out.update({
        "k": k,
        "seed": seed,
        "fold_macro_f1": per_fold,
        "macro_f1_mean": statistics.fmean(per_fold),
        "macro_f1_sd": statistics.stdev(per_fold) if len(per_fold) > 1 else 0.0,
    })
    return out
