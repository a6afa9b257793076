"""Raw RFC 5322 bytes → ``Intake``, as a short chain of small steps (the Zammad filter idea).

Each step reads and adds to one ``MailContext``; they run in ``PIPELINE`` order and can be tested
one by one.  A step may stop the chain by setting ``ctx.verdict`` (an automatic reply or bounce:
never ingested, never answered).  Bytes that cannot become an ``Intake`` raise
``UnparseableEmail``, which the gateway quarantines with the raw bytes.

This module is pure: no database, no network, no ``gateway`` imports.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import Message
from email.parser import BytesParser
from email.utils import parseaddr, parsedate_to_datetime
from typing import Any

from channels.contact import normalize_email, normalize_phone
from channels.email.decode import decode_bytes, decode_header_value, header, html_to_text
from channels.email.loops import BounceRecipient, Verdict, bounced_recipients, classify
from channels.email.msgid import check_references, extract_ids
from channels.email.quotes import strip_quotes_and_signature
from channels.intake import MAX_SUBJECT_CHARS, MAX_TEXT_CHARS, Attachment, Intake, IntakeError, RawOriginal

DEFAULT_MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
_MEDIA_TYPE = re.compile(r"^[\w.+-]+/[\w.+-]+$")
_CODE_RE = re.compile(r"(?<![A-Za-z0-9])([A-Z]{1,4})(\d{8})-(\d{4,6})(?![0-9])")
_PHONE_RE = re.compile(
    # The leading look-ahead lets the engine skip every position that cannot start a number
    # (almost all of a Chinese text) with one test instead of four look-behinds: ~13x faster.
    r"(?=[\d+(（])(?:"
    r"(?<![\d])(?:(?:\+|00)?86[\s-]?)?(1[3-9]\d[\s-]?\d{4}[\s-]?\d{4})(?![\d])"
    r"|(?<![\d])(0\d{2,3}[-－]\d{7,8})(?![\d])"
    r"|(?<![\d])(\(0\d{2,3}\)\s?\d{7,8})(?![\d])"
    r"|(?<![\d])(（0\d{2,3}）\s?\d{7,8})(?![\d])"
    r")"
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class UnparseableEmail(ValueError):
    """The bytes cannot become an ``Intake``; the gateway keeps them in quarantine."""


@dataclass(frozen=True, slots=True)
class ParseOptions:
    tracking_prefix: str = "JX"
    max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES
    signing_key: bytes | None = None
    """When given, only our own HMAC-verified Message-IDs count as thread references."""


@dataclass
class MailContext:
    raw: bytes
    options: ParseOptions
    received_at: datetime | None = None
    message: Message | None = None
    verdict: Verdict | None = None
    bounces: list[BounceRecipient] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)
    contact: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    charsets: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ParsedMail:
    """What the parser made of one message: an ``intake``, or a ``verdict`` saying it is robot mail."""

    source_ref: str
    intake: Intake | None
    verdict: Verdict | None = None
    bounces: tuple[BounceRecipient, ...] = ()


# ----- steps -----------------------------------------------------------------------------------

def step_parse(ctx: MailContext) -> None:
    if not ctx.raw or not ctx.raw.strip():
        raise UnparseableEmail("empty message")
    try:
        message = BytesParser(policy=policy.compat32).parsebytes(ctx.raw)
    except Exception as exc:  # the parser is lenient; anything raised here is truly broken input
        raise UnparseableEmail(f"not a MIME message: {type(exc).__name__}") from None
    if not any(header(message, name) for name in ("From", "Subject", "Message-ID", "Date", "To")):
        raise UnparseableEmail("no From, To, Subject, Date or Message-ID header")
    ctx.message = message


def step_loop_protection(ctx: MailContext) -> None:
    assert ctx.message is not None
    ctx.verdict = classify(ctx.message)
    if ctx.verdict is not None and ctx.verdict.kind == "bounce":
        ctx.bounces = bounced_recipients(ctx.message)


def step_identity(ctx: MailContext) -> None:
    """Message-ID → source_ref (hash of the bytes when absent); Date → received_at."""
    assert ctx.message is not None
    ids = extract_ids(header(ctx.message, "Message-ID"))
    mid = ids[0] if ids else ""
    ctx.fields["source_ref"] = mid if mid and len(mid) <= 255 else source_ref_of_raw(ctx.raw)
    if ctx.received_at is None:
        try:
            date = parsedate_to_datetime(header(ctx.message, "Date"))
        except (TypeError, ValueError, IndexError):
            date = None
        ctx.received_at = date if date is not None and date.tzinfo is not None else datetime.now(UTC)
    ctx.fields["received_at"] = ctx.received_at


def step_subject(ctx: MailContext) -> None:
    assert ctx.message is not None
    subject = header(ctx.message, "Subject")
    ctx.fields["subject"] = subject[:MAX_SUBJECT_CHARS] or None


def step_sender(ctx: MailContext) -> None:
    """From (or Reply-To when present) → contact e-mail and name."""
    assert ctx.message is not None
    for name in ("Reply-To", "From"):
        display, address = parseaddr(header(ctx.message, name))
        try:
            ctx.contact["email"] = normalize_email(address)
        except ValueError:
            continue
        display = _CONTROL.sub("", display).strip().strip('"').strip()
        if display and display.lower() != address.lower() and "@" not in display:
            ctx.contact["name"] = display[:50]
        return
    ctx.extra["sender_invalid"] = True


def step_threading(ctx: MailContext) -> None:
    """In-Reply-To/References → references; with a signing key only our verified IDs count."""
    assert ctx.message is not None
    ids = extract_ids(header(ctx.message, "In-Reply-To"), header(ctx.message, "References"))
    ids = [mid for mid in ids if len(mid) <= 255]
    key = ctx.options.signing_key
    if key is None:
        ctx.fields["references"] = tuple(ids)
        return
    check = check_references(ids, key)
    ctx.fields["references"] = check.trusted
    if check.forged:
        ctx.extra["forged_references"] = len(check.forged)


def _part_text(part: Message) -> str:
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        data = str(part.get_payload()).encode("utf-8", "surrogateescape")
    text = decode_bytes(data, part.get_content_charset())[0]
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _attachment_name(part: Message, index: int) -> str:
    raw = part.get_param("filename", header="content-disposition") or part.get_param("name")
    if isinstance(raw, tuple):  # RFC 2231: (charset, language, value)
        charset, _, value = raw
        name = decode_bytes(value.encode("latin-1", "surrogateescape") if isinstance(value, str) else value,
                            charset)[0]
    else:
        name = decode_header_value(raw) if raw else ""
    name = _CONTROL.sub("", name).replace("/", "_").replace("\\", "_").strip()
    if not name:
        subtype = part.get_content_subtype() or "bin"
        name = f"attachment-{index}.{subtype[:10]}"
    return name[:255]


def _add_attachment(ctx: MailContext, part: Message) -> None:
    index = len(ctx.attachments) + 1
    media_type = part.get_content_type()
    if not _MEDIA_TYPE.match(media_type):
        media_type = "application/octet-stream"
    if part.get_content_type() == "message/rfc822":
        inner = part.get_payload()
        content = inner[0].as_bytes() if isinstance(inner, list) and inner else b""
    else:
        content = part.get_payload(decode=True) or b""
    name = _attachment_name(part, index)
    limit = ctx.options.max_attachment_bytes
    if len(content) > limit:
        ctx.attachments.append(Attachment(
            name=name, media_type=media_type, size=len(content), sha256=hashlib.sha256(content).hexdigest(),
            rejected=f"too large: {len(content)} bytes exceed the limit of {limit} bytes"))
    else:
        ctx.attachments.append(Attachment.from_bytes(name, media_type, content))


def _walk(ctx: MailContext, part: Message) -> None:
    content_type = part.get_content_type()
    disposition = (part.get_content_disposition() or "").lower()
    if content_type == "multipart/alternative":
        children = part.get_payload()
        assert isinstance(children, list)
        plain = [c for c in children if c.get_content_type() == "text/plain"
                 and (c.get_content_disposition() or "") != "attachment"]
        chosen = plain[:1] or [c for c in children if c.get_content_type() != "text/plain"][-1:]
        for child in chosen:
            _walk(ctx, child)
        return
    if part.is_multipart() and content_type != "message/rfc822":
        for child in part.get_payload():  # type: ignore[union-attr]
            _walk(ctx, child)
        return
    is_attachment = disposition == "attachment" or (
        (part.get_filename() or part.get_param("name")) and disposition != "inline"
    )
    if content_type == "text/plain" and not is_attachment:
        ctx.plain.append(_part_text(part))
        ctx.charsets.append(str(part.get_content_charset()))
    elif content_type == "text/html" and not is_attachment:
        ctx.html.append(_part_text(part))
        ctx.charsets.append(str(part.get_content_charset()))
    elif content_type.startswith("multipart/"):
        return
    else:
        _add_attachment(ctx, part)


def step_body(ctx: MailContext) -> None:
    """Text (plain preferred over HTML), attachments (oversize ones recorded as rejected)."""
    assert ctx.message is not None
    _walk(ctx, ctx.message)
    if ctx.plain:
        text = "\n\n".join(t.strip("\n") for t in ctx.plain)
    elif ctx.html:
        text = "\n\n".join(html_to_text(h) for h in ctx.html)
        ctx.extra["html_only"] = True
    else:
        text = ""
    text = _CONTROL.sub("", text.replace("\t", "    ")).strip()
    if len(text) > MAX_TEXT_CHARS:
        text = text[:MAX_TEXT_CHARS]
        ctx.extra["text_truncated"] = True
    ctx.fields["text"] = text


def step_triage_text(ctx: MailContext) -> None:
    text = ctx.fields.get("text", "")
    trimmed = strip_quotes_and_signature(text)
    ctx.fields["triage_text"] = trimmed if trimmed != text else None


def step_phone(ctx: MailContext) -> None:
    """The first phone number the citizen wrote (not one in a quote or signature)."""
    source = ctx.fields.get("triage_text") or ctx.fields.get("text", "")
    for match in _PHONE_RE.finditer(source):
        candidate = next(group for group in match.groups() if group)
        try:
            ctx.contact["phone"] = normalize_phone(candidate)
            return
        except ValueError:
            continue


def step_tracking_code(ctx: MailContext) -> None:
    subject = ctx.fields.get("subject") or ""
    codes = find_codes(subject, ctx.options.tracking_prefix)
    if codes:
        ctx.fields["tracking_code"] = codes[0]


def find_codes(text: str, prefix: str) -> list[str]:
    """Tracking codes with our prefix in ``text`` (same rule as ``gateway.core.tracking.find_codes``)."""
    normalized = text.upper().replace("－", "-").replace("—", "-")
    return [m.group(0) for m in _CODE_RE.finditer(normalized) if m.group(1) == prefix]


Step = Callable[[MailContext], None]
PIPELINE: tuple[Step, ...] = (
    step_parse, step_loop_protection, step_identity, step_subject, step_sender, step_threading,
    step_body, step_triage_text, step_phone, step_tracking_code,
)


def source_ref_of_raw(raw: bytes) -> str:
    return f"sha256:{hashlib.sha256(raw).hexdigest()}"


def run_pipeline(raw: bytes, options: ParseOptions | None = None, *, received_at: datetime | None = None,
                 steps: tuple[Step, ...] = PIPELINE) -> MailContext:
    ctx = MailContext(raw=raw, options=options or ParseOptions(), received_at=received_at)
    for step in steps:
        step(ctx)
        if ctx.verdict is not None:
            step_identity(ctx)
            break
    return ctx


def parse_email(raw: bytes, options: ParseOptions | None = None, *, received_at: datetime | None = None) -> ParsedMail:
    """Parse one message.  Robot mail comes back with ``verdict`` set and no intake."""
    ctx = run_pipeline(raw, options, received_at=received_at)
    source_ref = ctx.fields["source_ref"]
    if ctx.verdict is not None:
        return ParsedMail(source_ref, None, ctx.verdict, tuple(ctx.bounces))
    if ctx.charsets:
        ctx.extra["charsets"] = ",".join(dict.fromkeys(ctx.charsets))
    try:
        intake = Intake.build(
            channel="email", **ctx.fields, contact=ctx.contact, attachments=tuple(ctx.attachments),
            raw=RawOriginal(media_type="message/rfc822", content=raw), extra=ctx.extra,
        )
    except IntakeError as exc:
        raise UnparseableEmail(f"not a usable complaint: {exc}") from None
    return ParsedMail(source_ref, intake)
