"""pyzbar at the level we need: QR codes only, with the symbol's corners in reading order.

``pyzbar.decode`` returns the corners as a convex hull, which loses which corner is the symbol's
top-left.  The mark reader needs exactly that (it measures the tick boxes from the QR code's own
frame, so a page upside down or at 10° still reads), so this module calls zbar through pyzbar's
ctypes wrapper and keeps zbar's own order: top-left, bottom-left, bottom-right, top-right of the
symbol, returned here as top-left, top-right, bottom-right, bottom-left.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass

import numpy as np

try:  # pyzbar loads the system's libzbar0 on import; without it only scanning is unavailable
    from pyzbar import wrapper as zbar
    from pyzbar.pyzbar import _FOURCC, _image, _image_scanner, _symbols_for_image
    from pyzbar.wrapper import ZBarConfig, ZBarSymbol
except ImportError as exc:  # pragma: no cover - exercised by the app-start test with the import blocked
    UNAVAILABLE: str | None = f"二维码识别不可用：系统缺少 zbar 库（请安装 libzbar0）。{exc}"
else:
    UNAVAILABLE = None


class ZbarUnavailable(RuntimeError):
    """libzbar0 is not installed: scanned slips cannot be decoded (the rest of the gateway works)."""

Point = tuple[float, float]


@dataclass(frozen=True, slots=True)
class Symbol:
    data: bytes
    corners: tuple[Point, Point, Point, Point] | None


def scan(array: np.ndarray, *, density: int = 1) -> list[Symbol]:
    """Decode every QR code in an 8-bit grey image (``density`` > 1 scans every n-th line: faster)."""
    if UNAVAILABLE is not None:
        raise ZbarUnavailable(UNAVAILABLE)
    if array.dtype != np.uint8 or array.ndim != 2:
        raise ValueError("scan() needs a 2-D uint8 array")
    height, width = array.shape
    if height < 21 or width < 21:
        return []
    pixels = np.ascontiguousarray(array).tobytes()
    found: list[Symbol] = []
    with _image_scanner() as scanner:
        zbar.zbar_image_scanner_set_config(scanner, ZBarSymbol.NONE, ZBarConfig.CFG_ENABLE, 0)
        zbar.zbar_image_scanner_set_config(scanner, ZBarSymbol.QRCODE, ZBarConfig.CFG_ENABLE, 1)
        zbar.zbar_image_scanner_set_config(scanner, ZBarSymbol.NONE, ZBarConfig.CFG_X_DENSITY, density)
        zbar.zbar_image_scanner_set_config(scanner, ZBarSymbol.NONE, ZBarConfig.CFG_Y_DENSITY, density)
        with _image() as image:
            zbar.zbar_image_set_format(image, _FOURCC["L800"])
            zbar.zbar_image_set_size(image, width, height)
            zbar.zbar_image_set_data(image, ctypes.cast(pixels, ctypes.c_void_p), len(pixels), None)
            if zbar.zbar_scan_image(scanner, image) < 0:  # pragma: no cover - L800 is always supported
                raise RuntimeError("zbar refused the image format")
            for symbol in _symbols_for_image(image):
                data = ctypes.string_at(zbar.zbar_symbol_get_data(symbol), zbar.zbar_symbol_get_data_length(symbol))
                count = zbar.zbar_symbol_get_loc_size(symbol)
                points = [(float(zbar.zbar_symbol_get_loc_x(symbol, i)), float(zbar.zbar_symbol_get_loc_y(symbol, i)))
                          for i in range(count)]
                corners = (points[0], points[3], points[2], points[1]) if count == 4 else None
                found.append(Symbol(data, corners))
    return found
