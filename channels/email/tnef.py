"""The files inside a winmail.dat (``application/ms-tnef``), which Outlook sends in rich-text mode.

Why: a citizen writing from Outlook in rich-text mode sends one opaque ``winmail.dat``; the photos
and documents they attached are inside it, and no clerk can open it.  ``tnefparse`` (a well-kept
reader of Microsoft's TNEF format) reads it; this module turns what it finds into plain
(name, bytes) pairs and the body text.  The winmail.dat itself is kept too, as received.

Names: Outlook writes a short title in the sender's OEM code page (GBK on Chinese Windows) and the
real name as a Unicode MAPI property; the Unicode name is used, else the title decoded with the
file's own code page.
"""

from __future__ import annotations

import logging
import mimetypes
from dataclasses import dataclass, field

TNEF_TYPE = "application/ms-tnef"
_SIGNATURE = b"\x78\x9f\x3e\x22"


@dataclass(slots=True)
class Unpacked:
    files: list[tuple[str, str, bytes]] = field(default_factory=list)
    """(name, media type, bytes) of each attached file."""
    body: str = ""


def is_tnef(media_type: str, name: str, data: bytes | None) -> bool:
    return (media_type == TNEF_TYPE or name.lower() == "winmail.dat") and bool(data) and data[:4] == _SIGNATURE


def _text(value: object, codepage: str | None) -> str:
    if isinstance(value, bytes):
        return value.decode(codepage or "cp1252", "replace").replace("\x00", "").strip()
    return str(value or "").replace("\x00", "").strip()


def unpack(data: bytes) -> Unpacked | None:
    """The files and the body text inside ``data``; None when it cannot be read as TNEF."""
    from tnefparse import TNEF

    logging.getLogger("tnefparse").setLevel(logging.CRITICAL)  # it logs every odd property
    try:
        parsed = TNEF(data, do_checksum=False)
    except Exception:  # any malformed input: the winmail.dat stays as it came
        return None
    out = Unpacked(body=_text(parsed.body, parsed.codepage))
    for index, item in enumerate(parsed.attachments, start=1):
        content = bytes(item.data or b"")
        if not content:
            continue
        try:
            name = _text(item.long_filename(), parsed.codepage)
        except Exception:
            name = ""
        if not name:
            name = _text(item._name, parsed.codepage)  # tnefparse keeps the raw title bytes here
        name = name or f"winmail-{index}"
        media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        out.files.append((name, media_type, content))
    return out
