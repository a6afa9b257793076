"""Backup while citizens submit, restore elsewhere: every acknowledged case, its messages, its
attachments and its decryptable contact come back; a restore never overwrites silently."""

from __future__ import annotations

import asyncio
import io
import os
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.engine import make_url

from channels.intake import Attachment
from gateway.cli import main
from gateway.core.db.models import Attachment as AttachmentRow
from gateway.core.db.models import Blob, Case, Contact, Message
from gateway.core.services import Services
from gateway.core.settings import Settings
from gateway.ops import sealed
from gateway.ops.backup import BackupError, restore_backup, write_atomically
from gateway.ops.sealed import OpeningReader, SealedError, SealingWriter
from tests.conftest import POSTGRES_ADMIN_URL, _admin
from tests.helpers import FixedClassifier, make_intake

PASS = b"correct horse battery"
FAST = 2**10  # scrypt cost for tests only; archives made by hcp use sealed.SCRYPT_N


@pytest.fixture
async def empty_target(database_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    """An empty place of the same kind to restore into."""
    if database_url.startswith("sqlite"):
        yield Settings(data_dir=tmp_path / "restored", run_workers=False)
        return
    name = f"hcp_restore_{uuid.uuid4().hex[:10]}"
    await _admin(f'CREATE DATABASE "{name}"')
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    yield Settings(data_dir=tmp_path / "restored", database_url=url, run_workers=False)
    await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _intake(number: int):  # type: ignore[no-untyped-def]
    photo = f"photo {number}".encode() * 50
    return make_intake(source_ref=f"burst-{number}", text=f"第{number}条 排长队 #time_limited",
                       contact={"name": "王小明", "phone": f"1380000{number:04d}", "real_name": True},
                       attachments=[Attachment(name=f"p{number}.jpg", media_type="image/jpeg", size=len(photo),
                                               content=photo)])


async def test_a_backup_during_a_burst_of_submissions_restores_every_acknowledged_case(
        services: Services, empty_target: Settings, tmp_path: Path) -> None:
    acknowledged: list[tuple[str, int]] = []
    stop = asyncio.Event()

    async def burst() -> None:
        number = 0
        while not stop.is_set():
            result = await services.ingestor.ingest(_intake(number))
            acknowledged.append((result.case_code, number))
            number += 1

    submitters = asyncio.create_task(burst())
    while len(acknowledged) < 20:
        await asyncio.sleep(0)
    before = list(acknowledged)
    archive = tmp_path / "hcp.hcpbak"
    manifest = await asyncio.to_thread(write_atomically, services.settings, archive, PASS, scrypt_n=FAST)
    stop.set()  # (measured 2026-12-07: 12–13 more submissions were acknowledged while the backup ran)
    await submitters
    assert manifest.cases >= len(before)
    assert b"\xe7\x8e\x8b" not in archive.read_bytes()  # 王 in UTF-8: nothing readable in the file

    with archive.open("rb") as handle:
        restored_manifest, warnings = await asyncio.to_thread(restore_backup, empty_target, handle, PASS)
    assert warnings == [] and restored_manifest.revision == manifest.revision
    restored = Services.create(empty_target, classifier=FixedClassifier())
    await restored.prepare_database()
    try:
        async with restored.store.read() as session:
            cases = {c.code: c for c in (await session.execute(select(Case))).scalars()}
            for code, number in before:
                case = cases[code]
                message = (await session.execute(select(Message).where(Message.case_id == case.id))).scalar_one()
                assert message.source_ref == f"burst-{number}"
                row = (await session.execute(select(AttachmentRow).where(
                    AttachmentRow.message_id == message.id))).scalar_one()
                blob = (await session.execute(select(Blob).where(Blob.sha256 == row.sha256))).scalar_one()
                assert blob.data == f"photo {number}".encode() * 50
                contact = (await session.execute(select(Contact).where(Contact.case_id == case.id))).scalar_one()
                assert restored.cipher.open(contact.phone_enc) == f"1380000{number:04d}"
                assert restored.cipher.open(contact.name_enc) == "王小明"
            # a case in the copy is whole, never a case without its message (one snapshot)
            orphans = [c.code for c in cases.values() if not (await session.execute(
                select(Message.id).where(Message.case_id == c.id))).first()]
            assert orphans == []
        result = await restored.ingestor.ingest(_intake(9_999))  # and it keeps working
        assert result.created and result.case_code not in cases
    finally:
        await restored.close()

    with archive.open("rb") as handle, pytest.raises(BackupError, match=r"refusing to overwrite .*--force"):
        restore_backup(empty_target, handle, PASS)


def test_the_cli_backs_up_restores_and_refuses_to_overwrite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sealed, "SCRYPT_N", FAST)
    for name in [n for n in os.environ if n.startswith("HCP_")]:
        monkeypatch.delenv(name)
    runner = CliRunner()
    live = {"HCP_DATA_DIR": str(tmp_path / "live"), "HCP_TRIAGE_PROCESSES": "0"}
    assert runner.invoke(main, ["db", "upgrade"], env=live).exit_code == 0
    archive = tmp_path / "out.hcpbak"
    done = runner.invoke(main, ["backup", "-o", str(archive)], input="short\n", env=live)
    assert done.exit_code == 1 and "at least 8 characters" in done.output and not archive.exists()
    done = runner.invoke(main, ["backup", "-o", str(archive)], input="a long passphrase\n", env=live)
    assert done.exit_code == 0, done.output
    assert "sqlite at revision" in done.output and not list(tmp_path.glob("*.part"))
    done = runner.invoke(main, ["backup", "-o", str(archive)], input="a long passphrase\n", env=live)
    assert done.exit_code == 1 and "exists" in done.output

    elsewhere = {"HCP_DATA_DIR": str(tmp_path / "new"), "HCP_TRIAGE_PROCESSES": "0"}
    done = runner.invoke(main, ["restore", str(archive)], input="the wrong one\n", env=elsewhere)
    assert done.exit_code == 1 and "wrong passphrase" in done.output
    assert not (tmp_path / "new" / "hcp.db").exists()
    key_file = tmp_path / "pass"
    key_file.write_text("a long passphrase\n")
    done = runner.invoke(main, ["restore", str(archive), "--passphrase-file", str(key_file)], env=elsewhere)
    assert done.exit_code == 0, done.output
    assert (tmp_path / "new" / "data.key").read_text() == (tmp_path / "live" / "data.key").read_text()
    done = runner.invoke(main, ["restore", str(archive), "--passphrase-file", str(key_file)], env=elsewhere)
    assert done.exit_code == 1 and "refusing to overwrite" in done.output and "--force" in done.output
    done = runner.invoke(main, ["restore", str(archive), "--passphrase-file", str(key_file), "--force"],
                         env=elsewhere)
    assert done.exit_code == 0, done.output


def _seal(data: bytes) -> bytes:
    out = io.BytesIO()
    writer = SealingWriter(out, PASS, n=FAST)
    writer.write(data)
    writer.close()
    return out.getvalue()


@pytest.mark.parametrize("size", [0, 1, sealed.CHUNK - 1, sealed.CHUNK, sealed.CHUNK + 1, 2 * sealed.CHUNK + 5])
def test_the_envelope_round_trips_at_chunk_boundaries(size: int) -> None:
    data = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    assert OpeningReader(io.BytesIO(_seal(data)), PASS).read() == data


def test_a_cut_altered_or_foreign_file_is_refused_with_the_reason() -> None:
    sealed_bytes = _seal(b"y" * (sealed.CHUNK + 10))
    with pytest.raises(SealedError, match="cut short"):
        OpeningReader(io.BytesIO(sealed_bytes[:-20]), PASS).read()
    first_chunk_end = sealed_bytes.index(b"}") + 1 + 4 + sealed.CHUNK + 16
    with pytest.raises(SealedError, match="cut short"):  # the whole last chunk dropped
        OpeningReader(io.BytesIO(sealed_bytes[:first_chunk_end]), PASS).read()
    flipped = bytearray(sealed_bytes)
    flipped[-5] ^= 1
    with pytest.raises(SealedError, match="damaged at chunk 1"):
        OpeningReader(io.BytesIO(bytes(flipped)), PASS).read()
    with pytest.raises(SealedError, match="wrong passphrase"):
        OpeningReader(io.BytesIO(sealed_bytes), b"not the passphrase").read()
    with pytest.raises(SealedError, match="not an hcp backup"):
        OpeningReader(io.BytesIO(b"PK\x03\x04 a zip file"), PASS)


def test_the_nightly_backup_keeps_the_newest_archives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import UTC, datetime

    from gateway.ops.backup import backup_to_directory

    monkeypatch.setattr(sealed, "SCRYPT_N", FAST)
    settings = Settings(data_dir=tmp_path / "live", run_workers=False)
    from gateway.core.db.migrate import upgrade

    settings.data_dir.mkdir()
    upgrade(settings.resolved_database_url)
    nightly = tmp_path / "backups"
    made = [backup_to_directory(settings, nightly, PASS, keep=2, now=datetime(2026, 12, day, 18, 30, tzinfo=UTC))
            for day in (29, 30, 31)]
    assert [path.name for path, _ in made] == ["hcp-20261229T183000Z.hcpbak", "hcp-20261230T183000Z.hcpbak",
                                               "hcp-20261231T183000Z.hcpbak"]
    assert made[2][1] == [made[0][0]]
    assert sorted(p.name for p in nightly.iterdir()) == [made[1][0].name, made[2][0].name]

    for name in [n for n in os.environ if n.startswith("HCP_")]:
        monkeypatch.delenv(name)
    (tmp_path / "pass").write_text("a long passphrase\n")
    env = {"HCP_DATA_DIR": str(tmp_path / "live"), "HCP_BACKUP_DIR": str(nightly), "HCP_BACKUP_KEEP": "2",
           "HCP_BACKUP_PASSPHRASE_FILE": str(tmp_path / "pass")}
    done = CliRunner().invoke(main, ["backup", "--nightly"], env=env)
    assert done.exit_code == 0, done.output
    assert "removed 1 older archive(s)" in done.output and len(list(nightly.iterdir())) == 2
    done = CliRunner().invoke(main, ["backup", "--nightly"], env={**env, "HCP_BACKUP_DIR": None})
    assert done.exit_code == 1 and "--nightly needs HCP_BACKUP_DIR" in done.output
