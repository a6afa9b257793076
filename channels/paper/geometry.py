"""Affine maps between a slip's printed frame (millimetres) and a scanned page (pixels).

A flatbed or feeder scan is an affine picture of the slip: scale, rotation, skew, shift.  Fitting
the map by least squares to the QR code's four corners is steadier than a perspective fit when we
extrapolate from a 2 cm code to boxes several centimetres away.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Point = tuple[float, float]


def fit_affine(source: Sequence[Point], target: Sequence[Point]) -> np.ndarray:
    """The 2×3 matrix ``A`` with ``target ≈ A · [x, y, 1]`` for each source point (least squares)."""
    src = np.asarray(source, dtype=float)
    dst = np.asarray(target, dtype=float)
    design = np.hstack([src, np.ones((len(src), 1))])
    solution, *_ = np.linalg.lstsq(design, dst, rcond=None)
    return solution.T


def apply(matrix: np.ndarray, points: Sequence[Point] | np.ndarray) -> np.ndarray:
    pts = np.asarray(points, dtype=float).reshape(-1, 2)
    return pts @ matrix[:, :2].T + matrix[:, 2]


def invert(matrix: np.ndarray) -> np.ndarray:
    full = np.vstack([matrix, [0.0, 0.0, 1.0]])
    return np.linalg.inv(full)[:2]


def compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """``outer ∘ inner`` as one 2×3 matrix."""
    full_outer = np.vstack([outer, [0.0, 0.0, 1.0]])
    full_inner = np.vstack([inner, [0.0, 0.0, 1.0]])
    return (full_outer @ full_inner)[:2]


def scale_of(matrix: np.ndarray) -> float:
    """Pixels per unit (the geometric mean of the two axes' scales)."""
    return float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
