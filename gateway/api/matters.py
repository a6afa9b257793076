"""Finished 办件 and their evaluations (一事一评): each matter is evaluated at most once, whether
the evaluation arrives ready-made from the client system or from the citizen through the link
we send.

Both paths end in one ``Intake`` whose source reference is ``matter:{client}:{办件编号}``, so the
``UNIQUE(channel, source_ref)`` of the case store is what guarantees "accepted once".
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from channels.contact import normalize_email, normalize_phone
from channels.intake import Intake, IntakeError
from channels.ratings import REASON_CODES, Rating
from gateway.core.db.dialect import dialect_of, insert_ignoring
from gateway.core.db.models import Hall, Message, ServiceItem, Window
from gateway.core.db.models_matters import ApiClient, Matter
from gateway.core.ingest import IngestError, IngestResult
from gateway.core.outbox import OutgoingMessage, enqueue
from gateway.core.services import Services
from gateway.core.sms_config import sms_ready

Text64 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Code = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServiceItemRef(_Strict):
    code: Code = Field(description="政务服务事项编码, as registered in the gateway")
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] = Field(
        description="事项名称 (as the client knows it; the registry's name is authoritative)")


class Applicant(_Strict):
    type: Literal["person", "legal_person", "organization"] = Field(
        description="申请人类型: person 自然人, legal_person 法人, organization 其他组织")
    name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = None
    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)] | None = None
    email: Annotated[str, StringConstraints(strip_whitespace=True, max_length=254)] | None = None
    notify: Literal["sms", "email", "none"] = Field(
        default="sms", description="how to send the evaluation link (needs the phone or e-mail)")

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return normalize_phone(value) if value else None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return normalize_email(value) if value else None


class MatterIn(_Strict):
    """办结通知: a matter was finished at a window or online."""

    matter_no: Text64 = Field(description="办件编号, unique within the client system; makes the call idempotent")
    service_item: ServiceItemRef
    department: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = Field(
        default=None, description="承办部门")
    hall: Code | None = Field(default=None, description="hall code (omit for online-only matters)")
    window: Code | None = Field(default=None, description="window code inside the hall")
    staff_no: Code | None = Field(default=None, description="工号 of the staff member who handled it")
    applicant: Applicant
    finished_at: AwareDatetime = Field(description="办结时间, with time zone")


class EvaluationIn(_Strict):
    """A ready-made evaluation of one matter (the platform's own evaluation page)."""

    matter_no: Text64
    rating: Literal["very_satisfied", "satisfied", "basic", "dissatisfied", "very_dissatisfied"]
    reasons: list[Annotated[str, StringConstraints(max_length=32)]] = Field(default_factory=list, max_length=10)
    text: Annotated[str, StringConstraints(max_length=2000)] = ""
    evaluated_at: AwareDatetime

    @field_validator("reasons")
    @classmethod
    def _reasons(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - REASON_CODES)
        if unknown:
            raise ValueError(f"unknown reason code(s) {', '.join(unknown)}")
        return value


class MatterError(ValueError):
    """A request about a matter that cannot be accepted; ``status`` is the HTTP answer."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


def source_ref(client_code: str, matter_no: str) -> str:
    return f"matter:{client_code}:{matter_no}"


# ----- the evaluation link --------------------------------------------------------------------------


def link_token(key: bytes, matter_id: int, expires_at: datetime) -> str:
    """Short, unguessable, self-expiring: ``base64url(id, expiry) . base64url(hmac[:9])``."""
    payload = struct.pack(">QI", matter_id, int(expires_at.timestamp()))
    digest = hmac.new(key, b"matter-link:" + payload, hashlib.sha256).digest()[:9]
    encode = base64.urlsafe_b64encode
    return f"{encode(payload).decode().rstrip('=')}.{encode(digest).decode()}"


@dataclass(frozen=True)
class LinkRef:
    matter_id: int
    expires_at: datetime


def read_link_token(key: bytes, token: str) -> LinkRef | None:
    """The matter a link names, or ``None`` for a forged or malformed token (expiry is the caller's check)."""
    try:
        data, signature = token.split(".")
        payload = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
        given = base64.urlsafe_b64decode(signature)
    except (ValueError, TypeError):
        return None
    if len(payload) != 12:
        return None
    expected = hmac.new(key, b"matter-link:" + payload, hashlib.sha256).digest()[:9]
    if not hmac.compare_digest(expected, given):
        return None
    matter_id, expires = struct.unpack(">QI", payload)
    return LinkRef(matter_id, datetime.fromtimestamp(expires, UTC))


# ----- recording ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MatterResult:
    matter_id: int
    created: bool
    link: str | None


async def record_matter(services: Services, client_id: int, client_code: str, matter: MatterIn) -> MatterResult:
    """Store a finished matter and send its evaluation link once; a repeat returns the first result."""
    settings, cipher = services.settings, services.cipher
    now = datetime.now(UTC)
    expires = now + timedelta(days=settings.evaluation_link_days)
    applicant = matter.applicant

    def work(session: Session) -> MatterResult:
        item_id = session.execute(select(ServiceItem.id).where(ServiceItem.code == matter.service_item.code)
                                  ).scalar_one_or_none()
        if item_id is None:
            raise MatterError(f"unknown service item {matter.service_item.code!r}; register it in the gateway first")
        hall_id = window_id = None
        if matter.hall:
            hall_id = session.execute(select(Hall.id).where(Hall.code == matter.hall)).scalar_one_or_none()
            if hall_id is None:
                raise MatterError(f"unknown hall {matter.hall!r}")
            if matter.window:
                window_id = session.execute(select(Window.id).where(
                    Window.hall_id == hall_id, Window.code == matter.window)).scalar_one_or_none()
                if window_id is None:
                    raise MatterError(f"hall {matter.hall} has no window {matter.window!r}")
        elif matter.window:
            raise MatterError("window given without hall")
        if applicant.notify == "sms" and not applicant.phone:
            raise MatterError("applicant.notify is sms but no phone was given")
        if applicant.notify == "email" and not applicant.email:
            raise MatterError("applicant.notify is email but no e-mail was given")
        matter_id = session.execute(insert_ignoring(dialect_of(session), Matter, ("client_id", "matter_no"), "id"), {
            "client_id": client_id, "matter_no": matter.matter_no, "hall_id": hall_id, "window_id": window_id,
            "service_item_id": item_id, "department": matter.department, "staff_no": matter.staff_no,
            "applicant_type": applicant.type, "key_id": cipher.current_key_id,
            "name_enc": cipher.seal(applicant.name), "phone_enc": cipher.seal(applicant.phone),
            "email_enc": cipher.seal(applicant.email), "finished_at": matter.finished_at, "created_at": now,
            "link_expires_at": expires, "evaluated_case_id": None, "evaluation_digest": None, "unrated_at": None,
        }).scalar_one_or_none()
        if matter_id is None:  # the same 办件 again: nothing new, same answer
            existing = session.execute(select(Matter.id, Matter.link_expires_at).where(
                Matter.client_id == client_id, Matter.matter_no == matter.matter_no)).one()
            return MatterResult(existing.id, False, evaluation_url(services, existing.id, existing.link_expires_at))
        url = evaluation_url(services, matter_id, expires)
        # No SMS provider: the link is not queued for an SMS that could never leave; the calling
        # system still gets it in the answer (to print or show as a QR code).
        if applicant.notify == "email" or (applicant.notify == "sms" and sms_ready(settings)):
            days = settings.evaluation_link_days
            body = (f"您办理的“{matter.service_item.name}”已办结。请对本次服务作出评价（{days}天内有效）：{url}")
            enqueue(session, cipher, OutgoingMessage(
                channel=applicant.notify, kind="evaluation_request",
                recipient=applicant.phone if applicant.notify == "sms" else applicant.email,  # type: ignore[arg-type]
                subject="请对本次政务服务作出评价" if applicant.notify == "email" else None, body=body,
                dedup_key=f"evaluation-request:{matter_id}",
                payload={"matter_id": matter_id, "item": matter.service_item.name, "days": str(days), "url": url}),
                now=now)
        return MatterResult(matter_id, True, url)

    return await services.store.run_write(work)


def evaluation_url(services: Services, matter_id: int, expires_at: datetime) -> str:
    token = link_token(services.settings.signing_key(), matter_id, expires_at)
    return f"{services.settings.public_url.rstrip('/')}/e/{token}"


@dataclass(frozen=True)
class MatterFacts:
    """What the evaluation of a matter needs to become an ``Intake``."""

    id: int
    client_code: str
    matter_no: str
    hall: str | None
    window: str | None
    service_item: str
    staff_no: str | None
    finished_at: datetime
    link_expires_at: datetime
    evaluated: bool
    name: str | None
    phone: str | None
    email: str | None


async def matter_facts(services: Services, *, matter_id: int | None = None, client_id: int | None = None,
                       matter_no: str | None = None) -> MatterFacts | None:
    query = (select(Matter, ApiClient.code, Hall.code, Window.code, ServiceItem.code)
             .join(ApiClient, ApiClient.id == Matter.client_id)
             .join(ServiceItem, ServiceItem.id == Matter.service_item_id)
             .outerjoin(Hall, Hall.id == Matter.hall_id).outerjoin(Window, Window.id == Matter.window_id))
    if matter_id is not None:
        query = query.where(Matter.id == matter_id)
    else:
        query = query.where(Matter.client_id == client_id, Matter.matter_no == matter_no)
    async with services.store.read() as session:
        row = (await session.execute(query)).first()
    if row is None:
        return None
    matter, client_code, hall, window, item = row
    cipher = services.cipher
    return MatterFacts(matter.id, client_code, matter.matter_no, hall, window, item, matter.staff_no,
                       matter.finished_at, matter.link_expires_at, matter.evaluated_case_id is not None,
                       cipher.open(matter.name_enc), cipher.open(matter.phone_enc), cipher.open(matter.email_enc))


def intake_for(facts: MatterFacts, *, rating: Rating, reasons: list[str], text: str, received_at: datetime,
               extra: dict[str, str | bool] | None = None) -> Intake:
    """The one complaint model for an evaluation of this matter, whichever path it came by."""
    try:
        return Intake.build(
            channel="web", source_ref=source_ref(facts.client_code, facts.matter_no), received_at=received_at,
            subject=None, text=text, rating=rating, reasons=reasons if rating.is_bad else [],
            hall=facts.hall, window=facts.window, service_item=facts.service_item, staff=facts.staff_no,
            visited_at=facts.finished_at,
            contact={"name": facts.name, "phone": facts.phone, "email": facts.email, "real_name": bool(facts.name),
                     "preferred_channel": "sms" if facts.phone else ("email" if facts.email else None)},
            extra={"matter_no": facts.matter_no, "client": facts.client_code, **(extra or {})})
    except IntakeError as exc:
        raise MatterError("; ".join(f"{k}: {v}" for k, v in exc.problems.items())) from None


async def mark_evaluated(services: Services, matter_id: int, case_id: int, digest: str | None) -> None:
    async with services.store.write() as session:
        await session.execute(update(Matter).where(Matter.id == matter_id, Matter.evaluated_case_id.is_(None))
                              .values(evaluated_case_id=case_id, evaluation_digest=digest))


def evaluation_digest(evaluation: EvaluationIn) -> str:
    return hashlib.sha256(json.dumps(evaluation.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()


async def record_evaluation(services: Services, client_id: int, evaluation: EvaluationIn) -> tuple[IngestResult, bool]:
    """Ingest a ready-made evaluation; ``(result, repeat)``.  The same evaluation again is an honest
    retry (``repeat``); a different second evaluation of the same matter is refused (409)."""
    facts = await matter_facts(services, client_id=client_id, matter_no=evaluation.matter_no)
    if facts is None:
        raise MatterError(f"unknown matter {evaluation.matter_no!r}: post it to /api/v1/matters first", status=404)
    digest = evaluation_digest(evaluation)
    if facts.evaluated:
        async with services.store.read() as session:
            stored = (await session.execute(select(Matter.evaluation_digest).where(Matter.id == facts.id))).scalar_one()
        if stored != digest:
            raise MatterError(f"matter {evaluation.matter_no} has already been evaluated (一事一评)", status=409)
    intake = intake_for(facts, rating=Rating(evaluation.rating), reasons=evaluation.reasons, text=evaluation.text,
                        received_at=evaluation.evaluated_at)
    try:
        result = await services.ingestor.ingest(intake)
    except IngestError as exc:
        raise MatterError(str(exc)) from None
    if result.duplicate and facts.evaluated is False:
        # Evaluated through the citizen's link a moment ago: the first evaluation stands.
        raise MatterError(f"matter {evaluation.matter_no} has already been evaluated (一事一评)", status=409)
    await mark_evaluated(services, facts.id, result.case_id, digest)
    return result, result.duplicate


# ----- unrated matters ------------------------------------------------------------------------------


async def sweep_unrated(services: Services, now: datetime | None = None, batch: int = 200) -> int:
    """Mark matters not rated within ``unrated_after_days`` as 未评; under the ``basic`` policy also
    record a 基本满意 evaluation for each (flagged ``unrated_default`` so figures can tell)."""
    settings = services.settings
    now = now or datetime.now(UTC)
    cutoff = now - timedelta(days=settings.unrated_after_days)
    async with services.store.read() as session:
        ids = list((await session.execute(select(Matter.id).where(
            Matter.evaluated_case_id.is_(None), Matter.unrated_at.is_(None), Matter.finished_at < cutoff)
            .order_by(Matter.id).limit(batch))).scalars())
    for matter_id in ids:
        facts = await matter_facts(services, matter_id=matter_id)
        assert facts is not None
        async with services.store.read() as session:  # evaluated, but the process died before marking it
            stored = (await session.execute(select(Message.case_id).where(
                Message.channel == "web", Message.source_ref == source_ref(facts.client_code, facts.matter_no))
            )).scalar_one_or_none()
        if stored is not None:
            await mark_evaluated(services, matter_id, stored, None)
            continue
        if settings.unrated_policy == "basic":
            result = await services.ingestor.ingest(intake_for(
                facts, rating=Rating.BASIC, reasons=[], text="（逾期未评价，按规定视为基本满意）", received_at=now,
                extra={"unrated_default": True}))
            await mark_evaluated(services, matter_id, result.case_id, None)
        async with services.store.write() as session:
            await session.execute(update(Matter).where(Matter.id == matter_id, Matter.unrated_at.is_(None))
                                  .values(unrated_at=now))
    return len(ids)
