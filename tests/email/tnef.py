"""winmail.dat as Outlook writes it in rich-text mode (MS-OXTNEF), for the e-mail fixtures.

Outlook (Chinese Windows, OEM code page 936) writes, per attachment: attAttachRendData, the
8.3-style title attAttachTitle in the OEM code page, the bytes in attAttachData, and an
attAttachment block of MAPI properties whose PR_ATTACH_LONG_FILENAME is the real (Unicode) name.
The message body goes in attBody (OEM code page).  Each attribute: level, 16-bit id, 16-bit type,
32-bit length, data, 16-bit checksum (sum of the data bytes).
"""

from __future__ import annotations

import struct

SIGNATURE = 0x223E9F78
LVL_MESSAGE, LVL_ATTACHMENT = 1, 2
ATP_STRING, ATP_TEXT, ATP_BYTE, ATP_DWORD = 0x0001, 0x0002, 0x0006, 0x0008
PT_UNICODE, PT_LONG = 0x001F, 0x0003
PR_ATTACH_LONG_FILENAME, PR_ATTACH_METHOD = 0x3707, 0x3705


def _attribute(level: int, ident: int, kind: int, data: bytes) -> bytes:
    return struct.pack("<BHHI", level, ident, kind, len(data)) + data + struct.pack("<H", sum(data) & 0xFFFF)


def _unicode_prop(ident: int, value: str) -> bytes:
    raw = (value + "\0").encode("utf-16-le")
    padded = raw + b"\0" * (-len(raw) % 4)
    return struct.pack("<HHII", PT_UNICODE, ident, 1, len(raw)) + padded


def _long_prop(ident: int, value: int) -> bytes:
    return struct.pack("<HHI", PT_LONG, ident, value)


def winmail(files: list[tuple[str, bytes]], body: str = "", oem: str = "gbk", codepage: int = 936) -> bytes:
    """A winmail.dat holding ``files`` (long name, bytes) and a plain ``body``."""
    out = struct.pack("<IH", SIGNATURE, 0x5A1C)
    out += _attribute(LVL_MESSAGE, 0x9006, ATP_DWORD, struct.pack("<I", 0x00010000))  # attTnefVersion
    out += _attribute(LVL_MESSAGE, 0x9007, ATP_BYTE, struct.pack("<II", codepage, 0))  # attOemCodepage
    out += _attribute(LVL_MESSAGE, 0x8008, ATP_STRING, b"IPM.Microsoft Mail.Note\0")  # attMessageClass
    if body:
        out += _attribute(LVL_MESSAGE, 0x800C, ATP_TEXT, body.encode(oem) + b"\0")  # attBody
    for name, data in files:
        stem, _, ext = name.rpartition(".")
        short = (stem[:6] + "~1." + ext[:3]) if stem else name
        out += _attribute(LVL_ATTACHMENT, 0x9002, ATP_BYTE, struct.pack("<HiiI", 1, -1, 0, 0) + b"\0" * 2)
        out += _attribute(LVL_ATTACHMENT, 0x8010, ATP_STRING, short.encode(oem, "replace") + b"\0")
        out += _attribute(LVL_ATTACHMENT, 0x800F, ATP_BYTE, data)
        props = struct.pack("<I", 2) + _long_prop(PR_ATTACH_METHOD, 1) + _unicode_prop(PR_ATTACH_LONG_FILENAME, name)
        out += _attribute(LVL_ATTACHMENT, 0x9005, ATP_BYTE, props)  # attAttachment
    return out
