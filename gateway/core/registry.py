"""Halls, windows and service items: registry data an administrator imports and edits.

The default data (``gateway/core/data/registry.toml``) ships the 13 towns and streets of the seed;
``hcp halls import FILE`` takes TOML or JSON of the same shape.  Import upserts by code, so running
it twice changes nothing, and it never deletes: a hall that leaves the file is kept (old cases
point at it) and can be deactivated with ``active = false``.

* A village or community service point (村、社区便民服务点) is a hall of kind ``village`` or
  ``community`` with a ``town`` key naming its town's hall code: the town's handlers see its cases
  and its figures roll up into the town's (``town_of``).
* ``region_code`` is the 12-digit administrative division code (统计用区划代码) pushed upstream as
  ``areaCode``; the shipped file leaves it empty wherever we could not check the code against an
  official list, and ``hcp halls list`` warns about every active hall without one.
* A window's ``service_items`` lists the codes of the items it handles: the window form offers
  them to the citizen.
* Every bad entry is reported at once, each with its file line (``gateway.core.filelines``).
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    ValidationError,
    model_validator,
)
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from channels.intake import CODE_PATTERN
from gateway.core.db.models import Hall, ServiceItem, Window, WindowServiceItem
from gateway.core.db.store import Store
from gateway.core.filelines import line_of
from gateway.core.safe_text import check_name

DEFAULT_REGISTRY = Path(__file__).parent / "data" / "registry.toml"

Code = Annotated[str, StringConstraints(strip_whitespace=True, pattern=CODE_PATTERN)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
                 AfterValidator(check_name)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


POINT_KINDS = ("village", "community")
RegionCode = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\d{12}$")]


class WindowSpec(_Strict):
    code: Code
    name: Name
    active: bool = True
    service_items: list[Code] | None = None


class HallSpec(_Strict):
    code: Code
    name: Name
    kind: Literal["town", "street", "county", "village", "community"] = "town"
    town: Code | None = None
    region_code: RegionCode | None = None
    active: bool = True
    windows: list[WindowSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_windows(self) -> HallSpec:
        codes = [w.code for w in self.windows]
        duplicates = sorted({c for c in codes if codes.count(c) > 1})
        if duplicates:
            raise ValueError(f"hall {self.code} lists window code(s) {', '.join(duplicates)} twice")
        if self.kind in POINT_KINDS and not self.town:
            raise ValueError(f"a {self.kind} service point needs `town = \"<town hall code>\"` (its town)")
        if self.kind not in POINT_KINDS and self.town:
            raise ValueError(f"only a village or community point has a town ({self.code} is a {self.kind})")
        return self


class ServiceItemSpec(_Strict):
    code: Code
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
                    AfterValidator(check_name)]
    department: Annotated[str, StringConstraints(max_length=100), AfterValidator(check_name)] | None = None
    active: bool = True


class RegistryFile(_Strict):
    halls: list[HallSpec] = Field(default_factory=list)
    service_items: list[ServiceItemSpec] = Field(default_factory=list)
    _path: str = PrivateAttr(default="")
    _text: str = PrivateAttr(default="")
    _json: bool = PrivateAttr(default=False)
    _raw: Any = PrivateAttr(default=None)

    def where(self, loc: tuple[Any, ...]) -> str:
        """``file:line`` of the entry at ``loc`` (just the file when the line cannot be told)."""
        line = line_of(self._text, loc, data=self._raw, json=self._json) if self._text else None
        return f"{self._path}:{line}" if line else (self._path or "registry")

    @model_validator(mode="after")
    def _unique_codes(self) -> RegistryFile:
        for kind, codes in (("hall", [h.code for h in self.halls]),
                            ("service item", [s.code for s in self.service_items])):
            duplicates = sorted({c for c in codes if codes.count(c) > 1})
            if duplicates:
                raise ValueError(f"{kind} code(s) {', '.join(duplicates)} appear more than once")
        return self


class RegistryError(ValueError):
    """A registry file that cannot be imported; the message names the file and the problem."""


def plain_message(error: Any) -> str:
    """A pydantic error in words an administrator can act on (not a regular expression)."""
    kind, field = error.get("type"), str(error["loc"][-1]) if error.get("loc") else ""
    if kind == "string_pattern_mismatch":
        if field == "region_code":
            return "must be the 12-digit administrative division code (统计用区划代码), e.g. 370829000000"
        return ("must be 1-32 letters, digits, '.', '_' or '-', starting with a letter or digit "
                f"(got {error.get('input')!r})")
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "unknown key (check its spelling)"
    return str(error["msg"]).removeprefix("Value error, ")


def _path_text(loc: tuple[Any, ...], raw: Any) -> str:
    """``halls[3] (jintun).kind`` for a pydantic path: the entry's index and code, then the field."""
    parts: list[str] = []
    entry = raw
    for part in loc:
        try:
            entry = entry[part]
        except (KeyError, IndexError, TypeError):
            entry = None
        if isinstance(part, int):
            code = entry.get("code") if isinstance(entry, dict) else None
            parts[-1] += f"[{part}]" + (f" ({code})" if isinstance(code, str) else "")
        else:
            parts.append(str(part))
    return ".".join(parts)


def read_registry_file(path: Path) -> RegistryFile:
    """Read and check a registry file; every problem is reported at once, each with its line."""
    is_json = path.suffix.lower() == ".json"
    try:
        text = path.read_text("utf-8")
        raw: Any = json.loads(text) if is_json else tomllib.loads(text)
    except FileNotFoundError:
        raise RegistryError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise RegistryError(f"{path}: is a directory, not a registry file") from None
    except UnicodeDecodeError:
        raise RegistryError(f"{path}: not UTF-8 text (save the file as UTF-8)") from None
    except json.JSONDecodeError as exc:
        raise RegistryError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None
    except tomllib.TOMLDecodeError as exc:
        raise RegistryError(f"{path}: not valid TOML: {exc}") from None
    try:
        data = RegistryFile.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            line = line_of(text, loc, data=raw, json=is_json)
            where = f"{path}:{line}" if line else str(path)
            message = plain_message(error)
            problems.append(f"{where}: {_path_text(loc, raw) or 'file'}: {message}")
        raise RegistryError("\n".join(problems)) from None
    data._path, data._text, data._json, data._raw = str(path), text, is_json, raw
    return data


def check_references(data: RegistryFile, halls: dict[str, str], items: set[str]) -> None:
    """Every ``town`` names a town or street (in the file or the database, ``halls`` maps code →
    kind), and every window's service item exists; all problems at once, with their lines."""
    kinds = {**halls, **{h.code: h.kind for h in data.halls}}
    known_items = items | {i.code for i in data.service_items}
    problems = []
    for index, hall in enumerate(data.halls):
        if hall.town is not None:
            if hall.town not in kinds:
                problems.append(f"{data.where(('halls', index, 'town'))}: halls[{index}] ({hall.code}).town: "
                                f"no hall with code {hall.town!r} (name the code of the town's hall)")
            elif kinds[hall.town] in POINT_KINDS:
                problems.append(f"{data.where(('halls', index, 'town'))}: halls[{index}] ({hall.code}).town: "
                                f"{hall.town} is itself a {kinds[hall.town]} point, not a town")
        for w, window in enumerate(hall.windows):
            unknown = sorted(set(window.service_items or ()) - known_items)
            if unknown:
                problems.append(f"{data.where(('halls', index, 'windows', w, 'service_items'))}: "
                                f"halls[{index}] ({hall.code}).windows[{w}] ({window.code}).service_items: "
                                f"unknown service item code(s) {', '.join(unknown)}")
    if problems:
        raise RegistryError("\n".join(problems))


@dataclass(frozen=True, slots=True)
class ImportCounts:
    halls_added: int = 0
    halls_updated: int = 0
    windows_added: int = 0
    windows_updated: int = 0
    items_added: int = 0
    items_updated: int = 0


def _apply(row: Any, values: dict[str, Any]) -> bool:
    changed = False
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    return changed


async def import_registry(store: Store, data: RegistryFile) -> ImportCounts:
    """Upsert every hall, window and service item of ``data`` by code, in one transaction."""
    counts = dict.fromkeys(ImportCounts.__slots__, 0)
    async with store.write() as session:
        halls = {h.code: h for h in (await session.execute(select(Hall))).scalars()}
        items = {i.code: i for i in (await session.execute(select(ServiceItem))).scalars()}
        check_references(data, {code: h.kind for code, h in halls.items()}, set(items))
        for item_spec in data.service_items:
            item_values = {"name": item_spec.name, "department": item_spec.department, "active": item_spec.active}
            item = items.get(item_spec.code)
            if item is None:
                item = items[item_spec.code] = ServiceItem(code=item_spec.code, **item_values)
                session.add(item)
                counts["items_added"] += 1
            elif _apply(item, item_values):
                counts["items_updated"] += 1
        await session.flush()
        for spec in sorted(data.halls, key=lambda h: h.kind in POINT_KINDS):  # towns before their points
            town_id = halls[spec.town].id if spec.town else None
            values = {"name": spec.name, "kind": spec.kind, "region_code": spec.region_code, "active": spec.active,
                      "town_id": town_id}
            hall = halls.get(spec.code)
            if hall is None:
                hall = Hall(code=spec.code, **values)
                session.add(hall)
                await session.flush()
                halls[spec.code] = hall
                counts["halls_added"] += 1
            elif _apply(hall, values):
                counts["halls_updated"] += 1
            windows = {w.code: w for w in (await session.execute(
                select(Window).where(Window.hall_id == hall.id))).scalars()}
            for window_spec in spec.windows:
                window_values = {"name": window_spec.name, "active": window_spec.active}
                window = windows.get(window_spec.code)
                if window is None:
                    window = Window(hall_id=hall.id, code=window_spec.code, **window_values)
                    session.add(window)
                    await session.flush()
                    counts["windows_added"] += 1
                elif _apply(window, window_values):
                    counts["windows_updated"] += 1
                if window_spec.service_items is not None:
                    await _set_window_items(session, window.id, [items[c].id for c in window_spec.service_items])
    return ImportCounts(**counts)


async def _set_window_items(session: Any, window_id: int, item_ids: list[int]) -> None:
    """The window's item list becomes exactly ``item_ids`` (a file that omits the key keeps it)."""
    current = set((await session.execute(select(WindowServiceItem.service_item_id).where(
        WindowServiceItem.window_id == window_id))).scalars())
    wanted = set(item_ids)
    if current - wanted:
        await session.execute(delete(WindowServiceItem).where(
            WindowServiceItem.window_id == window_id, WindowServiceItem.service_item_id.in_(current - wanted)))
    session.add_all(WindowServiceItem(window_id=window_id, service_item_id=i) for i in sorted(wanted - current))


async def ensure_default_registry(store: Store) -> bool:
    """Import the shipped registry into an empty database; return whether it did.

    Two processes starting at once on a new database may both find it empty; the import is one
    transaction, so the one that loses the race fails on the unique codes as a whole and has
    nothing left to do."""
    async with store.read() as session:
        if (await session.execute(select(func.count()).select_from(Hall))).scalar_one():
            return False
    try:
        await import_registry(store, read_registry_file(DEFAULT_REGISTRY))
    except IntegrityError:
        async with store.read() as session:
            if (await session.execute(select(func.count()).select_from(Hall))).scalar_one():
                return False  # another process imported it meanwhile
        raise
    return True


@dataclass(frozen=True, slots=True)
class HallView:
    code: str
    name: str
    kind: str
    active: bool
    windows: list[dict[str, Any]]
    region_code: str | None = None
    town: str | None = None


async def list_halls(store: Store) -> list[HallView]:
    async with store.read() as session:
        halls = list((await session.execute(select(Hall).order_by(Hall.id))).scalars())
        windows = list((await session.execute(select(Window).order_by(Window.hall_id, Window.code))).scalars())
        item_rows = (await session.execute(select(WindowServiceItem.window_id, ServiceItem.code).join(
            ServiceItem, ServiceItem.id == WindowServiceItem.service_item_id).order_by(ServiceItem.code))).all()
    window_items: dict[int, list[str]] = {}
    for window_id, code in item_rows:
        window_items.setdefault(window_id, []).append(code)
    by_hall: dict[int, list[dict[str, Any]]] = {}
    for window in windows:
        by_hall.setdefault(window.hall_id, []).append(
            {"code": window.code, "name": window.name, "active": window.active,
             "service_items": window_items.get(window.id, [])})
    codes = {h.id: h.code for h in halls}
    return [HallView(h.code, h.name, h.kind, h.active, by_hall.get(h.id, []), h.region_code,
                     codes.get(h.town_id) if h.town_id else None) for h in halls]


def missing_region_codes(halls: list[HallView]) -> list[HallView]:
    """Active halls without a 12-digit division code: their upstream records carry no ``areaCode``."""
    return [h for h in halls if h.active and not h.region_code]


async def town_codes(store: Store, codes: frozenset[str]) -> frozenset[str]:
    """``codes`` plus the codes of the village and community points under those towns."""
    if not codes:
        return codes
    async with store.read() as session:
        town_ids = select(Hall.id).where(Hall.code.in_(sorted(codes)))
        points = (await session.execute(select(Hall.code).where(Hall.town_id.in_(town_ids)))).scalars()
        return codes | frozenset(points)
