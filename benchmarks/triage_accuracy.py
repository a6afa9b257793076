"""Accuracy on held-out sets: the triage as packaged, the rules alone, and the TF-IDF + logistic regression bar.

    python benchmarks/triage_accuracy.py TEST.jsonl [TEST2.jsonl ...] [--baseline-train dev.jsonl] [--json]

For each test file: macro-F1, accuracy, reason accuracy, auto-routed precision and
review share of the packaged triage (rules + learned model) and of the rules
alone; the bar (``triage.baseline``, trained on ``--baseline-train`` only) at
C = 1, 10, 100, of which the best on that file is the one to beat; and the
triage's figures per channel and per text length.  Nothing here trains on a
test file.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from triage.baseline import make_baseline  # noqa: E402
from triage.engine import Triager  # noqa: E402
from triage.evaluate import Prediction, compute_metrics, read_jsonl  # noqa: E402
from triage.rules import load_rules  # noqa: E402

LENGTHS = ((0, 30, "< 30 chars"), (30, 100, "30-99 chars"), (100, 10**9, ">= 100 chars"))


def figures(recs: list[dict[str, Any]], preds: list[Prediction]) -> dict[str, Any]:
    m = compute_metrics([r["label"] for r in recs], [r.get("reason") for r in recs], preds)
    return {k: m[k] for k in ("n", "macro_f1", "accuracy", "reason_accuracy", "auto_precision", "review_share")}


def run(path: Path, triage: Triager, rules_only: Triager, baselines: dict[float, Any]) -> dict[str, Any]:
    recs = read_jsonl(path)

    def preds(t: Triager) -> list[Prediction]:
        out = []
        for r in recs:
            res = t.classify(r["text"], channel=r.get("channel"), rating=r.get("rating"),
                             reasons=r.get("reasons") or ())
            out.append(Prediction(res.label, res.reason, res.needs_review))
        return out

    tp = preds(triage)
    out: dict[str, Any] = {"file": str(path), "triage": figures(recs, tp), "rules": figures(recs, preds(rules_only))}
    for c, model in baselines.items():
        labels = model.predict([r["text"] for r in recs])
        out[f"baseline_C{c:g}"] = figures(recs, [Prediction(str(lab), None) for lab in labels])
    by_channel: dict[str, Any] = {}
    for ch in sorted({str(r.get("channel")) for r in recs}):
        idx = [i for i, r in enumerate(recs) if str(r.get("channel")) == ch]
        by_channel[ch] = figures([recs[i] for i in idx], [tp[i] for i in idx])
    by_length: dict[str, Any] = {}
    for lo, hi, name in LENGTHS:
        idx = [i for i, r in enumerate(recs) if lo <= len(r["text"]) < hi]
        if idx:
            by_length[name] = figures([recs[i] for i in idx], [tp[i] for i in idx])
    out["by_channel"] = by_channel
    out["by_length"] = by_length
    return out


def _f(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tests", nargs="+", type=Path)
    ap.add_argument("--baseline-train", type=Path, action="append")
    ap.add_argument("--rules", type=Path, default=None)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    triage = Triager(load_rules(args.rules))
    rules_only = Triager(dataclasses.replace(triage.rules, learned=None))
    train = [r for p in (args.baseline_train or [Path("/work/shared/triage/dev.jsonl")]) for r in read_jsonl(p)]
    baselines = {c: make_baseline(c).fit([r["text"] for r in train], [r["label"] for r in train])
                 for c in (1.0, 10.0, 100.0)}
    results = [run(p, triage, rules_only, baselines) for p in args.tests]
    if args.json:
        print(json.dumps(results, ensure_ascii=False, indent=1))
        return
    for res in results:
        print(f"\n## {res['file']}")
        print(f"{'':<22}{'n':>5}{'macro-F1':>10}{'acc':>8}{'reason':>8}{'auto prec':>11}{'review':>8}")
        rows = [(k, v) for k, v in res.items() if k in ("triage", "rules") or k.startswith("baseline")]
        rows += [(f"  channel {k}", v) for k, v in res["by_channel"].items()]
        rows += [(f"  {k}", v) for k, v in res["by_length"].items()]
        for name, m in rows:
            print(f"{name:<22}{m['n']:>5}{m['macro_f1']:>10.3f}{m['accuracy']:>8.3f}{_f(m['reason_accuracy']):>8}"
                  f"{_f(m['auto_precision']):>11}{m['review_share']:>8.3f}")


if __name__ == "__main__":
    main()
