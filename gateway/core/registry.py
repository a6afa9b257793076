"""Halls, windows and service items: registry data an administrator imports and edits.

The default data (``gateway/core/data/registry.toml``) ships the 13 towns and streets of the seed;
``hcp halls import FILE`` takes TOML or JSON of the same shape.  Import upserts by code, so running
it twice changes nothing, and it never deletes: a hall that leaves the file is kept (old cases
point at it) and can be deactivated with ``active = false``.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator
from sqlalchemy import func, select

from channels.intake import CODE_PATTERN
from gateway.core.db.models import Hall, ServiceItem, Window
from gateway.core.db.store import Store
from gateway.core.safe_text import check_name

DEFAULT_REGISTRY = Path(__file__).parent / "data" / "registry.toml"

Code = Annotated[str, StringConstraints(strip_whitespace=True, pattern=CODE_PATTERN)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
                 AfterValidator(check_name)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WindowSpec(_Strict):
    code: Code
    name: Name
    active: bool = True


class HallSpec(_Strict):
    code: Code
    name: Name
    kind: Annotated[str, StringConstraints(pattern=r"^(town|street|county|village)$")] = "town"
    region_code: Annotated[str, StringConstraints(pattern=r"^\d{6,12}$")] | None = None
    active: bool = True
    windows: list[WindowSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_windows(self) -> HallSpec:
        codes = [w.code for w in self.windows]
        duplicates = sorted({c for c in codes if codes.count(c) > 1})
        if duplicates:
            raise ValueError(f"hall {self.code} lists window code(s) {', '.join(duplicates)} twice")
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


def read_registry_file(path: Path) -> RegistryFile:
    try:
        raw: Any = tomllib.loads(path.read_text("utf-8")) if path.suffix.lower() != ".json" \
            else json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise RegistryError(f"{path}: no such file") from None
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RegistryError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'TOML'}: {exc}") from None
    try:
        return RegistryFile.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg'].removeprefix('Value error, ')}" for e in exc.errors())
        raise RegistryError(f"{path}: {problems}") from None


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
        for spec in data.halls:
            values = {"name": spec.name, "kind": spec.kind, "region_code": spec.region_code, "active": spec.active}
            hall = halls.get(spec.code)
            if hall is None:
                hall = Hall(code=spec.code, **values)
                session.add(hall)
                await session.flush()
                counts["halls_added"] += 1
            elif _apply(hall, values):
                counts["halls_updated"] += 1
            windows = {w.code: w for w in (await session.execute(
                select(Window).where(Window.hall_id == hall.id))).scalars()}
            for window_spec in spec.windows:
                window_values = {"name": window_spec.name, "active": window_spec.active}
                window = windows.get(window_spec.code)
                if window is None:
                    session.add(Window(hall_id=hall.id, code=window_spec.code, **window_values))
                    counts["windows_added"] += 1
                elif _apply(window, window_values):
                    counts["windows_updated"] += 1
        items = {i.code: i for i in (await session.execute(select(ServiceItem))).scalars()}
        for item_spec in data.service_items:
            item_values = {"name": item_spec.name, "department": item_spec.department, "active": item_spec.active}
            item = items.get(item_spec.code)
            if item is None:
                session.add(ServiceItem(code=item_spec.code, **item_values))
                counts["items_added"] += 1
            elif _apply(item, item_values):
                counts["items_updated"] += 1
    return ImportCounts(**counts)


async def ensure_default_registry(store: Store) -> bool:
    """Import the shipped registry into an empty database; return whether it did."""
    async with store.read() as session:
        if (await session.execute(select(func.count()).select_from(Hall))).scalar_one():
            return False
    await import_registry(store, read_registry_file(DEFAULT_REGISTRY))
    return True


@dataclass(frozen=True, slots=True)
class HallView:
    code: str
    name: str
    kind: str
    active: bool
    windows: list[dict[str, Any]]


async def list_halls(store: Store) -> list[HallView]:
    async with store.read() as session:
        halls = list((await session.execute(select(Hall).order_by(Hall.id))).scalars())
        windows = list((await session.execute(select(Window).order_by(Window.hall_id, Window.code))).scalars())
    by_hall: dict[int, list[dict[str, Any]]] = {}
    for window in windows:
        by_hall.setdefault(window.hall_id, []).append(
            {"code": window.code, "name": window.name, "active": window.active})
    return [HallView(h.code, h.name, h.kind, h.active, by_hall.get(h.id, [])) for h in halls]
