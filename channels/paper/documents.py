"""Scanned batches in, grey page images out: PDF, multi-page TIFF, JPEG and PNG from office scanners.

The file type is read from the bytes (never trusted from the name).  Every refusal is a
``DocumentError`` that says in Chinese what is wrong with *that* file, so a batch goes on with the
next one.  Pillow's decompression-bomb limit (``Image.MAX_IMAGE_PIXELS``) applies to every image
and to every PDF page before it is rendered, and is checked before any pixel is decoded.  A page
that cannot be decoded inside an otherwise readable file is reported as that page's error, and
the other pages are still returned.
"""

from __future__ import annotations

import io
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

PDF_DPI = 200
MAX_PAGES = 300
# pdfium is not thread-safe; the gateway decodes uploads in worker threads.
_PDFIUM_LOCK = threading.Lock()


class Kind:
    PDF = "application/pdf"
    TIFF = "image/tiff"
    JPEG = "image/jpeg"
    PNG = "image/png"


@dataclass(frozen=True, slots=True)
class Limits:
    """What one uploaded file may be.  ``max_pixels`` defaults to Pillow's own bomb limit."""

    max_bytes: int = 25 * 1024 * 1024
    max_pixels: int = field(default_factory=lambda: int(Image.MAX_IMAGE_PIXELS or 89_478_485))
    max_pages: int = MAX_PAGES
    pdf_dpi: int = PDF_DPI


class DocumentError(ValueError):
    """A file (or one page of it) that cannot be read.  ``kind`` says why; ``user_message`` is Chinese."""

    STATUS: ClassVar[dict[str, int]] = {"unsupported": 415, "too_large": 413, "bomb": 413, "too_many_pages": 413,
                                        "corrupt": 422, "empty": 422, "encrypted": 422}

    def __init__(self, kind: str, message: str, user_message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.user_message = user_message

    @property
    def http_status(self) -> int:
        return self.STATUS.get(self.kind, 422)


@dataclass(slots=True)
class LoadedPage:
    """One page: ``image`` is 8-bit grey (mode ``L``), or ``None`` with ``error`` when it could not be read."""

    index: int
    image: Image.Image | None
    dpi: float | None = None
    bilevel: bool = False
    error: DocumentError | None = None


def sniff(data: bytes) -> str | None:
    """The media type from the file's first bytes, or ``None`` for anything we do not read."""
    if data[:1024].lstrip().startswith(b"%PDF-") or b"%PDF-" in data[:1024]:
        return Kind.PDF
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return Kind.TIFF
    if data[:3] == b"\xff\xd8\xff":
        return Kind.JPEG
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return Kind.PNG
    return None


def check_file(data: bytes, name: str, limits: Limits) -> str:
    """Refuse empty, oversized and unsupported files before any decoding; return the media type."""
    if not data:
        raise DocumentError("empty", f"{name}: the file is empty", f"{name}：文件是空的")
    if len(data) > limits.max_bytes:
        raise DocumentError(
            "too_large", f"{name}: {len(data)} bytes exceed the limit of {limits.max_bytes} bytes",
            f"{name}：文件过大（{len(data) / 1048576:.1f} MB），单个文件不能超过 {limits.max_bytes / 1048576:.0f} MB，"
            "请分批扫描")
    kind = sniff(data)
    if kind is None:
        raise DocumentError(
            "unsupported", f"{name}: not a PDF, TIFF, JPEG or PNG file",
            f"{name}：不支持的文件类型，请上传扫描仪生成的 PDF、TIFF、JPEG 或 PNG 文件")
    return kind


def _bomb(name: str, where: str, pixels: int, limits: Limits) -> DocumentError:
    return DocumentError(
        "bomb", f"{name}{where}: {pixels} pixels exceed the decompression-bomb limit of {limits.max_pixels}",
        f"{name}{where}：图像尺寸异常（{pixels / 1e6:.0f} 百万像素，上限 {limits.max_pixels / 1e6:.0f} 百万像素），"
        "可能是损坏或恶意文件，已拒收")


def _corrupt(name: str, where: str, exc: BaseException) -> DocumentError:
    return DocumentError("corrupt", f"{name}{where}: cannot be decoded ({type(exc).__name__}: {exc})",
                         f"{name}{where}：文件已损坏或不完整，无法读取，请重新扫描")


def to_grey(image: Image.Image) -> tuple[Image.Image, bool]:
    """8-bit grey for the decoder, and whether the scan was black-and-white (stored as PNG then)."""
    if image.mode == "1":
        return image.convert("L"), True
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.uint32)
        peak = max(int(array.max()), 1)
        return Image.fromarray((array * 255 // peak).astype(np.uint8), "L"), False
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        background = Image.new("RGBA", image.size, "white")
        background.alpha_composite(image.convert("RGBA"))
        image = background
    return (image if image.mode == "L" else image.convert("L")), False


def _dpi(image: Image.Image) -> float | None:
    dpi = image.info.get("dpi")
    try:
        value = float(dpi[0]) if dpi else None
    except (TypeError, ValueError, IndexError):
        return None
    return value if value and 50 <= value <= 2400 else None


def _image_pages(data: bytes, name: str, limits: Limits) -> Iterator[LoadedPage]:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise _bomb(name, "", 0, limits) from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise _corrupt(name, "", exc) from None
        frames = getattr(image, "n_frames", 1)
        if frames > limits.max_pages:
            raise DocumentError("too_many_pages", f"{name}: {frames} pages exceed the limit of {limits.max_pages}",
                                f"{name}：共 {frames} 页，超过单个文件 {limits.max_pages} 页的上限，请分成几个文件上传")
        for index, frame in enumerate(ImageSequence.Iterator(image)):
            where = f" page {index + 1}" if frames > 1 else ""
            where_zh = f"第 {index + 1} 页" if frames > 1 else ""
            pixels = frame.size[0] * frame.size[1]
            if pixels > limits.max_pixels:
                error = _bomb(name, where_zh, pixels, limits)
                if frames == 1:
                    raise error
                yield LoadedPage(index, None, error=error)
                continue
            try:
                frame.load()
                upright = ImageOps.exif_transpose(frame) if frame.format == "JPEG" else frame
                grey, bilevel = to_grey(upright)
            except (Image.DecompressionBombError, Image.DecompressionBombWarning):
                error = _bomb(name, where_zh, pixels, limits)
                if frames == 1:
                    raise error from None
                yield LoadedPage(index, None, error=error)
                continue
            except (OSError, SyntaxError, ValueError, EOFError) as exc:
                error = _corrupt(name, where_zh or where, exc)
                if frames == 1:
                    raise error from None
                yield LoadedPage(index, None, error=error)
                continue
            yield LoadedPage(index, grey, dpi=_dpi(frame), bilevel=bilevel)


def _open_pdf(data: bytes, name: str) -> Any:
    """The opened ``pdfium.PdfDocument`` (caller holds ``_PDFIUM_LOCK``), or the citizen-facing reason
    it cannot be read: a password, or a damaged file."""
    import pypdfium2 as pdfium

    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise DocumentError("encrypted", f"{name}: the PDF is password-protected",
                                f"{name}：PDF 设置了密码，请导出不加密的 PDF 后再上传") from None
        raise _corrupt(name, "", exc) from None


def _pdf_pages(data: bytes, name: str, limits: Limits) -> Iterator[LoadedPage]:
    import pypdfium2 as pdfium

    with _PDFIUM_LOCK:
        document = _open_pdf(data, name)
        count = len(document)
    try:
        if count == 0:
            raise DocumentError("empty", f"{name}: the PDF has no pages", f"{name}：PDF 中没有页面")
        if count > limits.max_pages:
            raise DocumentError("too_many_pages", f"{name}: {count} pages exceed the limit of {limits.max_pages}",
                                f"{name}：共 {count} 页，超过单个文件 {limits.max_pages} 页的上限，请分成几个文件上传")
        scale = limits.pdf_dpi / 72
        for index in range(count):
            where = f"第 {index + 1} 页"
            with _PDFIUM_LOCK:
                try:
                    page = document[index]
                    width, height = page.get_size()
                    pixels = int(width * scale) * int(height * scale)
                    if pixels > limits.max_pixels:
                        yield_error: DocumentError | None = _bomb(name, where, pixels, limits)
                        image = None
                    else:
                        yield_error = None
                        image = page.render(scale=scale, grayscale=True).to_pil()
                    page.close()
                except pdfium.PdfiumError as exc:
                    yield_error, image = _corrupt(name, where, exc), None
            if image is None:
                yield LoadedPage(index, None, error=yield_error)
                continue
            grey, _ = to_grey(image)
            yield LoadedPage(index, grey, dpi=float(limits.pdf_dpi))
    finally:
        with _PDFIUM_LOCK:
            document.close()


def inspect(data: bytes, name: str, limits: Limits | None = None) -> tuple[str, int]:
    """The media type and page count from the file's header, refusing what cannot be read before
    any page is decoded: the upload answers at once, the pages are decoded later in the background."""
    limits = limits or Limits()
    kind = check_file(data, name, limits)
    if kind == Kind.PDF:

        with _PDFIUM_LOCK:
            document = _open_pdf(data, name)
            count = len(document)
            document.close()
        if count == 0:
            raise DocumentError("empty", f"{name}: the PDF has no pages", f"{name}：PDF 中没有页面")
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            try:
                image = Image.open(io.BytesIO(data))
                count = getattr(image, "n_frames", 1)
            except (Image.DecompressionBombError, Image.DecompressionBombWarning):
                raise _bomb(name, "", 0, limits) from None
            except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
                raise _corrupt(name, "", exc) from None
        if count == 1 and image.size[0] * image.size[1] > limits.max_pixels:
            raise _bomb(name, "", image.size[0] * image.size[1], limits)
        if count == 1:  # a truncated single image shows only when its pixels are read
            try:
                image.load()
            except (OSError, SyntaxError, ValueError, EOFError) as exc:
                raise _corrupt(name, "", exc) from None
    if count > limits.max_pages:
        raise DocumentError("too_many_pages", f"{name}: {count} pages exceed the limit of {limits.max_pages}",
                            f"{name}：共 {count} 页，超过单个文件 {limits.max_pages} 页的上限，请分成几个文件上传")
    return kind, count


def load_pages(data: bytes, name: str, limits: Limits | None = None) -> tuple[str, Iterator[LoadedPage]]:
    """Check the file and return its media type and its pages (decoded lazily, one at a time).

    Raises ``DocumentError`` at once for an unsupported, empty or oversized file; a corrupt file
    or bomb raises when its first page is read, later pages' problems come as ``LoadedPage.error``.
    """
    limits = limits or Limits()
    kind = check_file(data, name, limits)
    if kind == Kind.PDF:
        return kind, _pdf_pages(data, name, limits)
    return kind, _image_pages(data, name, limits)
