"""The learned stage: a linear model over character n-grams, jieba words and the rules' scores.

Why: keyword rules generalise only as far as their word lists, and naive Bayes
consulted "where the rules are weak" could not correct the rules where they are
confidently wrong.  A multinomial logistic regression (trained with
scikit-learn, ``triage.train``) over TF-IDF character 1-3-grams, jieba words
and the rules' own decision learns how far to trust each, and is measured by
k-fold cross-validation (``hcp triage cv``).

Why no scikit-learn here: importing it costs about a second, more than the
whole cold-start budget.  The model file holds what the fitted model needs at
run time (vocabulary, IDF, coefficients, intercepts, the calibration curve), and
scoring one item is a dictionary look-up per n-gram and one numpy sum.  The
features are built by this module both for training and at run time, so the
two cannot drift apart.

Confidence is calibrated: the curve maps the model's top probability to the
share of correct decisions at that probability, fitted (isotonic regression) on
out-of-fold predictions, so "auto-route at 0.8" means about 80 % or better.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .result import LABELS, REASONS

MODEL_KIND = "linear"
MODEL_VERSION = 2
REASON_LIST: tuple[str, ...] = tuple(REASONS)

_SKIP = re.compile(r"^[\s\W_]+$")
_DIGITS = re.compile(r"^[0-9.]+$")
_SPACE = frozenset(" \t\r\n\u3000")


class ModelError(ValueError):
    """A model file is missing, malformed or of another version."""


def text_features(body: str, tokens: Sequence[str], ngram_max: int = 3) -> list[tuple[str, int, int]]:
    """(feature, start, end) for the n-grams and words of a text; offsets into ``body``.

    ``c:`` character 1..``ngram_max``-grams without blanks, ``w:`` the jieba words
    (numbers folded to ``#``, punctuation left out).  ``tokens`` must be the cut of
    ``body`` (``Triager.tokens``)."""
    out: list[tuple[str, int, int]] = []
    n = len(body)
    for i in range(n):
        if body[i] in _SPACE:
            continue
        for k in range(1, ngram_max + 1):
            j = i + k
            if j > n or body[j - 1] in _SPACE:
                break
            out.append(("c:" + body[i:j], i, j))
    pos = 0
    for t in tokens:
        start = pos
        pos += len(t)
        if _SKIP.match(t):
            continue
        out.append(("w:" + ("#" if _DIGITS.match(t) else t), start, pos))
    return out


def rule_features(result: Any) -> dict[str, float]:
    """The rules' decision as features: its label and reason (weighted by its
    confidence) and each label's evidence total (log-scaled)."""
    conf = float(result.confidence)
    out = {"r:label:" + result.label: conf}
    if result.reason:
        out["r:reason:" + result.reason] = conf
    for lab, sc in (result.scores or {}).items():
        if sc > 0:
            out["r:score:" + lab] = math.log1p(sc)
    return out


@dataclass
class LinearModel:
    """A fitted multinomial linear model over reasons; see the module docstring.

    ``coef`` is (features x reasons), already multiplied by each text feature's IDF;
    text features are TF-IDF (sublinear TF, L2-normalised over the known features),
    rule features enter raw, times ``rule_scale``."""

    vocab: dict[str, int]
    idf: Any
    coef: Any
    intercept: Any
    classes: tuple[str, ...] = REASON_LIST
    rule_scale: float = 1.0
    ngram_max: int = 3
    calibration: tuple[tuple[float, ...], tuple[float, ...]] = ((0.0, 1.0), (0.0, 1.0))
    meta: dict[str, Any] = field(default_factory=dict)

    # -- scoring ---------------------------------------------------------------
    def scores(self, body: str, tokens: Sequence[str], rule_result: Any) -> tuple[Any, dict[int, list[Any]]]:
        """Decision values per class, and the known features found: row -> [feature, value, start, end]."""
        import numpy as np

        get = self.vocab.get
        found: dict[int, list[Any]] = {}
        for f, a, b in text_features(body, tokens, self.ngram_max):
            j = get(f)
            if j is None:
                continue
            hit = found.get(j)
            if hit is None:
                found[j] = [f, 1.0, a, b]
            else:
                hit[1] += 1.0
        idf = self.idf
        norm = 0.0
        for j, hit in found.items():
            tf = 1.0 + math.log(hit[1])
            hit[1] = tf
            norm += (tf * idf[j]) ** 2
        norm = math.sqrt(norm) or 1.0
        for hit in found.values():
            hit[1] /= norm
        for f, v in rule_features(rule_result).items():
            j = get(f)
            if j is not None:
                found[j] = [f, v * self.rule_scale, 0, 0]
        if not found:
            return self.intercept.copy(), found
        rows = list(found)
        vals = np.fromiter((found[j][1] for j in rows), dtype=np.float64, count=len(rows))
        return self.intercept + vals @ self.coef[rows], found

    def predict(self, body: str, tokens: Sequence[str], rule_result: Any) -> Prediction:
        """The model's reason, label, calibrated confidence and the features behind it."""
        import numpy as np

        z, found = self.scores(body, tokens, rule_result)
        z = z - z.max()
        p = np.exp(z)
        p /= p.sum()
        by_label = dict.fromkeys(LABELS, 0.0)
        for c, pr in zip(self.classes, p, strict=True):
            by_label[REASONS[c]] += float(pr)
        label = max(LABELS, key=lambda lab: by_label[lab])
        k = max((i for i, c in enumerate(self.classes) if REASONS[c] == label), key=lambda i: p[i])
        return Prediction(label, self.classes[k], by_label[label], self.calibrate(by_label[label]), k, p, found)

    def calibrate(self, prob: float) -> float:
        """P(the label is right | the model's top probability), from the isotonic curve."""
        xs, ys = self.calibration
        if prob <= xs[0]:
            return ys[0]
        if prob >= xs[-1]:
            return ys[-1]
        lo, hi = 0, len(xs) - 1
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if xs[mid] <= prob:
                lo = mid
            else:
                hi = mid
        x0, x1 = xs[lo], xs[hi]
        return ys[lo] + (ys[hi] - ys[lo]) * ((prob - x0) / (x1 - x0) if x1 > x0 else 0.0)

    def contributions(self, pred: Prediction, top: int = 5) -> list[tuple[str, int, int, float]]:
        """The features that pushed the chosen reason up most against the runner-up
        class of another label: (feature, start, end, weight), strongest first."""
        import numpy as np

        other = [i for i, c in enumerate(self.classes) if REASONS[c] != pred.label]
        if not pred.found or not other:
            return []
        k2 = max(other, key=lambda i: pred.probs[i])
        rows = list(pred.found)
        vals = np.array([pred.found[j][1] for j in rows])
        contrib = vals * (self.coef[rows, pred.index] - self.coef[rows, k2])
        order = [int(i) for i in np.argsort(-contrib)[:top] if contrib[i] > 0]
        return [(pred.found[rows[i]][0], pred.found[rows[i]][2], pred.found[rows[i]][3], float(contrib[i]))
                for i in order]

    # -- persistence -------------------------------------------------------------
    @property
    def n_items(self) -> int:
        return int(self.meta.get("items", 0))

    def save(self, path: str | os.PathLike[str]) -> None:
        """One ``.npz`` (numpy arrays, no pickle), written atomically: a gateway may be reading it."""
        import numpy as np

        p = Path(path)
        tmp = p.with_name(p.name + ".tmp.npz")
        words = sorted(self.vocab, key=self.vocab.__getitem__)
        header = {"kind": MODEL_KIND, "version": MODEL_VERSION, "classes": list(self.classes),
                  "rule_scale": self.rule_scale, "ngram_max": self.ngram_max,
                  "calibration": [list(self.calibration[0]), list(self.calibration[1])], "meta": self.meta}
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, header=np.array(json.dumps(header, ensure_ascii=False)),
                                vocab=np.array("\n".join(words)), idf=self.idf.astype(np.float32),
                                coef=self.coef.astype(np.float32), intercept=self.intercept.astype(np.float64))
        os.replace(tmp, p)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> LinearModel:
        import zipfile

        import numpy as np

        p = Path(path)
        try:
            with np.load(p, allow_pickle=False) as z:
                header = json.loads(str(z["header"]))
                words = str(z["vocab"]).split("\n")
                idf = z["idf"].astype(np.float64)
                coef = z["coef"].astype(np.float64)
                intercept = z["intercept"].astype(np.float64)
        except OSError as exc:
            raise ModelError(f"{p}: cannot read model: {exc.strerror or exc}") from exc
        except (ValueError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
            raise ModelError(f"{p}: not a triage model file ({exc})") from exc
        if not isinstance(header, dict) or header.get("kind") != MODEL_KIND:
            raise ModelError(f"{p}: not a linear triage model")
        if header.get("version") != MODEL_VERSION:
            raise ModelError(f"{p}: model version {header.get('version')!r}, expected {MODEL_VERSION}")
        classes = tuple(header.get("classes") or ())
        if not classes or any(c not in REASONS for c in classes):
            raise ModelError(f"{p}: unknown classes {classes!r}")
        if coef.shape != (len(words), len(classes)) or idf.shape != (len(words),) or intercept.shape != (
                len(classes),):
            raise ModelError(f"{p}: array shapes do not fit ({coef.shape}, {idf.shape}, {intercept.shape})")
        if not (np.isfinite(coef).all() and np.isfinite(idf).all() and np.isfinite(intercept).all()):
            raise ModelError(f"{p}: the model has non-finite numbers")
        xs, ys = header.get("calibration") or [[0.0, 1.0], [0.0, 1.0]]
        if len(xs) != len(ys) or len(xs) < 2 or list(xs) != sorted(xs):
            raise ModelError(f"{p}: bad calibration curve")
        vocab = {w: i for i, w in enumerate(words)}
        # The text features' IDF is folded into the coefficients once, here.
        text_rows = np.array([not w.startswith("r:") for w in words])
        coef = coef * np.where(text_rows, idf, 1.0)[:, None]
        return cls(vocab, idf, coef, intercept, classes, float(header.get("rule_scale", 1.0)),
                   int(header.get("ngram_max", 3)), (tuple(map(float, xs)), tuple(map(float, ys))),
                   dict(header.get("meta") or {}))


def read_meta(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The model file's description (when trained, on how many items, its CV figures) without
    loading the model: for status pages."""
    import zipfile

    import numpy as np

    p = Path(path)
    try:
        with np.load(p, allow_pickle=False) as z:
            header = json.loads(str(z["header"]))
    except OSError as exc:
        raise ModelError(f"{p}: cannot read model: {exc.strerror or exc}") from exc
    except (ValueError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
        raise ModelError(f"{p}: not a triage model file ({exc})") from exc
    if not isinstance(header, dict) or header.get("kind") != MODEL_KIND:
        raise ModelError(f"{p}: not a linear triage model")
    return dict(header.get("meta") or {})


@dataclass
class Prediction:
    label: str
    reason: str
    probability: float
    confidence: float
    index: int
    probs: Any
    found: dict[int, list[Any]]
