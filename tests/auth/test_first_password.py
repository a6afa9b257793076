"""The first admin's printed password must be replaced before any staff page opens."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.core.settings import Settings


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match
    return match.group(1)


def test_the_first_admin_must_choose_a_new_password(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(data_dir=tmp_path / "var", run_workers=False, public_url="https://hcp.example.cn")
    with TestClient(create_app(settings), base_url="https://hcp.example.cn") as client:
        password = capsys.readouterr().err.split("with the password")[1].split()[0]
        page = client.get("/login")
        signed = client.post("/login", data={"username": "admin", "password": password,
                                             "csrf_token": _csrf(page.text), "next": "/admin/users"},
                             follow_redirects=False)
        assert signed.status_code == 303 and signed.headers["location"] == "/password"
        html = {"accept": "text/html"}
        for path in ("/console", "/admin/users", "/audit", "/triage"):
            blocked = client.get(path, headers=html, follow_redirects=False)
            assert blocked.status_code == 303 and blocked.headers["location"] == "/password", path
        form = client.get("/password", headers=html)
        assert form.status_code == 200 and "初始密码" in form.text
        token = _csrf(form.text)
        wrong = client.post("/password", data={"current": "nope-nope-1", "new": "a-new-secret-7",
                                               "again": "a-new-secret-7", "csrf_token": token})
        assert wrong.status_code == 400 and "当前密码不正确" in wrong.text
        same = client.post("/password", data={"current": password, "new": password, "again": password,
                                              "csrf_token": token})
        assert same.status_code == 400 and "不能与当前密码相同" in same.text
        typo = client.post("/password", data={"current": password, "new": "a-new-secret-7",
                                              "again": "a-new-secret-8", "csrf_token": token})
        assert typo.status_code == 400 and "不一致" in typo.text
        done = client.post("/password", data={"current": password, "new": "a-new-secret-7",
                                              "again": "a-new-secret-7", "csrf_token": token},
                           follow_redirects=False)
        assert done.status_code == 303 and done.headers["location"] == "/console"
        # Still signed in (this session follows the new version) and no longer sent back.
        assert client.get("/admin/users", headers=html, follow_redirects=False).status_code == 200
        assert client.get("/console", headers=html, follow_redirects=False).status_code == 200
