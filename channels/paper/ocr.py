"""Reading handwriting with ``rapidocr-onnxruntime`` (PP-OCRv4 Chinese models shipped in its wheel).

The dependency is optional at run time, like libzbar: without it every scan is still decoded,
ticks are read, and the text box simply opens empty.  The engine is heavy (onnxruntime sessions,
about 0.4 s to build, ~100 MB), so it is built once per process, on first use, never at import —
importing the paper channel must stay cheap for the web app and the CLI.

One thread per engine: the gateway runs one batch at a time in the background, and the machines
it runs on are small and shared; "slips per second on one core" is the figure we promise.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

LOW_CONFIDENCE = 0.85  # lines below this are marked for staff to check
MIN_SCORE = 0.5  # recognitions below this are dropped as noise (rapidocr's own default)
UNAVAILABLE_MESSAGE = "手写内容识别不可用：未安装 rapidocr-onnxruntime，意见内容需要人工录入。"
# Lines made only of these are the form's dotted guides or underscores, never writing.
_RULE_ONLY = re.compile(r"^[\s_＿\-—–―‐·•.。…,，、:：;；'\"`~～|/\\()（）\[\]【】]*$")
_EDGE_RULES = re.compile(r"^[_＿\s]+|[_＿\s]+$")

_lock = threading.RLock()
_engine: Any = None
_unavailable: str | None = None
_checked = False


class OcrUnavailable(RuntimeError):
    """rapidocr-onnxruntime is not installed (or its models do not load)."""


@dataclass(frozen=True, slots=True)
class OcrLine:
    """One recognised line: its text, the recogniser's 0–1 score, and whether staff should check it."""

    text: str
    confidence: float

    @property
    def low(self) -> bool:
        return self.confidence < LOW_CONFIDENCE

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "confidence": round(self.confidence, 3), "low": self.low}


@dataclass(frozen=True, slots=True)
class OcrText:
    """The lines of one region, in reading order."""

    lines: tuple[OcrLine, ...] = ()

    @property
    def text(self) -> str:
        # Lines on a slip are wrapping, not paragraphs: Chinese runs on without a separator.
        return "".join(line.text for line in self.lines)

    @property
    def confidence(self) -> float | None:
        """Character-weighted mean of the lines' scores; ``None`` when nothing was read."""
        weights = [len(line.text) for line in self.lines]
        if not sum(weights):
            return None
        return round(sum(w * line.confidence for w, line in zip(weights, self.lines, strict=True)) / sum(weights), 3)


def _build() -> Any:
    from rapidocr_onnxruntime import RapidOCR  # heavy: onnxruntime, OpenCV

    logging.getLogger("RapidOCR").setLevel(logging.WARNING)
    # "max": shrink big crops to 960 px; the default ("min", 736) would blow a thin line up 10×.
    return RapidOCR(intra_op_num_threads=1, inter_op_num_threads=1, det_limit_type="max",
                    det_limit_side_len=960, print_verbose=False)


def unavailable() -> str | None:
    """A Chinese message when handwriting cannot be read here, else ``None`` (checks the import once)."""
    global _checked, _unavailable
    if not _checked:
        with _lock:
            if not _checked:
                try:
                    import rapidocr_onnxruntime  # noqa: F401
                except ImportError as exc:
                    log.warning("handwriting OCR is off: %s", exc)
                    _unavailable = UNAVAILABLE_MESSAGE
                _checked = True
    return _unavailable


def reset() -> None:
    """Forget the engine and the availability check (tests that simulate a missing package)."""
    global _engine, _checked, _unavailable
    with _lock:
        _engine, _checked, _unavailable = None, False, None


def engine() -> Any:
    """The process's one engine, built on first use."""
    global _engine
    message = unavailable()
    if message is not None:
        raise OcrUnavailable(message)
    if _engine is None:
        with _lock:
            if _engine is None:
                _engine = _build()
    return _engine


def _clean(text: str) -> str:
    return _EDGE_RULES.sub("", text.strip())


def _rgb(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return np.ascontiguousarray(np.repeat(image[:, :, None], 3, axis=2))
    return np.ascontiguousarray(image)


def read_block(image: np.ndarray, *, upright: bool = False) -> OcrText:
    """Detect and recognise every text line in a grey crop (the writing area, a letter page);
    ``upright`` skips the 180° line classifier when the crop is known to be the right way up."""
    with _lock:  # the engine keeps per-call state; one call at a time per process
        result, _ = engine()(_rgb(image), use_cls=not upright)
    lines = []
    for _box, text, score in result or ():
        text = _clean(str(text))
        if text and float(score) >= MIN_SCORE and not _RULE_ONLY.match(text):
            lines.append(OcrLine(text, float(score)))
    return OcrText(tuple(lines))


def read_line(image: np.ndarray) -> OcrLine | None:
    """Recognise one line (a contact field) without the detector: faster, and a blank field is never run."""
    with _lock:
        result, _ = engine()(_rgb(image), use_det=False, use_cls=False)
    if not result:
        return None
    text, score = result[0][0], float(result[0][1])
    text = _clean(str(text))
    if not text or score < MIN_SCORE or _RULE_ONLY.match(text):
        return None
    return OcrLine(text, score)


def character_errors(reference: str, hypothesis: str) -> int:
    """Edits (insertions, deletions, substitutions) between two texts, whitespace ignored: the
    numerator of the character error rate, used on staff corrections and in the benchmark."""
    from rapidfuzz.distance import Levenshtein

    return int(Levenshtein.distance("".join(reference.split()), "".join(hypothesis.split())))
