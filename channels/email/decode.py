"""Bytes to text for e-mail: charsets, RFC 2047 header words, and HTML to plain text.

Chinese mail arrives labelled ``gb2312`` while holding GBK-only characters (镕, 堃, 喆); the
standard library then decodes them to U+FFFD without raising.  Every GB label is therefore decoded
as GB18030, the superset, and ``big5`` as ``big5hkscs``.

Order of attempts for a body: the declared charset, then UTF-8, then GB18030, then Big5, then UTF-8
with replacement characters.  UTF-8 comes before GB18030 on purpose: GB18030 accepts almost any
byte sequence of even length, so it would turn unlabelled UTF-8 into mojibake without an error,
while strict UTF-8 practically never accepts GBK text.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
from html.parser import HTMLParser
from typing import Any

_ALIASES = {
    "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "cp936": "gb18030", "ms936": "gb18030",
    "euc-cn": "gb18030", "euccn": "gb18030", "x-euc-cn": "gb18030", "csgb2312": "gb18030", "gb_2312-80": "gb18030",
    "hz-gb-2312": "hz", "big5": "big5hkscs", "x-big5": "big5hkscs", "cp950": "big5hkscs", "big5-hkscs": "big5hkscs",
    "unicode-1-1-utf-7": "utf-7", "ks_c_5601-1987": "cp949", "x-unknown": "", "unknown-8bit": "",
}
FALLBACKS = ("utf-8", "gb18030", "big5hkscs")


def codec_for(label: str | None) -> str | None:
    """The Python codec to use for a declared charset label, or None when it is unknown."""
    if not label:
        return None
    name = label.strip().strip('"').lower()
    name = _ALIASES.get(name, name)
    if not name:
        return None
    try:
        return codecs.lookup(name).name
    except (LookupError, ValueError):  # ValueError: a label with a NUL byte in it
        return None


def decode_bytes(data: bytes, declared: str | None = None) -> tuple[str, str]:
    """Decode ``data``; return ``(text, codec used)``.  Never raises.

    When the first codec that fits most of the text fails on a few bytes only (a UTF-8 body with
    one bad byte, a GBK footer a relay appended to a UTF-8 mail), only those bytes are decoded
    otherwise (``segments`` in the codec name): the rest is not turned into mojibake by decoding
    the whole body as GB18030.
    """
    tried: list[str] = []
    first = codec_for(declared)
    for codec in ([first] if first else []) + list(FALLBACKS):
        if codec in tried:
            continue
        tried.append(codec)
        try:
            return data.decode(codec), codec
        except UnicodeDecodeError:
            mostly = _mostly(data, codec)
            if mostly is not None:
                return mostly, f"{codec}+segments"
        except LookupError:
            continue
    return data.decode("utf-8", errors="replace"), "utf-8-replace"


_BAD_RUN = re.compile("[\udc80-\udcff]+")


def _mostly(data: bytes, codec: str) -> str | None:
    """``data`` in ``codec`` with its undecodable runs decoded one by one, when at least as many
    non-ASCII characters decode cleanly as bytes fail; else None (the label is plainly wrong)."""
    try:
        text = data.decode(codec, errors="surrogateescape")
    except (UnicodeDecodeError, LookupError):  # a codec without surrogateescape support
        return None
    bad = sum(len(run) for run in _BAD_RUN.findall(text))
    good = sum(1 for ch in text if ch > "\x7f") - bad
    if good < bad:
        return None
    alternates = [c for c in ("utf-8", "gb18030") if c != codec]
    out: list[str] = []
    position = 0
    for match in _BAD_RUN.finditer(text):
        if match.start() < position:  # its first byte was taken by the previous run's fix
            continue
        out.append(text[position:match.start()])
        run = match.group(0).encode("utf-8", "surrogateescape")
        # A GBK character whose second byte is ASCII (0x40-0x7e) leaves that byte decoded as a
        # letter after the failing lead byte: try the run with the next character as well.
        following = text[match.end():match.end() + 1]
        candidates = [run]
        if following and "\x40" <= following <= "\x7e":
            candidates.insert(0, run + following.encode("ascii"))
        out.append("\ufffd" * len(run))
        position = match.end()
        for candidate, alternate in ((c, a) for c in candidates for a in alternates):
            try:
                out[-1] = candidate.decode(alternate)
            except UnicodeDecodeError:
                continue
            position = match.end() + len(candidate) - len(run)
            break
    out.append(text[position:])
    return "".join(out)


# ----- headers -------------------------------------------------------------------------------------

# The payload may hold spaces: broken mailers write them unencoded inside Q and B words.
_ENCODED_WORD = re.compile(r"=\?([^?\s*]+)(?:\*[^?\s]*)?\?([bBqQ])\?([^?\r\n]*?)\?=")
_BETWEEN_WORDS = re.compile(r"(\?=)\s+(=\?)")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# Everything ``str.splitlines`` breaks on: a header value holding one of these makes
# ``email.policy.default`` refuse the header, so our acknowledgement could never be sent.
_LINE_BREAKS = re.compile("[\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]+")
_SURROGATE = re.compile("[\udc80-\udcff]")
_PLAIN_HEADER = re.compile(r"(?:(?!=\?)[\x20-\x7e])*")


def _word_bytes(encoding: str, payload: str) -> bytes:
    if encoding.lower() == "b":
        cleaned = re.sub(r"[^A-Za-z0-9+/]", "", payload)
        cleaned += "=" * (-len(cleaned) % 4)
        try:
            return base64.b64decode(cleaned)
        except binascii.Error:
            return payload.encode("ascii", "replace")
    return binascii.a2b_qp(payload.encode("ascii", "replace"), header=True)


def decode_header_value(value: str | bytes | None) -> str:
    """Decode a raw header value leniently.

    Handles RFC 2047 encoded words anywhere (also inside quotes or glued to other text, as broken
    mailers write them), adjacent words split in the middle of a multi-byte character, wrong
    charset labels, missing base64 padding, and unlabelled 8-bit bytes (which the ``email``
    package carries as surrogate escapes).  Folding and control characters are removed.
    """
    if value is None:
        return ""
    if isinstance(value, bytes):
        text = decode_bytes(value)[0]
    else:
        text = str(value)
        if _PLAIN_HEADER.fullmatch(text):  # the common case: printable ASCII, no encoded words
            return text.strip()
        if _SURROGATE.search(text):
            text = decode_bytes(text.encode("ascii", "surrogateescape"))[0]
    text = re.sub(r"\r?\n[ \t]*", " ", text)
    text = _BETWEEN_WORDS.sub(r"\1\2", text)
    out: list[str] = []
    position = 0
    pending: list[tuple[str | None, bytes]] = []

    def flush() -> None:
        # Join consecutive words of the same charset before decoding: mailers split a character's
        # bytes across two words.
        while pending:
            charset, data = pending.pop(0)
            while pending and pending[0][0] == charset:
                data += pending.pop(0)[1]
            out.append(decode_bytes(data, charset)[0])

    for match in _ENCODED_WORD.finditer(text):
        if match.start() > position:
            flush()
            out.append(text[position:match.start()])
        pending.append((match.group(1), _word_bytes(match.group(2), match.group(3))))
        position = match.end()
    flush()
    out.append(text[position:])
    return one_line("".join(out))


def one_line(value: str) -> str:
    """``value`` as one header line: line breaks become spaces, other control characters go."""
    return _CONTROL.sub("", _LINE_BREAKS.sub(" ", value)).strip()


# ----- HTML ---------------------------------------------------------------------------------------

_BLOCK = {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote", "pre",
          "section", "article", "header", "footer", "ul", "ol", "hr", "dd", "dt"}
_SKIP = {"script", "style", "head", "title", "noscript", "template"}


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0
        self.quote = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skip += 1
        elif tag == "blockquote":
            self.quote += 1
            self.parts.append("\n")
        elif tag in _BLOCK:
            self.parts.append("\n")
        if tag == "li":
            self.parts.append("- ")
        elif tag in ("td", "th"):
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "hr"):
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip = max(self.skip - 1, 0)
        elif tag == "blockquote":
            self.quote = max(self.quote - 1, 0)
            self.parts.append("\n")
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        text = re.sub(r"\s+", " ", data)
        if self.quote:
            # Keep quoted HTML recognisable as a quote for the triage-text step.
            text = text.replace("\n", "\n> ")
            if not self.parts or self.parts[-1].endswith("\n"):
                text = "> " + text.lstrip()
        self.parts.append(text)


def html_to_text(html: str) -> str:
    """Readable plain text from an HTML body: no tags, scripts or styles; paragraphs kept."""
    parser = _TextExtractor()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # html.parser is lenient; be defensive against pathological input anyway
        return re.sub(r"<[^>]*>", " ", html)
    text = "".join(parser.parts).replace("\xa0", " ")
    lines = [line.strip() for line in text.split("\n")]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def raw_header(message: Any, name: str) -> str | None:
    """The first ``name`` header exactly as stored (encoded words and 8-bit bytes intact).

    The loop, identity and sender steps read a dozen headers of every mail; the first values
    are indexed once per message instead of scanning the header list for each."""
    index = message.__dict__.get("_hcp_first_headers")
    if index is None:
        index = {}
        for key, value in message.raw_items():
            index.setdefault(key.lower(), value)
        message.__dict__["_hcp_first_headers"] = index
    value = index.get(name.lower())
    return None if value is None else str(value)


def header(message: Any, name: str) -> str:
    """The decoded value of ``name`` (first occurrence) read from the raw stored header, so
    unlabelled 8-bit bytes reach ``decode_header_value`` intact."""
    value = raw_header(message, name)
    return "" if value is None else decode_header_value(value)
