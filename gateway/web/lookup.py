"""What a citizen may read back: the receipt of their own submission and the status of a case.

Both read only what the page shows.  The status lookup needs the tracking code and a second factor
(the last four digits of the phone number given, or the derived 查询码 when none was given) and
reveals the status and the replies meant for the citizen only — public ones, and answers sent by
SMS (which may have arrived as a notice pointing here) — never the complaint text, names or numbers.

Wrong guesses are counted per tracking code and client address (a keyed hash) in
``web_lookup_attempts``, with a higher cap for all addresses together.  Each lookup first records
an attempt and commits it, then counts the attempts of the period: the k-th concurrent guess sees at
least k, so no burst of parallel requests gets past the limit, on SQLite or PostgreSQL, in one
process or several.  A right answer deletes its own attempt row, so honest lookups never lock a
code.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import bindparam, delete, func, insert, or_, select, true

from channels.web.tokens import status_pin
from gateway.core import redact
from gateway.core.db.models import Case, Contact, Hall, Message, Window
from gateway.core.db.models_web import LookupAttempt
from gateway.core.db.store import Store
from gateway.core.personal import PersonalDataCipher

CODE_SHAPE = re.compile(r"^[A-Z]{1,4}\d{8}-\d{4,6}$")
_DASHES = str.maketrans({"－": "-", "—": "-", "–": "-", "_": "-", " ": ""})
_FULLWIDTH = str.maketrans("０１２３４５６７８９ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺ",
                           "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def normalize_code(raw: str) -> str:
    """``jx20261128－0007`` → ``JX20261128-0007``: what people type from a slip or an SMS."""
    return raw.strip().translate(_FULLWIDTH).upper().translate(_DASHES)[:40]


@dataclass(frozen=True, slots=True)
class Receipt:
    """The confirmation of one web submission, read back by its form token."""

    code: str
    status: str
    category: str | None
    needs_review: bool
    first_response_due: datetime | None
    result_due: datetime | None
    deadline_uncertain: bool
    reply_channel: str | None
    phone: str | None
    hall_name: str | None
    window_name: str | None
    rating: str | None


# Statements are built once: building a select (and its joins) costs more than running it on SQLite.
_RECEIPT = (
    select(Case.code, Case.status, Case.category, Case.needs_review, Case.first_response_due, Case.result_due,
           Case.deadline_uncertain, Case.reply_channel, Case.rating, Hall.name.label("hall_name"),
           Window.name.label("window_name"), Contact.phone_enc)
    .join(Message, Message.case_id == Case.id)
    .outerjoin(Hall, Hall.id == Case.hall_id)
    .outerjoin(Window, Window.id == Case.window_id)
    .outerjoin(Contact, Contact.case_id == Case.id)
    .where(Message.channel == "web", Message.source_ref == bindparam("ref"))
)
_USED = select(Message.id).where(Message.channel == "web", Message.source_ref == bindparam("ref"))
_CASE_FOR_LOOKUP = (
    select(Case.id, Case.code, Case.status, Case.received_at, Case.closed_at, Contact.phone_enc,
           Case.first_response_due, Case.first_responded_at, Case.result_due, Case.paused_at)
    .outerjoin(Contact, Contact.case_id == Case.id).where(Case.code == bindparam("code"))
)
_PUBLIC_REPLIES = (
    select(Message.at, Message.text)
    .where(Message.case_id == bindparam("case_id"), Message.direction == "out",
           or_(Message.public.is_(True), Message.extra["to_citizen"].as_boolean() == true()))
    .order_by(Message.at, Message.id)
)
_COUNT_ATTEMPTS = select(func.count()).select_from(LookupAttempt).where(
    LookupAttempt.code == bindparam("code"), LookupAttempt.at > bindparam("since"))


async def receipt_for(store: Store, cipher: PersonalDataCipher, source_ref: str) -> Receipt | None:
    async with store.read() as session:
        row = (await session.execute(_RECEIPT, {"ref": source_ref})).first()
    if row is None:
        return None
    return Receipt(
        code=row.code, status=row.status, category=row.category, needs_review=row.needs_review,
        first_response_due=row.first_response_due, result_due=row.result_due,
        deadline_uncertain=row.deadline_uncertain, reply_channel=row.reply_channel,
        phone=cipher.open(row.phone_enc) if row.phone_enc else None,
        hall_name=row.hall_name, window_name=row.window_name, rating=row.rating,
    )


async def is_used(store: Store, source_ref: str) -> bool:
    """Whether a submission with this form token is stored (an honest retry of it)."""
    async with store.read() as session:
        return (await session.execute(_USED, {"ref": source_ref})).first() is not None


class LookupOutcome(StrEnum):
    FOUND = "found"
    WRONG = "wrong"
    BLOCKED = "blocked"


@dataclass(frozen=True, slots=True)
class PublicReply:
    at: datetime
    text: str


@dataclass(frozen=True, slots=True)
class StatusView:
    code: str
    status: str
    received_at: datetime
    closed_at: datetime | None
    replies: tuple[PublicReply, ...]
    next_step: str = ""
    due: datetime | None = None


def next_step(status: str, first_response_due: datetime | None, first_responded_at: datetime | None,
              result_due: datetime | None, paused: bool) -> tuple[str, datetime | None]:
    """What happens next for the citizen, in their words, and by when (``None``: no date applies)."""
    if status == "closed":
        return "已办结，感谢您的监督。", None
    if status in ("not_valid", "malicious"):
        return "经核实，反映的情况不属实；如有异议可再次反映。", None
    if status in ("replied", "return_visited"):
        return "已答复。工作人员可能电话回访，了解问题是否解决、您是否满意。", None
    if paused:
        return "需要您补充情况，工作人员会与您联系；补充后继续计时办理。", None
    if first_responded_at is None and first_response_due is not None:
        return "工作人员将在期限前与您联系。", first_response_due
    if result_due is not None:
        return "正在整改，期限前会把整改结果答复您。", result_due
    return "工作人员正在处理。", None


@dataclass(frozen=True, slots=True)
class LookupResult:
    outcome: LookupOutcome
    view: StatusView | None = None


def _second_factor_matches(key: bytes, code: str, phone: str | None, secret: str) -> bool:
    expected = phone[-4:] if phone else status_pin(key, code)
    return hmac.compare_digest(expected.encode(), secret.encode())


async def lookup_status(store: Store, cipher: PersonalDataCipher, key: bytes, code: str, secret: str, *,
                        now: datetime, limit: int, period: timedelta, client: str = "-",
                        limit_all: int | None = None) -> LookupResult:
    """Check ``secret`` for case ``code`` (already normalised, ``secret`` four digits).

    Blocked when this client (address hash) made more than ``limit`` wrong guesses at the code in
    ``period``, or all clients together more than ``limit_all``: one guesser no longer locks the
    code's owner out; only many addresses together can."""
    async with store.write() as session:
        await session.execute(delete(LookupAttempt).where(LookupAttempt.at < now - period))
        attempt_id = (await session.execute(
            insert(LookupAttempt).values(code=code, at=now, client=client).returning(LookupAttempt.id))).scalar_one()
    async with store.read() as session:
        since = now - period
        mine = (await session.execute(_COUNT_ATTEMPTS.where(LookupAttempt.client == client),
                                      {"code": code, "since": since})).scalar_one()
        everyone = (await session.execute(_COUNT_ATTEMPTS, {"code": code, "since": since})).scalar_one()
        if mine > limit or (limit_all is not None and everyone > limit_all):
            return LookupResult(LookupOutcome.BLOCKED)
        row = (await session.execute(_CASE_FOR_LOOKUP, {"code": code})).first()
        if row is None or not _second_factor_matches(
                key, row.code, cipher.open(row.phone_enc) if row.phone_enc else None, secret):
            return LookupResult(LookupOutcome.WRONG)
        replies = (await session.execute(_PUBLIC_REPLIES, {"case_id": row.id})).all()
    async with store.write() as session:
        await session.execute(delete(LookupAttempt).where(LookupAttempt.id == attempt_id))
    return LookupResult(LookupOutcome.FOUND, StatusView(
        code=row.code, status=row.status, received_at=row.received_at, closed_at=row.closed_at,
        replies=tuple(PublicReply(r.at, redact.scrub(r.text)) for r in replies),
        **dict(zip(("next_step", "due"), next_step(row.status, row.first_response_due, row.first_responded_at,
                                                   row.result_due, row.paused_at is not None), strict=True))))
