"""The MIME walk: every leaf part of a mail ends up somewhere, and the record says where.

A leaf is one of
- ``text``: part of the complaint text (``text/plain`` or ``text/html`` shown inline);
- ``alternative``: another rendering of text that was taken from a sibling alternative;
- ``attachment``: kept as a file (photos, documents, inline images with their Content-ID,
  winmail.dat, forwarded mails), or recorded as rejected with the reason (too large);
- ``skipped``: not kept, with the reason (a signature, the HTML body's style sheet).

So a mail is never silently smaller than what arrived.  The walk follows every branch of a
``multipart/alternative``, not only the chosen one: iPhone and Apple Mail put the photos inside the
HTML branch (``alternative[plain, related[html, image…]]``), and those photos are the citizen's
evidence.  Among alternatives the longest meaningful text wins (HTML measured as text); plain
text wins a near tie, being what the sender typed.  In every other multipart the text parts are
kept in order.  A ``multipart/*`` whose children cannot be split is read again with the boundary
its body really uses (``repair.sniff_boundary``), else its body is taken as text; either way the
parser's defect list is kept for the message's ``extra``.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass, field
from email import policy
from email.message import Message
from email.parser import BytesParser

from channels.email import tnef
from channels.email.decode import codec_for, decode_bytes, decode_header_value, html_to_text, one_line
from channels.email.repair import sniff_boundary
from channels.intake import Attachment

TEXT, ALTERNATIVE, ATTACHMENT, SKIPPED = "text", "alternative", "attachment", "skipped"
_MEDIA_TYPE = re.compile(r"^[\w.+-]+/[\w.+-]+$")
_NOT_MEANINGFUL = re.compile(r"[\W_]+")
_HTML_HIDDEN = re.compile(r"<(script|style|head|title)\b.*?</\1\s*>", re.I | re.S)
_HTML_TAG = re.compile(r"<[^>]*>")
_SIGNATURES = {"application/pkcs7-signature", "application/x-pkcs7-signature", "application/pgp-signature"}
# Other renderings of the same text that mail clients put beside plain and HTML.
_RENDERINGS = {"text/x-amp-html", "text/watch-html", "text/x-watch-html", "text/enriched", "text/richtext"}
_MAX_DEPTH = 40
PLAIN_NEAR_TIE = 0.9
"""Plain text is chosen over a richer alternative that has less than 1/0.9 of its meaningful text."""


@dataclass(slots=True)
class PartRecord:
    """Where one leaf part went.  ``path`` numbers parts as IMAP does (``1.2.1``)."""

    path: str
    content_type: str
    role: str
    reason: str = ""
    sha256: str | None = None


@dataclass(slots=True)
class Segment:
    kind: str
    """``plain`` or ``html``."""
    source: str
    record: PartRecord
    _text: str | None = None

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = self.source.strip("\n") if self.kind == "plain" else html_to_text(self.source)
        return self._text

    def meaningful(self) -> int:
        """Letters and digits (Chinese characters included); for HTML a fast estimate without the
        full conversion, which only the chosen text needs."""
        if self.kind == "plain" or self._text is not None:
            source = self.text
        else:
            source = html.unescape(_HTML_TAG.sub(" ", _HTML_HIDDEN.sub(" ", self.source)))
        return len(_NOT_MEANINGFUL.sub("", source))


@dataclass
class _Branch:
    segments: list[Segment] = field(default_factory=list)
    attachments: list[tuple[Attachment, PartRecord]] = field(default_factory=list)
    records: list[PartRecord] = field(default_factory=list)
    text_files: list[tuple[str, str]] = field(default_factory=list)

    def merge(self, other: _Branch, *, text: bool = True) -> None:
        if text:
            self.segments += other.segments
        self.attachments += other.attachments
        self.records += other.records
        self.text_files += other.text_files


@dataclass
class Walk:
    """The result: text segments in order, attachments, and one record per leaf part."""

    segments: list[Segment]
    attachments: list[Attachment]
    parts: list[PartRecord]
    defects: list[str]
    charsets: list[str]
    text_files: list[tuple[str, str]]
    """``(kind, text)`` of text files, the fallback when no part is text."""
    recovered: int = 0


class _Walker:
    def __init__(self, max_attachment_bytes: int) -> None:
        self.max_bytes = max_attachment_bytes
        self.defects: list[str] = []
        self.charsets: list[str] = []
        self.recovered = 0
        self.files = 0

    # -- structure --

    def visit(self, part: Message, path: str, branch: _Branch, *, resource: bool = False, depth: int = 0) -> None:
        self.defects += [type(defect).__name__ for defect in part.defects]
        content_type = _type(part)
        if content_type.startswith("message/") or not content_type.startswith("multipart/"):
            self.leaf(part, path, branch, resource=resource)
            return
        children = part.get_payload()
        if not isinstance(children, list):
            self.unsplit(part, path, branch, resource=resource, depth=depth)
            return
        if depth >= _MAX_DEPTH:
            self.defects.append("NestingTooDeep")
            for index, child in enumerate(_leaves(part)):
                self.leaf(child, f"{path}.{index + 1}" if path else str(index + 1), branch, resource=True)
            return
        if content_type == "multipart/alternative":
            self.alternative(children, path, branch, depth=depth)
            return
        root = _related_root(part, children) if content_type == "multipart/related" else -1
        for index, child in enumerate(children):
            self.visit(child, _child(path, index), branch, resource=resource or (root >= 0 and index != root),
                       depth=depth + 1)

    def alternative(self, children: list[Message], path: str, branch: _Branch, *, depth: int) -> None:
        branches: list[tuple[_Branch, str]] = []
        for index, child in enumerate(children):
            sub = _Branch()
            child_path = _child(path, index)
            content_type = _type(child)
            if content_type in _RENDERINGS:
                self.defects += [type(defect).__name__ for defect in child.defects]
                sub.records.append(PartRecord(child_path, content_type, ALTERNATIVE,
                                              f"another rendering of the text ({content_type})"))
            else:
                self.visit(child, child_path, sub, depth=depth + 1)
            branches.append((sub, child_path))
        chosen = _choose([sub for sub, _ in branches])
        kept = {a.sha256 for a, _ in branches[chosen][0].attachments} if chosen >= 0 else set()
        for index, (sub, _child_path) in enumerate(branches):
            if index == chosen:
                branch.merge(sub)
                continue
            chosen_path = branches[chosen][1] if chosen >= 0 else ""
            for segment in sub.segments:
                segment.record.role = ALTERNATIVE
                segment.record.reason = f"alternative to the text of part {chosen_path}"
            for attachment, record in list(sub.attachments):
                if attachment.sha256 in kept:  # the same file in two renderings: keep it once
                    sub.attachments.remove((attachment, record))
                    record.role, record.reason = ALTERNATIVE, "same file as in the chosen alternative"
                kept.add(attachment.sha256)
            branch.merge(sub, text=False)

    def unsplit(self, part: Message, path: str, branch: _Branch, *, resource: bool, depth: int) -> None:
        """A multipart whose parts the parser could not split: find the real boundary, else text."""
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes):
            data = b""
        body = data.decode("ascii", "surrogateescape")
        boundary = sniff_boundary(body)
        if boundary and '"' not in boundary and depth < _MAX_DEPTH:
            head = f'Content-Type: {_type(part)}; boundary="{boundary}"\r\n\r\n'
            again = BytesParser(policy=policy.compat32).parsebytes(head.encode("utf-8", "surrogateescape") + data)
            if isinstance(again.get_payload(), list):
                self.recovered += 1
                self.defects.append("BoundaryRecovered")
                self.visit(again, path, branch, resource=resource, depth=depth + 1)
                return
        self.defects.append("MultipartReadAsText")
        record = PartRecord(path or "1", _type(part), TEXT, "multipart without parts, read as text")
        branch.records.append(record)
        branch.segments.append(Segment("plain", self.decode(part, data), record))

    # -- leaves --

    def leaf(self, part: Message, path: str, branch: _Branch, *, resource: bool) -> None:
        path = path or "1"
        content_type = _type(part)
        disposition = (part.get_content_disposition() or "").lower()
        named = bool(part.get_param("filename", header="content-disposition") or part.get_param("name"))
        if (content_type in ("text/plain", "text/html") and disposition != "attachment" and not named
                and not resource):
            record = PartRecord(path, content_type, TEXT)
            branch.records.append(record)
            branch.segments.append(Segment(content_type[5:], self.text_of(part), record))
        elif content_type in _SIGNATURES:
            branch.records.append(PartRecord(path, content_type, SKIPPED, "cryptographic signature"))
        elif content_type == "text/css" and resource:
            branch.records.append(PartRecord(path, content_type, SKIPPED, "style sheet of the HTML text"))
        else:
            self.files += 1
            attachment = self.attachment(part, self.files)
            record = PartRecord(path, content_type, ATTACHMENT, attachment.rejected or "", attachment.sha256)
            branch.records.append(record)
            branch.attachments.append((attachment, record))
            if tnef.is_tnef(content_type, attachment.name, attachment.content):
                self.winmail(attachment.content or b"", path, branch)
            if content_type in ("text/plain", "text/html") and attachment.content is not None:
                branch.text_files.append((content_type[5:], self.decode(part, attachment.content)))
        self.defects += [type(defect).__name__ for defect in part.defects]

    def winmail(self, data: bytes, path: str, branch: _Branch) -> None:
        """The files inside a winmail.dat become attachments of their own (``1.2/tnef1``…); its
        body is a text fallback.  The winmail.dat itself stays as received."""
        unpacked = tnef.unpack(data)
        if unpacked is None:
            self.defects.append("WinmailUnreadable")
            return
        for index, (name, media_type, content) in enumerate(unpacked.files, start=1):
            self.files += 1
            sha256 = hashlib.sha256(content).hexdigest()
            if len(content) > self.max_bytes:
                attachment = Attachment(name=name[:255], media_type=media_type, size=len(content), sha256=sha256,
                                        rejected=f"too large: {len(content)} bytes exceed the limit of "
                                                 f"{self.max_bytes} bytes")
            else:
                attachment = Attachment(name=name[:255], media_type=media_type, size=len(content), content=content)
            record = PartRecord(f"{path}/tnef{index}", media_type, ATTACHMENT,
                                attachment.rejected or "unpacked from winmail.dat", sha256)
            branch.records.append(record)
            branch.attachments.append((attachment, record))
        if unpacked.body:
            branch.text_files.append(("plain", unpacked.body))

    def decode(self, part: Message, data: bytes) -> str:
        charset = part.get_content_charset()
        text, codec = decode_bytes(data, charset)
        expected = codec_for(charset) or "utf-8"
        self.charsets.append(str(charset) if codec == expected else f"{charset}>{codec}")
        return text.replace("\r\n", "\n").replace("\r", "\n")

    def text_of(self, part: Message) -> str:
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes):
            data = str(part.get_payload()).encode("utf-8", "surrogateescape")
        return self.decode(part, data)

    def attachment(self, part: Message, index: int) -> Attachment:
        media_type = _type(part)
        content = _content(part)
        name = _attachment_name(part, index)
        content_id = one_line(str(part.get("Content-ID") or "")).strip("<> ")[:255] or None
        if len(content) > self.max_bytes:
            return Attachment(name=name, media_type=media_type, size=len(content),
                              sha256=hashlib.sha256(content).hexdigest(), content_id=content_id,
                              rejected=f"too large: {len(content)} bytes exceed the limit of {self.max_bytes} bytes")
        return Attachment(name=name, media_type=media_type, size=len(content), content=content, content_id=content_id)


def walk(message: Message, max_attachment_bytes: int) -> Walk:
    """Account for every leaf of ``message`` (see the module docstring)."""
    walker = _Walker(max_attachment_bytes)
    branch = _Branch()
    walker.visit(message, "", branch)
    return Walk(segments=branch.segments, attachments=[a for a, _ in branch.attachments],
                parts=sorted(branch.records, key=_part_order),
                defects=list(dict.fromkeys(walker.defects)), charsets=list(dict.fromkeys(walker.charsets)),
                text_files=branch.text_files, recovered=walker.recovered)


def _part_order(record: PartRecord) -> list[tuple[int, int]]:
    """IMAP part numbers in order; a file unpacked from a winmail.dat (``2/tnef1``) right after it."""
    return [(0, int(n)) if n.isdigit() else (1, int(n[4:] or 0)) for n in re.split(r"[./]", record.path)]


def _choose(branches: list[_Branch]) -> int:
    """Index of the alternative whose text to use, or -1 when none has text."""
    scores = [sum(s.meaningful() for s in b.segments) if b.segments else -1 for b in branches]
    if max(scores, default=-1) < 0:
        return -1
    best = max(scores)
    for index, branch in enumerate(branches):
        if scores[index] >= 0 and branch.segments[0].kind == "plain" and scores[index] >= best * PLAIN_NEAR_TIE:
            return index
    return len(scores) - 1 - scores[::-1].index(best)  # the last of equals: RFC 2046 puts the richest last


def _type(part: Message) -> str:
    """The part's media type, or ``application/octet-stream`` when it is not one (a folded line
    break or other junk must not reach a log line or the attachment row)."""
    content_type = part.get_content_type()
    return content_type if len(content_type) <= 127 and _MEDIA_TYPE.match(content_type) else "application/octet-stream"


def _child(path: str, index: int) -> str:
    return f"{path}.{index + 1}" if path else str(index + 1)


def _related_root(part: Message, children: list[Message]) -> int:
    start = str(part.get_param("start") or "").strip().strip("<>")
    if start:
        for index, child in enumerate(children):
            if str(child.get("Content-ID") or "").strip().strip("<>") == start:
                return index
    return 0


def _leaves(part: Message) -> list[Message]:
    return [sub for sub in part.walk() if not isinstance(sub.get_payload(), list)]


def _raw_param(part: Message, header_name: str, param: str) -> str:
    for key, value in part.raw_items():
        if key.lower() == header_name:
            match = re.search(rf'(?:^|;)\s*{param}\s*=\s*(?:"([^"]*)"|([^;\s]+))', str(value), re.I)
            if match:
                return decode_header_value(match.group(1) if match.group(1) is not None else match.group(2))
    return ""


def _content(part: Message) -> bytes:
    payload = part.get_payload()
    if part.get_content_type().startswith("message/") and isinstance(payload, list):
        try:
            return b"".join(inner.as_bytes() for inner in payload)
        except Exception:  # a broken inner message: keep its text as the parser holds it
            return "".join(str(inner) for inner in payload).encode("utf-8", "surrogateescape")
    data = part.get_payload(decode=True)
    if isinstance(data, bytes):
        return data
    return str(payload or "").encode("utf-8", "surrogateescape")


def _attachment_name(part: Message, index: int) -> str:
    raw = part.get_param("filename", header="content-disposition") or part.get_param("name")
    if isinstance(raw, tuple):  # RFC 2231: (charset, language, value)
        charset, _, value = raw
        try:
            data = value.encode("latin-1", "surrogateescape") if isinstance(value, str) else value
            name = decode_bytes(data, charset)[0]
        except UnicodeEncodeError:  # already text (bytes the parser had to replace)
            name = str(value)
    else:
        name = decode_header_value(raw) if raw else ""
    if "\ufffd" in name:
        # Raw 8-bit bytes in the parameter (Foxmail's GBK names): ``get_param`` has already replaced
        # them, so read the stored header, whose bytes are still intact.
        name = _raw_param(part, "content-disposition", "filename") or _raw_param(part, "content-type", "name") or name
    name = one_line(name).replace("/", "_").replace("\\", "_").strip().strip(".").strip()
    if not name:
        content_type = _type(part)
        if content_type == "message/rfc822":
            subject = ""
            inner = part.get_payload()
            if isinstance(inner, list) and inner:
                subject = decode_header_value(inner[0].get("Subject"))
            name = (one_line(subject).replace("/", "_").replace("\\", "_").strip()[:80] or
                    f"message-{index}") + ".eml"
        else:
            subtype = re.sub(r"[^\w.+-]", "", part.get_content_subtype() or "")[:10] or "bin"
            name = f"attachment-{index}.{subtype}"
    return name[:255]
