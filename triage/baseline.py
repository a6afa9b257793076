"""The comparison bar: TF-IDF (characters 1-3 and jieba words) + logistic regression, in scikit-learn.

The issue measures the triage against "a plain supervised model trained on
dev.jsonl" (about 20 lines of scikit-learn).  This is that model, so the bar is
measured with the same metric code on any labelled file::

    python -m triage.baseline TRAIN.jsonl [TRAIN2.jsonl ...] --test TEST.jsonl [--test ...] [--C 1 --C 10]

It is a measuring stick, not part of the triage (scikit-learn is imported here
only).  Several ``C`` are printed; report the best of them as the bar.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .evaluate import Prediction, compute_metrics, read_jsonl


def make_baseline(C: float = 1.0, sublinear_tf: bool = True) -> Any:
    """TF-IDF over character 1-3-grams and jieba words, joined; multinomial logistic regression."""
    import jieba
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union

    def words(text: str) -> list[str]:
        return [w for w in jieba.lcut(text) if w.strip()]

    chars = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=sublinear_tf)
    jwords = TfidfVectorizer(tokenizer=words, token_pattern=None, lowercase=False, sublinear_tf=sublinear_tf)
    return make_pipeline(make_union(chars, jwords), LogisticRegression(C=C, max_iter=5000))


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("train", nargs="+", type=Path)
    ap.add_argument("--test", action="append", type=Path, required=True)
    ap.add_argument("--C", type=float, action="append")
    args = ap.parse_args(argv)
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    train = [r for p in args.train for r in read_jsonl(p)]
    for c in args.C or [1.0, 10.0, 100.0]:
        model = make_baseline(c).fit([r["text"] for r in train], [r["label"] for r in train])
        for p in args.test:
            recs = read_jsonl(p)
            pred = model.predict([r["text"] for r in recs])
            m = compute_metrics([r["label"] for r in recs], [None] * len(recs),
                                [Prediction(str(lab), None) for lab in pred])
            print(json.dumps({"C": c, "test": str(p), "n": m["n"], "macro_f1": round(m["macro_f1"], 3),
                              "accuracy": round(m["accuracy"], 3)}))


if __name__ == "__main__":
    main()
