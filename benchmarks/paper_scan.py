"""Paper intake speed and decode rate on generated scans.

* pages/s: A4 pages at 200 dpi (one A5 slip with handwriting and ticks, a realistic mix of
  degradations), decoded on one core — code search, signature check and mark reading — from a
  grey image, and end to end from PNG bytes (file decoding included).
* decode rate: the degraded set (150/200/300 dpi × skew ±10°, upside down, noise, blur, JPEG
  artefacts, black-and-white, faint scans; one slip and two slips per page), counting every slip.
  The slips' QR codes are printed at ``QR_SIZE_MM`` (2.0 cm), as the real slips are.

* handwriting (``--ocr N``, default 30): N slips whose writing area is filled with real feedback
  texts (``--texts``, default the triage development set ``/work/shared/triage/dev.jsonl``: texts
  this benchmark did not write) in Debian's Kai font ``fonts-arphic-ukai``, ticked, and degraded as
  scanners do (skew ±8° and some upside down, blur, JPEG q35–85, grey noise, some black-and-white).
  Reports the character error rate (edits / characters, whitespace ignored) of the OCR'd text at
  200 dpi over all N slips, and at 150 and 300 dpi over a third as many; and slips per second of
  CPU on one core (decode + marks + OCR, one onnxruntime thread).  The font is far easier than
  real handwriting: read the figure as an upper bound of what OCR does on real slips.

Usage: ``python benchmarks/paper_scan.py [--pages N] [--ocr N] [--texts FILE] [--only-ocr]``.
Goals: ≥ 10 pages/s, ≥ 99 % decoded; OCR ≤ 5 % CER at 200 dpi and ≥ 1 slip/s on one core.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("OMP_NUM_THREADS", "1")

from PIL import Image

from channels.paper import ocr
from channels.paper.codes import QR_SIZE_MM
from channels.paper.documents import load_pages
from channels.paper.reader import read_page
from tests.paper.scans import (
    DEGRADATIONS,
    KEY,
    Degradation,
    codes,
    degrade,
    on_a4,
    rasterize,
    slip_pdf,
    tick,
    write_kai,
    write_text,
    writing_lines,
)

RATINGS = ("very_satisfied", "satisfied", "basic", "dissatisfied", "very_dissatisfied")


def slip_images(count: int, dpi: int) -> list[tuple[Image.Image, str]]:
    images = rasterize(slip_pdf(codes(count, first=1000)), dpi)
    out = []
    for index, image in enumerate(images):
        rating = RATINGS[index % 5]
        out.append((tick(write_text(image, "a5", dpi, seed=index), "a5", rating, dpi), rating))
    return out


def speed(count: int) -> None:
    dpi = 200
    slips = slip_images(min(count, 10), dpi)
    pages = [degrade(on_a4([slips[i % len(slips)][0]], dpi), DEGRADATIONS[i % len(DEGRADATIONS)], seed=i)
             for i in range(count)]
    pngs = []
    for page in pages:
        buffer = io.BytesIO()
        page.save(buffer, "PNG", dpi=(dpi, dpi))
        pngs.append(buffer.getvalue())
    read_page(pages[0], KEY, dpi=dpi)  # warm up
    started = time.perf_counter()
    decoded = sum(len(read_page(page, KEY, dpi=dpi).slips) for page in pages)
    seconds = time.perf_counter() - started
    started = time.perf_counter()
    for data in pngs:
        for loaded in load_pages(data, "bench.png")[1]:
            read_page(loaded.image, KEY, dpi=loaded.dpi)
    end_to_end = time.perf_counter() - started
    print(f"speed: {count} A4 pages at {dpi} dpi, one process pinned to one core")
    print(f"  decode + marks from grey image : {count / seconds:6.1f} pages/s ({1000 * seconds / count:.0f} ms/page), "
          f"{decoded}/{count} slips found")
    print(f"  end to end from PNG bytes      : {count / end_to_end:6.1f} pages/s "
          f"({1000 * end_to_end / count:.0f} ms/page)")


def decode_rate() -> None:
    total = found = marks_right = 0
    misses: list[str] = []
    slow = 0.0
    for dpi in (150, 200, 300):
        slips = slip_images(4, dpi)
        layouts = [[0], [1, 2], [3]]
        for spec in DEGRADATIONS:
            for group in layouts:
                page = degrade(on_a4([slips[i][0] for i in group], dpi), spec, seed=dpi)
                reading = read_page(page, KEY, dpi=dpi)
                slow = max(slow, reading.seconds)
                serials = {slip.code.serial: slip for slip in reading.slips if slip.signature_ok}
                for index in group:
                    total += 1
                    slip = serials.get(1000 + index)
                    if slip is None:
                        misses.append(f"{dpi} dpi {spec.label()} ({len(group)} per page)")
                        continue
                    found += 1
                    marks_right += int(slip.rating is not None and slip.rating.choice == slips[index][1])
    print(f"decode rate: {found}/{total} slips = {100 * found / total:.1f} % "
          f"(150/200/300 dpi × {len(DEGRADATIONS)} degradations × pages of 1 and 2 slips)")
    print(f"  rating box read correctly: {marks_right}/{found} = {100 * marks_right / max(found, 1):.1f} %")
    print(f"  slowest page: {1000 * slow:.0f} ms")
    for miss in misses:
        print(f"  missed: {miss}")


DEV_SET = Path("/work/shared/triage/dev.jsonl")
# What the Kai font draws and a citizen writes: CJK, ASCII letters and digits, common punctuation.
WRITABLE = re.compile(r"^[\u4e00-\u9fff0-9A-Za-z，。、；：？！“”（）《》,.;:?!()\-% ]+$")


def feedback_texts(path: Path) -> list[str]:
    """Texts from a JSON-lines file with a ``text`` field, as a citizen would write them on a slip."""
    texts = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        text = re.sub(r"\s+", "", json.loads(line)["text"])
        if len(text) >= 8 and WRITABLE.match(text):
            texts.append(text)
    return texts


def scanner(rng: random.Random) -> Degradation:
    """One scanner's damage: skew (now and then upside down), blur, JPEG, noise, sometimes black and white."""
    angle = rng.uniform(-8, 8) + (180 if rng.random() < 0.2 else 0)
    if rng.random() < 0.2:
        return Degradation(angle=angle, bilevel=True)
    return Degradation(angle=angle, blur=round(rng.uniform(0, 1.0), 2), jpeg=rng.randint(35, 85),
                       gaussian=round(rng.uniform(0, 10), 1))


def handwriting(count: int, texts_path: Path) -> None:
    if ocr.unavailable():
        print(f"handwriting: skipped — {ocr.unavailable()}")
        return
    texts = feedback_texts(texts_path)
    if not texts:
        print(f"handwriting: skipped — no usable texts in {texts_path}")
        return
    ocr.engine()  # built once, outside the timing
    rng = random.Random(22)
    print(f"handwriting: Kai font (fonts-arphic-ukai), texts from {texts_path} ({len(texts)} usable), "
          "one process pinned to one core, one onnxruntime thread")
    for dpi, n in ((200, count), (150, max(1, count // 3)), (300, max(1, count // 3))):
        chosen = [texts[(i * 7 + dpi) % len(texts)] for i in range(n)]
        images = rasterize(slip_pdf(codes(n, first=5000 + dpi * 100)), dpi)
        edits = characters = exact = ticks = 0
        cpu = 0.0
        worst: tuple[float, str, str] = (0.0, "", "")
        for index, (image, text) in enumerate(zip(images, chosen, strict=True)):
            written = "".join(writing_lines(text, "a5"))  # what fits the writing area
            rating = RATINGS[index % 5]
            slip = tick(write_kai(image, "a5", dpi, written, seed=index), "a5", rating, dpi)
            page = degrade(on_a4([slip], dpi), scanner(rng), seed=index)
            started = time.process_time()
            reading = read_page(page, KEY, dpi=dpi, read_text=True)
            cpu += time.process_time() - started
            found = next((s for s in reading.slips if s.code.serial == 5000 + dpi * 100 + index), None)
            read = found.writing.text.text if found and found.writing and found.writing.text else ""
            errors = ocr.character_errors(written, read)
            edits += errors
            characters += len(written)
            exact += errors == 0
            ticks += bool(found and found.rating and found.rating.choice == rating)
            rate = errors / max(len(written), 1)
            if rate > worst[0]:
                worst = (rate, written, read)
        print(f"  {dpi} dpi: {n} slips, {characters} characters: CER {100 * edits / characters:.2f} % "
              f"({edits} edits; {exact}/{n} slips without an error; rating read {ticks}/{n}); "
              f"{n / cpu:.2f} slips/s of CPU ({1000 * cpu / n:.0f} ms/slip, decode + marks + OCR)")
        if worst[0] > 0:
            print(f"    worst slip: CER {100 * worst[0]:.0f} %: wrote {worst[1][:40]!r}, read {worst[2][:40]!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--pages", type=int, default=130, help="pages for the speed run (default 130)")
    parser.add_argument("--ocr", type=int, default=30, help="slips for the handwriting run at 200 dpi (default 30)")
    parser.add_argument("--texts", type=Path, default=DEV_SET,
                        help="JSON lines with a text field (default: %(default)s)")
    parser.add_argument("--only-ocr", action="store_true", help="run only the handwriting section")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    print(f"slip QR code printed at {QR_SIZE_MM / 10:.1f} cm × {QR_SIZE_MM / 10:.1f} cm (A5 and A6 slips), "
          "full QR version 3, error correction M")
    if not args.only_ocr:
        speed(args.pages)
        decode_rate()
    if args.ocr:
        handwriting(args.ocr, args.texts)


if __name__ == "__main__":
    main()
