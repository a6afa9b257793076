"""Triage speed: items/s on one core, cold start, and cost relative to bare jieba.

    python benchmarks/triage.py [--seconds 3] [--data FILE.jsonl]

Texts of about 150 characters are built from the labelled data (short items are
joined, long ones cut).  "bare jieba" is ``lcut`` with the same tokenizer and
dictionary over the same texts, so the ratio is the cost of normalisation,
clean-up, rules, negation and scoring on top of segmentation.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEFAULT_DATA = [Path("/work/shared/triage/dev.jsonl"), ROOT / "tests/triage/data/heldout.jsonl"]


def build_texts(paths: list[Path], size: int = 150, n: int = 1000) -> list[str]:
    raw: list[str] = []
    for p in paths:
        if p.exists():
            raw += [json.loads(line)["text"] for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not raw:
        raise SystemExit("no data found for the benchmark texts")
    texts, buf, i = [], "", 0
    while len(texts) < n:
        buf += raw[i % len(raw)] + "\n"
        i += 1
        if len(buf) >= size:
            texts.append(buf[:size])
            buf = ""
    return texts


def timed(fn, texts: list[str], seconds: float) -> float:
    """Seconds per pass over texts (median of several passes lasting `seconds` in total)."""
    runs = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(runs) < 3:
        t0 = time.perf_counter()
        for t in texts:
            fn(t)
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--data", type=Path, action="append")
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core

    t0 = time.perf_counter()
    from triage import Triager

    triager = Triager.from_rules_file(None)
    triager.classify("冷启动")
    cold = time.perf_counter() - t0

    texts = build_texts(args.data or DEFAULT_DATA)
    chars = sum(len(t) for t in texts)
    tok = triager._tok  # the same tokenizer and dictionary
    for t in texts[:50]:  # warm both paths
        tok.lcut(t)
        triager.classify(t)
    bare = timed(tok.lcut, texts, args.seconds)
    full = timed(triager.classify, texts, args.seconds)

    print(f"texts: {len(texts)} x ~{chars // len(texts)} characters")
    print(f"cold start (import + dictionary + rules + first item): {cold:.3f} s")
    print(f"triage:     {len(texts) / full:,.0f} items/s  ({chars / full:,.0f} chars/s)")
    print(f"bare jieba: {len(texts) / bare:,.0f} items/s  ({chars / bare:,.0f} chars/s)")
    print(f"ratio triage / bare jieba.lcut: {full / bare:.2f}x")


if __name__ == "__main__":
    main()
