"""Raw RFC 5322 bytes → ``Intake``, as a short chain of small steps (the Zammad filter idea).

Each step reads and adds to one ``MailContext``; they run in ``PIPELINE`` order and can be tested
one by one.  A step may stop the chain by setting ``ctx.verdict`` (an automatic reply or bounce:
never ingested, never answered).  Bytes that cannot become an ``Intake`` raise
``UnparseableEmail``, which the gateway quarantines with the raw bytes.

This module is pure: no database, no network, no ``gateway`` imports.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import Message
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from typing import Any

from channels.contact import normalize_phone
from channels.email.address import Mailbox, mailboxes
from channels.email.decode import header, html_to_text, raw_header
from channels.email.loops import BounceRecipient, Verdict, bounced_recipients, classify
from channels.email.mime import ALTERNATIVE, ATTACHMENT, SKIPPED, PartRecord, walk
from channels.email.msgid import check_references, extract_ids
from channels.email.quotes import strip_quotes_and_signature
from channels.email.repair import unfold_orphans
from channels.intake import MAX_SUBJECT_CHARS, MAX_TEXT_CHARS, Attachment, Intake, IntakeError, RawOriginal

log = logging.getLogger(__name__)

DEFAULT_MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
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
    parts: list[PartRecord] = field(default_factory=list)
    """Where each MIME leaf part went (``mime.walk``)."""
    defects: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ParsedMail:
    """What the parser made of one message: an ``intake``, or a ``verdict`` saying it is robot mail."""

    source_ref: str
    intake: Intake | None
    verdict: Verdict | None = None
    bounces: tuple[BounceRecipient, ...] = ()
    parts: tuple[PartRecord, ...] = ()


# ----- steps -----------------------------------------------------------------------------------

def step_parse(ctx: MailContext) -> None:
    """Bytes → ``Message``; a header block broken by an unindented continuation line is mended and
    read again (``repair.unfold_orphans``), the defect kept for the message's ``extra``."""
    if not ctx.raw or not ctx.raw.strip():
        raise UnparseableEmail("empty message")
    message = _parse_bytes(ctx.raw)
    if any(type(d).__name__ == "MissingHeaderBodySeparatorDefect" for part in message.walk() for d in part.defects):
        mended = unfold_orphans(ctx.raw)
        if mended != ctx.raw:
            message = _parse_bytes(mended)
            ctx.defects += ["MissingHeaderBodySeparatorDefect", "HeaderContinuationRepaired"]
    if not any(header(message, name) for name in ("From", "Subject", "Message-ID", "Date", "To")):
        raise UnparseableEmail("no From, To, Subject, Date or Message-ID header")
    ctx.message = message


def _parse_bytes(raw: bytes) -> Message:
    try:
        return BytesParser(policy=policy.compat32).parsebytes(raw)
    except Exception as exc:  # the parser is lenient; anything raised here is truly broken input
        raise UnparseableEmail(f"not a MIME message: {type(exc).__name__}") from None


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
    """The sender's address and name (``address.mailboxes``: split before decoding).

    The rule: answers go to Reply-To when it names exactly one usable address (RFC 5322 says
    replies go there; web forms and shared department mailboxes set it), else to From.  The name
    is From's display name, or Reply-To's when From has none.  A From whose display name looks
    like another address than its own is flagged (``sender_name_mismatch``) and not used as a name.
    """
    assert ctx.message is not None
    sender = next(iter(mailboxes(raw_header(ctx.message, "From") or "")), Mailbox("", None))
    reply_to = [box for box in mailboxes(raw_header(ctx.message, "Reply-To") or "") if box.address]
    if sender.name_mismatch:
        ctx.extra["sender_name_mismatch"] = True
    chosen = reply_to[0] if len(reply_to) == 1 else sender
    if chosen.address is None:
        ctx.extra["sender_invalid"] = True
        return
    ctx.contact["email"] = chosen.address
    if chosen is not sender and chosen.address != sender.address:
        ctx.extra["reply_to_used"] = True
    name = sender.name or (chosen.name if not chosen.name_mismatch else "")
    if name:
        ctx.contact["name"] = name


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


def step_body(ctx: MailContext) -> None:
    """Text and attachments from every leaf part (``mime.walk``); defects go to ``extra``."""
    assert ctx.message is not None
    result = walk(ctx.message, ctx.options.max_attachment_bytes)
    ctx.attachments = result.attachments
    ctx.parts = result.parts
    ctx.charsets = result.charsets
    ctx.defects += result.defects
    texts = [segment.text for segment in result.segments]
    if not any(t.strip() for t in texts) and result.text_files:
        # Nothing was sent as text, but a text file was (Apple Mail's named inline .txt): read it.
        texts = [t.strip("\n") if kind == "plain" else html_to_text(t) for kind, t in result.text_files]
        ctx.extra["text_from_attachment"] = True
    elif result.segments and all(segment.kind == "html" for segment in result.segments):
        ctx.extra["html_only"] = True
    text = "\n\n".join(t for t in texts if t.strip())
    text = _CONTROL.sub("", text.replace("\t", "    ")).strip()
    if len(text) > MAX_TEXT_CHARS:
        text = text[:MAX_TEXT_CHARS]
        ctx.extra["text_truncated"] = True
    ctx.fields["text"] = text
    _account(ctx)


def _account(ctx: MailContext) -> None:
    """Record in ``extra`` (and the log) what was not kept and what was wrong."""
    inline = sum(1 for a in ctx.attachments if a.content_id)
    if inline:
        ctx.extra["inline_parts"] = inline
    skipped = [r for r in ctx.parts if r.role == SKIPPED or (r.role == ATTACHMENT and r.reason)]
    if skipped:
        ctx.extra["parts_not_kept"] = "; ".join(f"{r.path} {r.content_type}: {r.reason}" for r in skipped)[:500]
    if ctx.defects:
        ctx.extra["mime_defects"] = ",".join(dict.fromkeys(ctx.defects))[:300]
        ctx.extra["mime_malformed"] = True
    if skipped or ctx.defects or log.isEnabledFor(logging.DEBUG):
        mail = hashlib.sha256(ctx.raw).hexdigest()[:12]
        for record in ctx.parts:
            level = logging.DEBUG if record.role in (ALTERNATIVE, "text") or not record.reason else logging.INFO
            log.log(level, "email %s: part %s %s → %s%s", mail, record.path, record.content_type, record.role,
                    f" ({record.reason})" if record.reason else "")
        if ctx.defects:
            log.info("email %s: MIME defects %s", mail, ",".join(dict.fromkeys(ctx.defects)))


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
    return ParsedMail(source_ref, intake, parts=tuple(ctx.parts))
