"""Real servers for the e-mail tests: a private Dovecot (IMAP) and aiosmtpd (SMTP) on loopback."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from imapclient import IMAPClient

from gateway.core.settings import Settings
from tests.email.certs import TlsFiles, make_tls_files

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USER, PASSWORD = "feedback@test.local", "secret"

CONFIG = """\
base_dir  = {dir}/run
state_dir = {dir}/state
log_path  = /dev/stderr
info_log_path = /dev/null
protocols = imap
listen = 127.0.0.1
{ssl}
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user  = nobody
default_internal_group = nogroup
default_login_user     = nobody
mail_location = maildir:{dir}/mail/%u/Maildir
mail_uid = nobody
mail_gid = nogroup
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {dir}/users
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={dir}/mail/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
  }}
}}
service anvil {{
  chroot =
}}
namespace inbox {{
  inbox = yes
}}
{extra}
"""
SSL_ON = """\
ssl = yes
ssl_cert = <{dir}/tls/server.pem
ssl_key = <{dir}/tls/server.key
ssl_min_protocol = TLSv1.2"""
# Dovecot's default capability list without IDLE: a server that cannot push new mail.
NO_IDLE = ("imap_capability = IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE LITERAL+ SORT THREAD=REFERENCES "
           "MULTIAPPEND UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH "
           "ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Dovecot:
    port: int
    tls_port: int | None = None
    """The implicit-TLS (imaps) port; the plain ``port`` then also offers STARTTLS."""
    tls: TlsFiles | None = None
    user: str = USER
    password: str = PASSWORD

    def client(self) -> IMAPClient:
        client = IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=30)
        client.login(self.user, self.password)
        client.select_folder("INBOX")
        return client

    def append(self, *messages: bytes) -> None:
        client = self.client()
        try:
            for raw in messages:
                client.append("INBOX", raw)
        finally:
            client.logout()

    def clear(self) -> None:
        client = self.client()
        try:
            uids = client.search(["ALL"])
            if uids:
                client.delete_messages(uids)
                client.expunge()
        finally:
            client.logout()

    def flags(self) -> dict[int, tuple[bytes, ...]]:
        client = self.client()
        try:
            return {uid: item[b"FLAGS"] for uid, item in client.fetch(client.search(["ALL"]), ["FLAGS"]).items()}
        finally:
            client.logout()


def start_dovecot(directory: Path, *, tls: bool = True, idle: bool = True) -> tuple[subprocess.Popen[bytes], Dovecot]:
    """A private Dovecot on loopback; with ``tls`` it has a certificate from a CA made for the run,
    serves implicit TLS on ``tls_port`` and STARTTLS on ``port``; without ``idle`` it does not
    announce IDLE."""
    if not Path(DOVECOT).exists():
        pytest.skip("dovecot is not installed (run scripts/system-deps.sh)")
    port = free_port()
    tls_port = free_port() if tls else 0
    files = make_tls_files(directory / "tls") if tls else None
    directory.chmod(0o755)
    (directory / "dovecot.conf").write_text(CONFIG.format(
        dir=directory, port=port, tls_port=tls_port, ssl=SSL_ON.format(dir=directory) if tls else "ssl = no",
        extra="" if idle else NO_IDLE))
    (directory / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
    for sub in ("run", "state", "mail"):
        (directory / sub).mkdir(exist_ok=True)
    if os.geteuid() == 0:
        subprocess.run(["chown", "-R", "nobody:nogroup", str(directory)], check=True)
        command = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--init-groups", DOVECOT, "-F", "-c",
                   str(directory / "dovecot.conf")]
    else:
        command = [DOVECOT, "-F", "-c", str(directory / "dovecot.conf")]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, Dovecot(port, tls_port or None, files)
        except OSError:
            if process.poll() is not None:
                error = process.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
                raise RuntimeError(f"dovecot exited: {error}") from None
            time.sleep(0.05)
    process.terminate()
    raise RuntimeError("dovecot did not start listening within 10 s")


@contextlib.contextmanager
def running_dovecot(**options: bool) -> Iterator[Dovecot]:
    directory = Path(tempfile.mkdtemp(prefix="hcp-dovecot-"))
    process, server = start_dovecot(directory, **options)
    try:
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def dovecot_server() -> Iterator[Dovecot]:
    with running_dovecot() as server:
        yield server


@pytest.fixture(scope="session")
def dovecot_without_idle() -> Iterator[Dovecot]:
    """A second server: no IDLE capability and no TLS at all (so no STARTTLS either)."""
    with running_dovecot(tls=False, idle=False) as server:
        yield server


@pytest.fixture
def dovecot(dovecot_server: Dovecot) -> Dovecot:
    dovecot_server.clear()
    return dovecot_server


@dataclass
class Received:
    messages: list[dict[str, Any]] = field(default_factory=list)
    reject: dict[str, str] = field(default_factory=dict)
    """Recipient address → SMTP reply to give at RCPT (e.g. ``550 5.1.1 no such user``)."""
    data_reply: str | None = None
    """A refusal to give after the data (e.g. ``554 5.6.0 content rejected``), instead of accepting it."""


class _Handler:
    def __init__(self, received: Received) -> None:
        self.received = received

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.received.reject:
            return self.received.reject[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.received.data_reply:
            return self.received.data_reply
        self.received.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                                       "data": envelope.original_content or envelope.content})
        return "250 Message accepted"


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, Received]]:
    from aiosmtpd.controller import Controller

    received = Received()
    port = free_port()
    controller = Controller(_Handler(received), hostname="127.0.0.1", port=port)
    controller.start()
    yield port, received
    controller.stop()


@pytest.fixture
def mail_settings(settings: Settings, dovecot: Dovecot, smtp_server: tuple[int, Received]) -> Settings:
    """The storage ``settings`` fixture pointed at the test servers (mutated in place: the
    ``services`` fixture holds the same object)."""
    for name, value in {"imap_host": "127.0.0.1", "imap_port": dovecot.port, "imap_user": dovecot.user,
                        "imap_security": "plain", "smtp_host": "127.0.0.1", "smtp_port": smtp_server[0],
                        "smtp_security": "plain", "smtp_from": "受理中心 <feedback@hcp.test>"}.items():
        setattr(settings, name, value)
    from pydantic import SecretStr

    settings.imap_password = SecretStr(dovecot.password)
    return settings
