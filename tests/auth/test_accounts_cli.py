"""``hcp users`` and ``hcp keys`` as real processes, and the first admin account of a new install."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.auth.users import authenticate
from gateway.core.db.models import Contact
from gateway.core.db.models_staff import User
from gateway.core.key_rotation import count_stale, rotate
from gateway.core.outbox import OutgoingMessage, enqueue
from gateway.core.services import Services
from gateway.core.settings import Settings
from tests.gateway.test_cli import hcp
from tests.helpers import FixedClassifier, make_intake


def test_users_are_managed_from_the_command_line(tmp_path: Path) -> None:
    added = hcp(tmp_path, "users", "add", "wang", "--role", "handler", "--town", "jintun", stdin="long-secret-9\n")
    assert added.returncode == 0, added.stderr
    assert "created wang (handler)" in added.stdout and "must choose their own password" in added.stdout
    assert "long-secret-9" not in added.stdout + added.stderr
    taken = hcp(tmp_path, "users", "add", "wang", "--role", "operator", stdin="long-secret-9\n")
    assert taken.returncode == 1 and "用户名 wang 已存在" in taken.stderr
    weak = hcp(tmp_path, "users", "add", "li", "--role", "operator", stdin="123\n")
    assert weak.returncode == 1 and "密码至少需要" in weak.stderr
    no_town = hcp(tmp_path, "users", "add", "li", "--role", "handler", stdin="long-secret-9\n")
    assert no_town.returncode == 1 and "乡镇承办人至少要选择一个乡镇 (--town)" in no_town.stderr
    bad_town = hcp(tmp_path, "users", "add", "li", "--role", "handler", "--town", "atlantis", stdin="long-secret-9\n")
    assert bad_town.returncode == 1 and "没有这个乡镇：atlantis (--town)" in bad_town.stderr
    assert hcp(tmp_path, "users", "passwd", "wang", stdin="another-secret-8\n").returncode == 0
    assert hcp(tmp_path, "users", "disable", "wang").returncode == 0
    listing = json.loads(hcp(tmp_path, "users", "list", "--json").stdout)
    assert listing == [{"username": "wang", "display_name": "wang", "roles": ["handler"], "towns": ["jintun"],
                        "active": False, "last_login_at": None}]
    assert "password" not in json.dumps(listing)
    missing = hcp(tmp_path, "users", "disable", "nobody")
    assert missing.returncode == 1 and "没有用户名为 nobody 的账号" in missing.stderr
    # Every password above was chosen by an admin: its owner must choose their own at the first sign-in.
    first = hcp(tmp_path, "users", "add", "zhou", "--role", "operator", stdin="long-secret-9\n")
    assert first.returncode == 0, first.stderr
    assert _must_change(tmp_path) == {"wang": True, "zhou": True}


def _must_change(tmp_path: Path) -> dict[str, bool]:
    import sqlite3

    with sqlite3.connect(tmp_path / "var" / "hcp.db") as db:
        return {name: bool(flag) for name, flag in db.execute("select username, must_change_password from users")}


def test_the_first_start_creates_an_admin_with_a_one_time_password(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(data_dir=tmp_path / "var", run_workers=False)
    with TestClient(create_app(settings)):
        pass
    printed = capsys.readouterr().err
    password = printed.split("with the password")[1].split()[0]
    with TestClient(create_app(settings)) as client:
        services = client.app.state.services  # type: ignore[attr-defined]
        signed = client.portal.call(authenticate, services.store, "admin", password)  # type: ignore[union-attr]
        assert signed is not None and signed.principal.roles == {"admin"}
        stored = client.portal.call(_hashes, services)  # type: ignore[union-attr]
    assert "with the password" not in capsys.readouterr().err, "the password is announced once only"
    assert stored and all(h.startswith("$argon2id$") and password not in h for h in stored)


async def _hashes(services: Services) -> list[str]:
    async with services.store.read() as session:
        return list((await session.execute(select(User.password_hash))).scalars())


async def test_rotation_reseals_personal_data_under_the_new_key(services: Services, settings: Settings) -> None:
    await services.ingestor.ingest(make_intake(source_ref="rot-1"))
    await services.ingestor.ingest(make_intake(source_ref="rot-2", contact={"email": "a@b.cn"}))
    # An outgoing message with its encrypted recipient (with no SMS provider no acknowledgement is queued).
    await services.store.run_write(lambda session: enqueue(session, services.cipher, OutgoingMessage(
        channel="email", kind="reply", recipient="a@b.cn", body="已整改。", dedup_key="rot-reply")))
    old_spec = ",".join(f"{key_id}:{base64.b64encode(key).decode()}" for key_id, key in settings.encryption_keys())
    new_spec = "k2:" + base64.b64encode(os.urandom(32)).decode() + "," + old_spec
    new_settings = settings.model_copy(update={"data_keys": SecretStr(new_spec)})
    rotated = Services.create(new_settings, classifier=FixedClassifier())
    try:
        assert await count_stale(rotated.store, rotated.cipher) >= 2
        report = await rotate(rotated.store, rotated.cipher, batch=1)
        assert report.rows["contacts"] == 2 and report.rows["outbox"] >= 1
        assert await count_stale(rotated.store, rotated.cipher) == 0
        async with rotated.store.read() as session:
            contacts = list((await session.execute(select(Contact).order_by(Contact.id))).scalars())
        assert {c.key_id for c in contacts} == {"k2"}
        assert rotated.cipher.open(contacts[0].phone_enc) == "13812345678"
        assert rotated.cipher.open(contacts[1].email_enc) == "a@b.cn"
        only_new = Services.create(settings.model_copy(update={"data_keys": SecretStr(new_spec.split(",")[0])}),
                                   classifier=FixedClassifier())
        assert only_new.cipher.open(contacts[0].name_enc) == "王小明", "the old key is no longer needed"
        await only_new.close()
    finally:
        await rotated.close()


def test_generated_passwords_always_meet_the_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    """A letters-only draw (about 1 in 60) is drawn again instead of failing the first start."""
    from gateway.auth import passwords

    draws = iter(["abcdefghijklmnopqrst", "12345678901234567890", "abc-def_ghi0jklmnopq"])
    monkeypatch.setattr(passwords.secrets, "token_urlsafe", lambda n: next(draws))
    assert passwords.random_password() == "abc-def_ghi0jklmnopq"
    monkeypatch.undo()
    for _ in range(3000):  # with 1-in-60 bad draws, the old code failed here almost surely
        passwords.check_policy(passwords.random_password())
