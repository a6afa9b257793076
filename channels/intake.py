"""The one complaint model: every channel adapter turns its raw input into an ``Intake``.

An ``Intake`` is immutable and validated when it is built, so the gateway can trust every field
and never has to know which channel produced it.  ``(channel, source_ref)`` identifies the input
within its channel (Message-ID, call id, slip serial, form token) and makes ingest idempotent.
Validation errors are ``IntakeError`` with one entry per bad field, naming the field and the reason.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from channels.contact import normalize_email, normalize_phone
from channels.ratings import REASON_CODES, Rating

MAX_TEXT_CHARS = 50_000
MAX_SUBJECT_CHARS = 300
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029\u0085]+")


def one_line(value: str) -> str:
    """Line breaks folded to one space: a subject or a name goes into mail headers and one-line
    lists, where a CR/LF would make every acknowledgement fail (or inject a header)."""
    return _LINE_BREAKS.sub(" ", value).strip()


class Channel(StrEnum):
    """Where an item came from; also the reply channel unless the citizen prefers another."""

    EMAIL = "email"
    PHONE = "phone"
    PAPER = "paper"
    WEB = "web"
    WECHAT = "wechat"
    HOTLINE12345 = "hotline12345"

    @property
    def label(self) -> str:
        return {"email": "电子邮件", "phone": "热线电话", "paper": "意见箱", "web": "找茬窗口", "wechat": "微信公众号",
                "hotline12345": "12345热线工单"}[self.value]


class ReplyChannel(StrEnum):
    """How the citizen wants to hear back."""

    EMAIL = "email"
    SMS = "sms"
    PHONE = "phone"
    WECHAT = "wechat"
    NONE = "none"


Code = Annotated[str, StringConstraints(strip_whitespace=True, pattern=CODE_PATTERN)]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Contact(_Frozen):
    """The evaluator's personal data: confidential, masked in lists, encrypted at rest."""

    name: Annotated[str, StringConstraints(max_length=50)] | None = None
    phone: str | None = None
    email: str | None = None
    # The OpenID of the citizen on the county's WeChat Official Account (channels/wechat/).
    wechat: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{6,64}$")] | None = None
    real_name: bool = False
    preferred_channel: ReplyChannel | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and _CONTROL.search(value):
            raise ValueError("name contains control characters")
        return one_line(value) or None if value is not None else None

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return normalize_phone(value) if value else None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return normalize_email(value) if value else None

    @model_validator(mode="after")
    def _reachable(self) -> Self:
        wanted = self.preferred_channel
        if wanted is ReplyChannel.EMAIL and not self.email:
            raise ValueError("preferred_channel is email but no e-mail address is given")
        if wanted in (ReplyChannel.SMS, ReplyChannel.PHONE) and not self.phone:
            raise ValueError(f"preferred_channel is {wanted.value} but no phone number is given")
        if wanted is ReplyChannel.WECHAT and not self.wechat:
            raise ValueError("preferred_channel is wechat but no OpenID is given")
        if self.real_name and not self.name:
            raise ValueError("real_name is set but no name is given")
        return self

    @property
    def is_empty(self) -> bool:
        return not (self.name or self.phone or self.email or self.wechat)


class Attachment(_Frozen):
    """A file that came with the item.  ``content`` is None when it was rejected (too large, …)."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    media_type: Annotated[str, StringConstraints(pattern=r"^[\w.+-]+/[\w.+-]+$", max_length=127)]
    size: Annotated[int, Field(ge=0)]
    sha256: Sha256 | None = None
    content: bytes | None = Field(default=None, repr=False)
    rejected: str | None = None
    content_id: Annotated[str, StringConstraints(max_length=255)] | None = None
    """An e-mail part's Content-ID (without brackets): an HTML text shows the part as ``cid:…``."""

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.content is None:
            if not self.rejected:
                raise ValueError("an attachment without content must say why it was rejected")
            return self
        if self.rejected:
            raise ValueError("a rejected attachment must not carry content")
        if len(self.content) != self.size:
            raise ValueError(f"size {self.size} does not match the content's {len(self.content)} bytes")
        digest = hashlib.sha256(self.content).hexdigest()
        if self.sha256 is None:
            object.__setattr__(self, "sha256", digest)
        elif self.sha256 != digest:
            raise ValueError("sha256 does not match the content")
        return self

    @classmethod
    def from_bytes(cls, name: str, media_type: str, content: bytes) -> Attachment:
        return cls(name=name, media_type=media_type, size=len(content), content=content)


class RawOriginal(_Frozen):
    """The input exactly as received (eml bytes, scan image, webhook form), kept for audit."""

    media_type: Annotated[str, StringConstraints(pattern=r"^[\w.+-]+/[\w.+-]+$", max_length=127)]
    content: bytes = Field(repr=False)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


class Intake(_Frozen):
    """One incoming item from any channel, before it is stored."""

    channel: Channel
    source_ref: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    received_at: datetime
    subject: Annotated[str, StringConstraints(max_length=MAX_SUBJECT_CHARS)] | None = None
    text: Annotated[str, StringConstraints(max_length=MAX_TEXT_CHARS)] = ""
    triage_text: Annotated[str, StringConstraints(max_length=MAX_TEXT_CHARS)] | None = None
    rating: Rating | None = None
    reasons: tuple[str, ...] = ()
    hall: Code | None = None
    window: Code | None = None
    service_item: Code | None = None
    # When the evaluated service happened, if the channel knows (a hotline caller names the visit,
    # the queue system reports the finish time); ``staff`` is the evaluated staff member's
    # employee number when the source system names them.  Both feed the staff attribution.
    visited_at: datetime | None = None
    staff: Code | None = None
    contact: Contact = Contact()
    attachments: tuple[Attachment, ...] = ()
    raw: RawOriginal | None = None
    references: tuple[Annotated[str, StringConstraints(min_length=1, max_length=255)], ...] = ()
    tracking_code: Annotated[str, StringConstraints(max_length=32)] | None = None
    extra: Mapping[str, str | int | float | bool | None] = Field(default_factory=dict)

    @field_validator("source_ref", "subject")
    @classmethod
    def _no_control(cls, value: str | None) -> str | None:
        if value is not None and _CONTROL.search(value):
            raise ValueError("contains control characters")
        return value

    @field_validator("subject")
    @classmethod
    def _subject_one_line(cls, value: str | None) -> str | None:
        return one_line(value) or None if value is not None else None

    @field_validator("received_at", "visited_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and (value.tzinfo is None or value.utcoffset() is None):
            raise ValueError("must be timezone-aware (for example 2026-11-28T09:30:00+08:00)")
        return value

    @field_validator("rating", mode="before")
    @classmethod
    def _rating(cls, value: Any) -> Any:
        return None if value in (None, "") else Rating.parse(value)

    @field_validator("reasons", mode="before")
    @classmethod
    def _reasons(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part for part in re.split(r"[,，\s]+", value) if part]
        unknown = [code for code in value if code not in REASON_CODES]
        if unknown:
            raise ValueError(f"unknown reason code(s) {', '.join(map(str, unknown))}; "
                             f"known: {', '.join(sorted(REASON_CODES))}")
        return tuple(dict.fromkeys(value))

    @model_validator(mode="after")
    def _meaningful(self) -> Self:
        if self.reasons and self.rating is not None and not self.rating.is_bad:
            raise ValueError("reasons are given only with 不满意 or 非常不满意, "
                             f"not with {self.rating.label}")
        if self.window and not self.hall:
            raise ValueError("window is given without its hall")
        if not (self.text.strip() or self.rating or self.attachments or self.subject):
            raise ValueError("the item has no text, rating, subject or attachment")
        return self

    @property
    def text_for_triage(self) -> str:
        """The text the classifier should read (quotes and signatures removed where the adapter could)."""
        return self.triage_text if self.triage_text is not None else self.text

    @classmethod
    def build(cls, **fields: Any) -> Intake:
        """Validate ``fields`` into an ``Intake``, raising ``IntakeError`` that names each bad field."""
        try:
            return cls(**fields)
        except ValidationError as exc:
            raise IntakeError.from_validation(exc) from None


class IntakeError(ValueError):
    """An input that cannot become an ``Intake``; ``problems`` maps field paths to reasons."""

    def __init__(self, problems: dict[str, str]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{field}: {reason}" for field, reason in problems.items()))

    @classmethod
    def from_validation(cls, exc: ValidationError) -> IntakeError:
        problems: dict[str, str] = {}
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"]) or "intake"
            message = error["msg"].removeprefix("Value error, ")
            problems.setdefault(field, message)
        return cls(problems)
