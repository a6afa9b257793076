"""Password hashing with argon2id (argon2-cffi's defaults follow RFC 9106's recommendations)."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()
MIN_LENGTH = 10
# A hash of a random password, verified against when the user does not exist, so a missing
# account takes as long to reject as a wrong password (no user enumeration by timing).
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))


class PasswordPolicyError(ValueError):
    """A proposed password is too weak; the message says why, in Chinese for the UI."""


def check_policy(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise PasswordPolicyError(f"密码至少需要 {MIN_LENGTH} 个字符")
    if password.isdigit() or password.isalpha():
        raise PasswordPolicyError("密码不能只有数字或只有字母")


def hash_password(password: str) -> str:
    check_policy(password)
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _HASHER.check_needs_rehash(password_hash)


def random_password() -> str:
    """A password for the first admin account: 20 URL-safe characters, about 120 bits, drawn again
    until it meets the policy (about 1 draw in 60 is letters only, which the policy refuses)."""
    while True:
        password = secrets.token_urlsafe(15)
        try:
            check_policy(password)
        except PasswordPolicyError:
            continue
        return password
