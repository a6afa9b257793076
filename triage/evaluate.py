"""Evaluation metrics for triage: per-label P/R/F1, macro-F1, confusion matrix,
reason accuracy, auto-routed precision and review share.

The pure functions take plain sequences so tests can check the arithmetic on a
hand-made example; :func:`evaluate_file` runs a :class:`Triager` over a rubric
data file.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .result import LABELS, REASONS


class DataError(ValueError):
    """A data file is missing or malformed; the message names the line."""


@dataclass(frozen=True)
class Prediction:
    label: str
    reason: str | None
    needs_review: bool = False


def read_jsonl(path: str | Path, required: Sequence[str] = ("text", "label")) -> list[dict[str, Any]]:
    """Read a JSON-lines file; blank lines are skipped, errors name the line."""
    p = Path(path)
    try:
        raw = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataError(f"{p}: cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"{p}: not UTF-8 text") from exc
    out = []
    for no, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{p}:{no}: bad JSON: {exc.msg} (column {exc.colno})") from exc
        if not isinstance(obj, dict):
            raise DataError(f"{p}:{no}: expected a JSON object")
        missing = [k for k in required if k not in obj]
        if missing:
            raise DataError(f"{p}:{no}: missing field(s) {', '.join(missing)}")
        if "label" in required and obj["label"] not in LABELS:
            raise DataError(f"{p}:{no}: unknown label {obj['label']!r}")
        if obj.get("reason") is not None and obj["reason"] not in REASONS:
            raise DataError(f"{p}:{no}: unknown reason {obj['reason']!r}")
        obj["_line"] = no
        out.append(obj)
    return out


def confusion_matrix(gold: Sequence[str], pred: Sequence[str],
                     labels: Sequence[str] = LABELS) -> dict[str, dict[str, int]]:
    """``matrix[gold][pred]`` counts."""
    m = {g: dict.fromkeys(labels, 0) for g in labels}
    for g, p in zip(gold, pred, strict=True):
        m.setdefault(g, dict.fromkeys(labels, 0))
        m[g][p] = m[g].get(p, 0) + 1
    return m


def per_label_scores(gold: Sequence[str], pred: Sequence[str],
                     labels: Sequence[str] = LABELS) -> dict[str, dict[str, float]]:
    out = {}
    for lab in labels:
        tp = sum(1 for g, p in zip(gold, pred, strict=True) if g == lab and p == lab)
        fp = sum(1 for g, p in zip(gold, pred, strict=True) if g != lab and p == lab)
        fn = sum(1 for g, p in zip(gold, pred, strict=True) if g == lab and p != lab)
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        out[lab] = {"precision": prec, "recall": rec, "f1": f1, "support": tp + fn}
    return out


def macro_f1(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str] = LABELS) -> float:
    """Mean F1 over the labels that occur in gold or predictions."""
    scores = per_label_scores(gold, pred, labels)
    present = [lab for lab in labels if lab in set(gold) | set(pred)]
    return sum(scores[lab]["f1"] for lab in present) / len(present) if present else 0.0


def compute_metrics(gold_labels: Sequence[str], gold_reasons: Sequence[str | None],
                    predictions: Sequence[Prediction]) -> dict[str, Any]:
    """All figures the triage team looks at, as one JSON-friendly dict."""
    if not (len(gold_labels) == len(gold_reasons) == len(predictions)):
        raise ValueError("gold and predictions differ in length")
    n = len(predictions)
    pred = [p.label for p in predictions]
    reason_pairs = [(g, p.reason) for g, p in zip(gold_reasons, predictions, strict=True) if g is not None]
    auto = [(g, p.label) for g, p in zip(gold_labels, predictions, strict=True) if not p.needs_review]
    return {
        "n": n,
        "macro_f1": macro_f1(gold_labels, pred),
        "accuracy": sum(g == p for g, p in zip(gold_labels, pred, strict=True)) / n if n else 0.0,
        "per_label": per_label_scores(gold_labels, pred),
        "confusion": confusion_matrix(gold_labels, pred),
        "reason_accuracy": (sum(g == p for g, p in reason_pairs) / len(reason_pairs)) if reason_pairs else None,
        "auto_precision": (sum(g == p for g, p in auto) / len(auto)) if auto else None,
        "review_share": (n - len(auto)) / n if n else 0.0,
        "auto_routed": len(auto),
    }


EVAL_BATCH = 64


def evaluate_records(triager: Any, records: Iterable[dict[str, Any]]) -> tuple[dict[str, Any], list[Any]]:
    """Classify each record; return (metrics, [(record, TriageResult), ...])."""
    recs = list(records)
    items = [(r["text"], r.get("channel"), r.get("rating"), r.get("reasons") or ()) for r in recs]
    if hasattr(triager, "classify_many"):  # the same results as one by one, at a batch's cost
        results = [res for start in range(0, len(items), EVAL_BATCH)
                   for res in triager.classify_many(items[start:start + EVAL_BATCH])]
    else:
        results = [triager.classify(text, channel=channel, rating=rating, reasons=reasons)
                   for text, channel, rating, reasons in items]
    preds = [Prediction(res.label, res.reason, res.needs_review) for res in results]
    metrics = compute_metrics([r["label"] for r in recs], [r.get("reason") for r in recs], preds)
    return metrics, list(zip(recs, results, strict=True))


def evaluate_file(triager: Any, path: str | Path) -> tuple[dict[str, Any], list[Any]]:
    return evaluate_records(triager, read_jsonl(path))


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def format_report(m: dict[str, Any]) -> str:
    lines = [f"items: {m['n']}", "", f"{'label':<14}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>9}"]
    for lab, s in m["per_label"].items():
        lines.append(f"{lab:<14}{s['precision']:>10.3f}{s['recall']:>10.3f}{s['f1']:>10.3f}{s['support']:>9}")
    lines += [
        "",
        f"macro-F1          {m['macro_f1']:.3f}",
        f"accuracy          {m['accuracy']:.3f}",
        f"reason accuracy   {_pct(m['reason_accuracy'])}",
        f"auto precision    {_pct(m['auto_precision'])}  ({m['auto_routed']} routed automatically)",
        f"review share      {m['review_share']:.3f}",
        "",
        "confusion (rows = gold, columns = predicted)",
    ]
    labs = list(m["confusion"])
    short = {"immediate": "immed", "time_limited": "time", "coordinated": "coord", "none": "none"}
    lines.append(" " * 14 + "".join(f"{short.get(c, c)[:6]:>8}" for c in labs))
    for g in labs:
        lines.append(f"{g:<14}" + "".join(f"{m['confusion'][g].get(p, 0):>8}" for p in labs))
    return "\n".join(lines)


def format_error(rec: dict[str, Any], res: Any) -> str:
    deciding = [t for t in res.terms if not t.negated]
    negated = [t for t in res.terms if t.negated]
    text = rec["text"].replace("\n", " ⏎ ")
    out = [
        f"[{rec.get('id', rec.get('_line', '?'))}] gold {rec['label']}/{rec.get('reason')} -> "
        f"predicted {res.label}/{res.reason} (confidence {res.confidence:.2f}"
        f"{', review' if res.needs_review else ''})",
        f"    text: {text[:200]}{'…' if len(text) > 200 else ''}",
        "    terms: " + (", ".join(f"{t.term}@{t.start}→{t.reason}({t.weight:.2g})" for t in deciding) or "-"),
    ]
    if negated:
        out.append("    negated: " + ", ".join(f"{t.term}@{t.start}→{t.reason}" for t in negated))
    return "\n".join(out)
