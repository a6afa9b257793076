"""``hcp demo seed``: realistic demo cases, so a new installation looks alive and benchmarks have data.

Each case gets a whole life: receipt on a channel, triage, verification with a verdict, rectification,
a public reply, a return visit with the citizen's satisfaction, closing — cut off at the anchor
moment, so that recent cases are still in progress and some are overdue.  Personal data (made-up
names, phone numbers, e-mail addresses) goes through ``services.cipher`` like real data.

Deterministic: the same ``--seed`` and ``--until`` give the same cases (only the encryption nonces
differ).  Demo tracking codes use the prefix ``DEMO`` (``DEMO20261127-00042``, per-day sequence),
which real cases never use (the configured prefix is refused if it is ``DEMO``), and their
``source_ref`` is ``demo:SEED:N``.  Demo cases are never pushed upstream.

Rows go in with bulk ``INSERT``s of explicit ids in batches, not through the per-case ingest
path: a million cases (≈ 8 million rows with messages, events and contacts) must load in minutes.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import JSON, Boolean, func, literal_column, select, text
from sqlalchemy.orm import Session

from channels.ratings import REASONS, Rating
from gateway.core.db.models import Case, CaseEvent, Contact, Hall, Message, ServiceItem, Window
from gateway.core.db.models_matters import ApiClient, Matter
from gateway.core.db.store import Store
from gateway.core.db.types import AwareDateTime
from gateway.core.deadlines import WorkCalendar, deadlines_for
from gateway.core.domain import CaseStatus, Category
from gateway.core.personal import PersonalDataCipher
from gateway.core.sources import source_of
from gateway.results import demo_texts as T

DEMO_PREFIX = "DEMO"
BATCH = 2000
CHANNELS = (("web", 0.38), ("paper", 0.27), ("phone", 0.2), ("email", 0.15))
RATINGS = ((Rating.VERY_SATISFIED, 0.56), (Rating.SATISFIED, 0.24), (Rating.BASIC, 0.08),
           (Rating.DISSATISFIED, 0.08), (Rating.VERY_DISSATISFIED, 0.04))
REASON_CATEGORY = {"attitude": Category.IMMEDIATE, "environment": Category.IMMEDIATE,
                   "platform": Category.IMMEDIATE, "competence": Category.TIME_LIMITED,
                   "efficiency": Category.TIME_LIMITED, "guidance": Category.TIME_LIMITED,
                   "repeat_trips": Category.TIME_LIMITED, "materials": Category.TIME_LIMITED,
                   "convenience": Category.TIME_LIMITED, "coordination": Category.COORDINATED}
TRIAGE_REASON = {"attitude": "attitude", "environment": "environment", "platform": "facilities",
                 "competence": "procedure", "efficiency": "efficiency", "guidance": "procedure",
                 "repeat_trips": "steps", "materials": "steps", "convenience": "procedure",
                 "coordination": "cross_department"}
WINDOW_ITEMS = {"w01": ("HJ001", "WS001", "NY001", "JY001"), "w02": ("SB001", "SB002", "SB003", "JY001"),
                "w03": ("MZ001", "MZ002", "MZ003", "TY001"), "w04": ("BDC001",)}


class DemoError(ValueError):
    """The demo cannot be seeded as asked (repeated seed, no halls, bad prefix)."""


@dataclass
class Registry:
    halls: list[tuple[int, str]]
    windows: dict[int, list[tuple[int, str, str]]]
    items: dict[str, tuple[int, str]]


@dataclass
class Batch:
    cases: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    contacts: list[dict[str, Any]] = field(default_factory=list)
    matters: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Ids:
    case: int
    message: int
    event: int
    contact: int


# Web evaluations by source, out of every ten (deterministic, so the random stream, and every figure
# the demo tests pin, stays as it was): 一次一评 5, 一事一评 2, 找茬窗口 2, 监督平台 1.
WEB_SOURCES = ("once", "once", "once", "once", "once", "matter", "matter", "complaint", "complaint", "supervision")
# Each 一事一评 comes with its 办件 (client ``demo``), and some 办件 go unevaluated: two beside the
# first 一事一评, one beside the second, and so on in turn, so the demo's 参评率 is 2 / 5 = 40% (within
# one 办件) whatever the random draw of channels.  Counting in turn, not by the case's index, keeps it
# so: which indices fall on a web case is drawn at random.
UNEVALUATED_MATTERS = (2, 1)
DEMO_CLIENT = "demo"
UNRATED_AFTER = timedelta(days=7)


def demo_source(channel: str, index: int) -> str:
    """The evaluation source of demo case ``index`` (gateway.core.sources names them)."""
    if channel == "web":
        return WEB_SOURCES[index % len(WEB_SOURCES)]
    return source_of(channel)


def _pick(rng: random.Random, weighted: tuple[tuple[Any, float], ...]) -> Any:
    roll = rng.random()
    for value, weight in weighted:
        roll -= weight
        if roll < 0:
            return value
    return weighted[-1][0]


class DemoGenerator:
    """Makes the rows of demo cases; pure Python, no database (``seed_demo`` writes them)."""

    def __init__(self, registry: Registry, calendar: WorkCalendar, cipher: PersonalDataCipher, *, seed: int,
                 until: date, days: int, tz: str) -> None:
        self.registry = registry
        self.calendar = calendar
        self.cipher = cipher
        self.seed = seed
        self.rng = random.Random(seed)
        self.tz = ZoneInfo(tz)
        self.until = until
        self.days = days
        self.now = datetime.combine(until, time(12, 0), self.tz).astimezone(UTC)
        self.day_seq: dict[str, int] = {}
        self.calendar_days = [until - timedelta(days=days - 1 - i) for i in range(days)]  # oldest first
        self._moments: list[int] = []
        self._next = 0
        self.client_id = 0  # the ``demo`` API client of the demo 办件 (seed_demo sets it)
        self._matter_cases = 0  # 一事一评 seeded so far (they take UNEVALUATED_MATTERS in turn)

    # ----- one case ------------------------------------------------------------------------------

    def plan(self, count: int) -> None:
        """Draw the receipt moments of ``count`` cases and sort them, so that ids follow time as in a
        real installation (``hcp cases list`` is newest first by id) and each day's cases sit together.
        Working days get most cases, office hours most of a day's."""
        rng = self.rng
        weights = [1.0 if self.calendar.is_workday(day) else 0.12 for day in self.calendar_days]
        day_indexes = rng.choices(range(self.days), weights=weights, k=count)
        moments = []
        for index in day_indexes:
            minute = rng.randrange(8 * 60 + 30, 17 * 60) if rng.random() < 0.85 else rng.randrange(0, 24 * 60)
            moments.append(index * 86400 + minute * 60 + rng.randrange(60))
        moments.sort()
        self._moments, self._next = moments, 0

    def _received_at(self) -> datetime:
        moment = self._moments[self._next]
        self._next += 1
        day = self.calendar_days[moment // 86400]
        seconds = moment % 86400
        local = datetime.combine(day, time(seconds // 3600, seconds % 3600 // 60, seconds % 60), self.tz)
        return local.astimezone(UTC)

    def _contact(self, channel: str) -> dict[str, str | None]:
        rng = self.rng
        name = rng.choice(T.SURNAMES) + "".join(rng.choice(T.GIVEN) for _ in range(rng.choice((1, 2))))
        phone = f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"
        email = f"{rng.choice('abcdefghjkmnpqrstwxyz')}{rng.randrange(10**7)}@{rng.choice(T.EMAIL_DOMAINS)}" \
            if channel == "email" or rng.random() < 0.1 else None
        return {"name": name, "phone": None if channel == "email" and rng.random() < 0.6 else phone, "email": email}

    def _code(self, received_at: datetime) -> str:
        day = received_at.astimezone(self.tz).strftime("%Y%m%d")
        seq = self.day_seq.get(day, 0) + 1
        self.day_seq[day] = seq
        return f"{DEMO_PREFIX}{day}-{seq:05d}"

    def make(self, index: int, ids: Ids, batch: Batch) -> None:
        """Append the rows of demo case ``index`` to ``batch``, taking ids from ``ids``."""
        rng = self.rng
        received = self._received_at()
        channel = _pick(rng, CHANNELS)
        window_hall = self.registry.halls[rng.randrange(len(self.registry.halls))]
        hall_id = window_hall[0]
        windows = self.registry.windows[hall_id]
        window_id, window_code, window_name = windows[rng.randrange(len(windows))] if windows else (None, "", "窗口")
        item_codes = WINDOW_ITEMS.get(window_code) or tuple(self.registry.items)
        item_id, item_name = self.registry.items.get(rng.choice(item_codes), (None, "业务"))
        unrated = channel in ("email", "phone") and rng.random() < 0.35
        rating = None if unrated else _pick(rng, RATINGS)
        complaint = (rating is not None and rating.is_bad) or (unrated and rng.random() < 0.7)
        reason_code = rng.choice(REASONS).code if complaint else None
        fill = {"window": window_name, "item": item_name}
        if complaint:
            assert reason_code is not None
            category = REASON_CATEGORY[reason_code]
            if rng.random() < 0.08:
                category = rng.choice((Category.IMMEDIATE, Category.TIME_LIMITED, Category.COORDINATED))
            body = rng.choice(T.COMPLAINTS[reason_code]).format(**fill)
            subject = T.SUBJECTS[reason_code] if channel == "email" else None
            triage_reason = TRIAGE_REASON[reason_code]
        else:
            category = Category.NONE
            body = rng.choice(T.PRAISE if rating is not None else T.INQUIRIES).format(**fill)
            subject = "表扬" if channel == "email" and rating is not None else ("咨询" if channel == "email" else None)
            triage_reason = "praise" if rating is not None else "inquiry"
        real_name = rng.random() < (0.65 if complaint else 0.25)
        case_id = ids.case
        ids.case += 1
        due = deadlines_for(category, received, self.calendar, reason=triage_reason)
        first_due, result_due = due.first_response_due, due.result_due
        needs_review = complaint and rng.random() < 0.06
        events: list[tuple[datetime, str, str, str | None, str | None, str | None, dict[str, Any]]] = []
        status = [CaseStatus.RECEIVED.value]
        state: dict[str, Any] = {"verdict": None, "first": None, "result": None, "closed": None,
                                 "result_due": result_due}

        def step(at: datetime, kind: str, actor: str, to: str | None, note: str | None = None,
                 data: dict[str, Any] | None = None) -> bool:
            if at > self.now:
                return False
            events.append((at, actor, kind, status[0], to, note, data or {}))
            if to:
                status[0] = to
            return True

        step(received, "received", f"citizen:{channel}", CaseStatus.RECEIVED.value, data={"message_id": ids.message})
        conf = round(rng.uniform(0.35, 0.6) if needs_review else rng.uniform(0.7, 0.99), 3)
        triage_data = {"label": category.value, "reason": triage_reason, "confidence": conf}
        if needs_review:
            step(received, "flag_for_review", "system:triage", CaseStatus.NEEDS_REVIEW.value, data=triage_data)
            self._handle_review(received, step)
        else:
            step(received, "triage", "system:triage", CaseStatus.TRIAGED.value, data=triage_data)
        if category is Category.NONE and triage_reason == "inquiry":  # answered by a person, then closed
            answered = received + timedelta(hours=rng.uniform(0.5, 20))
            if step(answered, "reply", "demo:handler", CaseStatus.REPLIED.value, note="已答复咨询"):
                state["first"] = answered
                if step(answered + timedelta(minutes=5), "close", "demo:handler", CaseStatus.CLOSED.value):
                    state["closed"] = answered + timedelta(minutes=5)
        elif category is Category.NONE:
            if step(received, "close", "system:triage", CaseStatus.CLOSED.value, note="无需整改，自动办结"):
                state["closed"] = received
        elif status[0] == CaseStatus.TRIAGED.value:
            self._handle(received, category, real_name, first_due, fill, step, state, batch, case_id, ids)
        rated_label = rating.value if rating else None
        code = self._code(received)
        updated = events[-1][0] if events else received
        batch.cases.append(dict(
            id=case_id, code=code, channel=channel, source=demo_source(channel, index), status=status[0],
            received_at=received,
            created_at=received, updated_at=updated, closed_at=state["closed"], subject=subject, text=body,
            rating=rated_label, reasons=[reason_code] if reason_code and rating is not None else [],
            hall_id=hall_id, window_id=window_id, service_item_id=item_id, real_name=real_name,
            reply_channel=None, category=category.value, reason=triage_reason, confidence=conf,
            needs_review=needs_review, triage_terms=[], verdict=state["verdict"], first_response_due=first_due,
            result_due=state["result_due"], deadline_uncertain=not due.certain,
            first_responded_at=state["first"], result_at=state["result"],
            # The demo's answers are calls and notices that reached the citizen (答复率 counts delivery).
            reply_delivered_at=min((t for t in (state["first"], state["result"]) if t is not None), default=None),
            department=None, paused_at=None, paused_seconds=0, appeal_status=None,
        ))
        matter = {"matter_no": f"DEMO-{self.seed}-{index}-0", "client": DEMO_CLIENT}
        batch.messages.append(dict(
            id=ids.message, case_id=case_id, direction="in", channel=channel,
            source_ref=f"demo:{self.seed}:{index}", at=received, author=None, subject=subject, text=body,
            public=False, raw_sha256=None,
            extra={"demo": True, **(matter if batch.cases[-1]["source"] == "matter" else {})}))
        ids.message += 1
        for at, actor, kind, from_status, to_status, note, data in events:
            batch.events.append(dict(id=ids.event, case_id=case_id, at=at, actor=actor, kind=kind,
                                     from_status=from_status, to_status=to_status, note=note, data=data))
            ids.event += 1
        if real_name or (complaint and rng.random() < 0.3):
            contact = self._contact(channel)
            if not real_name:
                contact["name"] = None
            batch.contacts.append(dict(
                id=ids.contact, case_id=case_id, key_id=self.cipher.current_key_id,
                name_enc=self.cipher.seal(contact["name"]), phone_enc=self.cipher.seal(contact["phone"]),
                email_enc=self.cipher.seal(contact["email"]), phone_hash=self.cipher.search_hash(contact["phone"]),
                email_hash=self.cipher.search_hash(contact["email"])))
            ids.contact += 1
        if batch.cases[-1]["source"] == "matter" and item_id is not None:
            self._matters(index, received, case_id, hall_id, window_id, item_id, batch)

    def _matters(self, index: int, received: datetime, case_id: int, hall_id: int, window_id: int | None,
                 item_id: int, batch: Batch) -> None:
        """The 办件 of a demo 一事一评 (finished ten minutes before its evaluation), and the unevaluated
        办件 beside it; one 办件 in twenty is a company's (法人)."""
        finished = received - timedelta(minutes=10)
        extra = UNEVALUATED_MATTERS[self._matter_cases % len(UNEVALUATED_MATTERS)]
        self._matter_cases += 1
        for n in range(1 + extra):
            evaluated = n == 0
            unrated = None if evaluated or finished + UNRATED_AFTER > self.now else finished + UNRATED_AFTER
            batch.matters.append(dict(
                client_id=self.client_id, matter_no=f"DEMO-{self.seed}-{index}-{n}", hall_id=hall_id,
                window_id=window_id, service_item_id=item_id, department=None, staff_no=None,
                applicant_type="legal_person" if index % 20 == 5 else "person", key_id=self.cipher.current_key_id,
                name_enc=None, phone_enc=None, email_enc=None, finished_at=finished, created_at=finished,
                link_expires_at=finished + UNRATED_AFTER, evaluated_case_id=case_id if evaluated else None,
                evaluation_digest=None, unrated_at=unrated))

    def _handle_review(self, received: datetime, step: Callable[..., bool]) -> None:
        if self.rng.random() < 0.9:
            step(received + timedelta(minutes=self.rng.randrange(15, 300)), "review", "demo:triage",
                 CaseStatus.TRIAGED.value, note="人工复核分类")

    def _handle(self, received: datetime, category: Category, real_name: bool, first_due: datetime | None,
                fill: dict[str, str], step: Callable[..., bool], state: dict[str, Any], batch: Batch,
                case_id: int, ids: Ids) -> None:
        """Verification, rectification, reply, return visit and closing of a complaint."""
        rng = self.rng
        stall = rng.random() < 0.03  # a case someone forgot: it will show up as overdue
        t = received + timedelta(minutes=rng.randrange(10, 120))
        if not step(t, "start_verification", "demo:handler", CaseStatus.VERIFYING.value) or stall:
            return
        t += timedelta(minutes=rng.randrange(10, 600))
        verdict = _pick(rng, (("valid", 0.86), ("not_valid", 0.1), ("malicious", 0.04)))
        action = {"valid": "verify_valid", "not_valid": "verify_not_valid", "malicious": "verify_malicious"}[verdict]
        if not step(t, action, "demo:handler", verdict, note={"valid": "经核实情况属实",
                                                              "not_valid": "经调取监控核实不属实",
                                                              "malicious": "多次重复恶意评价"}[verdict]):
            return
        state["verdict"] = verdict
        late = rng.random() < 0.08
        if verdict == "malicious":
            t += timedelta(hours=rng.randrange(1, 48))
            if step(t, "close", "demo:supervisor", CaseStatus.CLOSED.value):
                state["closed"] = t
            return
        if verdict == "valid":
            if not step(t, "rectify", "demo:handler", CaseStatus.RECTIFYING.value):
                return
            if first_due is not None:
                first = (first_due + timedelta(minutes=rng.randrange(5, 600)) if late
                         else received + (first_due - received) * rng.uniform(0.2, 0.95))
                if first <= self.now:
                    state["first"] = first
            if category is Category.COORDINATED:
                state["result_due"] = datetime.combine(
                    received.astimezone(self.tz).date() + timedelta(days=rng.randrange(10, 25)), time(17, 0),
                    self.tz).astimezone(UTC)
            result_due = state["result_due"]
            if result_due is not None:
                result = (result_due + timedelta(hours=rng.randrange(2, 96)) if late
                          else max(t, received + (result_due - received) * rng.uniform(0.3, 0.95)))
            else:
                result = max(t, (first_due or t) + timedelta(minutes=rng.randrange(10, 240)))
            reply = rng.choice(T.REPLIES[category.value]).format(**fill)
            public = True
        else:
            result = t + timedelta(hours=rng.randrange(1, 30))
            reply = T.REPLIES["not_valid"][0]
            public = False
        if stall or not step(result, "reply", "demo:handler", CaseStatus.REPLIED.value, note=reply):
            return
        state["result"] = result
        batch.messages.append(dict(
            id=ids.message, case_id=case_id, direction="out", channel="phone" if real_name else "web",
            source_ref=f"demo-reply:{self.seed}:{case_id}", at=result, author="demo:handler", subject=None,
            text=reply, public=public, raw_sha256=None, extra={"demo": True}))
        ids.message += 1
        visit = (real_name and rng.random() < 0.97) or (not real_name and rng.random() < 0.4)
        t = result + timedelta(hours=rng.randrange(4, 72))
        if visit:
            satisfied = rng.random() < 0.9
            if not step(t, "return_visit", "demo:handler", CaseStatus.RETURN_VISITED.value,
                        note="电话回访：群众表示满意" if satisfied else "电话回访：群众仍不满意",
                        data={"satisfied": satisfied, "method": "phone"}):
                return
            t += timedelta(hours=rng.randrange(1, 48))
        elif real_name:
            return  # a real-name 差评 without its visit cannot close: it stays replied (an exception)
        if step(t, "close", "demo:supervisor", CaseStatus.CLOSED.value):
            state["closed"] = t


async def load_registry(store: Store) -> Registry:
    async with store.read() as session:
        halls = [(h.id, h.code) for h in (await session.execute(
            select(Hall.id, Hall.code).where(Hall.active.is_(True)).order_by(Hall.id))).all()]
        windows: dict[int, list[tuple[int, str, str]]] = {hall_id: [] for hall_id, _ in halls}
        for w in (await session.execute(select(Window.id, Window.hall_id, Window.code, Window.name)
                                        .where(Window.active.is_(True)).order_by(Window.id))).all():
            windows.setdefault(w.hall_id, []).append((w.id, w.code, w.name))
        items = {i.code: (i.id, i.name) for i in (await session.execute(
            select(ServiceItem.code, ServiceItem.id, ServiceItem.name).where(ServiceItem.active.is_(True)))).all()}
    if not halls:
        raise DemoError("no halls in the registry: run `hcp halls import FILE` first")
    return Registry(halls, windows, items)


def _next_ids(session: Session) -> Ids:
    def next_of(model: Any) -> int:
        return int(session.execute(select(func.coalesce(func.max(model.id), 0))).scalar_one()) + 1

    return Ids(next_of(Case), next_of(Message), next_of(CaseEvent), next_of(Contact))


def _sqlite_value(column: Any) -> Callable[[Any], Any]:
    """How SQLAlchemy stores a value of ``column`` in SQLite, for the raw ``executemany`` below."""
    if isinstance(column.type, AwareDateTime):
        def stamp(value: datetime | None) -> str | None:
            return None if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        return stamp
    if isinstance(column.type, JSON):
        return lambda value: None if value is None else json.dumps(value, ensure_ascii=False)
    if isinstance(column.type, Boolean):
        return lambda value: None if value is None else int(value)
    return lambda value: value


def _write(session: Session, batch: Batch) -> None:
    """SQLite: plain ``executemany`` on the DB-API connection inside the session's transaction,
    with values converted as SQLAlchemy would store them (a test reads them back through the ORM)."""
    cursor = session.connection().connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    for model, rows in ((Case, batch.cases), (Message, batch.messages), (CaseEvent, batch.events),
                        (Contact, batch.contacts), (Matter, batch.matters)):
        if not rows:
            continue
        columns = [c for c in model.__table__.columns if c.name in rows[0]]
        convert = [(c.name, _sqlite_value(c)) for c in columns]
        cursor.executemany(
            f"INSERT INTO {model.__table__.name} ({', '.join(c.name for c in columns)}) "
            f"VALUES ({', '.join('?' for _ in columns)})",
            [tuple(fn(row[name]) for name, fn in convert) for row in rows])
    cursor.close()


async def _write_copy(store: Store, batch: Batch) -> None:
    """PostgreSQL: ``COPY`` the batch in binary through asyncpg, an order of magnitude faster than
    multi-row ``INSERT``s through SQLAlchemy.  Columns a batch does not name get their defaults."""
    async with store.write() as session:
        connection = await session.connection()
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        for model, rows in ((Case, batch.cases), (Message, batch.messages), (CaseEvent, batch.events),
                            (Contact, batch.contacts), (Matter, batch.matters)):
            if not rows:
                continue
            table = model.__table__
            columns = [c.name for c in table.columns if c.name in rows[0]]
            json_columns = {c.name for c in table.columns if isinstance(c.type, JSON)}
            records = [tuple(json.dumps(row[c], ensure_ascii=False) if c in json_columns else row[c]
                             for c in columns) for row in rows]
            await driver.copy_records_to_table(table.name, records=records, columns=columns)


def _existing_day_sequences(session: Session) -> dict[str, int]:
    """Highest demo sequence per day already used, so a second seed continues the numbering."""
    day = func.substr(Case.code, literal_column(str(len(DEMO_PREFIX) + 1)), literal_column("8"))
    rows = session.execute(
        select(day, func.max(Case.code)).where(Case.code.like(f"{DEMO_PREFIX}%")).group_by(day)).all()
    return {day: int(code.rsplit("-", 1)[1]) for day, code in rows}


async def seed_demo(store: Store, cipher: PersonalDataCipher, calendar: WorkCalendar, *, cases: int, seed: int,
                    until: date, days: int, tz: str, tracking_prefix: str,
                    progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Insert ``cases`` demo cases; return counts.  Refuses a seed already used (exactly once)."""
    if cases < 1:
        raise DemoError("--cases must be at least 1")
    if days < 1:
        raise DemoError("--days must be at least 1")
    if tracking_prefix == DEMO_PREFIX:
        raise DemoError(f"HCP_TRACKING_PREFIX is {DEMO_PREFIX}, the prefix reserved for demo cases")
    async with store.read() as session:
        used = (await session.execute(select(Message.id).where(
            Message.channel.in_([c for c, _ in CHANNELS]), Message.source_ref == f"demo:{seed}:0"))).first()
    if used is not None:
        raise DemoError(f"demo data with --seed {seed} is already in this database; choose another --seed")
    registry = await load_registry(store)
    generator = DemoGenerator(registry, calendar, cipher, seed=seed, until=until, days=days, tz=tz)
    generator.client_id = await _demo_client(store)
    generator.plan(cases)
    ids = await store.run_write(_next_ids)
    generator.day_seq = await store.run_write(_existing_day_sequences)
    totals = {"cases": 0, "messages": 0, "events": 0, "contacts": 0, "matters": 0}
    done = 0
    while done < cases:
        batch = Batch()
        for index in range(done, min(done + BATCH, cases)):
            generator.make(index, ids, batch)
        if store.dialect == "postgresql":
            await _write_copy(store, batch)
        else:
            await store.run_write(lambda session, batch=batch: _write(session, batch))
        for name in totals:
            totals[name] += len(getattr(batch, name))
        if progress is not None:
            progress(len(batch.cases))
        done += len(batch.cases)
    if store.dialect == "postgresql":
        await store.run_write(_reset_sequences)
    # Fresh planner statistics: without them PostgreSQL plans the roll-up's look-ups as scans.
    async with store.write() as session:
        for table in ("cases", "case_messages", "case_events", "contacts", "matters"):
            await session.execute(text(f"ANALYZE {table}"))
    totals["first_day"] = (until - timedelta(days=days - 1)).isoformat()
    totals["last_day"] = until.isoformat()
    return totals


async def _demo_client(store: Store) -> int:
    """The inactive API client that owns the demo 办件 (it has no key, so nothing can post as it)."""
    async with store.write() as session:
        found = (await session.execute(select(ApiClient.id).where(ApiClient.code == DEMO_CLIENT))).scalar_one_or_none()
        if found is not None:
            return int(found)
        client = ApiClient(code=DEMO_CLIENT, name="演示数据", active=False, created_at=datetime.now(UTC))
        session.add(client)
        await session.flush()
        return int(client.id)


def _reset_sequences(session: Session) -> None:
    """Explicit ids bypass PostgreSQL's sequences: move them past the highest id."""
    for table in ("cases", "case_messages", "case_events", "contacts"):
        session.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT COALESCE(MAX(id), 1) FROM {table}))"))
