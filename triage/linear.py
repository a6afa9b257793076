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
from itertools import chain, repeat
from pathlib import Path
from typing import Any

from .result import LABELS, REASONS

MODEL_KIND = "linear"
MODEL_VERSION = 2
REASON_LIST: tuple[str, ...] = tuple(REASONS)

_SKIP = re.compile(r"^[\s\W_]+$")
_DIGITS = re.compile(r"^[0-9.]+$")
_SPACE = frozenset(" \t\r\n\u3000")
_NUMERIC = frozenset("0123456789.")
_SENTINEL = (1 << 64) - 1  # above every n-gram key (at most 63 bits)
_WORD_MEMO = 200_000  # tokens remembered with their feature row (see LinearModel._word_rows)
_WORD_MEMO_LONGEST = 16  # longer tokens (pasted runs of letters) are looked up, not remembered


class ModelError(ValueError):
    """A model file is missing, malformed or of another version."""


def text_features(body: str, tokens: Sequence[str], ngram_max: int = 3,
                  ngram_min: int = 1) -> list[tuple[str, int, int]]:
    """(feature, start, end) for the n-grams and words of a text; offsets into ``body``.

    ``c:`` character ``ngram_min``..``ngram_max``-grams without blanks, ``w:`` the jieba words
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
            if k >= ngram_min:
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
    ngram_min: int = 1
    calibration: tuple[tuple[float, ...], tuple[float, ...]] = ((0.0, 1.0), (0.0, 1.0))
    meta: dict[str, Any] = field(default_factory=dict)

    # -- scoring ---------------------------------------------------------------
    def _index(self) -> tuple[Any, Any, dict[str, int], list[str], Any, tuple[Any, ...], Any, Any]:
        """Look-up tables built once: the character n-grams as sorted integer keys (``_gram_key``;
        a sentinel above every key closes the array, so a search never runs off its end) with their
        rows, the words without their ``w:`` prefix, the feature names by row, each class's label
        index, for each label the classes of the other labels, and the classes grouped by label
        with where each group starts."""
        cached = self.__dict__.get("_tables")
        if cached is None:
            import numpy as np

            names = sorted(self.vocab, key=self.vocab.__getitem__)
            grams = sorted((_gram_key(f[2:]), j) for f, j in self.vocab.items() if f.startswith("c:"))
            keys = np.array([k for k, _j in grams] + [_SENTINEL], dtype=np.uint64)
            rows = np.array([j for _k, j in grams] + [-1], dtype=np.intp)
            # numbers are one feature, "#"; a literal "#" (punctuation) is none
            words = {("\0#" if f == "w:#" else f[2:]): j for f, j in self.vocab.items() if f.startswith("w:")}
            label_of = np.array([LABELS.index(REASONS[c]) for c in self.classes], dtype=np.intp)
            others = tuple(np.flatnonzero(label_of != li) for li in range(len(LABELS)))
            # the classes grouped by label (in class order within a label) and where each group starts
            perm = np.argsort(label_of, kind="stable")
            label_starts = np.searchsorted(label_of.take(perm), np.arange(len(LABELS)))
            # labels with no class of this model (trained on a few items) have no group
            present = np.flatnonzero(np.bincount(label_of, minlength=len(LABELS)))
            label_starts = (present, label_starts.take(present))
            cached = self.__dict__["_tables"] = (keys, rows, words, names, label_of, others, perm,
                                                 label_starts)
        return cached

    def scores(self, body: str, tokens: Sequence[str], rule_result: Any) -> tuple[Any, Any, Any]:
        """Decision values per class, the rows of the known features and their values.

        Exactly the features of :func:`text_features` and :func:`rule_features`; one text's
        :meth:`_batch_scores`."""
        z, rows, vals, bounds = self._batch_scores([body], [tokens], [rule_result])
        return z[0], rows[bounds[0]:bounds[1]], vals[bounds[0]:bounds[1]]

    def _batch_scores(self, bodies: Sequence[str], tokens_list: Sequence[Sequence[str]],
                      rule_results: Sequence[Any]) -> tuple[Any, Any, Any, Any]:
        """Decision values (texts x classes), and the rows and values of every text's known features,
        one text after another (text ``d``'s are ``rows[bounds[d]:bounds[d + 1]]``: its n-grams and
        words in row order, then the rules' features).

        Why integer keys: looking up every n-gram of a text as a Python string cost two thirds of
        the learned stage; as 64-bit keys the texts are one vectorised ``searchsorted``.  Why
        batches: on short texts the learned stage was mostly the fixed cost of a dozen numpy calls
        per text; a batch pays it once.  One text is a batch of one, so both give the same numbers.
        The texts are joined with a newline: an n-gram across it has a blank, and n-grams with a
        blank are never in the vocabulary (:func:`text_features`), so none crosses from one text
        into the next."""
        import numpy as np

        gram_keys, gram_rows = self._index()[:2]
        n_docs = len(bodies)
        n_feat = len(self.vocab)
        single = n_docs == 1  # the in-line case: no text boundaries to find
        keys, offsets = _ngram_keys(bodies[0] if single else "\n".join(bodies), self.ngram_min,
                                    self.ngram_max, offsets=not single)
        # searched in sorted order: each search starts near the last one (twice as fast on a batch)
        order = keys.argsort()
        keys = keys.take(order)
        at = gram_keys.searchsorted(keys)
        hit = gram_keys.take(at) == keys
        found = gram_rows.take(at[hit])
        tokens_all = tokens_list[0] if single else list(chain.from_iterable(tokens_list))
        word_rows = self._word_rows(tokens_all)
        known = word_rows >= 0
        found = np.concatenate((found, word_rows[known]))
        if not single:
            doc_ids = np.arange(n_docs)
            char_doc = np.repeat(doc_ids, [len(b) + 1 for b in bodies])
            token_doc = np.repeat(doc_ids, [len(tokens) for tokens in tokens_list])
            doc = np.concatenate((char_doc.take(offsets.take(order[hit])), token_doc[known]))
        get = self.vocab.get
        extra = [(d, j, v * self.rule_scale) for d, res in enumerate(rule_results)
                 for f, v in rule_features(res).items() if (j := get(f)) is not None]
        if single:
            rows, counts = np.unique(found, return_counts=True)
            vals = np.log(counts)
            vals += 1.0
            weighted = vals * self.idf.take(rows)
            weighted *= weighted
            # summed as the batch sums it (bincount, in order), so one text gets a batch's numbers
            vals /= math.sqrt(np.bincount(np.zeros(len(rows), dtype=np.intp), weights=weighted,
                                          minlength=1)[0]) or 1.0
            if extra:  # the rules' features after the words
                rows = np.concatenate((rows, np.array([j for _d, j, _v in extra], dtype=np.intp)))
                vals = np.concatenate((vals, np.array([v for _d, _j, v in extra])))
            bounds = np.array([0, len(rows)])
        else:
            # (text, row) pairs with their counts, sorted by text, then row
            pairs, counts = np.unique(doc * n_feat + found, return_counts=True)
            rows = pairs % n_feat
            doc = pairs // n_feat
            vals = np.log(counts)
            vals += 1.0
            weighted = vals * self.idf.take(rows)
            norms = np.sqrt(np.bincount(doc, weights=weighted * weighted, minlength=n_docs))
            norms[norms == 0.0] = 1.0
            vals /= norms.take(doc)
            if extra:
                edoc = np.array([d for d, _j, _v in extra], dtype=np.intp)
                order = np.argsort(np.concatenate((doc, edoc)), kind="stable")  # each text's rules after its words
                doc = np.concatenate((doc, edoc)).take(order)
                rows = np.concatenate((rows, np.array([j for _d, j, _v in extra], dtype=np.intp))).take(order)
                vals = np.concatenate((vals, np.array([v for _d, _j, v in extra]))).take(order)
            bounds = np.searchsorted(doc, np.arange(n_docs + 1))
        z = np.tile(self.intercept, (n_docs, 1))
        if len(rows):
            # each text's sum of value x coefficient rows, added in row order (the same sum, in the
            # same order, whatever the batch: a text's decision never depends on its neighbours)
            weighted_coef = self.coef.take(rows, axis=0)
            weighted_coef *= vals[:, None]
            present = np.flatnonzero(bounds[1:] > bounds[:-1])
            z[present] += np.add.reduceat(weighted_coef, bounds[present], axis=0)
        return z, rows, vals, bounds

    def _word_rows(self, tokens: Sequence[str]) -> Any:
        """The row of each token's ``w:`` feature, -1 for a token that is none (numbers are ``#``).

        Why a memo: one dictionary look-up per token, in C (``map``), where testing every token for
        a number first cost a fifth of the learned stage.  Tokens repeat across texts; the memo keeps
        tokens of up to ``_WORD_MEMO_LONGEST`` characters and starts again past ``_WORD_MEMO``
        entries (a few MB at most).  Punctuation tokens are no feature, as in training (until
        2026-12-08 a run of dots counted as a number here but not in training)."""
        import numpy as np

        memo = self.__dict__.get("_word_memo")
        if memo is None or len(memo) > _WORD_MEMO:
            memo = self.__dict__["_word_memo"] = {}
        rows = np.fromiter(map(memo.get, tokens, repeat(-2)), dtype=np.intp, count=len(tokens))
        unseen = np.flatnonzero(rows == -2)
        if len(unseen):
            words = self._index()[2]
            for i in unseen.tolist():
                t = tokens[i]
                # as text_features makes them: punctuation ("...", "。") is no word, numbers are "#"
                j = None if _SKIP.match(t) else words.get("\0#" if t[:1] in _NUMERIC and _DIGITS.match(t) else t)
                rows[i] = -1 if j is None else j
                if len(t) <= _WORD_MEMO_LONGEST:  # a 30,000-letter run pasted into a form is not kept
                    memo[t] = -1 if j is None else j
        return rows

    def predict(self, body: str, tokens: Sequence[str], rule_result: Any) -> Prediction:
        """The model's reason, label, calibrated confidence and the features behind it."""
        return self.predict_many([body], [tokens], [rule_result])[0]

    def predict_many(self, bodies: Sequence[str], tokens_list: Sequence[Sequence[str]],
                     rule_results: Sequence[Any]) -> list[Prediction]:
        """:meth:`predict` for several texts at once: the same results, bit for bit, at a batch's
        cost.  Each prediction carries how much each of its features pushed the chosen reason up
        against the runner-up class of another label (:meth:`contributions`)."""
        import numpy as np

        tables = self._index()
        label_of, perm, label_starts = tables[4], tables[6], tables[7]
        n_docs = len(bodies)
        z, rows, vals, bounds = self._batch_scores(bodies, tokens_list, rule_results)
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        # each label's probability: its classes' summed in class order (reduceat, not a matrix product,
        # whose rounding may depend on the batch's shape)
        has_classes, group_starts = label_starts
        by_label = np.zeros((n_docs, len(LABELS)))
        if n_docs:
            by_label[:, has_classes] = np.add.reduceat(p.take(perm, axis=1), group_starts, axis=1)
        chosen = by_label.argmax(axis=1)  # the first of equals, as max() over LABELS
        same = label_of[None, :] == chosen[:, None]
        best = np.where(same, p, -1.0).argmax(axis=1)
        runner_up = np.where(same, -1.0, p).argmax(axis=1)  # the likeliest class of another label
        # every feature's push towards the chosen class against that runner-up (none when no class
        # of another label exists: nothing to push against)
        pushes = (~same).any(axis=1)
        if n_docs == 1:
            picked = self.coef.take(rows, axis=0)
            contrib = vals * (picked[:, best[0]] - picked[:, runner_up[0]]) * pushes[0]
        else:
            doc = np.repeat(np.arange(n_docs), np.diff(bounds))
            contrib = vals * (self.coef[rows, best.take(doc)] - self.coef[rows, runner_up.take(doc)])
            contrib *= pushes.take(doc)
        out = []
        for d, (li, k) in enumerate(zip(chosen.tolist(), best.tolist(), strict=True)):
            prob = float(by_label[d, li])
            a, b = int(bounds[d]), int(bounds[d + 1])
            out.append(Prediction(LABELS[li], self.classes[k], prob, self.calibrate(prob), k, p[d],
                                  rows[a:b], vals[a:b], contrib[a:b]))
        return out

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

    def contributions(self, pred: Prediction, body: str, tokens: Sequence[str],
                      top: int = 5) -> list[tuple[str, int, int, float]]:
        """The features that pushed the chosen reason up most against the runner-up class of
        another label: (feature, start, end, weight), strongest first; the position is the
        feature's first occurrence in ``body`` (0, 0 for the rules' decision)."""
        import numpy as np

        names = self._index()[3]
        out = []
        # strongest first; equals in row order (a stable sort, not argpartition: the same every time)
        for i in np.argsort(-pred.contrib, kind="stable")[:top].tolist():
            weight = float(pred.contrib[i])
            if weight <= 0:
                break
            name = names[int(pred.rows[i])]
            a = b = 0
            if not name.startswith("r:"):
                a, b = _locate(name, body, tokens)
            out.append((name, a, b, weight))
        return out

    # -- persistence -------------------------------------------------------------
    @property
    def n_items(self) -> int:
        return int(self.meta.get("items", 0))

    def save(self, path: str | os.PathLike[str]) -> None:
        """One ``.npz`` (numpy arrays, no pickle; not compressed: it loads faster), written atomically: a
        gateway may be reading it."""
        import numpy as np

        p = Path(path)
        tmp = p.with_name(p.name + ".tmp.npz")
        words = sorted(self.vocab, key=self.vocab.__getitem__)
        header = {"kind": MODEL_KIND, "version": MODEL_VERSION, "classes": list(self.classes),
                  "rule_scale": self.rule_scale, "ngram_max": self.ngram_max, "ngram_min": self.ngram_min,
                  "calibration": [list(self.calibration[0]), list(self.calibration[1])], "meta": self.meta}
        with open(tmp, "wb") as fh:
            np.savez(fh, header=np.array(json.dumps(header, ensure_ascii=False)),
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
                   int(header.get("ngram_max", 3)), int(header.get("ngram_min", 1)),
                   (tuple(map(float, xs)), tuple(map(float, ys))),
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


def _gram_key(gram: str) -> int:
    """A character n-gram (n <= 3) as one integer: each code point + 1 in 21 bits, so n-grams of
    different lengths never collide and a trigram fits in 63 bits."""
    key = 0
    for ch in gram:
        key = (key << 21) | (ord(ch) + 1)
    return key


def _ngram_keys(body: str, ngram_min: int, ngram_max: int, offsets: bool = True) -> tuple[Any, Any]:
    """The keys (:func:`_gram_key`) of every ``ngram_min``..``ngram_max``-gram of ``body`` and where
    each starts (None without ``offsets``), in one numpy pass over its code points (a k-gram's key
    is the (k-1)-gram's shifted, or the next point)."""
    import numpy as np

    cp = np.frombuffer(body.encode("utf-32-le", "surrogatepass"), dtype="<u4").astype(np.uint64)
    cp += 1
    parts = []
    key = cp
    for k in range(1, ngram_max + 1):
        if k > 1:
            key = (key[:-1] << 21) | cp[k - 1:]
        if not len(key):
            break
        if k >= ngram_min:
            parts.append(key)
    if not parts:
        return cp[:0], np.zeros(0, dtype=np.intp) if offsets else None
    where = np.concatenate([np.arange(len(x), dtype=np.intp) for x in parts]) if offsets else None
    return (np.concatenate(parts) if len(parts) > 1 else parts[0]), where


def _locate(name: str, body: str, tokens: Sequence[str]) -> tuple[int, int]:
    """Where a text feature first occurs in ``body``: an n-gram or a word (``#``: the first number)."""
    kind, s = name[:2], name[2:]
    if kind == "w:":
        if s != "#":
            try:
                k = tokens.index(s)  # the first occurrence, found in C
            except ValueError:
                return 0, 0
            pos = sum(map(len, tokens[:k]))
            return pos, pos + len(s)
        pos = 0
        for t in tokens:
            if _DIGITS.match(t) and not _SKIP.match(t):
                return pos, pos + len(t)
            pos += len(t)
        return 0, 0
    a = body.find(s)
    return (a, a + len(s)) if a >= 0 else (0, 0)


@dataclass
class Prediction:
    label: str
    reason: str
    probability: float
    confidence: float
    index: int
    probs: Any
    rows: Any
    vals: Any
    #: each feature's push towards ``reason`` against the runner-up of another label (aligned with ``rows``)
    contrib: Any
