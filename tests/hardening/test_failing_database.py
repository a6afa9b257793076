"""A full disk or a failing database (issue 23, point 4): the citizen keeps the text, /readyz says so;
and durability (point 6): SQLite commits are synced (synchronous=FULL)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError

from gateway.app import create_app
from gateway.core.db.models import Case
from gateway.core.db.store import WriteHealth
from gateway.core.services import Services
from tests.staff import anonymous_client
from tests.web.citizen import citizen, link, notice

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
TYPED = "窗口工作人员态度很差，问了两遍就不耐烦。" * 95  # 1,900 characters: more than a page


async def fill_the_disk(services: Services) -> None:
    """SQLite's own "database or disk is full": no page beyond those the file has now."""
    async with services.store.read() as session:
        pages = (await session.execute(text("PRAGMA page_count"))).scalar_one()
    statement = text(f"PRAGMA max_page_count = {pages + 2}")
    await services.store.run_write(lambda session: session.execute(statement))
    async with services.store.write() as session:
        await session.execute(statement)
    filler = text("INSERT INTO rate_hits (key, at) VALUES (:key, '2026-01-01 00:00:00')")
    with pytest.raises(OperationalError, match="full"):
        for n in range(10_000):  # use up the free space left in the file's pages
            await services.store.run_write(lambda session, n=n: session.execute(filler, {"key": f"{n:0>190}"}))
    services.store.health = WriteHealth()  # the filling's own failure does not count


@SQLITE
async def test_a_full_disk_keeps_the_citizens_text_and_readyz_reports_it(services: Services) -> None:
    app = create_app(services=services, run_workers=False)
    path = link(services)
    async with anonymous_client(app) as probe:
        assert (await probe.get("/readyz")).json()["ok"] is True
    await fill_the_disk(services)
    async with citizen(app) as person:
        await person.open(path)
        token = person.token
        page = await person.submit(path, text=TYPED)
    assert page.status_code == 503 and page.headers["retry-after"] == "60"
    assert "暂时无法提交，您填写的内容已保留，请稍后再试" in notice(page)
    assert TYPED + "</textarea>" in page.text, "the text is kept"
    assert person.token == token, "the same one-time token: a retry cannot make a second case"
    async with anonymous_client(app) as probe:
        ready = await probe.get("/readyz")
        health = await probe.get("/healthz")
    assert ready.status_code == 503 and ready.json()["ok"] is False
    assert ready.json()["write_failures"] >= 1 and "full" in ready.json()["last_write_error"]
    assert health.json()["writes_failing"] is True
    async with services.store.read() as session:
        assert (await session.execute(select(func.count()).select_from(Case))).scalar_one() == 0


@SQLITE
async def test_sqlite_commits_are_synced(services: Services) -> None:
    async with services.store.write() as session:
        assert (await session.execute(text("PRAGMA synchronous"))).scalar_one() == 2  # FULL
    value = await services.store.run_write(lambda session: session.execute(text("PRAGMA synchronous")).scalar_one())
    assert value == 2
    async with services.store.read() as session:
        assert (await session.execute(text("PRAGMA journal_mode"))).scalar_one() == "wal"


async def make_read_only(services: Services) -> None:
    """Every write fails as on a file system remounted read-only ("attempt to write a readonly database")."""
    statement = text("PRAGMA query_only = ON")
    await services.store.run_write(lambda session: session.execute(statement))
    async with services.store.write() as session:
        await session.execute(statement)


@SQLITE
async def test_the_status_lookup_says_try_later(services: Services) -> None:
    from tests.web.citizen import citizen as browser

    app = create_app(services=services, run_workers=False)
    await make_read_only(services)
    async with browser(app) as person:
        await person.open("/status")
        page = await person.submit("/status", code="JX20261128-0007", secret="1234")
    assert page.status_code == 503 and "暂时无法查询，请稍后再试" in notice(page)
