"""One scanned page in, the slips on it out: code, signature check, position and mark readings.

This is the pure core of paper intake: the gateway feeds it pages (``documents.load_pages``) and
the signing key, and stores what comes back.  A page with no readable slip code comes back with
``slips == []`` — the gateway puts it on the "needs manual id" list; nothing is ever dropped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from channels.paper import geometry
from channels.paper.codes import SlipCode, parse_payload, verify
from channels.paper.decode import FoundCode, find_codes
from channels.paper.layout import SlipLayout, layout_for
from channels.paper.marks import (
    MarkReading,
    box_scores,
    dark_threshold,
    paper_and_ink,
    read_multiple,
    read_single,
)
from channels.paper.writing import SlipText, read_slip_text

Point = tuple[float, float]


@dataclass(frozen=True, slots=True)
class SlipReading:
    """One slip found on a page."""

    payload: str
    code: SlipCode
    signature_ok: bool
    corners: tuple[Point, Point, Point, Point] | None
    method: str
    rating: MarkReading | None
    reasons: tuple[str, ...] = ()
    reasons_confidence: float = 0.0
    reply: MarkReading | None = None
    matrix: tuple[float, ...] | None = None  # slip millimetres → page pixels, row-major 2×3
    writing: SlipText | None = None  # what was written (None when the writing was not looked at)

    @property
    def blank(self) -> bool:
        """No tick anywhere and no pen stroke in the writing area or the contact blanks."""
        if self.writing is None or self.rating is None:
            return False
        ticked = self.rating.choice is not None or bool(self.reasons) or (self.reply and self.reply.choice)
        return not ticked and not self.writing.has_writing

    @property
    def layout(self) -> SlipLayout:
        return layout_for(self.code.size)

    def outline(self) -> list[Point] | None:
        """The slip's four corners on the page."""
        if self.matrix is None:
            return None
        lay = self.layout
        matrix = np.asarray(self.matrix).reshape(2, 3)
        return [tuple(p) for p in geometry.apply(matrix, [(0, 0), (lay.width, 0), (lay.width, lay.height),
                                                          (0, lay.height)])]  # type: ignore[misc]


@dataclass(slots=True)
class PageReading:
    width: int
    height: int
    slips: list[SlipReading] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)  # QR codes that are not our slips (posters, …)
    attempts: int = 0
    seconds: float = 0.0


def slip_matrix(code: SlipCode, corners: tuple[Point, ...]) -> np.ndarray:
    """Slip millimetres → page pixels, fitted to the QR code's corners."""
    return geometry.fit_affine(layout_for(code.size).qr_corners, corners)


def _as_array(image: Image.Image | np.ndarray) -> np.ndarray:
    if isinstance(image, np.ndarray):
        return image
    return np.asarray(image if image.mode == "L" else image.convert("L"))


def read_page(image: Image.Image | np.ndarray, key: bytes, *, dpi: float | None = None,
              read_marks: bool = True, read_text: bool = False) -> PageReading:
    """Find, verify and read every slip on one page (``read_text``: measure and OCR the writing too)."""
    started = time.perf_counter()
    array = _as_array(image)

    def covered(found: FoundCode) -> list[Point] | None:
        code = parse_payload(found.payload)
        if code is None or found.corners is None:
            return None
        lay = layout_for(code.size)
        matrix = slip_matrix(code, found.corners)
        return [tuple(p) for p in geometry.apply(matrix, [(0, 0), (lay.width, 0), (lay.width, lay.height),
                                                          (0, lay.height)])]  # type: ignore[misc]

    search = find_codes(array, dpi=dpi, covered=covered)
    reading = PageReading(width=array.shape[1], height=array.shape[0], attempts=search.attempts)
    for found in search.codes:
        code = parse_payload(found.payload)
        if code is None:
            reading.foreign.append(found.payload)
            continue
        reading.slips.append(_read_slip(array, found, code, key, read_marks, read_text))
    reading.slips.sort(key=lambda slip: _reading_order(slip, reading.width))
    reading.seconds = time.perf_counter() - started
    return reading


def _reading_order(slip: SlipReading, width: int) -> tuple[float, float]:
    outline = slip.outline()
    if not outline:
        return (0.0, 0.0)
    top = min(y for _, y in outline)
    left = min(x for x, _ in outline)
    return (round(top / max(width / 4, 1)), left)


def _read_slip(array: np.ndarray, found: FoundCode, code: SlipCode, key: bytes, read_marks: bool,
               read_text: bool = True) -> SlipReading:
    signature_ok = verify(key, code)
    if found.corners is None:
        return SlipReading(found.payload, code, signature_ok, None, found.method, None)
    lay = layout_for(code.size)
    matrix = slip_matrix(code, found.corners)
    rating = reply = None
    reasons: tuple[str, ...] = ()
    reasons_confidence = 0.0
    if read_marks:
        size = (lay.width, lay.height)
        options = {"slip_size": size, "threshold": dark_threshold(array, matrix, size, lay.qr_corners)}
        rating = read_single(box_scores(array, matrix, lay.ratings, **options))  # type: ignore[arg-type]
        reasons, reasons_confidence = read_multiple(box_scores(array, matrix, lay.reasons, **options))  # type: ignore[arg-type]
        reply = read_single(box_scores(array, matrix, lay.replies, **options))  # type: ignore[arg-type]
    writing = None
    if read_text:
        paper, ink = paper_and_ink(array, matrix, (lay.width, lay.height), lay.qr_corners)
        writing = read_slip_text(array, matrix, lay, paper=paper, ink=ink)
    return SlipReading(found.payload, code, signature_ok, found.corners, found.method, rating, reasons,
                       reasons_confidence, reply, tuple(float(v) for v in matrix.ravel()), writing)


def slip_image(image: Image.Image, slip: SlipReading, *, dpi: int = 150, margin_mm: float = 4.0) -> Image.Image | None:
    """The slip cut out of the page, upright and deskewed, at ``dpi`` — what staff read beside the text box."""
    if slip.matrix is None:
        return None
    lay = slip.layout
    matrix = np.asarray(slip.matrix).reshape(2, 3)
    mm_per_px = 25.4 / dpi
    # Output pixel (u, v) → slip millimetres → page pixel.
    to_slip = np.array([[mm_per_px, 0.0, -margin_mm], [0.0, mm_per_px, -margin_mm]])
    combined = geometry.compose(matrix, to_slip)
    size = (round((lay.width + 2 * margin_mm) / mm_per_px), round((lay.height + 2 * margin_mm) / mm_per_px))
    source = image if image.mode == "L" else image.convert("L")
    return source.transform(size, Image.Transform.AFFINE, tuple(combined.ravel()), resample=Image.Resampling.BILINEAR,
                            fillcolor=255)
