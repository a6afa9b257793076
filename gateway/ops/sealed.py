"""The encrypted envelope of a backup archive: scrypt from a passphrase, AES-256-GCM in chunks.

Why chunks: an archive holds the whole database (blobs included) and must be written and read
without holding it in memory; why a "last" flag in each nonce: a truncated file must fail to
open rather than restore half a database.  The layout (all integers big-endian)::

    b"HCPBAK\\x00\\x01"                      magic and format version 1
    u16 n, JSON header                       {"kdf": "scrypt", "n": …, "r": 8, "p": 1,
                                              "salt": base64(16), "prefix": base64(7),
                                              "chunk": 1048576}
    repeated: u32 n, ciphertext (n bytes)    AES-256-GCM of up to ``chunk`` plaintext bytes

The key is ``scrypt(passphrase, salt, n, r, p, 32 bytes)``; chunk *i* uses the nonce
``prefix ‖ u32(i) ‖ u8(last)`` and the magic plus header as associated data, so the header cannot be
altered, chunks cannot be reordered or dropped, and the stream must end with a chunk marked last.
The passphrase is never stored.  ``scripts`` and a reader in another language need only scrypt
and AES-GCM to open an archive.
"""

from __future__ import annotations

import base64
import json
import os
import struct
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

MAGIC = b"HCPBAK\x00\x01"
CHUNK = 1024 * 1024
SCRYPT_N = 2**17  # about 128 MiB and a fraction of a second: slow for a guesser, fine nightly


class SealedError(ValueError):
    """The file is not an hcp backup, the passphrase is wrong, or the file was cut or altered."""


def _key(passphrase: bytes, header: dict) -> bytes:
    if not passphrase:
        raise SealedError("the passphrase is empty")
    kdf = Scrypt(salt=base64.b64decode(header["salt"]), length=32, n=header["n"], r=header["r"], p=header["p"])
    return kdf.derive(passphrase)


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    return prefix + struct.pack(">IB", index, 1 if last else 0)


class SealingWriter:
    """A write-only file object: what is written goes out encrypted; ``close`` seals the end."""

    def __init__(self, out: BinaryIO, passphrase: bytes, *, n: int | None = None) -> None:
        header = {"kdf": "scrypt", "n": n or SCRYPT_N, "r": 8, "p": 1,
                  "salt": base64.b64encode(os.urandom(16)).decode(),
                  "prefix": base64.b64encode(os.urandom(7)).decode(), "chunk": CHUNK}
        encoded = json.dumps(header, sort_keys=True).encode()
        self._aad = MAGIC + struct.pack(">H", len(encoded)) + encoded
        self._aead = AESGCM(_key(passphrase, header))
        self._prefix = base64.b64decode(header["prefix"])
        self._out = out
        self._buffer = bytearray()
        self._index = 0
        self._closed = False
        out.write(self._aad)

    def write(self, data: bytes) -> int:
        self._buffer += data
        while len(self._buffer) > CHUNK:  # keep at least one byte back for the final chunk
            self._emit(bytes(self._buffer[:CHUNK]), last=False)
            del self._buffer[:CHUNK]
        return len(data)

    def _emit(self, plain: bytes, *, last: bool) -> None:
        sealed = self._aead.encrypt(_nonce(self._prefix, self._index, last), plain, self._aad)
        self._out.write(struct.pack(">I", len(sealed)) + sealed)
        self._index += 1

    def close(self) -> None:
        if not self._closed:
            self._emit(bytes(self._buffer), last=True)
            self._buffer.clear()
            self._closed = True

    def flush(self) -> None:
        """Nothing to do: a chunk is written when it is full (tarfile calls this)."""


class OpeningReader:
    """A read-only file object over a sealed stream; raises ``SealedError`` on any tampering."""

    def __init__(self, source: BinaryIO, passphrase: bytes) -> None:
        magic = source.read(len(MAGIC))
        if magic != MAGIC:
            raise SealedError("not an hcp backup (or a format this version cannot read)")
        (length,) = struct.unpack(">H", _exactly(source, 2))
        encoded = _exactly(source, length)
        try:
            header = json.loads(encoded)
        except ValueError:
            raise SealedError("the backup's header is damaged") from None
        if header.get("kdf") != "scrypt":
            raise SealedError(f"unknown key derivation {header.get('kdf')!r}")
        self._aad = magic + struct.pack(">H", length) + encoded
        self._aead = AESGCM(_key(passphrase, header))
        self._prefix = base64.b64decode(header["prefix"])
        self._source = source
        self._index = 0
        self._buffer = b""
        self._done = False

    def _next_chunk(self) -> None:
        head = self._source.read(4)
        if len(head) < 4:
            raise SealedError("the backup ends early: the file was cut short")
        sealed = _exactly(self._source, struct.unpack(">I", head)[0])
        for last in (False, True):
            try:
                plain = self._aead.decrypt(_nonce(self._prefix, self._index, last), sealed, self._aad)
            except InvalidTag:
                continue
            self._index += 1
            self._buffer += plain
            if last:
                if self._source.read(1):
                    raise SealedError("the backup has data after its end")
                self._done = True
            return
        if self._index == 0:
            raise SealedError("wrong passphrase (or the backup is damaged)")
        raise SealedError(f"the backup is damaged at chunk {self._index}")

    def read(self, size: int = -1) -> bytes:
        while not self._done and (size < 0 or len(self._buffer) < size):
            self._next_chunk()
        if size < 0:
            out, self._buffer = self._buffer, b""
        else:
            out, self._buffer = self._buffer[:size], self._buffer[size:]
        return out


def _exactly(source: BinaryIO, size: int) -> bytes:
    data = source.read(size)
    if len(data) != size:
        raise SealedError("the backup ends early: the file was cut short")
    return data
