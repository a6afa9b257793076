"""How a stored file is served: inline only for raster images a browser draws safely.

An attachment's media type comes from whoever sent it.  ``image/svg+xml`` (spelled in any case, with
parameters) is a document that can carry script and links; HTML, PDF and everything unknown can do
worse.  So only a fixed list of raster types is shown inline; the rest is a download of
``application/octet-stream`` with ``nosniff``.
"""

from __future__ import annotations

from starlette.responses import Response

INLINE_IMAGE_TYPES = frozenset({"image/jpeg", "image/pjpeg", "image/png", "image/gif", "image/webp", "image/bmp",
                                "image/avif"})


def inline_type(media_type: str | None) -> str | None:
    """The normalised media type when it may be shown inline, else ``None``."""
    base = (media_type or "").split(";", 1)[0].strip().lower()
    return base if base in INLINE_IMAGE_TYPES else None


def file_response(data: bytes, media_type: str | None, filename: str, *,
                  headers: dict[str, str] | None = None) -> Response:
    shown = inline_type(media_type)
    disposition = "inline" if shown else "attachment"
    return Response(data, media_type=shown or "application/octet-stream",
                    headers={**(headers or {}), "content-disposition": f'{disposition}; filename="{filename}"',
                             "x-content-type-options": "nosniff"})
