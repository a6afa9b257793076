"""Printing slips and posters from the gateway: serial ranges that never repeat, names from the registry.

``allocate`` records a print run and returns its serial range in the same transaction; the next
run starts after the highest range so far.  ``first_serial`` is unique, so two runs racing for the
same range cannot both commit: the loser retries with the range after the winner's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from channels.paper.codes import poster_url, sign_slip
from channels.paper.layout import layout_for
from channels.paper.render import PosterSpec, SlipSpec, render_posters, render_slips
from gateway.core.db.models import Hall, Window
from gateway.core.db.models_paper import PaperPrintRun
from gateway.core.db.store import Store
from gateway.core.registry import HallView, list_halls
from gateway.core.settings import Settings
from gateway.core.sms_config import sms_missing

MAX_SLIPS_PER_RUN = 10_000


class SlipError(ValueError):
    """A print request that cannot be served (unknown hall or window, bad count)."""


@dataclass(frozen=True, slots=True)
class PrintRun:
    id: int
    hall: str
    window: str | None
    size: str
    first_serial: int
    count: int
    created_at: datetime
    created_by: str

    @property
    def last_serial(self) -> int:
        return self.first_serial + self.count - 1


def _run(row: PaperPrintRun) -> PrintRun:
    return PrintRun(row.id, row.hall_code, row.window_code, row.size, row.first_serial, row.count, row.created_at,
                    row.created_by)


async def _hall(store: Store, hall: str) -> HallView:
    for view in await list_halls(store):
        if view.code == hall:
            return view
    raise SlipError(f"unknown hall {hall!r} (see `hcp halls list`)")


def _window_name(hall: HallView, window: str | None) -> str | None:
    if window is None:
        return None
    for item in hall.windows:
        if item["code"] == window:
            return str(item["name"])
    raise SlipError(f"hall {hall.code} has no window {window!r}; windows: {', '.join(w['code'] for w in hall.windows)}")


async def allocate(store: Store, hall: str, window: str | None, count: int, size: str, *, by: str) -> PrintRun:
    """Record a print run of ``count`` slips and return it with its fresh serial range."""
    if not 1 <= count <= MAX_SLIPS_PER_RUN:
        raise SlipError(f"count must be 1…{MAX_SLIPS_PER_RUN}, not {count}")
    layout_for(size)

    def insert(session: Session) -> PrintRun:
        highest = session.execute(
            select(func.max(PaperPrintRun.first_serial + PaperPrintRun.count - 1))).scalar_one_or_none() or 0
        row = PaperPrintRun(hall_code=hall, window_code=window, size=size, first_serial=highest + 1, count=count,
                            created_at=datetime.now(UTC), created_by=by)
        session.add(row)
        session.flush()
        return _run(row)

    for attempt in range(5):
        try:
            return await store.run_write(insert)
        except IntegrityError:
            if attempt == 4:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def slip_reply_methods(settings: Settings) -> tuple[str, ...]:
    """The reply ways a slip offers: SMS only where an SMS provider is configured."""
    return ("sms", "phone", "none") if not sms_missing(settings) else ("phone", "none")


async def print_slips(store: Store, settings: Settings, hall: str, window: str | None, count: int, size: str,
                      *, by: str, sheet: str | None = None) -> tuple[PrintRun, bytes]:
    """Allocate serials and render the slips' PDF.  The run is recorded before rendering, so a
    failed render wastes serials but never reuses them."""
    hall_view = await _hall(store, hall)
    window_name = _window_name(hall_view, window)
    run = await allocate(store, hall, window, count, size, by=by)
    key = settings.signing_key()
    specs = [SlipSpec(sign_slip(key, size, hall, window, serial), f"{hall_view.name}为民服务大厅"
                      if not hall_view.name.endswith("大厅") else hall_view.name, window_name)
             for serial in range(run.first_serial, run.last_serial + 1)]
    return run, render_slips(specs, size, sheet=sheet, reply_methods=slip_reply_methods(settings))


async def print_posters(store: Store, settings: Settings, hall: str, window: str | None = None) -> tuple[int, bytes]:
    """One A4 poster per window of ``hall`` (or just ``window``) with its signed 找茬窗口 link.

    Refused while ``HCP_PUBLIC_URL`` is unset: a QR code of ``http://127.0.0.1:8000`` hung in a
    hall would lead every citizen nowhere.
    """
    if not settings.public_url_configured:
        raise SlipError(f"HCP_PUBLIC_URL 未设置：海报二维码需要群众从外面能打开的地址（现在只有本机地址 "
                        f"{settings.public_url}）。请在 hcp.toml 或环境变量中设置 HCP_PUBLIC_URL 后再打印。")
    hall_view = await _hall(store, hall)
    windows = [w for w in hall_view.windows if w.get("active", True) and (window is None or w["code"] == window)]
    if window is not None and not windows:
        _window_name(hall_view, window)
    key = settings.signing_key()
    posters = [PosterSpec(hall_view.name, str(w["name"]), poster_url(settings.public_url, key, hall, str(w["code"])))
               for w in windows]
    if not posters:
        raise SlipError(f"hall {hall} has no active windows")
    return len(posters), render_posters(posters)


async def list_runs(store: Store, *, limit: int = 100) -> list[PrintRun]:
    async with store.read() as session:
        rows = (await session.execute(select(PaperPrintRun).order_by(PaperPrintRun.id.desc()).limit(limit))).scalars()
        return [_run(row) for row in rows]


def issued_run(session: Session, serial: int) -> PaperPrintRun | None:
    """The print run that issued ``serial``, if any."""
    return session.execute(
        select(PaperPrintRun).where(PaperPrintRun.first_serial <= serial,
                                    PaperPrintRun.first_serial + PaperPrintRun.count > serial)
        .order_by(PaperPrintRun.first_serial.desc()).limit(1)).scalar_one_or_none()


def window_exists(session: Session, hall: str, window: str | None) -> bool:
    hall_id = session.execute(select(Hall.id).where(Hall.code == hall)).scalar_one_or_none()
    if hall_id is None:
        return False
    if window is None:
        return True
    return session.execute(select(Window.id).where(Window.hall_id == hall_id, Window.code == window)
                           ).scalar_one_or_none() is not None
