"""Transport security against real servers: Dovecot with a certificate from a CA made for the test
run (implicit TLS and STARTTLS), aiosmtpd with the same kind of certificate, and what happens
when the certificate is not trusted — a clear error, never a silent plaintext fallback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from gateway.core.db.models import Case
from gateway.core.outbox import OutgoingMessage
from gateway.core.services import Services
from gateway.email import STATE_KEY, EmailOptions, ImapPoller, MailConfigError, MailTlsError, SmtpSender, load_state
from tests.email import mails
from tests.email.certs import TlsFiles, make_tls_files
from tests.email.conftest import Dovecot, Received, _Handler, free_port

pytestmark = pytest.mark.usefixtures("mail_settings")


async def cases(services: Services) -> int:
    async with services.store.read() as session:
        return int((await session.execute(select(func.count()).select_from(Case))).scalar_one())


def use_imap(services: Services, dovecot: Dovecot, security: str) -> None:
    settings = services.settings
    settings.imap_security = security  # type: ignore[assignment]
    settings.imap_port = dovecot.tls_port if security == "tls" else dovecot.port


@pytest.mark.parametrize("security", ["tls", "starttls"])
async def test_imap_over_tls_and_starttls_with_the_ca_file(services: Services, dovecot: Dovecot,
                                                           security: str) -> None:
    assert dovecot.tls is not None
    use_imap(services, dovecot, security)
    dovecot.append(mails.build("加密连接收信", message_id=f"<{security}@x>"))
    counts = await ImapPoller(services, EmailOptions(ca_file=dovecot.tls.ca_file)).poll_once()
    assert counts == {"already_stored": 0, "ingested": 1}


@pytest.mark.parametrize("security", ["tls", "starttls"])
async def test_imap_untrusted_certificate_is_a_clear_error(services: Services, dovecot: Dovecot,
                                                           security: str) -> None:
    assert dovecot.tls is not None
    use_imap(services, dovecot, security)
    dovecot.append(mails.build("不应被读取", message_id=f"<untrusted-{security}@x>"))
    poller = ImapPoller(services, EmailOptions(ca_file=dovecot.tls.other_ca_file))
    with pytest.raises(MailTlsError) as caught:
        await poller.poll_once()
    message = str(caught.value)
    port = dovecot.tls_port if security == "tls" else dovecot.port
    assert message.startswith(f"IMAP 127.0.0.1:{port}: the server's TLS certificate was rejected")
    assert "unable to get local issuer certificate" in message and "HCP_EMAIL_CA_FILE" in message
    state = await load_state(services, STATE_KEY)
    assert state["last_error"] == message and state["consecutive_failures"] == 1
    assert await cases(services) == 0
    # The system's CAs do not know our test CA either: same refusal without a CA file.
    with pytest.raises(MailTlsError, match="certificate was rejected"):
        await ImapPoller(services, EmailOptions()).poll_once(force=True)
    # Switching verification off is an explicit choice, and then it connects.
    counts = await ImapPoller(services, EmailOptions(tls_verify=False)).poll_once(force=True)
    assert counts["ingested"] == 1


async def test_starttls_is_never_skipped_when_the_server_lacks_it(services: Services,
                                                                  dovecot_without_idle: Dovecot) -> None:
    settings = services.settings
    settings.imap_security = "starttls"
    settings.imap_port = dovecot_without_idle.port
    with pytest.raises(MailTlsError, match="does not offer STARTTLS; refusing to log in without encryption"):
        await ImapPoller(services).poll_once()


async def test_plaintext_only_on_loopback(services: Services, smtp_server: tuple[int, Received]) -> None:
    settings = services.settings
    settings.imap_host = "192.0.2.10"  # TEST-NET: must be refused before any connection is tried
    with pytest.raises(MailConfigError, match="HCP_IMAP_SECURITY=plain is allowed only to a loopback host"):
        await ImapPoller(services, EmailOptions(timeout=1)).poll_once()
    settings.smtp_host = "192.0.2.11"
    result = await SmtpSender(services).send(OutgoingMessage(
        channel="email", kind="reply", recipient="a@example.cn", body="x", outbox_id=1))
    assert not result.ok and "HCP_SMTP_SECURITY=plain is allowed only to a loopback host" in (result.error or "")
    assert not smtp_server[1].messages


# ----- SMTP --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def smtp_tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(Path(tmp_path_factory.mktemp("smtp-tls")))


@pytest.fixture(params=["starttls", "tls"])
def tls_smtp_server(request: pytest.FixtureRequest, smtp_tls: TlsFiles) -> Iterator[tuple[str, int, Received]]:
    """aiosmtpd demanding STARTTLS (``tls_context``), or speaking TLS from the first byte (``ssl_context``)."""
    from aiosmtpd.controller import Controller

    received = Received()
    port = free_port()
    context = smtp_tls.server_context()
    if request.param == "starttls":
        controller = Controller(_Handler(received), hostname="127.0.0.1", port=port, tls_context=context,
                                require_starttls=True)
    else:
        controller = Controller(_Handler(received), hostname="127.0.0.1", port=port, ssl_context=context)
    controller.start()
    yield request.param, port, received
    controller.stop()


def use_smtp(services: Services, security: str, port: int) -> None:
    settings = services.settings
    settings.smtp_security = security  # type: ignore[assignment]
    settings.smtp_port = port


async def test_smtp_over_starttls_and_tls_with_the_ca_file(services: Services, smtp_tls: TlsFiles,
                                                           tls_smtp_server: tuple[str, int, Received]) -> None:
    security, port, received = tls_smtp_server
    use_smtp(services, security, port)
    sender = SmtpSender(services, EmailOptions(ca_file=smtp_tls.ca_file))
    result = await sender.send(OutgoingMessage(channel="email", kind="reply", recipient="citizen@example.cn",
                                               subject="答复", body="您好，答复如下。", outbox_id=41))
    assert result.ok, result.error
    (mail,) = received.messages
    assert mail["to"] == ["citizen@example.cn"] and result.provider_ref
    assert result.provider_ref.encode() in mail["data"]


async def test_smtp_untrusted_certificate_is_a_clear_temporary_failure(
        services: Services, smtp_tls: TlsFiles, tls_smtp_server: tuple[str, int, Received]) -> None:
    security, port, received = tls_smtp_server
    use_smtp(services, security, port)
    sender = SmtpSender(services, EmailOptions(ca_file=smtp_tls.other_ca_file))
    result = await sender.send(OutgoingMessage(channel="email", kind="reply", recipient="citizen@example.cn",
                                               body="x", outbox_id=42))
    assert not result.ok and not result.permanent  # a configuration to fix; the outbox retries meanwhile
    assert (result.error or "").startswith(f"SMTP 127.0.0.1:{port}: the server's TLS certificate was rejected")
    assert "HCP_EMAIL_CA_FILE" in (result.error or "")
    assert not received.messages
