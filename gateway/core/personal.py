"""Encryption of citizens' personal data at rest, and keyed hashes to search it.

Each value is sealed with AES-256-GCM under the *current* key and carries that key's id, so old
values stay readable after a rotation and ``hcp keys rotate`` can re-encrypt them in the
background.  Exact search (a caller's phone number) uses an HMAC of the normalised value with a
key derived from the signing secret, so the database never holds a reversible index.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12


class PersonalDataError(ValueError):
    """A sealed value that cannot be opened: unknown key, or tampered bytes."""


class PersonalDataCipher:
    """Seal and open personal data; the first key is current, the rest only decrypt."""

    def __init__(self, keys: list[tuple[str, bytes]], hash_secret: bytes) -> None:
        if not keys:
            raise ValueError("at least one data key is needed")
        self.current_key_id = keys[0][0]
        self._keys = {key_id: AESGCM(key) for key_id, key in keys}
        self._hash_key = hmac.new(hash_secret, b"hcp personal-data search hash v1", hashlib.sha256).digest()

    def seal(self, value: str | None) -> bytes | None:
        if value is None or value == "":
            return None
        key_id = self.current_key_id.encode()
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._keys[self.current_key_id].encrypt(nonce, value.encode(), key_id)
        return bytes([len(key_id)]) + key_id + nonce + sealed

    def open(self, blob: bytes | None) -> str | None:
        if blob is None:
            return None
        length = blob[0]
        key_id = blob[1:1 + length]
        nonce = blob[1 + length:1 + length + NONCE_BYTES]
        aead = self._keys.get(key_id.decode(errors="replace"))
        if aead is None:
            raise PersonalDataError(f"no data key with id {key_id.decode(errors='replace')!r} is configured")
        try:
            return aead.decrypt(nonce, blob[1 + length + NONCE_BYTES:], key_id).decode()
        except Exception as exc:  # cryptography raises InvalidTag without a message
            raise PersonalDataError("personal data failed its integrity check") from exc

    @staticmethod
    def key_id_of(blob: bytes) -> str:
        return blob[1:1 + blob[0]].decode()

    def reseal(self, blob: bytes | None) -> bytes | None:
        """Re-encrypt under the current key (key rotation)."""
        return self.seal(self.open(blob))

    def search_hash(self, value: str | None) -> str | None:
        """A stable keyed hash of an already normalised value, for exact-match lookups."""
        if not value:
            return None
        return hmac.new(self._hash_key, value.encode(), hashlib.sha256).hexdigest()
