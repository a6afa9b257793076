"""Paper intake speed and decode rate on generated scans.

* pages/s: A4 pages at 200 dpi (one A5 slip with handwriting and ticks, a realistic mix of
  degradations), decoded on one core — code search, signature check and mark reading — from a
  grey image, and end to end from PNG bytes (file decoding included).
* decode rate: the degraded set (150/200/300 dpi × skew ±10°, upside down, noise, blur, JPEG
  artefacts, black-and-white, faint scans; one slip and two slips per page), counting every slip.
  The slips' QR codes are printed at ``QR_SIZE_MM`` (2.0 cm), as the real slips are.

Usage: ``python benchmarks/paper_scan.py [--pages N]``.  Goals: ≥ 10 pages/s, ≥ 99 % decoded.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("OMP_NUM_THREADS", "1")

from PIL import Image

from channels.paper.codes import QR_SIZE_MM
from channels.paper.documents import load_pages
from channels.paper.reader import read_page
from tests.paper.scans import (
    DEGRADATIONS,
    KEY,
    codes,
    degrade,
    on_a4,
    rasterize,
    slip_pdf,
    tick,
    write_text,
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


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--pages", type=int, default=130, help="pages for the speed run (default 130)")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    print(f"slip QR code printed at {QR_SIZE_MM / 10:.1f} cm × {QR_SIZE_MM / 10:.1f} cm (A5 and A6 slips), "
          "full QR version 3, error correction M")
    speed(args.pages)
    decode_rate()


if __name__ == "__main__":
    main()
