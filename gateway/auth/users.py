"""Staff accounts in the store: create, authenticate, disable, change password, list."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

from sqlalchemy import func, select

from gateway.auth.passwords import hash_password, needs_rehash, random_password, verify_password
from gateway.auth.roles import ROLES, Principal, check_roles
from gateway.core.db.models import Hall
from gateway.core.db.models_staff import User
from gateway.core.db.store import Store
from gateway.core.registry import town_codes
from gateway.core.safe_text import check_name


class UserError(ValueError):
    """A user operation that cannot be done; the message (Chinese) is shown to the administrator.

    ``field`` names the form field it is about, so ``/admin/users`` shows it beside that field;
    ``option`` is the ``hcp users`` option to fix, which only the command line adds to the message.
    """

    def __init__(self, message: str, *, field: str | None = None, option: str | None = None) -> None:
        super().__init__(message)
        self.field, self.option = field, option


def principal_of(user: User) -> Principal:
    return Principal(user.id, user.username, user.display_name, frozenset(user.roles), frozenset(user.towns),
                     bool(user.must_change_password))


async def _check_towns(store: Store, towns: list[str]) -> None:
    if not towns:
        return
    async with store.read() as session:
        known = set((await session.execute(select(Hall.code).where(Hall.code.in_(towns)))).scalars())
    unknown = sorted(set(towns) - known)
    if unknown:
        raise UserError(f"没有这个乡镇：{'、'.join(unknown)}", field="towns", option="--town")


def _roles(roles: list[str]) -> frozenset[str]:
    try:
        return check_roles(roles)
    except ValueError as exc:
        raise UserError(str(exc), field="roles", option="--role") from None


async def add_user(store: Store, username: str, password: str, roles: list[str], towns: list[str] = (),  # type: ignore[assignment]
                   display_name: str | None = None, *, must_change_password: bool = False) -> Principal:
    """Create an account; raise ``UserError`` for a taken name, bad role, unknown town or weak password.

    ``must_change_password`` marks an initial password someone else (an admin) chose: its owner
    must replace it at the first sign-in.
    """
    try:
        username = check_name(username, "用户名")
    except ValueError as exc:
        raise UserError(str(exc), field="username") from None
    try:
        display_name = check_name(display_name, "姓名") if display_name else None
    except ValueError as exc:
        raise UserError(str(exc), field="display_name", option="--display-name") from None
    if not username or len(username) > 64:
        raise UserError("用户名应为 1–64 个字符", field="username")
    if display_name and len(display_name) > 100:
        raise UserError("姓名最多 100 个字符", field="display_name", option="--display-name")
    role_set = _roles(roles)
    if "handler" in role_set and not towns:
        raise UserError(f"{ROLES['handler']}至少要选择一个乡镇", field="towns", option="--town")
    await _check_towns(store, list(towns))
    password_hash = hash_password(password)
    async with store.write() as session:
        exists = (await session.execute(select(User.id).where(User.username == username))).first()
        if exists:
            raise UserError(f"用户名 {username} 已存在", field="username")
        user = User(username=username, display_name=display_name or username, password_hash=password_hash,
                    roles=sorted(role_set), towns=sorted(set(towns)), active=True, session_version=1,
                    created_at=datetime.now(UTC), must_change_password=must_change_password)
        session.add(user)
        await session.flush()
        return principal_of(user)


async def _get(session, username: str) -> User:  # type: ignore[no-untyped-def]
    user = (await session.execute(select(User).where(User.username == username))).scalar_one_or_none()
    if user is None:
        raise UserError(f"没有用户名为 {username} 的账号", field="username")
    return user


async def set_password(store: Store, username: str, password: str, *, must_change: bool = False) -> int:
    """Change a password and sign the user out everywhere; return the new session version.

    ``must_change`` marks a password someone else chose, which its owner must replace first.
    """
    password_hash = hash_password(password)
    async with store.write() as session:
        user = await _get(session, username)
        user.password_hash = password_hash
        user.session_version += 1
        user.must_change_password = must_change
        return user.session_version


async def change_own_password(store: Store, username: str, current: str, new: str) -> int:
    """The signed-in person replaces their password; ``UserError`` in Chinese when it cannot be.

    Returns the new session version (every other session of the account ends).
    """
    async with store.read() as session:
        user = (await session.execute(select(User).where(User.username == username))).scalar_one_or_none()
    if user is None or not verify_password(user.password_hash, current):
        raise UserError("当前密码不正确")
    if verify_password(user.password_hash, new):
        raise UserError("新密码不能与当前密码相同")
    return await set_password(store, username, new)


async def set_active(store: Store, username: str, active: bool) -> None:
    async with store.write() as session:
        user = await _get(session, username)
        user.active = active
        user.session_version += 1


async def set_roles(store: Store, username: str, roles: list[str], towns: list[str]) -> None:
    role_set = _roles(roles)
    if "handler" in role_set and not towns:
        raise UserError(f"{ROLES['handler']}至少要选择一个乡镇", field="towns", option="--town")
    await _check_towns(store, towns)
    async with store.write() as session:
        user = await _get(session, username)
        user.roles, user.towns = sorted(role_set), sorted(set(towns))
        user.session_version += 1


@dataclass(frozen=True)
class SignIn:
    principal: Principal
    session_version: int


async def authenticate(store: Store, username: str, password: str) -> SignIn | None:
    """The principal when the name and password match an active account, else ``None``."""
    async with store.read() as session:
        user = (await session.execute(select(User).where(User.username == username.strip()))).scalar_one_or_none()
    if not verify_password(user.password_hash if user else None, password) or user is None or not user.active:
        return None
    async with store.write() as session:
        fresh = await session.get(User, user.id)
        assert fresh is not None
        fresh.last_login_at = datetime.now(UTC)
        if needs_rehash(fresh.password_hash):
            fresh.password_hash = hash_password(password)
        return SignIn(principal_of(fresh), fresh.session_version)


async def load_principal(store: Store, user_id: int, session_version: int) -> Principal | None:
    """The principal for a session cookie, or ``None`` if the account changed or was disabled since."""
    async with store.read() as session:
        user = await session.get(User, user_id)
    if user is None or not user.active or user.session_version != session_version:
        return None
    principal = principal_of(user)
    # A town's handler also works the cases of the village and community points under the town.
    towns = await town_codes(store, principal.towns)
    return replace(principal, towns=towns) if towns != principal.towns else principal


async def list_users(store: Store) -> list[User]:
    async with store.read() as session:
        return list((await session.execute(select(User).order_by(User.username))).scalars())


async def ensure_first_admin(store: Store) -> str | None:
    """On an empty user table, create ``admin`` with a random password and return it (once)."""
    async with store.read() as session:
        count = (await session.execute(select(func.count()).select_from(User))).scalar_one()
    if count:
        return None
    password = random_password()
    try:
        await add_user(store, "admin", password, ["admin"], display_name="系统管理员", must_change_password=True)
    except UserError:  # another process won the race
        return None
    return password
