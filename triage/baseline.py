"""The comparison bar: TF-IDF (characters and jieba words) + logistic regression.

The issue measures the keyword triage against "a plain supervised model trained
on dev.jsonl". This module rebuilds such a model with numpy only (no
scikit-learn in the project), so the bar can be measured on our own held-back
items with the same metric code::

    python -m triage.baseline TRAIN.jsonl [TRAIN2.jsonl ...] --test TEST.jsonl [--test ...]

Features: character 1-3-grams and jieba words of the normalised text, sublinear
TF, smoothed IDF, L2-normalised rows (scikit-learn's ``TfidfVectorizer``
defaults).  Classifier: multinomial logistic regression with an L2 penalty
(``C`` as in scikit-learn), fitted by full-batch gradient descent with Adam.
It is a measuring stick, not part of the triage.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .evaluate import Prediction, compute_metrics, read_jsonl
from .normalize import analysis_end, normalize
from .result import LABELS


def _features(text: str, tok: Any) -> list[str]:
    norm = normalize(text)
    body = norm[: analysis_end(norm)]
    chars = [c for c in body if not c.isspace()]
    feats = [f"c:{c}" for c in chars]
    feats += [f"b:{a}{b}" for a, b in itertools.pairwise(chars)]
    feats += [f"t:{a}{b}{c}" for a, b, c in zip(chars, chars[1:], chars[2:], strict=False)]
    feats += [f"w:{w}" for w in tok.lcut(body, HMM=False) if w.strip()]
    return feats


class TfidfLogReg:
    """Fit on texts and labels; predict labels."""

    def __init__(self, C: float = 10.0, epochs: int = 400, lr: float = 0.05):
        self.C = C
        self.epochs = epochs
        self.lr = lr

    def _matrix(self, docs: list[list[str]]) -> Any:
        import numpy as np

        x = np.zeros((len(docs), len(self.vocab)), dtype=np.float64)
        for i, feats in enumerate(docs):
            counts: dict[int, int] = {}
            for f in feats:
                j = self.vocab.get(f)
                if j is not None:
                    counts[j] = counts.get(j, 0) + 1
            for j, n in counts.items():
                x[i, j] = (1.0 + math.log(n)) * self.idf[j]
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return x / norms

    def fit(self, texts: Sequence[str], labels: Sequence[str], tok: Any) -> TfidfLogReg:
        import numpy as np

        docs = [_features(t, tok) for t in texts]
        df: dict[str, int] = {}
        for feats in docs:
            for f in set(feats):
                df[f] = df.get(f, 0) + 1
        self.vocab = {f: i for i, f in enumerate(sorted(df))}
        n = len(docs)
        self.idf = np.array([math.log((1 + n) / (1 + df[f])) + 1.0 for f in sorted(df)])
        x = self._matrix(docs)
        y = np.zeros((n, len(LABELS)))
        for i, lab in enumerate(labels):
            y[i, LABELS.index(lab)] = 1.0
        w = np.zeros((x.shape[1], len(LABELS)))
        b = np.zeros(len(LABELS))
        m_w, v_w, m_b, v_b = (np.zeros_like(w), np.zeros_like(w), np.zeros_like(b), np.zeros_like(b))
        for step in range(1, self.epochs + 1):
            z = x @ w + b
            z -= z.max(axis=1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(axis=1, keepdims=True)
            # scikit-learn's objective: C * sum(log loss) + 0.5 * ||w||^2
            g_w = self.C * (x.T @ (p - y)) + w
            g_b = self.C * (p - y).sum(axis=0)
            for g, m, v, param in ((g_w, m_w, v_w, w), (g_b, m_b, v_b, b)):
                m *= 0.9
                m += 0.1 * g
                v *= 0.999
                v += 0.001 * g * g
                param -= self.lr * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)
        self.w, self.b = w, b
        self._tok = tok
        return self

    def predict(self, texts: Sequence[str]) -> list[str]:
        x = self._matrix([_features(t, self._tok) for t in texts])
        return [LABELS[int(k)] for k in (x @ self.w + self.b).argmax(axis=1)]


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("train", nargs="+", type=Path)
    ap.add_argument("--test", action="append", type=Path, required=True)
    ap.add_argument("--C", type=float, action="append")
    args = ap.parse_args(argv)
    from .engine import _tokenizer

    tok = _tokenizer()
    train = [r for p in args.train for r in read_jsonl(p)]
    for c in args.C or [1.0, 10.0, 100.0]:
        model = TfidfLogReg(C=c).fit([r["text"] for r in train], [r["label"] for r in train], tok)
        for p in args.test:
            recs = read_jsonl(p)
            pred = model.predict([r["text"] for r in recs])
            m = compute_metrics([r["label"] for r in recs], [None] * len(recs),
                                [Prediction(lab, None) for lab in pred])
            print(json.dumps({"C": c, "test": str(p), "n": m["n"], "macro_f1": round(m["macro_f1"], 3),
                              "accuracy": round(m["accuracy"], 3)}))


if __name__ == "__main__":
    main()
