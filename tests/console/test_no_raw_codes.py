"""Every staff page, for every role, on demo data — and the workbook and the CSV — reads in Chinese.

A clerk met ``h_jintun start_verification → 核实中``, ``citizen:web``, ``case:close``,
``reached=True satisfied=None purpose=call_back`` and ``phone``/``web`` in the Excel sheet.  This
test renders what each role can open and fails on any code of the label catalogue (an ASCII word
of three letters or more) left in the visible text.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime
from html.parser import HTMLParser

import time_machine
from openpyxl import load_workbook

from gateway.app import create_app
from gateway.auth.audit import add_audit
from gateway.auth.roles import Principal
from gateway.auth.users import add_user
from gateway.core import labels
from gateway.core.db.models import Case
from gateway.core.services import Services
from gateway.results import demo, rollup
from tests.staff import PASSWORD, signed_in

ROLES = ("operator", "mailroom", "triage", "handler", "supervisor", "admin")
# The codes of every catalogue, and the other shapes codes took on pages (actors, audit words).
KNOWN = ({code for catalogue in labels._CATALOGUES.values() for code in catalogue}
         | set(labels.AUDIT_DETAIL_LABELS) | set(labels.SYSTEM_ACTOR_LABELS)
         | {"citizen", "system", "case", "paper", "draft_confirm", "call_back", "True", "False", "None"})
WORD = re.compile(r"[A-Za-z][A-Za-z_]{2,}")


class _Visible(HTMLParser):
    """The text a person sees: no scripts, styles or attribute values (option labels are text).

    Text marked ``translate="no"`` is a code staff must type (a CSV header) and is left out.
    """

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0
        self._stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "template") or ("translate", "no") in attrs:
            self._hidden += 1
            self._stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._stack and self._stack[-1] == tag:
            self._stack.pop()
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def raw_codes(text: str) -> set[str]:
    found = set()
    for word in WORD.findall(text):
        for piece in {word, *word.split("_")} if word not in KNOWN else {word}:
            if piece in KNOWN and len(piece) >= 3:
                found.add(word)
    return found


def visible(html: str) -> str:
    parser = _Visible()
    parser.feed(html)
    return " ".join(parser.parts)


async def _audit_samples(services: Services, user: Principal) -> None:
    async with services.store.write() as session:
        add_audit(session, None, "case:close", target_type="case", target_id="DEMO20261127-00001")
        add_audit(session, None, "paper.draft_confirm", target_type="paper_draft", target_id=1,
                  detail={"case": "JX20261127-0001", "duplicate": False, "source_ref": "slip:x"})
        add_audit(session, None, "phone:return_visit", target_type="case", target_id="JX20261127-0001",
                  detail={"reached": True, "satisfied": None, "purpose": "call_back"})
        add_audit(session, None, "triage_relabel", target_type="case", target_id="JX20261127-0001",
                  detail={"label": "time_limited", "reason": "procedure"})


@time_machine.travel(datetime(2026, 11, 28, 2, 0, tzinfo=UTC), tick=False)
async def test_every_staff_page_export_and_audit_entry_reads_in_chinese(sqlite_services: Services) -> None:
    services = sqlite_services
    calendar = await services.calendar.get()
    await demo.seed_demo(services.store, services.cipher, calendar, cases=150, seed=3, until=date(2026, 11, 27),
                         days=40, tz="Asia/Shanghai", tracking_prefix="JX")
    await rollup.refresh(services.store, "Asia/Shanghai")
    async with services.store.read() as session:
        cases = list((await session.execute(Case.__table__.select().order_by(Case.id))).all())
    # One case in each state and channel is enough to meet every event and message kind.
    sample = {}
    for row in cases:
        sample.setdefault((row.status, row.channel), row.code)
    app = create_app(services=services, run_workers=False)
    problems: dict[str, set[str]] = {}
    for role in ROLES:
        name = f"u{ROLES.index(role)}"
        await add_user(services.store, name, PASSWORD, [role], ["jintun"] if role in ("handler", "mailroom") else [],
                       display_name=f"{labels.ROLE_LABELS[role]}小王")
        async with signed_in(app, name) as client:
            if role == "supervisor":
                me = Principal(0, name, "督查", frozenset({role}), frozenset())
                await _audit_samples(services, me)
            from gateway.ui.staff_nav import staff_nav

            principal = Principal(0, name, name, frozenset({role}), frozenset({"jintun"}))
            paths = ["/console", "/password", *(item.href for item in staff_nav(principal))]
            if role in ("operator", "triage", "handler", "supervisor"):
                paths += [f"/cases/{code}" for code in sample.values()]
            if role == "operator":
                paths.append("/hotline/callbacks")
            for path in paths:
                page = await client.get(path)
                if page.status_code in (403, 404):  # another town's case for a handler
                    continue
                assert page.status_code == 200, (role, path, page.status_code)
                # One 答复群众 control on a case page: the reply form, no second move button.
                assert 'name="action" value="reply"' not in page.text, path
                if path == "/supervise":
                    unvisited = page.text.split('id="unvisited"')[1].split("</table>")[0]
                    assert "已完成" not in unvisited and "回访" in unvisited, "a return visit shows its own 期限"
                    waiting = re.search(r'href="/cases/([^"]+)"', unvisited)
                    assert waiting
                    # The header's 期限 paragraph itself: from 1 November a 2027 calendar warning (issue 16)
                    # is the page's first paragraph.
                    case_page = (await client.get(f"/cases/{waiting.group(1)}")).text
                    head = case_page.split('<p class="deadline">')[1].split("</p>")[0]
                    assert "期限：<span" in head and "回访" in head and "已完成" not in head
                found = raw_codes(visible(page.text))
                if found:
                    problems[f"{role} {path}"] = found
            if role == "supervisor":
                query = "from=2026-10-19&to=2026-11-27"
                book = await client.get(f"/reports/export.xlsx?{query}")
                assert book.status_code == 200
                workbook = load_workbook(io.BytesIO(book.content), read_only=True)
                for sheet in workbook.worksheets:
                    text = " ".join(str(cell) for row in sheet.iter_rows(values_only=True) for cell in row
                                    if isinstance(cell, str))
                    if found := raw_codes(text):
                        problems[f"xlsx {sheet.title}"] = found
                table = await client.get(f"/reports/export.csv?{query}")
                assert table.status_code == 200
                rows = list(csv.reader(io.StringIO(table.content.decode("utf-8-sig"))))
                if found := raw_codes(" ".join(cell for row in rows for cell in row)):
                    problems["csv"] = found
    assert not problems, "\n".join(f"{where}: {sorted(words)}" for where, words in sorted(problems.items()))
