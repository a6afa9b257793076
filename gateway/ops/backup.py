"""``hcp backup`` / ``hcp restore``: one consistent, encrypted archive of everything a county needs.

An archive is a tar stream inside ``gateway.ops.sealed``'s envelope holding ``manifest.json``, the
database (``hcp.db``, a copy made with SQLite's online backup API while the app runs, or
``hcp.pgdump``, ``pg_dump``'s custom format from one snapshot) and ``keys/secret.key`` and
``keys/data.key`` — the signing key and the personal-data keys, without which the contacts in the
database are noise.  Blobs (raw mails, scans, recordings, attachments) live in the database, so
the copy of the database is the copy of them.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy.engine import make_url

from gateway.core.settings import Settings
from gateway.ops.sealed import OpeningReader, SealingWriter

FORMAT = 1


class BackupError(ValueError):
    """A backup or restore that cannot go ahead; the message says why and what to do."""


@dataclass(frozen=True)
class Manifest:
    created_at: str
    database: str
    revision: str | None
    cases: int

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "created_at": self.created_at, "database": self.database,
                "revision": self.revision, "cases": self.cases}


def _sqlite_path(settings: Settings) -> Path:
    database = make_url(settings.resolved_database_url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(database)


def _libpq(settings: Settings) -> tuple[str, dict[str, str]]:
    """``pg_dump``'s connection string without the password, which goes in the environment."""
    url = make_url(settings.resolved_database_url)
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return plain, env


def _run(args: list[str], env: dict[str, str]) -> None:
    try:
        done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise BackupError(f"{args[0]} is not installed (Debian: apt-get install postgresql-client)") from None
    if done.returncode != 0:
        raise BackupError(f"{args[0]} failed: {done.stderr.strip()[-2000:]}")


def _keys(settings: Settings) -> dict[str, str]:
    data = ",".join(f"{key_id}:{base64.b64encode(key).decode()}" for key_id, key in settings.encryption_keys())
    return {"secret.key": settings.signing_key().decode(), "data.key": data}


def _sqlite_facts(path: Path) -> tuple[str | None, int]:
    with sqlite3.connect(path) as connection:
        try:
            revision = connection.execute("SELECT version_num FROM alembic_version").fetchone()
            cases = connection.execute("SELECT count(*) FROM cases").fetchone()[0]
        except sqlite3.OperationalError:
            return None, 0
    return (revision[0] if revision else None), cases


def _pg_facts(settings: Settings) -> tuple[str | None, int]:
    plain, env = _libpq(settings)
    done = subprocess.run(["psql", "-At", "-d", plain, "-c",
                           "SELECT (SELECT version_num FROM alembic_version), (SELECT count(*) FROM cases)"],
                          env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return None, 0
    revision, _, cases = done.stdout.strip().partition("|")
    return revision or None, int(cases or 0)


def create_backup(settings: Settings, out: BinaryIO, passphrase: bytes, *, scrypt_n: int | None = None) -> Manifest:
    """Write one encrypted archive of the running system to ``out``."""
    with tempfile.TemporaryDirectory(prefix="hcp-backup-") as tmp:
        work = Path(tmp)
        if settings.is_sqlite:
            source = _sqlite_path(settings)
            if not source.exists():
                raise BackupError(f"there is no database at {source}")
            copy = work / "hcp.db"
            with sqlite3.connect(source, timeout=30) as src, sqlite3.connect(copy) as dst:
                src.backup(dst)  # all pages in one step: one consistent snapshot under WAL
            src.close()
            dst.close()
            revision, cases = _sqlite_facts(copy)
            name, database = "hcp.db", "sqlite"
        else:
            plain, env = _libpq(settings)
            copy = work / "hcp.pgdump"
            _run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", "-f", str(copy), "-d", plain], env)
            revision, cases = _pg_facts(settings)  # after the dump: a lower bound of what it holds
            name, database = "hcp.pgdump", "postgresql"
        manifest = Manifest(datetime.now(UTC).isoformat(timespec="seconds"), database, revision, cases)
        writer = SealingWriter(out, passphrase, n=scrypt_n)
        with tarfile.open(fileobj=writer, mode="w|") as tar:  # type: ignore[call-overload]
            _add_bytes(tar, "manifest.json", json.dumps(manifest.to_dict(), indent=2).encode())
            for key_name, value in _keys(settings).items():
                _add_bytes(tar, f"keys/{key_name}", value.encode())
            tar.add(copy, arcname=name)
        writer.close()
        return manifest


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    info.mtime = int(datetime.now(UTC).timestamp())
    tar.addfile(info, io.BytesIO(data))


def backup_to_directory(settings: Settings, directory: Path, passphrase: bytes, *, keep: int,
                        now: datetime | None = None) -> tuple[Path, list[Path]]:
    """The nightly job: a dated archive in ``directory``, then only the ``keep`` newest are kept.

    The archive is written as ``*.part`` and renamed when complete, so a crash never leaves a file
    that looks like a backup; returns the new file and the ones removed.
    """
    directory.mkdir(parents=True, exist_ok=True)
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    target = directory / f"hcp-{stamp}.hcpbak"
    write_atomically(settings, target, passphrase)
    archives = sorted(directory.glob("hcp-*.hcpbak"))
    removed = archives[:-keep] if keep > 0 else []
    for old in removed:
        old.unlink()
    return target, removed


def write_atomically(settings: Settings, target: Path, passphrase: bytes, *, scrypt_n: int | None = None) -> Manifest:
    partial = target.with_name(target.name + ".part")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            manifest = create_backup(settings, handle, passphrase, scrypt_n=scrypt_n)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return manifest


# ----- restore ---------------------------------------------------------------------------------

def _pg_has_tables(settings: Settings) -> bool:
    plain, env = _libpq(settings)
    done = subprocess.run(["psql", "-At", "-d", plain, "-c",
                           "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"],
                          env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BackupError(f"cannot reach the database: {done.stderr.strip()}")
    return int(done.stdout.strip() or 0) > 0


def occupied(settings: Settings) -> list[str]:
    """What a restore would overwrite in the configured place (empty: safe to restore)."""
    found: list[str] = []
    if settings.is_sqlite:
        path = _sqlite_path(settings)
        if path.exists() and path.stat().st_size > 0:
            found.append(f"database {path}")
    elif _pg_has_tables(settings):
        found.append("PostgreSQL database (it has tables)")
    for key_name in ("secret.key", "data.key"):
        if (settings.data_dir / key_name).exists():
            found.append(f"key file {settings.data_dir / key_name}")
    return found


def restore_backup(settings: Settings, source: BinaryIO, passphrase: bytes, *, force: bool = False) -> tuple[
        Manifest, list[str]]:
    """Bring an archive back into the configured data directory and database.

    Refuses (``BackupError``) when either holds data, unless ``force``.  Returns the manifest and
    warnings for the administrator (keys configured by environment that differ from the archive's).
    """
    in_the_way = occupied(settings)
    if in_the_way and not force:
        raise BackupError("refusing to overwrite " + "; ".join(in_the_way) + " (use --force to replace them)")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    warnings: list[str] = []
    with tempfile.TemporaryDirectory(prefix=".restore-", dir=settings.data_dir) as tmp:
        work = Path(tmp)
        with tarfile.open(fileobj=OpeningReader(source, passphrase), mode="r|") as tar:  # type: ignore[call-overload]
            tar.extractall(work, filter="data")
        try:
            raw = json.loads((work / "manifest.json").read_text())
        except (OSError, ValueError):
            raise BackupError("the archive has no readable manifest.json") from None
        if raw.get("format") != FORMAT:
            raise BackupError(f"archive format {raw.get('format')} is not one this version reads ({FORMAT})")
        manifest = Manifest(raw["created_at"], raw["database"], raw.get("revision"), raw.get("cases", 0))
        kind = "sqlite" if settings.is_sqlite else "postgresql"
        if manifest.database != kind:
            raise BackupError(f"the archive holds a {manifest.database} database, the configuration a {kind} one")
        if kind == "sqlite":
            target = _sqlite_path(settings)
            target.parent.mkdir(parents=True, exist_ok=True)
            for suffix in ("-wal", "-shm"):
                Path(f"{target}{suffix}").unlink(missing_ok=True)
            shutil.move(work / "hcp.db", target)
        else:
            plain, env = _libpq(settings)
            args = ["pg_restore", "--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error"]
            if force:
                args += ["--clean", "--if-exists"]
            _run([*args, "-d", plain, str(work / "hcp.pgdump")], env)
        archived = {name: (work / "keys" / name).read_text() for name in ("secret.key", "data.key")}
        configured = {"secret.key": settings.secret_key, "data.key": settings.data_keys}
        for name, value in archived.items():
            setting = configured[name]
            if setting is not None:
                if name == "data.key" and not _same_key_ids(setting.get_secret_value(), value):
                    warnings.append("HCP_DATA_KEYS is configured and lacks keys of the archive: contacts "
                                    f"will not decrypt; add them from {name} of the archive")
                elif name == "secret.key" and setting.get_secret_value() != value:
                    warnings.append("HCP_SECRET_KEY differs from the archive's: old tracking links and "
                                    "slips will not verify")
                continue
            path = settings.data_dir / name
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(value)
    return manifest, warnings


def _same_key_ids(configured: str, archived: str) -> bool:
    def ids(spec: str) -> set[str]:
        return {part.strip() for part in spec.split(",") if part.strip()}

    return ids(archived) <= ids(configured)
