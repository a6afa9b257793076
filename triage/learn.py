"""A small multinomial naive Bayes over jieba words, trained on labelled items.

Why it exists: keyword rules miss wording nobody wrote a rule for, and such
items then go to review as ``none``.  Naive Bayes learns which words go with
which reason from labelled data (the rubric's data files and the triage team's
corrections) and adds that as evidence to the rules (see ``engine``), where
every decision still shows the words behind it.

Why naive Bayes: a model of counts a person can read and check by hand, trained
in milliseconds, stored as a small JSON file of counts, and scored with one
numpy sum per item.

The model is over reasons (12 classes), so it gives a reason as well as a label;
a label's probability is the sum of its reasons'.  Features are the set of
words of an item (binary: a word counts once per item), which suits short texts.
Training, loading and scoring use plain Python and numpy only.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .result import LABELS, REASONS

MODEL_VERSION = 1
REASON_LIST: tuple[str, ...] = tuple(REASONS)

_SKIP = re.compile(r"^[\s\W_]+$")
_DIGITS = re.compile(r"^[0-9.]+$")


class ModelError(ValueError):
    """A model file is missing, malformed or of another version."""


FEATURE_KINDS = ("words", "words+bigrams")


def features(tokens: Iterable[str]) -> list[str]:
    """The words of an item that the model uses: no punctuation or blanks, numbers folded to "#".

    Tokens come from the same jieba tokenizer (with the rule words) as the rules see."""
    return [f for f, _s, _e in located_features(list(tokens), "words")]


def _cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff"


def located_features(tokens: Sequence[str], kind: str = "words") -> list[tuple[str, int, int]]:
    """(feature, start, end) for an item, offsets into the text the tokens were cut from.

    ``words``: the jieba words; ``words+bigrams`` adds pairs of adjacent Chinese
    characters, prefixed with "~" ("~排队"), which catch wording that jieba cuts
    differently from one text to the next."""
    out: list[tuple[str, int, int]] = []
    pos = 0
    for t in tokens:
        start = pos
        pos += len(t)
        if _SKIP.match(t):
            continue
        out.append(("#" if _DIGITS.match(t) else t, start, pos))
    if kind == "words+bigrams":
        text = "".join(tokens)
        for i in range(len(text) - 1):
            a, b = text[i], text[i + 1]
            if _cjk(a) and _cjk(b):
                out.append(("~" + a + b, i, i + 2))
    return out


@dataclass(frozen=True)
class Example:
    """One labelled item for training: its words and its reason (hence its label)."""

    words: tuple[str, ...]
    reason: str


@dataclass
class NaiveBayes:
    """Counts per reason; log probabilities are derived on load (see :meth:`compile`).

    ``doc_counts[r]`` is the number of training items of reason r;
    ``word_counts[w][r]`` the number of items of reason r that contain word w.
    """

    alpha: float = 0.1
    feature_kind: str = "words"
    doc_counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REASON_LIST, 0))
    word_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)
    trained_at: str = ""
    _compiled: Any = field(default=None, repr=False, compare=False)

    # -- training ---------------------------------------------------------------
    def add(self, words: Iterable[str], reason: str) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown reason {reason!r}")
        self.doc_counts[reason] = self.doc_counts.get(reason, 0) + 1
        for w in set(words):
            row = self.word_counts.setdefault(w, {})
            row[reason] = row.get(reason, 0) + 1
        self._compiled = None

    @classmethod
    def train(cls, examples: Iterable[Example], *, alpha: float = 0.1, feature_kind: str = "words",
              sources: Sequence[str] = ()) -> NaiveBayes:
        if feature_kind not in FEATURE_KINDS:
            raise ValueError(f"unknown feature kind {feature_kind!r}")
        model = cls(alpha=alpha, feature_kind=feature_kind, sources=list(sources),
                    trained_at=datetime.now(UTC).isoformat(timespec="seconds"))
        for ex in examples:
            model.add(ex.words, ex.reason)
        return model

    @property
    def n_items(self) -> int:
        return sum(self.doc_counts.values())

    # -- probabilities ----------------------------------------------------------
    def compile(self) -> Any:
        """Vocabulary index and a (words x reasons) table of log P(word | reason).

        Multinomial estimate over binary counts ("Boolean multinomial" naive
        Bayes) with add-``alpha`` smoothing:
        P(w | r) = (items of r containing w + alpha) / (sum of those counts over all w + alpha * |V|).
        Scoring sums log P(w | r) over the distinct known words of an item.
        Reasons without training items are left out (their score is -inf)."""
        import numpy as np

        if self._compiled is not None:
            return self._compiled
        vocab = {w: i for i, w in enumerate(sorted(self.word_counts))}
        n_r = np.array([self.doc_counts.get(r, 0) for r in REASON_LIST], dtype=np.float64)
        counts = np.zeros((len(vocab), len(REASON_LIST)), dtype=np.float64)
        ridx = {r: j for j, r in enumerate(REASON_LIST)}
        for w, row in self.word_counts.items():
            i = vocab[w]
            for r, n in row.items():
                counts[i, ridx[r]] = n
        a = self.alpha
        logp = np.log(counts + a) - np.log(counts.sum(axis=0) + a * max(len(vocab), 1))
        present = n_r > 0
        # Uniform prior over the labels that have data, split evenly among their reasons,
        # so the mix of the training file does not become a bias.
        prior = np.full(len(REASON_LIST), -np.inf)
        labels_with_data = {REASONS[r] for r, ok in zip(REASON_LIST, present, strict=True) if ok}
        for j, r in enumerate(REASON_LIST):
            if present[j]:
                siblings = sum(1 for k, s in enumerate(REASON_LIST) if present[k] and REASONS[s] == REASONS[r])
                prior[j] = -math.log(len(labels_with_data)) - math.log(siblings)
        self._compiled = (vocab, logp, prior, present)
        return self._compiled

    def reason_scores(self, words: Sequence[str]) -> tuple[Any, list[int]]:
        """Log joint scores per reason (prior + sum of log P(w|r) over distinct known words),
        and the vocabulary rows of those words."""
        vocab, logp, prior, _present = self.compile()
        get = vocab.get
        rows = sorted({i for i in map(get, words) if i is not None})
        if rows:
            return prior + logp[rows].sum(axis=0), rows
        return prior.copy(), rows

    def posterior(self, words: Sequence[str], temperature: float = 1.0) -> dict[str, float]:
        """P(label | words) with the log-likelihood divided by ``temperature``
        (naive Bayes is over-confident; a temperature above 1 softens it)."""
        import numpy as np

        scores, _rows = self.reason_scores(words)
        _vocab, _logp, prior, _present = self.compile()
        finite = np.isfinite(prior)  # reasons without training items stay out
        z = np.full_like(prior, -np.inf)
        z[finite] = prior[finite] + (scores[finite] - prior[finite]) / temperature
        m = z[finite].max()
        p = np.where(finite, np.exp(z - m), 0.0)
        p /= p.sum()
        out = dict.fromkeys(LABELS, 0.0)
        for j, r in enumerate(REASON_LIST):
            out[REASONS[r]] += float(p[j])
        return out

    # -- persistence -------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "version": MODEL_VERSION,
            "kind": "naive_bayes",
            "alpha": self.alpha,
            "features": self.feature_kind,
            "trained_at": self.trained_at,
            "sources": self.sources,
            "items": self.n_items,
            "doc_counts": {r: n for r, n in self.doc_counts.items() if n},
            "word_counts": {w: self.word_counts[w] for w in sorted(self.word_counts)},
        }

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write atomically (a running gateway may be reading the old file)."""
        p = Path(path)
        tmp = p.with_name(p.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":")) + "\n",
                       encoding="utf-8")
        os.replace(tmp, p)

    @classmethod
    def from_dict(cls, d: Any, name: str = "<model>") -> NaiveBayes:
        if not isinstance(d, dict) or d.get("kind") != "naive_bayes":
            raise ModelError(f"{name}: not a naive Bayes model file")
        if d.get("version") != MODEL_VERSION:
            raise ModelError(f"{name}: model version {d.get('version')!r}, expected {MODEL_VERSION}")
        alpha = d.get("alpha")
        if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha <= 10:
            raise ModelError(f"{name}: alpha must be a number in (0, 10], got {alpha!r}")
        kind = d.get("features", "words")
        if kind not in FEATURE_KINDS:
            raise ModelError(f"{name}: unknown features {kind!r} (expected one of {', '.join(FEATURE_KINDS)})")
        docs = d.get("doc_counts")
        words = d.get("word_counts")
        if not isinstance(docs, dict) or not isinstance(words, dict):
            raise ModelError(f"{name}: doc_counts and word_counts must be objects")
        model = cls(alpha=float(alpha), feature_kind=kind, sources=list(d.get("sources") or []),
                    trained_at=str(d.get("trained_at") or ""))
        for r, n in docs.items():
            if r not in REASONS or isinstance(n, bool) or not isinstance(n, int) or n < 0:
                raise ModelError(f"{name}: bad document count {r!r}: {n!r}")
            model.doc_counts[r] = n
        for w, row in words.items():
            if not isinstance(row, dict):
                raise ModelError(f"{name}: counts of word {w!r} must be an object")
            for r, n in row.items():
                if r not in REASONS or isinstance(n, bool) or not isinstance(n, int) or not 0 < n <= docs.get(r, 0):
                    raise ModelError(f"{name}: bad count for word {w!r}, reason {r!r}: {n!r}")
            model.word_counts[w] = dict(row)
        if not model.n_items:
            raise ModelError(f"{name}: the model has no training items")
        return model

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> NaiveBayes:
        p = Path(path)
        try:
            d = json.loads(p.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ModelError(f"{p}: cannot read model: {exc.strerror or exc}") from exc
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelError(f"{p}: not a JSON model file ({exc})") from exc
        return cls.from_dict(d, str(p))


def examples_from_records(records: Iterable[dict[str, Any]], tokenize: Any,
                          feature_kind: str = "words") -> tuple[list[Example], int]:
    """Training examples from rubric data rows (``text``, ``label``, ``reason``) or
    corrections turned into rows; ``tokenize(text)`` gives the analysed words
    (:meth:`triage.Triager.tokens`).  Rows without a reason of their label are
    skipped (the model is over reasons); returns (examples, number skipped)."""
    out: list[Example] = []
    skipped = 0
    for r in records:
        reason = r.get("reason")
        if reason not in REASONS or REASONS[reason] != r.get("label"):
            skipped += 1
            continue
        feats = [f for f, _a, _b in located_features(tokenize(r["text"]), feature_kind)]
        out.append(Example(tuple(feats), reason))
    return out, skipped


def train_from_records(records: Sequence[dict[str, Any]], tokenize: Any, *, alpha: float = 0.1,
                       feature_kind: str = "words", sources: Sequence[str] = ()) -> tuple[NaiveBayes, int]:
    """Train a model on rubric data rows; returns (model, rows skipped)."""
    examples, skipped = examples_from_records(records, tokenize, feature_kind)
    if not examples:
        raise ValueError("no labelled items with a reason to train on")
    return NaiveBayes.train(examples, alpha=alpha, feature_kind=feature_kind, sources=sources), skipped
