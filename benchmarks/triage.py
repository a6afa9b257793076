"""Triage speed: items/s on one core, cold start, and cost relative to bare jieba.

    python benchmarks/triage.py [--rounds 7] [--cold 3] [--batch 64] [--data FILE.jsonl] [--rules FILE.toml]

Texts of about 150 characters are built from the labelled data (short items are
joined, long ones cut).  "bare jieba" is ``lcut`` (called as by default, HMM on) with
the same tokenizer and dictionary over the same texts, so the ratio is the cost of normalisation,
clean-up, rules, negation, the learned model (where the rules file turns it on)
and scoring on top of segmentation.  The triage itself segments with HMM off,
so a stricter ratio against ``lcut(HMM=False)`` is printed too.  It runs that
segmentation through ``triage.segment.Segmenter``, jieba's algorithm over the same
dictionary in one pass per block; its own speed is printed, after a check that it
returns exactly jieba's words for every text.

"triage" classifies one text per call (a web form in-line); "triage, batches" passes
``--batch`` texts per ``classify_many`` call, as the worker process and ``hcp triage eval``
do (the same results, checked here; the learned stage's numpy work is paid once a batch).

The machine is shared, so passes are interleaved (bare, triage, bare, triage…)
and timed two ways: wall clock, and the CPU time of this thread (not inflated
when other processes take the core).  The best pass and the spread (min–max)
are printed.  Cold start (import, dictionary, rules, first item; the learned
model loads on first use) runs in fresh processes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEFAULT_DATA = [Path("/work/shared/triage/dev.jsonl"), ROOT / "tests/triage/data/heldout.jsonl"]

COLD = """
import time, sys
t0, c0 = time.perf_counter(), time.process_time()
from triage import Triager
t = Triager.from_rules_file({rules!r})
t.classify("大厅里排队排了两个小时，工作人员态度也不好")
print(time.perf_counter() - t0, time.process_time() - c0)
"""


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


def one_pass(fn, texts: list[str]) -> tuple[float, float]:
    """(wall seconds, thread CPU seconds) for one pass over texts."""
    w0, c0 = time.perf_counter(), time.thread_time()
    for t in texts:
        fn(t)
    return time.perf_counter() - w0, time.thread_time() - c0


def spread(xs: list[float]) -> str:
    return f"best {max(xs):,.0f}, median {statistics.median(xs):,.0f}, range {min(xs):,.0f}–{max(xs):,.0f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7, help="interleaved passes of each kind")
    ap.add_argument("--cold", type=int, default=3, help="cold starts in fresh processes")
    ap.add_argument("--data", type=Path, action="append")
    ap.add_argument("--rules", type=Path, default=None, help="rules file (default: the packaged rules)")
    ap.add_argument("--batch", type=int, default=64, help="texts per classify_many call")
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core

    colds = []
    for _ in range(args.cold):
        out = subprocess.run([sys.executable, "-c", COLD.format(rules=str(args.rules) if args.rules else None)],
                             cwd=ROOT, capture_output=True, text=True, check=True)
        wall, cpu = out.stdout.strip().splitlines()[-1].split()
        colds.append((float(wall), float(cpu)))

    from triage import Triager

    triager = Triager.from_rules_file(args.rules)
    texts = build_texts(args.data or DEFAULT_DATA)
    chars = sum(len(t) for t in texts)
    tok = triager._tok  # the same tokenizer and dictionary

    def bare(t: str) -> object:
        return tok.lcut(t)  # jieba.lcut as called by default (HMM on)

    def bare_no_hmm(t: str) -> object:
        return tok.lcut(t, HMM=False)  # what the triage itself runs: a stricter comparison

    for t in texts[:100]:  # warm all paths (and load the learned model)
        bare(t)
        bare_no_hmm(t)
        triager.classify(t)
    seg = triager._seg
    differ = sum(1 for t in texts if seg.lcut(t) != tok.lcut(t, HMM=False))
    if differ:
        raise SystemExit(f"triage.segment differs from jieba.lcut(HMM=False) on {differ} texts")
    import dataclasses

    plain = Triager(dataclasses.replace(triager.rules, learned=None))  # the rules alone, for the model's cost
    for t in texts[:100]:
        plain.classify(t)
    decided = sum(1 for t in texts if any(getattr(x, "source", "") == "model" for x in triager.classify(t).terms))

    items = [(t, None, None, ()) for t in texts]
    batches = [items[i:i + args.batch] for i in range(0, len(items), args.batch)]
    if [r for b in batches for r in triager.classify_many(b)] != [triager.classify(t) for t in texts]:
        raise SystemExit("classify_many differs from classify")

    def batched(batch: list[tuple[str, None, None, tuple[()]]]) -> object:
        return triager.classify_many(batch)

    rows: list[tuple[float, ...]] = []
    for _ in range(args.rounds):
        bw, bc = one_pass(bare, texts)
        fw, fc = one_pass(triager.classify, texts)
        nw, nc = one_pass(bare_no_hmm, texts)
        sw, sc = one_pass(seg.lcut, texts)
        pw, pc = one_pass(plain.classify, texts)
        mw, mc = one_pass(batched, batches)
        rows.append((bw, bc, fw, fc, nw, nc, sw, sc, pw, pc, mw, mc))

    n = len(texts)
    lr = getattr(triager.rules, "learned", None)
    print(f"texts: {n} x ~{chars // n} characters; rules {triager.rules.source}")
    print("learned model: " + ("off" if lr is None or not lr.enabled else
                               f"on, its evidence shown on {decided} of {n} texts"))
    walls, cpus = [c[0] for c in colds], [c[1] for c in colds]
    print(f"cold start (import + dictionary + rules + first item), {len(colds)} fresh processes: "
          f"wall best {min(walls):.3f} s (range {min(walls):.3f}–{max(walls):.3f}), "
          f"CPU best {min(cpus):.3f} s (range {min(cpus):.3f}–{max(cpus):.3f})")
    print(f"triage.segment: the same words as jieba.lcut(HMM=False) on all {n} texts")
    print(f"classify_many, batches of {args.batch}: the same results as one at a time on all {n} texts")
    for kind, bi, fi, ni, si, pi, mi in (("CPU time", 1, 3, 5, 7, 9, 11), ("wall clock", 0, 2, 4, 6, 8, 10)):
        print(f"-- {kind}, {args.rounds} interleaved passes")
        print(f"triage:     items/s {spread([n / r[fi] for r in rows])}  "
              f"(best {max(chars / r[fi] for r in rows):,.0f} chars/s)")
        print(f"triage, batches of {args.batch}: items/s {spread([n / r[mi] for r in rows])}")
        print(f"rules alone: items/s {spread([n / r[pi] for r in rows])}; triage / rules alone: median "
              f"{statistics.median(r[fi] / r[pi] for r in rows):.2f}x")
        print(f"bare jieba: items/s {spread([n / r[bi] for r in rows])}  "
              f"(best {max(chars / r[bi] for r in rows):,.0f} chars/s)")
        ratios = [r[fi] / r[bi] for r in rows]
        print(f"ratio triage / bare jieba.lcut: best {min(ratios):.2f}x, median {statistics.median(ratios):.2f}x, "
              f"range {min(ratios):.2f}–{max(ratios):.2f}x")
        print(f"segmentation alone, chars/s: jieba.lcut(HMM=False) best {max(chars / r[ni] for r in rows):,.0f}, "
              f"triage.segment best {max(chars / r[si] for r in rows):,.0f}")
        strict = [r[fi] / r[ni] for r in rows]
        print(f"ratio triage / jieba.lcut(HMM=False): best {min(strict):.2f}x, "
              f"median {statistics.median(strict):.2f}x, range {min(strict):.2f}–{max(strict):.2f}x")


if __name__ == "__main__":
    main()
