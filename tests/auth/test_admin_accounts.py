"""``/admin/users`` as a clerk meets it: Chinese messages beside the field, the form kept, and
every account an admin creates or resets must choose its own password at the first sign-in."""

from __future__ import annotations

import re

from gateway.app import create_app
from gateway.auth.users import authenticate
from gateway.core.services import Services
from tests.staff import anonymous_client, fetch_csrf, make_staff, signed_in

ASCII_WORDS = re.compile(r"\b(?:user|handler|needs|town|exists|unknown|role|known|required|named)\b|--\w")


def _add_form(html: str) -> str:
    match = re.search(r'<form[^>]*class="user-add".*?</form>', html, re.S)
    assert match, html
    return match.group(0)


def _field(form: str, name: str) -> str:
    """The label or fieldset that holds the inputs called ``name``."""
    for match in re.finditer(r"<(label|fieldset)\b.*?</\1>", form, re.S):
        if f'name="{name}"' in match.group(0):
            return match.group(0)
    raise AssertionError(f"no field {name} in {form}")


def _visible(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", html)


async def test_a_refused_new_account_says_why_in_chinese_beside_the_field_and_keeps_the_form(
        services: Services) -> None:
    await make_staff(services, "root", ["admin"])
    await make_staff(services, "jt", ["operator"])
    app = create_app(services=services, run_workers=False)
    async with signed_in(app, "root") as client:
        no_town = await client.post_form("/admin/users", {
            "op": "add", "username": "lisi", "display_name": "李四", "password": "typed-secret-71",
            "roles": ["handler", "operator"]})
        assert no_town.status_code == 400
        form = _add_form(no_town.text)
        assert "承办人至少要选择一个乡镇" in _field(form, "towns")
        assert not ASCII_WORDS.search(_visible(no_town.text)), _visible(no_town.text)
        assert 'value="lisi"' in _field(form, "username") and 'value="李四"' in _field(form, "display_name")
        roles = _field(form, "roles")
        assert re.search(r'value="handler" checked', roles) and re.search(r'value="operator" checked', roles)
        assert not re.search(r'value="admin" checked', roles)
        assert "typed-secret-71" not in no_town.text, "a password is never sent back"

        taken = await client.post_form("/admin/users", {
            "op": "add", "username": "jt", "display_name": "金屯", "password": "typed-secret-71",
            "roles": ["handler"], "towns": ["jintun"]})
        assert taken.status_code == 400
        form = _add_form(taken.text)
        assert "用户名 jt 已存在" in _field(form, "username")
        assert "already" not in taken.text and "typed-secret-71" not in taken.text
        assert re.search(r'value="jintun" checked', _field(form, "towns"))
        assert 'value="金屯"' in _field(form, "display_name")

        no_role = await client.post_form("/admin/users", {"op": "add", "username": "wu",
                                                          "password": "typed-secret-71"})
        assert no_role.status_code == 400 and "至少要选择一个角色" in _field(_add_form(no_role.text), "roles")
        bad_town = await client.post_form("/admin/users", {"op": "add", "username": "wu", "roles": ["handler"],
                                                           "towns": ["atlantis"], "password": "typed-secret-71"})
        assert bad_town.status_code == 400 and "没有这个乡镇：atlantis" in _field(_add_form(bad_town.text), "towns")
        weak = await client.post_form("/admin/users", {"op": "add", "username": "wu", "roles": ["operator"],
                                                       "password": "short"})
        assert weak.status_code == 400 and "密码至少需要" in _field(_add_form(weak.text), "password")
        assert 'value="wu"' in _field(_add_form(weak.text), "username")
        missing = await client.post_form("/admin/users", {"op": "password", "username": "nobody",
                                                          "password": "typed-secret-71"})
        assert missing.status_code == 400 and "没有用户名为 nobody 的账号" in missing.text
        for page in (no_role, bad_town, weak, missing):
            assert not ASCII_WORDS.search(_visible(page.text)), _visible(page.text)
        # A clean page after all that: no leftovers in the add form.
        fresh = _add_form((await client.get("/admin/users")).text)
        assert "checked" not in fresh and 'value="wu"' not in fresh


async def _must_change_at_sign_in(app, username: str, password: str) -> None:  # type: ignore[no-untyped-def]
    async with anonymous_client(app) as client:
        await fetch_csrf(client)
        signed = await client.post("/login", data={"username": username, "password": password,
                                                   "csrf_token": client.csrf, "next": "/cases"})
        assert signed.status_code == 303 and signed.headers["location"] == "/password"
        blocked = await client.get("/cases")
        assert blocked.status_code == 303 and blocked.headers["location"] == "/password"
        form = await client.get("/password")
        assert "请先设置您自己的新密码" in form.text


async def test_accounts_an_admin_creates_or_resets_must_choose_their_own_password(services: Services) -> None:
    await make_staff(services, "root", ["admin"])
    app = create_app(services=services, run_workers=False)
    async with signed_in(app, "root") as client:
        added = await client.post_form("/admin/users", {"op": "add", "username": "zhao", "password": "initial-pass-1",
                                                        "roles": ["handler"], "towns": ["jintun"]})
        assert added.status_code == 303
        listing = await client.get(added.headers["location"])
        assert "首次登录时须修改" in listing.text
    await _must_change_at_sign_in(app, "zhao", "initial-pass-1")
    async with signed_in(app, "root") as client:
        reset = await client.post_form("/admin/users", {"op": "password", "username": "zhao",
                                                        "password": "another-pass-2"})
        assert reset.status_code == 303
    await _must_change_at_sign_in(app, "zhao", "another-pass-2")
    # Once chosen, the person is not sent back again.
    signed = await authenticate(services.store, "zhao", "another-pass-2")
    assert signed is not None and signed.principal.must_change_password
    async with anonymous_client(app) as client:
        await fetch_csrf(client)
        await client.post("/login", data={"username": "zhao", "password": "another-pass-2",
                                          "csrf_token": client.csrf, "next": "/cases"})
        await fetch_csrf(client, "/password")
        done = await client.post_form("/password", {"current": "another-pass-2", "new": "my-own-choice-3",
                                                    "again": "my-own-choice-3"})
        assert done.status_code == 303
        assert (await client.get("/cases")).status_code == 200
