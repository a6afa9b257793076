"""Finding QR codes on a scanned page with zbar, and what to try when the first look finds nothing.

zbar reads a clean 2 cm code on a whole A4 page at 150–300 dpi, but misses codes on pages that
are noisy, blurred, low-resolution or overexposed, which it then reads once the code's corner is
cropped and cleaned up.  So the first pass scans the whole page; then candidate regions — places
where a code-sized window is unusually dark, as a QR code (about half dark modules) is and text
or handwriting is not — are cropped and run through a ladder of clean-ups: plain crop, 2×
upscale, median filter (salt-and-pepper noise), Otsu threshold (faint or grey scans) and a 45°
rotation, stopping at the first that reads.  Areas already covered by a found slip are skipped,
so the common page (one or two codes read at once) costs one pass.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageFilter

from channels.paper import zbar
from channels.paper.codes import QR_SIZE_MM

Point = tuple[float, float]
A4_LONG_SIDE_IN = 297 / 25.4
MAX_CANDIDATES = 12
DARK_WINDOW_FRACTION = 0.28


@dataclass(frozen=True, slots=True)
class FoundCode:
    """A decoded QR code: its text, its corners on the page (symbol's TL, TR, BR, BL) and how it was read."""

    payload: str
    corners: tuple[Point, Point, Point, Point] | None
    method: str

    @property
    def center(self) -> Point:
        if self.corners is None:
            return (0.0, 0.0)
        xs, ys = zip(*self.corners, strict=True)
        return sum(xs) / 4, sum(ys) / 4

    @property
    def side(self) -> float:
        if self.corners is None:
            return 0.0
        (x0, y0), (x1, y1) = self.corners[0], self.corners[1]
        return float(np.hypot(x1 - x0, y1 - y0))


@dataclass(slots=True)
class Search:
    """State of one page's search: what was found, how many decoder runs it took."""

    codes: list[FoundCode] = field(default_factory=list)
    attempts: int = 0

    def add(self, found: FoundCode) -> bool:
        """Keep ``found`` unless the same code at the same place is already known."""
        for known in self.codes:
            if known.payload == found.payload:
                if known.corners is None or found.corners is None:
                    return False
                distance = np.hypot(known.center[0] - found.center[0], known.center[1] - found.center[1])
                if distance < max(known.side, found.side, 1.0):
                    return False
        self.codes.append(found)
        return True


def qr_pixels(shape: tuple[int, int], dpi: float | None) -> float:
    """The expected side of a slip's QR code in pixels: from the scan's dpi, else assuming at most A4."""
    if dpi is None:
        dpi = max(shape) / A4_LONG_SIDE_IN
    return QR_SIZE_MM / 25.4 * dpi


def _decode(array: np.ndarray, method: str, search: Search, *, origin: Point = (0.0, 0.0),
            transform: Callable[[Point], Point] | None = None, density: int = 1) -> int:
    search.attempts += 1
    added = 0
    for symbol in zbar.scan(array, density=density):
        try:
            payload = symbol.data.decode("utf-8")
        except UnicodeDecodeError:
            payload = symbol.data.decode("latin-1")
        corners = None
        if symbol.corners is not None:
            mapped = [transform(p) if transform else p for p in symbol.corners]
            corners = tuple((x + origin[0], y + origin[1]) for x, y in mapped)
        if search.add(FoundCode(payload, corners, method)):  # type: ignore[arg-type]
            added += 1
    return added


def _otsu(array: np.ndarray) -> int:
    histogram = np.bincount(array.ravel(), minlength=256).astype(float)
    total = histogram.sum()
    weights = np.cumsum(histogram)
    means = np.cumsum(histogram * np.arange(256))
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (means[-1] * weights / total - means) ** 2 / (weights * (total - weights))
    if not np.isfinite(between).any():  # a single grey level: nothing to separate
        return 127
    return int(np.nanargmax(np.where(np.isfinite(between), between, np.nan)))


def dark_map(array: np.ndarray, block: int) -> np.ndarray:
    """Block-averaged page, thresholded halfway between paper and ink: True where a block is dark.

    Halfway rather than a fixed level, so a faint grey scan still shows its code as dark."""
    image = Image.fromarray(array)
    small = np.asarray(image.reduce(block) if block > 1 else image)
    if not small.size:
        return np.zeros((0, 0), dtype=bool)
    paper, ink = np.percentile(small, (95, 0.5))
    if paper - ink < 25:  # a blank or uniformly grey page
        return np.zeros(small.shape, dtype=bool)
    return small < (paper + ink) / 2


def _inside_polygon(point: Point, polygon: list[Point]) -> bool:
    x, y = point
    inside = False
    for (x0, y0), (x1, y1) in zip(polygon, polygon[1:] + polygon[:1], strict=True):
        if (y0 > y) != (y1 > y) and x < x0 + (y - y0) * (x1 - x0) / (y1 - y0):
            inside = not inside
    return inside


def candidates(array: np.ndarray, qr_px: float) -> list[tuple[int, int, int, int]]:
    """Crop boxes (x0, y0, x1, y1) around the darkest code-sized windows of the page, darkest first."""
    block = max(1, round(qr_px / 40))
    dark = dark_map(array, block).astype(np.uint8)
    window = max(4, round(qr_px / block))
    if dark.shape[0] < window or dark.shape[1] < window:
        return [(0, 0, array.shape[1], array.shape[0])]
    integral = np.pad(dark.cumsum(0).cumsum(1), ((1, 0), (1, 0))).astype(np.int64)
    sums = (integral[window:, window:] - integral[:-window, window:] - integral[window:, :-window]
            + integral[:-window, :-window])
    fraction = sums / float(window * window)
    boxes = []
    half = qr_px * 1.25
    for _ in range(MAX_CANDIDATES):
        row, column = np.unravel_index(int(np.argmax(fraction)), fraction.shape)
        if fraction[row, column] < DARK_WINDOW_FRACTION:
            break
        cy, cx = (row + window / 2) * block, (column + window / 2) * block
        boxes.append((max(0, int(cx - half)), max(0, int(cy - half)),
                      min(array.shape[1], int(cx + half)), min(array.shape[0], int(cy + half))))
        fraction[max(0, row - window):row + window, max(0, column - window):column + window] = 0
    return boxes


def _ladder(crop: np.ndarray, module_px: float) -> Iterator[tuple[str, np.ndarray, float]]:
    """Clean-ups of one crop, cheapest first, each with the factor it was scaled by."""
    image = Image.fromarray(crop)
    factor = 2.0 if module_px < 6 else 1.0
    if factor != 1.0:
        yield "crop", crop, 1.0
        image = image.resize((round(image.width * factor), round(image.height * factor)), Image.Resampling.BICUBIC)
        yield "crop+upscale", np.asarray(image), factor
    else:
        yield "crop", crop, 1.0
    median = image.filter(ImageFilter.MedianFilter(3))
    median_array = np.asarray(median)
    yield "crop+median", median_array, factor
    threshold = _otsu(median_array)
    yield "crop+median+threshold", np.where(median_array > threshold, 255, 0).astype(np.uint8), factor
    yield "crop+median+rotate", np.asarray(median.rotate(45, resample=Image.Resampling.BILINEAR, expand=True,
                                                       fillcolor=255)), factor


def _rotated_back(angle: float, size: tuple[int, int], expanded: tuple[int, int]) -> Callable[[Point], Point]:
    """Map a point of an image rotated by ``angle`` (PIL, expand=True) back to the unrotated image."""
    theta = np.deg2rad(angle)
    cos, sin = np.cos(theta), np.sin(theta)
    cx, cy = size[0] / 2, size[1] / 2
    ex, ey = expanded[0] / 2, expanded[1] / 2

    def back(point: Point) -> Point:
        dx, dy = point[0] - ex, point[1] - ey
        # PIL rotates counter-clockwise on screen; undo it.
        return cx + dx * cos - dy * sin, cy + dx * sin + dy * cos

    return back


def find_codes(array: np.ndarray, *, dpi: float | None = None,
               covered: Callable[[FoundCode], list[Point] | None] | None = None) -> Search:
    """Every QR code on the page.  ``covered(code)`` returns the page area the code's slip occupies;
    candidate regions inside it are not searched again.

    Order: candidate crops as they are (cheap: a code is usually among the darkest windows), the
    whole page if they found nothing, then the clean-up ladder on the candidates still open."""
    search = Search()
    qr_px = qr_pixels(array.shape, dpi)
    module_px = qr_px / 29
    boxes = candidates(array, qr_px)
    areas: list[list[Point]] = []

    def update_areas() -> None:
        areas.clear()
        for code in search.codes:
            area = covered(code) if covered else None
            if area:
                areas.append(area)
            elif code.corners:
                areas.append(list(code.corners))

    def still_open(box: tuple[int, int, int, int]) -> bool:
        center = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
        return not any(_inside_polygon(center, area) for area in areas)

    def try_crop(box: tuple[int, int, int, int], steps: slice) -> bool:
        x0, y0, x1, y1 = box
        crop = array[y0:y1, x0:x1]
        for method, variant, factor in itertools.islice(_ladder(crop, module_px), steps.start, steps.stop):
            transform = None
            if method.endswith("rotate"):
                base = (round(crop.shape[1] * factor), round(crop.shape[0] * factor))
                back = _rotated_back(45, base, (variant.shape[1], variant.shape[0]))
                transform = (lambda p, back=back, factor=factor: tuple(c / factor for c in back(p)))  # noqa: E731
            elif factor != 1.0:
                transform = (lambda p, factor=factor: (p[0] / factor, p[1] / factor))  # noqa: E731
            if _decode(variant, method, search, origin=(x0, y0), transform=transform):
                update_areas()
                return True
        return False

    remaining = []
    for box in boxes:
        if still_open(box) and not try_crop(box, slice(0, 1)):
            remaining.append(box)
    if not search.codes and _decode(array, "page", search):
        update_areas()
    for box in remaining:
        if still_open(box):
            try_crop(box, slice(1, None))
    return search
