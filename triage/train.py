"""Training the linear stage (``triage.linear``) with scikit-learn; used by ``hcp triage train``/``cv``.

Why scikit-learn only here: a well-kept logistic regression and isotonic
regression, rather than hand-written statistics, for fitting; the run-time side
(``triage.linear``) needs numpy only.

Everything is computed from :class:`Analysed` items (the rules' result, the
normalised body and its words), so cross-validation analyses each text once.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .linear import REASON_LIST, LinearModel, rule_features, text_features
from .result import LABELS, REASONS

#: The labelled items the packaged model is trained on (``hcp triage train`` adds the team's corrections).
BASE_DATA = Path(__file__).with_name("data") / "train_base.jsonl"


@dataclass(frozen=True)
class Settings:
    """Chosen by k-fold cross-validation on the project's labelled files (see triage/README.md)."""

    C: float = 10.0
    #: small: the rules were written reading the training items, where they are nearly always
    #: right, so a larger scale lets the model copy them (see triage/README.md)
    rule_scale: float = 0.05
    min_df: int = 2
    ngram_max: int = 3
    ngram_min: int = 2
    #: folds for the out-of-fold predictions the calibration curve is fitted on
    calibration_folds: int = 5
    #: how much one of the triage team's corrections counts against one packaged training item:
    #: corrections are few but come from the text the gateway really receives
    correction_weight: float = 3.0


@dataclass
class Analysed:
    """One labelled item as the model sees it."""

    body: str
    tokens: list[str]
    rules: Any  # the rules' TriageResult
    reason: str
    #: how much the item counts in training (the team's corrections count more: see Settings)
    weight: float = 1.0

    @property
    def label(self) -> str:
        return REASONS[self.reason]


def analyse(triager: Any, records: Sequence[dict[str, Any]]) -> list[Analysed]:
    """Run the rules (without any learned model) over labelled rows with a reason."""
    out = []
    for r in records:
        body, tokens, res = triager.analyse(r["text"], channel=r.get("channel"), rating=r.get("rating"),
                                            reasons=r.get("reasons") or ())
        out.append(Analysed(body, tokens, res, r["reason"], float(r.get("_weight", 1.0))))
    return out


def _counts(item: Analysed, s: Settings) -> dict[str, int]:
    c: dict[str, int] = {}
    for f, _a, _b in text_features(item.body, item.tokens, s.ngram_max, s.ngram_min):
        c[f] = c.get(f, 0) + 1
    return c


def _matrix(items: Sequence[Analysed], vocab: dict[str, int], idf: Any, s: Settings) -> Any:
    import numpy as np
    from scipy.sparse import csr_matrix

    data: list[float] = []
    cols: list[int] = []
    indptr = [0]
    for it in items:
        row: dict[int, float] = {}
        for f, n in _counts(it, s).items():
            j = vocab.get(f)
            if j is not None:
                row[j] = (1.0 + math.log(n)) * idf[j]
        norm = math.sqrt(sum(v * v for v in row.values())) or 1.0
        for j in row:
            row[j] /= norm
        for f, v in rule_features(it.rules).items():
            j = vocab.get(f)
            if j is not None:
                row[j] = v * s.rule_scale
        cols += row
        data += row.values()
        indptr.append(len(cols))
    return csr_matrix((np.array(data), np.array(cols, dtype=np.int64), np.array(indptr)),
                      shape=(len(items), len(vocab)))


def fit(items: Sequence[Analysed], s: Settings = Settings(), calibration: Any = None) -> LinearModel:
    """Fit the model on ``items``; ``calibration`` is an (xs, ys) curve (see :func:`calibrate`)."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    df: dict[str, int] = {}
    for it in items:
        for f in _counts(it, s):
            df[f] = df.get(f, 0) + 1
    n = len(items)
    words = sorted(f for f, d in df.items() if d >= s.min_df)
    words += sorted({"r:label:" + lab for lab in LABELS} | {"r:reason:" + r for r in REASONS}
                    | {"r:score:" + lab for lab in LABELS})
    vocab = {w: i for i, w in enumerate(words)}
    idf = np.array([math.log((1 + n) / (1 + df[w])) + 1.0 if w in df else 1.0 for w in words])
    x = _matrix(items, vocab, idf, s)
    y = [it.reason for it in items]
    clf = LogisticRegression(C=s.C, max_iter=2000)
    clf.fit(x, y, sample_weight=[it.weight for it in items])
    classes = tuple(str(c) for c in clf.classes_)
    coef = clf.coef_.T.copy()
    intercept = clf.intercept_.copy()
    if len(classes) == 2:  # scikit-learn keeps one column for two classes
        coef = np.hstack([-coef / 2, coef / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
    model = LinearModel(vocab, idf, coef, intercept, classes, s.rule_scale, s.ngram_max, s.ngram_min)
    if calibration is not None:
        model.calibration = calibration
    model.meta = {"items": n, "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
                  "settings": asdict(s)}
    return model


def _loaded(model: LinearModel) -> LinearModel:
    """The model as :meth:`LinearModel.load` leaves it (IDF folded into the coefficients)."""
    import numpy as np

    text_rows = np.array([not w.startswith("r:") for w in sorted(model.vocab, key=model.vocab.__getitem__)])
    return LinearModel(model.vocab, model.idf, model.coef * np.where(text_rows, model.idf, 1.0)[:, None],
                       model.intercept, model.classes, model.rule_scale, model.ngram_max, model.ngram_min,
                       model.calibration, model.meta)


def folds(items: Sequence[Analysed], k: int, seed: int = 0) -> list[list[int]]:
    from .crossval import stratified_folds

    return stratified_folds([it.reason for it in items], k, seed)


def out_of_fold(items: Sequence[Analysed], s: Settings = Settings(), k: int = 5, seed: int = 0) -> list[Any]:
    """A :class:`~triage.linear.Prediction` for every item, each by a model that never saw it."""
    preds: list[Any] = [None] * len(items)
    for test in folds(items, k, seed):
        held = set(test)
        model = _loaded(fit([it for i, it in enumerate(items) if i not in held], s))
        for i in test:
            preds[i] = model.predict(items[i].body, items[i].tokens, items[i].rules)
    return preds


def calibrate(probs: Sequence[float], correct: Sequence[bool]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Isotonic curve P(correct | top probability), as knots for ``numpy.interp``-style look-up."""
    from sklearn.isotonic import IsotonicRegression

    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip", increasing=True)
    iso.fit(list(probs), [float(c) for c in correct])
    xs = [float(x) for x in iso.X_thresholds_]
    ys = [float(y) for y in iso.y_thresholds_]
    if len(xs) < 2:
        xs, ys = [0.0, 1.0], [ys[0] if ys else 0.5] * 2
    return tuple(xs), tuple(ys)


def train(items: Sequence[Analysed], s: Settings = Settings(), seed: int = 0,
          oof: Sequence[Any] | None = None) -> LinearModel:
    """The model to ship: calibrated on out-of-fold predictions (``oof``, or computed here),
    then fitted on all items."""
    if oof is None:
        oof = out_of_fold(items, s, k=max(2, min(s.calibration_folds, len(items))), seed=seed)
    curve = calibrate([p.probability for p in oof], [p.label == it.label for p, it in zip(oof, items, strict=True)])
    return fit(items, s, curve)


def cross_validated(items: Sequence[Analysed], s: Settings = Settings(), k: int = 5, seed: int = 0,
                    review_below: float = 0.8, text_only: bool = True,
                    oof_out: list[Any] | None = None) -> dict[str, dict[str, Any]]:
    """Out-of-fold figures of ``rules`` (the rules alone), ``model`` (n-grams and words only, no
    rule features: what the data alone teaches) and ``triage`` (the whole pipeline as it runs:
    rules, model, calibrated confidence, review at ``review_below``).

    Every prediction comes from a model fitted without the item.  The confidence of fold i is
    calibrated on the out-of-fold predictions of the other folds only.  ``oof_out``, if given,
    receives the ``triage`` out-of-fold predictions (to fit the shipped model's calibration)."""
    from .evaluate import Prediction, compute_metrics

    parts = folds(items, k, seed)
    variants = {"triage": s}
    if text_only:
        variants["model"] = replace(s, rule_scale=0.0)
    oof: dict[str, list[Any]] = {name: [None] * len(items) for name in variants}
    for test in parts:
        held = set(test)
        train_part = [it for i, it in enumerate(items) if i not in held]
        for name, st in variants.items():
            model = _loaded(fit(train_part, st))
            for i in test:
                oof[name][i] = model.predict(items[i].body, items[i].tokens, items[i].rules)
    gold_l = [it.label for it in items]
    gold_r = [it.reason for it in items]
    if oof_out is not None:
        oof_out[:] = oof["triage"]
    preds: dict[str, list[Prediction]] = {
        "rules": [Prediction(it.rules.label, it.rules.reason, it.rules.needs_review) for it in items]}
    for name, ps in oof.items():
        conf = [0.0] * len(items)
        for test in parts:
            held = set(test)
            others = [i for i in range(len(items)) if i not in held]
            curve = calibrate([ps[i].probability for i in others], [ps[i].label == gold_l[i] for i in others])
            probe = LinearModel({}, None, None, None, calibration=curve)
            for i in test:
                conf[i] = probe.calibrate(ps[i].probability)
        preds[name] = [Prediction(p.label, p.reason, c < review_below) for p, c in zip(ps, conf, strict=True)]
    out: dict[str, dict[str, Any]] = {}
    for name, ps in preds.items():
        m = compute_metrics(gold_l, gold_r, ps)
        per_fold = [compute_metrics([gold_l[i] for i in t], [gold_r[i] for i in t], [ps[i] for i in t])["macro_f1"]
                    for t in parts]
        m.update({"k": k, "seed": seed, "fold_macro_f1": per_fold, "macro_f1_mean": statistics.fmean(per_fold),
                  "macro_f1_sd": statistics.stdev(per_fold) if len(per_fold) > 1 else 0.0})
        out[name] = m
    return out


__all__ = ["REASON_LIST", "Analysed", "Settings", "analyse", "calibrate", "fit", "out_of_fold", "train"]
