"""Village and community service points: imported under a town, their cases in the town's scope
and figures, towns alone in rankings; every bad registry entry reported by line."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.auth.users import load_principal
from gateway.core.db.models_staff import User
from gateway.core.registry import (
    RegistryError,
    import_registry,
    list_halls,
    missing_region_codes,
    read_registry_file,
)
from gateway.core.services import Services
from gateway.results import rollup
from gateway.results.figures import Dim, Filters, Names, Period, compute, unrated_figures
from tests.helpers import local, make_intake
from tests.staff import make_staff

POINTS = """\
[[halls]]
code = "jintun"
name = "金屯镇"
kind = "town"
region_code = "370829100000"

[[halls]]
code = "jintun-cun01"
name = "金屯镇前村便民服务点"
kind = "village"
town = "jintun"
windows = [
  { code = "w01", name = "代办窗口", service_items = ["SB001", "MZ001"] },
]

[[halls]]
code = "jintun-sq01"
name = "金屯镇社区便民服务点"
kind = "community"
town = "jintun"
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, "utf-8")
    return path


def test_every_bad_entry_is_reported_with_its_line(tmp_path: Path) -> None:
    text = ('[[halls]]\ncode = "cun01"\nname = "前村便民服务点"\nkind = "village"\n\n'
            '[[halls]]\ncode = "sq01"\nname = "社区便民服务点"\nkind = "hamlet"\nregion_code = "370829"\n\n'
            '[[halls]]\ncode = "jintun"\nname = "金屯镇"\ntown = "macun"\nwindows = [\n'
            '  { code = "w01", name = "综合受理窗口" },\n  { code = "w 2", name = "" },\n]\n')
    with pytest.raises(RegistryError) as caught:
        read_registry_file(write(tmp_path, "points.toml", text))
    lines = str(caught.value).splitlines()
    path = tmp_path / "points.toml"
    assert lines == [
        f"{path}:1: halls[0] (cun01): a village service point needs `town = \"<town hall code>\"` (its town)",
        f"{path}:9: halls[1] (sq01).kind: Input should be 'town', 'street', 'county', 'village' or 'community'",
        f"{path}:10: halls[1] (sq01).region_code: must be the 12-digit administrative division code "
        "(统计用区划代码), e.g. 370829000000",
        f"{path}:18: halls[2] (jintun).windows[1] (w 2).code: must be 1-32 letters, digits, '.', '_' or '-', "
        "starting with a letter or digit (got 'w 2')",
        f"{path}:18: halls[2] (jintun).windows[1] (w 2).name: must not be empty",
    ]


def test_json_files_are_located_by_the_entry_code(tmp_path: Path) -> None:
    data = {"halls": [{"code": "jintun", "name": "金屯镇"}, {"code": "cun01", "name": "前村", "kind": "village"}]}
    path = write(tmp_path, "points.json", json.dumps(data, ensure_ascii=False, indent=2))
    with pytest.raises(RegistryError, match=rf"{path}:8: halls\[1\] \(cun01\): a village service point"):
        read_registry_file(path)
    broken = write(tmp_path, "broken.json", '{"halls": [\n  {"code": "x",}\n]}')
    with pytest.raises(RegistryError, match=rf"{broken}:2: not valid JSON"):
        read_registry_file(broken)


async def test_a_point_must_name_a_known_town(services: Services, tmp_path: Path) -> None:
    text = ('[[halls]]\ncode = "cun01"\nname = "前村"\nkind = "village"\ntown = "atlantis"\n\n'
            '[[halls]]\ncode = "cun02"\nname = "后村"\nkind = "village"\ntown = "cun01"\n'
            'windows = [{ code = "w01", name = "代办", service_items = ["NOPE"] }]\n')
    data = read_registry_file(write(tmp_path, "towns.toml", text))
    with pytest.raises(RegistryError) as caught:
        await import_registry(services.store, data)
    message = str(caught.value)
    assert "towns.toml:5: halls[0] (cun01).town: no hall with code 'atlantis'" in message
    assert "towns.toml:11: halls[1] (cun02).town: cun01 is itself a village point, not a town" in message
    assert "towns.toml:12: halls[1] (cun02).windows[0] (w01).service_items: unknown service item code(s) NOPE" \
        in message
    assert {h.code for h in await list_halls(services.store)}.isdisjoint({"cun01", "cun02"}), "nothing imported"


async def test_points_roll_up_into_their_town_and_its_handlers_see_them(services: Services, tmp_path: Path) -> None:
    await import_registry(services.store, read_registry_file(write(tmp_path, "points.toml", POINTS)))
    halls = {h.code: h for h in await list_halls(services.store)}
    assert halls["jintun-cun01"].town == "jintun" and halls["jintun-cun01"].kind == "village"
    assert halls["jintun-cun01"].windows[0]["service_items"] == ["MZ001", "SB001"]
    missing = {h.code for h in missing_region_codes(list(halls.values()))}
    assert "jintun" not in missing and {"jintun-cun01", "macun"} <= missing
    for ref, hall, rating in (("p1", "jintun-cun01", "满意"), ("p2", "jintun-sq01", "不满意"),
                              ("p3", "jintun", "非常满意"), ("p4", "macun", "满意")):
        await services.ingestor.ingest(make_intake(
            source_ref=ref, hall=hall, window=None, rating=rating, reasons=["attitude"] if rating == "不满意" else [],
            text="服务" if rating != "不满意" else "态度不好 #immediate", received_at=local(2026, 11, 10, 9, 0)))
    await rollup.refresh(services.store, services.settings.timezone)
    november = Period(date(2026, 11, 1), date(2026, 11, 30))
    async with services.store.read() as session:
        names = await Names.load(session)
        ranking = await compute(session, Filters(november), [Dim.HALL], names=names)
        raw = await compute(session, Filters(november), [Dim.HALL, Dim.CHANNEL], names=names)
        scoped = await compute(session, Filters(november, halls=("jintun",)), [], names=names)
        matters = await unrated_figures(session, Filters(november), names)
    assert [(r.label(Dim.HALL), r.counts["evaluations"], r.counts["good"]) for r in ranking] == [
        ("金屯镇", 3, 2), ("马村镇", 1, 1)], "the two points count in 金屯镇; no point is ranked"
    assert [(r.label(Dim.HALL), r.counts["evaluations"]) for r in raw] == [("金屯镇", 3), ("马村镇", 1)]
    assert scoped[0].counts["evaluations"] == 3
    assert matters[None].finished == 0
    await make_staff(services, "clerk", ["handler"], ["jintun"])
    async with services.store.read() as session:
        user = (await session.execute(select(User).where(User.username == "clerk"))).scalar_one()
    principal = await load_principal(services.store, user.id, user.session_version)
    assert principal is not None
    assert principal.towns == {"jintun", "jintun-cun01", "jintun-sq01"}
    assert principal.can_access_town("jintun-sq01") and not principal.can_access_town("macun")
