"""Optical mark reading: which rating box did the citizen tick, and how sure are we?

The boxes are found from the decoded QR code (``geometry``: slip millimetres → page pixels), so
the reading follows the slip wherever it lies on the page.  Each box's interior (its printed
border left out) is sampled with a 3×3 average per point, which tames scanner noise, and scored
as the fraction of points clearly darker than the paper around the slip.  An empty box scores
about 0, a tick or cross 0.1–0.5.

The rating is single-choice: the darkest box wins when it is clearly marked and clearly ahead of
the runner-up.  ``confidence`` is 0–1 and falls when two boxes are marked, when the winner is
faint, or when boxes lie outside the scan; staff see it beside the suggestion and correct it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from channels.paper.geometry import apply, scale_of
from channels.paper.layout import Box

MARK_THRESHOLD = 0.05  # fraction of dark points above which a box counts as ticked
STRONG_MARK = 0.12
INSET = 0.22  # of the box side, left out on each edge (the printed border and positioning error)


@dataclass(frozen=True, slots=True)
class MarkReading:
    """The ticked box (``choice``, a key of the layout's boxes) or ``None``, with a 0–1 confidence."""

    choice: str | None
    confidence: float
    scores: dict[str, float | None]

    @property
    def level(self) -> str:
        """高 / 中 / 低 for staff."""
        return "高" if self.confidence >= 0.8 else "中" if self.confidence >= 0.5 else "低"


def _sample(array: np.ndarray, points: np.ndarray, *, average: bool = True) -> np.ndarray:
    """Grey values at pixel positions, 3×3-averaged unless ``average`` is off (positions are clipped to the page)."""
    height, width = array.shape
    px = np.clip(np.round(points[..., 0]).astype(int), 1, width - 2)
    py = np.clip(np.round(points[..., 1]).astype(int), 1, height - 2)
    if not average:
        return array[py, px].astype(np.float64)
    total = np.zeros(px.shape, dtype=np.float64)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            total += array[py + dy, px + dx]
    return total / 9


def _paper_level(array: np.ndarray, matrix: np.ndarray, width: float, height: float) -> float:
    """Blank paper's brightness on this slip (a high percentile of a coarse sample of the slip)."""
    xs, ys = np.meshgrid(np.linspace(2, width - 2, 24), np.linspace(2, height - 2, 32))
    points = apply(matrix, np.column_stack([xs.ravel(), ys.ravel()]))
    inside = ((points[:, 0] >= 0) & (points[:, 1] >= 0) & (points[:, 0] < array.shape[1])
              & (points[:, 1] < array.shape[0]))
    return float(np.percentile(_sample(array, points[inside]), 90)) if inside.any() else 255.0


def _ink_level(array: np.ndarray, matrix: np.ndarray, qr_corners: tuple[tuple[float, float], ...]) -> float:
    """Printed ink's brightness, from the QR code's dark modules: a faint scan is judged by its own contrast."""
    (x0, y0), (x1, _), (_, y1) = qr_corners[0], qr_corners[1], qr_corners[2]
    xs, ys = np.meshgrid(np.linspace(x0 + 0.3, x1 - 0.3, 20), np.linspace(y0 + 0.3, y1 - 0.3, 20))
    points = apply(matrix, np.column_stack([xs.ravel(), ys.ravel()]))
    return float(np.percentile(_sample(array, points), 10))


def _perimeter(box: Box, count: int = 10) -> np.ndarray:
    steps = np.linspace(0, box.size, count, endpoint=False)
    return np.vstack([
        np.column_stack([box.x + steps, np.full(count, box.y)]),
        np.column_stack([np.full(count, box.x + box.size), box.y + steps]),
        np.column_stack([box.x + box.size - steps, np.full(count, box.y + box.size)]),
        np.column_stack([np.full(count, box.x), box.y + box.size - steps]),
    ])


_COARSE = np.array([(dx, dy) for dy in np.arange(-1.2, 1.21, 0.3) for dx in np.arange(-1.2, 1.21, 0.3)])
_FINE = np.array([(dx, dy) for dy in (-0.15, 0.0, 0.15) for dx in (-0.15, 0.0, 0.15)])


def _register(array: np.ndarray, matrix: np.ndarray, box: Box) -> tuple[float, float]:
    """The small shift (mm) that puts the sampled square on the box's printed border.

    The QR-based map is exact near the code and drifts by up to a millimetre across the slip;
    each box corrects that drift locally by finding its own printed outline."""
    perimeter = _perimeter(box)
    best = np.zeros(2)
    for offsets in (_COARSE, _FINE):  # coarse to fine: 81 + 9 positions instead of a dense grid
        candidates = best + offsets
        shifted = perimeter[None, :, :] + candidates[:, None, :]
        values = _sample(array, apply(matrix, shifted.reshape(-1, 2)).reshape(shifted.shape), average=False)
        best = candidates[int(np.argmin(values.mean(axis=1)))]
    return float(best[0]), float(best[1])


def paper_and_ink(array: np.ndarray, matrix: np.ndarray, slip_size: tuple[float, float],
                  qr_corners: tuple[tuple[float, float], ...] | None = None) -> tuple[float, float]:
    """This slip's paper and printed-ink grey levels (the writing reader judges pen strokes by them)."""
    paper = _paper_level(array, matrix, *slip_size)
    ink = _ink_level(array, matrix, qr_corners) if qr_corners else 0.0
    return paper, ink


def dark_threshold(array: np.ndarray, matrix: np.ndarray, slip_size: tuple[float, float],
                   qr_corners: tuple[tuple[float, float], ...] | None = None) -> float:
    """The grey level below which a sampled point counts as pen: three quarters of the way from
    the slip's ink to its paper, so faint scans and pencil ticks still count."""
    paper = _paper_level(array, matrix, *slip_size)
    ink = _ink_level(array, matrix, qr_corners) if qr_corners else 0.0
    if paper - ink < 20:
        ink = max(0.0, paper - 120)
    return ink + 0.75 * (paper - ink)


def box_scores(array: np.ndarray, matrix: np.ndarray, boxes: Sequence[Box], *,
               slip_size: tuple[float, float], qr_corners: tuple[tuple[float, float], ...] | None = None,
               threshold: float | None = None) -> dict[str, float | None]:
    """Darkness score of each box's interior; ``None`` for a box outside the scanned area."""
    if threshold is None:
        threshold = dark_threshold(array, matrix, slip_size, qr_corners)
    pixels_per_mm = scale_of(matrix)
    height, width = array.shape
    scores: dict[str, float | None] = {}
    for box in boxes:
        corners = apply(matrix, [(box.x - 1.5, box.y - 1.5), (box.x + box.size + 1.5, box.y + box.size + 1.5)])
        if corners.min() < 1 or corners[:, 0].max() >= width - 1 or corners[:, 1].max() >= height - 1:
            scores[box.key] = None
            continue
        dx, dy = _register(array, matrix, box)
        inner = box.size * (1 - 2 * INSET)
        steps = int(np.clip(inner * pixels_per_mm / 1.5, 6, 32))
        left, top = box.x + dx + box.size * INSET, box.y + dy + box.size * INSET
        gx, gy = np.meshgrid(np.linspace(left, left + inner, steps), np.linspace(top, top + inner, steps))
        values = _sample(array, apply(matrix, np.column_stack([gx.ravel(), gy.ravel()])))
        scores[box.key] = float(np.mean(values < threshold))
    return scores


def read_single(scores: dict[str, float | None]) -> MarkReading:
    """The one ticked box of a single-choice group, with how sure the reading is."""
    known = {key: value for key, value in scores.items() if value is not None}
    if not known:
        return MarkReading(None, 0.0, scores)
    coverage = len(known) / len(scores)
    ranked = sorted(known.items(), key=lambda item: item[1], reverse=True)
    best_key, best = ranked[0]
    second = ranked[1][1] if len(ranked) > 1 else 0.0
    if best < MARK_THRESHOLD:
        # Nothing ticked: sure when every box is clean.
        return MarkReading(None, round(coverage * float(np.clip(1 - best / MARK_THRESHOLD, 0, 1)) ** 0.5, 2), scores)
    separation = float(np.clip((best - second) / best, 0, 1))
    strength = float(np.clip(best / STRONG_MARK, 0, 1))
    confidence = coverage * separation * (0.6 + 0.4 * strength)
    if second >= MARK_THRESHOLD:
        confidence = min(confidence, 0.45)  # two boxes ticked: a person has to look
    return MarkReading(best_key, round(confidence, 2), scores)


def read_multiple(scores: dict[str, float | None]) -> tuple[tuple[str, ...], float]:
    """The ticked boxes of a multiple-choice group and the confidence of the least certain box."""
    ticked = tuple(key for key, value in scores.items() if value is not None and value >= MARK_THRESHOLD)
    margins = [abs(value - MARK_THRESHOLD) / MARK_THRESHOLD for value in scores.values() if value is not None]
    if not margins:
        return (), 0.0
    return ticked, round(float(np.clip(min(margins), 0, 1)) * len(margins) / len(scores), 2)
