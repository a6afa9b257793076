"""Does the triage learn from the team's corrections?  Issue #19, point 2, measured on a batch.

    python benchmarks/triage_learning.py BATCH.jsonl [--corrections 120] [--splits 3] [--weight W] [--json]

For each random split of the batch (seeds 0, 1, …): ``--corrections`` items become the triage
team's corrections and are added to the packaged training set exactly as ``hcp triage train``
adds them (the latest label per case, weighted by ``Settings.correction_weight`` unless
``--weight`` is given); the model is retrained (calibration on out-of-fold predictions, as
shipped) and the rest of the batch is scored before (the packaged model) and after.  The
bar (``triage.baseline`` on ``dev.jsonl``, then on ``dev.jsonl`` plus the same corrections) is
scored on the same items.  Nothing is scored on an item it was trained on.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import statistics
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from triage.baseline import make_baseline  # noqa: E402
from triage.engine import Triager  # noqa: E402
from triage.evaluate import Prediction, compute_metrics, read_jsonl  # noqa: E402
from triage.linear import LinearModel  # noqa: E402
from triage.train import BASE_DATA, Settings, analyse, train  # noqa: E402

DEV = Path("/work/shared/triage/dev.jsonl")


def _scores(recs: list[dict[str, Any]], preds: list[Prediction]) -> dict[str, float]:
    m = compute_metrics([r["label"] for r in recs], [r.get("reason") for r in recs], preds)
    return {k: m[k] for k in ("macro_f1", "auto_precision", "review_share")}


def _triage_preds(t: Triager, recs: list[dict[str, Any]]) -> list[Prediction]:
    out = []
    for r in recs:
        res = t.classify(r["text"], channel=r.get("channel"))
        out.append(Prediction(res.label, res.reason, res.needs_review))
    return out


def _baseline_preds(train_rows: list[dict[str, Any]], recs: list[dict[str, Any]]) -> list[Prediction]:
    clf = make_baseline(C=10.0)
    clf.fit([r["text"] for r in train_rows], [r["label"] for r in train_rows])
    return [Prediction(lab, None, False) for lab in clf.predict([r["text"] for r in recs])]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("batch", type=Path)
    ap.add_argument("--corrections", type=int, default=120)
    ap.add_argument("--splits", type=int, default=3)
    ap.add_argument("--weight", type=float, default=None, help="weight of a correction (default: Settings)")
    ap.add_argument("--baseline-train", type=Path, default=DEV)
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="a training setting (triage.train.Settings) for both models; 'before' is then "
                         "retrained on the packaged training set with it instead of the packaged model")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    batch = read_jsonl(args.batch)
    if len(batch) <= args.corrections:
        raise SystemExit(f"{args.batch}: {len(batch)} items, need more than --corrections {args.corrections}")
    packaged = Triager.from_rules_file(None)
    rules_only = Triager(dataclasses.replace(packaged.rules, learned=None))
    current = packaged.learned_model()
    settings = Settings(**(current.meta.get("settings") or {})) if current is not None else Settings()
    if args.weight is not None:
        settings = dataclasses.replace(settings, correction_weight=args.weight)
    for item in args.set:
        name, _, value = item.partition("=")
        kind = type(getattr(settings, name))
        settings = dataclasses.replace(settings, **{name: kind(value)})
    base_rows = read_jsonl(BASE_DATA)
    base_items = analyse(rules_only, base_rows)
    if args.set:
        path = Path("/tmp/hcp-learning-before.npz")
        train(base_items, settings).save(path)
        packaged = Triager(packaged.rules, model=LinearModel.load(path))
    dev_rows = read_jsonl(args.baseline_train) if args.baseline_train.exists() else []

    runs = []
    for seed in range(args.splits):
        order = list(range(len(batch)))
        random.Random(seed).shuffle(order)
        corr = [dict(batch[i], _weight=settings.correction_weight) for i in order[: args.corrections]]
        rest = [batch[i] for i in order[args.corrections:]]
        items = base_items + analyse(rules_only, corr)
        model: LinearModel = train(items, settings)
        path = Path(f"/tmp/hcp-learning-{seed}.npz")
        model.save(path)
        retrained = Triager(packaged.rules, model=LinearModel.load(path))
        run = {"seed": seed, "before": _scores(rest, _triage_preds(packaged, rest)),
               "after": _scores(rest, _triage_preds(retrained, rest))}
        if dev_rows:
            run["baseline_before"] = _scores(rest, _baseline_preds(dev_rows, rest))
            run["baseline_after"] = _scores(rest, _baseline_preds(dev_rows + corr, rest))
        runs.append(run)
        if not args.json:
            gain = run["after"]["macro_f1"] - run["before"]["macro_f1"]
            print(f"split {seed}: triage {run['before']['macro_f1']:.3f} -> {run['after']['macro_f1']:.3f} "
                  f"({gain:+.3f}); auto precision {run['after']['auto_precision'] or 0:.3f}, "
                  f"review {run['after']['review_share']:.1%}"
                  + (f"; baseline {run['baseline_before']['macro_f1']:.3f} -> "
                     f"{run['baseline_after']['macro_f1']:.3f}" if dev_rows else ""), flush=True)

    def mean(key: str, part: str) -> float:
        return statistics.fmean(r[part][key] or 0.0 for r in runs)

    gains = [r["after"]["macro_f1"] - r["before"]["macro_f1"] for r in runs]
    summary = {"batch": str(args.batch), "items": len(batch), "corrections": args.corrections,
               "weight": settings.correction_weight, "splits": runs,
               "mean_before": mean("macro_f1", "before"), "mean_after": mean("macro_f1", "after"),
               "mean_gain": statistics.fmean(gains),
               "gain_sd": statistics.stdev(gains) if len(gains) > 1 else 0.0}
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        print(f"mean over {len(runs)} splits: {summary['mean_before']:.3f} -> {summary['mean_after']:.3f}, "
              f"gain {summary['mean_gain']:+.3f} (sd {summary['gain_sd']:.3f}); correction weight "
              f"{settings.correction_weight:g}, {args.corrections} corrections, {len(batch) - args.corrections} scored")


if __name__ == "__main__":
    main()
