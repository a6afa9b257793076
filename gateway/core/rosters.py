"""Window rosters: who works at which window when, and the attribution of an evaluation to the
staff member on duty (一次一评: every staff member is evaluated).

Attribution happens once, inside the ingest transaction, and is stored on the case
(``staff_id`` + ``staff_attribution``):

* ``named``     the source system named the staff member (queue-calling system, inbound API);
* ``roster``    exactly one shift covered the window at the time of the visit;
* ``ambiguous`` two or more shifts covered it — the case says so (with the candidates in its
                timeline) instead of guessing;
* ``none``      no shift covered it, or the time of the visit is unknown.

A web evaluation is made at the window, so its receipt time is the visit time; a slip or a call
is attributed only when it carries the visit time (``Intake.visited_at``).  Shifts are half-open
``[starts_at, ends_at)``, so a hand-over at 12:00 belongs to the afternoon shift.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select, tuple_
from sqlalchemy.orm import Session

from channels.intake import Intake
from gateway.core.db.dialect import dialect_of, insert_ignoring
from gateway.core.db.models import Hall, Window
from gateway.core.db.models_rosters import StaffMember, WindowShift
from gateway.core.db.store import Store
from gateway.core.safe_text import check_name

CSV_COLUMNS = ("hall", "window", "employee_no", "name", "starts_at", "ends_at")


class RosterError(ValueError):
    """A roster edit that cannot be made; the message is for the person editing."""


@dataclass(frozen=True)
class Attribution:
    staff_id: int | None
    kind: str
    candidates: tuple[int, ...] = ()


def visit_time(intake: Intake) -> datetime | None:
    """When the evaluated service happened, if this intake can know it."""
    if intake.visited_at is not None:
        return intake.visited_at
    return intake.received_at if intake.channel.value == "web" else None


def attribute(session: Session, intake: Intake, hall_id: int | None, window_id: int | None) -> Attribution:
    """Who is evaluated by ``intake`` (runs in the ingest transaction)."""
    if intake.staff and hall_id is not None:
        staff_id = session.execute(select(StaffMember.id).where(
            StaffMember.hall_id == hall_id, StaffMember.employee_no == intake.staff)).scalar_one_or_none()
        if staff_id is not None:
            return Attribution(staff_id, "named")
    at = visit_time(intake)
    if window_id is None or at is None:
        return Attribution(None, "none")
    on_duty = tuple(session.execute(
        select(WindowShift.staff_id).where(WindowShift.window_id == window_id, WindowShift.starts_at <= at,
                                           WindowShift.ends_at > at).distinct().order_by(WindowShift.staff_id)
    ).scalars())
    if len(on_duty) == 1:
        return Attribution(on_duty[0], "roster")
    if on_duty:
        return Attribution(None, "ambiguous", on_duty)
    return Attribution(None, "none")


def attribute_many(session: Session, items: list[tuple[Intake, int | None, int | None]]) -> list[Attribution]:
    """``attribute`` for a batch of intakes with at most two queries, whatever the batch size."""
    named_keys = {(hall_id, intake.staff) for intake, hall_id, _ in items if intake.staff and hall_id is not None}
    named: dict[tuple[int, str], int] = {}
    if named_keys:
        for staff_id, hall_id, number in session.execute(
                select(StaffMember.id, StaffMember.hall_id, StaffMember.employee_no)
                .where(tuple_(StaffMember.hall_id, StaffMember.employee_no).in_(list(named_keys)))):
            named[(hall_id, number)] = staff_id
    timed = [(visit_time(intake), window_id) for intake, _, window_id in items]
    windows = {window_id for at, window_id in timed if at is not None and window_id is not None}
    shifts: list[Any] = []
    if windows:
        moments = [at for at, window_id in timed if at is not None and window_id is not None]
        shifts = list(session.execute(
            select(WindowShift.window_id, WindowShift.staff_id, WindowShift.starts_at, WindowShift.ends_at)
            .where(WindowShift.window_id.in_(sorted(windows)), WindowShift.starts_at <= max(moments),
                   WindowShift.ends_at > min(moments))).all())
    results = []
    for (intake, hall_id, _), (at, window_id) in zip(items, timed, strict=True):
        staff_id = named.get((hall_id, intake.staff)) if intake.staff and hall_id is not None else None
        if staff_id is not None:
            results.append(Attribution(staff_id, "named"))
            continue
        if at is None or window_id is None:
            results.append(Attribution(None, "none"))
            continue
        on_duty = tuple(sorted({s for w, s, start, end in shifts if w == window_id and start <= at < end}))
        results.append(Attribution(on_duty[0], "roster") if len(on_duty) == 1
                       else Attribution(None, "ambiguous", on_duty) if on_duty else Attribution(None, "none"))
    return results


# ----- editing -----------------------------------------------------------------------------------


async def _window(session: Any, hall: str, window: str) -> tuple[int, int]:
    row = (await session.execute(select(Hall.id, Window.id).join(Window, Window.hall_id == Hall.id)
                                 .where(Hall.code == hall, Window.code == window))).first()
    if row is None:
        raise RosterError(f"没有乡镇 {hall} 的窗口 {window}")
    return row[0], row[1]


def _staff_id(session: Session, hall_id: int, employee_no: str, name: str) -> int:
    """The staff member with this number in the hall, created (or renamed) as needed."""
    staff = session.execute(select(StaffMember).where(StaffMember.hall_id == hall_id,
                                                      StaffMember.employee_no == employee_no)).scalar_one_or_none()
    if staff is None:
        staff = StaffMember(hall_id=hall_id, employee_no=employee_no, name=name, active=True)
        session.add(staff)
        session.flush()
    elif name and staff.name != name:
        staff.name = name
    return staff.id


def _check_times(starts_at: datetime, ends_at: datetime) -> None:
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise RosterError("排班时间必须带时区")
    if ends_at <= starts_at:
        raise RosterError("下班时间必须晚于上班时间")
    if (ends_at - starts_at).total_seconds() > 24 * 3600:
        raise RosterError("一个班次不能超过 24 小时")


async def add_shift(store: Store, *, hall: str, window: str, employee_no: str, name: str, starts_at: datetime,
                    ends_at: datetime, actor: str) -> bool:
    """Add one shift (creating the staff member if new); ``False`` if exactly this shift exists."""
    try:
        employee_no, name = check_name(employee_no, "工号"), check_name(name, "姓名")
    except ValueError as exc:
        raise RosterError(str(exc)) from None
    if not employee_no or len(employee_no) > 32:
        raise RosterError("工号必须是 1–32 个字符")
    _check_times(starts_at, ends_at)
    async with store.read() as session:
        hall_id, window_id = await _window(session, hall, window)

    def work(session: Session) -> bool:
        staff_id = _staff_id(session, hall_id, employee_no, name or employee_no)
        inserted = session.execute(insert_ignoring(dialect_of(session), WindowShift,
                                                   ("window_id", "staff_id", "starts_at"), "id"), {
            "window_id": window_id, "staff_id": staff_id, "starts_at": starts_at, "ends_at": ends_at,
            "created_by": actor, "created_at": datetime.now(UTC)}).scalar_one_or_none()
        return inserted is not None

    return await store.run_write(work)


async def delete_shift(store: Store, shift_id: int, *, towns: frozenset[str] | None) -> None:
    async with store.write() as session:
        row = (await session.execute(select(WindowShift.id, Hall.code).join(Window, Window.id == WindowShift.window_id)
                                     .join(Hall, Hall.id == Window.hall_id).where(WindowShift.id == shift_id))).first()
        if row is None:
            raise RosterError("该班次不存在")
        if towns is not None and row[1] not in towns:
            raise PermissionError("无权修改其他乡镇的排班")
        await session.execute(delete(WindowShift).where(WindowShift.id == shift_id))


@dataclass
class ImportReport:
    added: int = 0
    unchanged: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


def _parse_time(text: str) -> datetime:
    """A CSV time; ``RosterError`` in Chinese, since the web import shows it to a clerk."""
    text = text.strip()
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise RosterError(f"时间 {text or '（空）'} 格式不对，应写成 2026-11-30T08:30+08:00 这样") from None
    if value.tzinfo is None:
        raise RosterError(f"时间 {text} 缺少时区，应写成 2026-11-30T08:30+08:00 这样")
    return value


async def import_csv(store: Store, text: str, *, actor: str, towns: frozenset[str] | None = None) -> ImportReport:
    """Shifts from CSV with the header ``hall,window,employee_no,name,starts_at,ends_at``.

    Good rows are kept and bad rows are reported with their line numbers; importing the same
    file again changes nothing.
    """
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise RosterError(f"CSV 缺少列：{', '.join(missing)}（需要 {','.join(CSV_COLUMNS)}）")
    report = ImportReport()
    for row in reader:
        line = reader.line_num
        try:
            hall, window = (row["hall"] or "").strip(), (row["window"] or "").strip()
            if towns is not None and hall not in towns:
                raise RosterError(f"无权导入乡镇 {hall} 的排班")
            added = await add_shift(store, hall=hall, window=window, employee_no=row["employee_no"] or "",
                                    name=row["name"] or "", starts_at=_parse_time(row["starts_at"] or ""),
                                    ends_at=_parse_time(row["ends_at"] or ""), actor=actor)
        except (RosterError, ValueError) as exc:
            report.errors.append((line, str(exc)))
            continue
        if added:
            report.added += 1
        else:
            report.unchanged += 1
    return report


@dataclass(frozen=True)
class ShiftView:
    id: int
    window_code: str
    window_name: str
    employee_no: str
    name: str
    starts_at: datetime
    ends_at: datetime


async def shifts_between(store: Store, hall: str, start: datetime, end: datetime) -> list[ShiftView]:
    """Shifts of a hall overlapping ``[start, end)``, by window then start."""
    async with store.read() as session:
        rows = (await session.execute(
            select(WindowShift.id, Window.code, Window.name, StaffMember.employee_no, StaffMember.name,
                   WindowShift.starts_at, WindowShift.ends_at)
            .join(Window, Window.id == WindowShift.window_id).join(Hall, Hall.id == Window.hall_id)
            .join(StaffMember, StaffMember.id == WindowShift.staff_id)
            .where(Hall.code == hall, WindowShift.starts_at < end, WindowShift.ends_at > start)
            .order_by(Window.code, WindowShift.starts_at, StaffMember.employee_no))).all()
    return [ShiftView(*row) for row in rows]


async def link_user(store: Store, *, hall: str, employee_no: str, user_id: int | None) -> None:
    """Connect a staff member to a console account, so they can read their own evaluations."""
    async with store.write() as session:
        staff = (await session.execute(select(StaffMember).join(Hall, Hall.id == StaffMember.hall_id)
                                       .where(Hall.code == hall, StaffMember.employee_no == employee_no))
                 ).scalar_one_or_none()
        if staff is None:
            raise RosterError(f"乡镇 {hall} 没有工号为 {employee_no} 的工作人员")
        staff.user_id = user_id
