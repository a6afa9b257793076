"""Sign-in, sessions, roles, town scope and CSRF, over HTTP against the whole app."""

from __future__ import annotations

from gateway.app import create_app
from gateway.auth.users import set_active, set_password
from gateway.core.services import Services
from tests.staff import PASSWORD, anonymous_client, fetch_csrf, make_staff, signed_in


async def test_sign_in_reaches_the_console_and_sign_out_ends_the_session(services: Services) -> None:
    await make_staff(services, "wang", ["handler"], ["jintun"])
    app = create_app(services=services, run_workers=False)
    async with signed_in(app, "wang") as client:
        console = await client.get("/console")
        assert console.status_code == 200 and "案件" in console.text and "用户管理" not in console.text
        out = await client.post_form("/logout")
        assert out.status_code == 303
        again = await client.get("/console")
        assert again.status_code == 303 and again.headers["location"].startswith("/login?next=%2Fconsole")


async def test_wrong_password_is_refused_without_saying_whether_the_account_exists(services: Services) -> None:
    await make_staff(services, "li", ["triage"])
    app = create_app(services=services, run_workers=False)
    async with anonymous_client(app) as client:
        await fetch_csrf(client)
        wrong = await client.post("/login", data={"username": "li", "password": "nope-nope-1",
                                                  "csrf_token": client.csrf})
        missing = await client.post("/login", data={"username": "nobody", "password": "nope-nope-1",
                                                    "csrf_token": client.csrf})
    assert wrong.status_code == missing.status_code == 400
    assert "用户名或密码不正确" in wrong.text and "用户名或密码不正确" in missing.text


async def test_repeated_failures_are_throttled(services: Services) -> None:
    await make_staff(services, "zhao", ["supervisor"])
    app = create_app(services=services, run_workers=False)
    async with anonymous_client(app) as client:
        await fetch_csrf(client)
        codes = [(await client.post("/login", data={"username": "zhao", "password": f"bad-guess-{i}",
                                                    "csrf_token": client.csrf})).status_code for i in range(6)]
        blocked = await client.post("/login", data={"username": "zhao", "password": PASSWORD,
                                                    "csrf_token": client.csrf})
    assert codes[:5] == [400] * 5 and codes[5] == 429
    assert blocked.status_code == 429 and "登录失败次数过多" in blocked.text and int(blocked.headers["retry-after"]) > 0


async def test_a_post_without_the_csrf_token_is_refused(services: Services) -> None:
    app = create_app(services=services, run_workers=False)
    async with anonymous_client(app) as client:
        await fetch_csrf(client)
        response = await client.post("/login", data={"username": "x", "password": "y"})
    assert response.status_code == 403 and "CSRF" in response.text


async def test_disabling_or_changing_the_password_ends_existing_sessions(services: Services) -> None:
    await make_staff(services, "sun", ["supervisor"])
    await make_staff(services, "qian", ["supervisor"])
    app = create_app(services=services, run_workers=False)
    async with signed_in(app, "sun") as sun, signed_in(app, "qian") as qian:
        await set_active(services.store, "sun", False)
        await set_password(services.store, "qian", "another-pass-77")
        assert (await sun.get("/console")).status_code == 303
        assert (await qian.get("/console")).status_code == 303
    async with anonymous_client(app) as client:
        await fetch_csrf(client)
        refused = await client.post("/login", data={"username": "sun", "password": PASSWORD,
                                                    "csrf_token": client.csrf})
        assert refused.status_code == 400


async def test_open_redirects_are_not_followed_after_sign_in(services: Services) -> None:
    await make_staff(services, "zhou", ["operator"])
    app = create_app(services=services, run_workers=False)
    async with anonymous_client(app) as client:
        await fetch_csrf(client)
        response = await client.post("/login", data={"username": "zhou", "password": PASSWORD,
                                                     "csrf_token": client.csrf, "next": "//evil.example/x"})
    assert response.status_code == 303 and response.headers["location"] == "/console"
