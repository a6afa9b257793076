"""E-mail settings (``HCP_EMAIL_*``), errors, and transport security shared by IMAP and SMTP."""

from __future__ import annotations

import ipaddress
import logging
import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

log = logging.getLogger(__name__)

STATE_KEY = "email:imap"
QUARANTINE_PREFIX = "email:quarantine:"
SUPPRESS_PREFIX = "email:suppress:"
RATE_PREFIX = "email:rate:"
OUTBOUND_PREFIX = "email:out:"
SEEN = b"\\Seen"
MAX_BACKOFF = timedelta(minutes=15)
PARSE_IN_THREAD_BYTES = 256 * 1024
"""Messages larger than this are parsed in a worker thread, so a big attachment never stalls the
event loop that also serves the web pages; small ones parse faster in place."""
ERRORS_KEPT = 10
IDLE_CHECK_SECONDS = 0.5
"""How often an IDLE wait looks up from the socket to see whether it should stop early."""


BATCHES_IN_FLIGHT = 3
"""Batches being parsed, triaged and committed at once: while one waits on its commit, the next
is triaged and the one after parsed."""

class EmailOptions(BaseSettings):
    """E-mail knobs beyond the ``imap_*``/``smtp_*`` settings, from ``HCP_EMAIL_*`` variables."""

    model_config = SettingsConfigDict(env_prefix="HCP_EMAIL_", extra="ignore")

    poll_interval: float = Field(default=60.0, gt=0)
    """Seconds between polls when the server has no IDLE (or ``idle`` is off)."""
    idle: bool = True
    """Wait for new mail with IMAP IDLE when the server offers it."""
    idle_slice: float = Field(default=5.0, gt=0, le=1500)
    """Longest single wait (IDLE or sleep) before the job hands control back to the worker."""
    batch: int = Field(default=50, ge=1, le=1000)
    concurrency: int = Field(default=50, ge=1, le=1000)
    """Messages of one batch parsed and ingested at the same time (they share group commits and
    travel to the triage worker together); two batches are in flight at once.

    Parsing runs on the event loop, so this also bounds how long a backlog holds up the web pages
    of ``hcp serve`` (and so does the triage, where it runs in-line: ``HCP_TRIAGE_PROCESSES=0``).
    Measured with ``benchmarks/email_ingest.py`` and a triage worker on 2 cores: 50 at once (the
    whole batch, ~35 ms of parsing) ingests 10–25 % faster than 16."""
    processed_folder: str | None = None
    """Move finished messages here instead of only flagging them ``\\Seen`` (created if missing)."""
    ack_limit_per_hour: int = Field(default=3, ge=0)
    bounce_suppress_days: float = Field(default=30.0, ge=0)
    domain: str | None = None
    """Right-hand side of our Message-IDs; defaults to the domain of ``HCP_SMTP_FROM``."""
    tls_verify: bool = True
    ca_file: Path | None = None
    allow_plaintext: bool = False
    """Allow ``plain`` security to a host that is not loopback (a trusted internal relay)."""
    timeout: float = Field(default=30.0, gt=0)
    retry_seconds: float = Field(default=5.0, gt=0)
    """First delay before reconnecting after an error; it doubles up to 15 minutes."""


class MailConfigError(RuntimeError):
    """The e-mail settings cannot work (missing, contradictory or unsafe); fix the configuration."""


class MailTlsError(ConnectionError):
    """A TLS connection to the mail server could not be established securely."""


def utc_now() -> datetime:
    return datetime.now(UTC)


# ----- transport security ------------------------------------------------------------------------

def tls_context(options: EmailOptions) -> ssl.SSLContext:
    """Verifying context: the system's CAs, or only ``HCP_EMAIL_CA_FILE`` when it is set."""
    if options.ca_file is not None and not options.ca_file.is_file():
        raise MailConfigError(f"HCP_EMAIL_CA_FILE {options.ca_file} is not a readable file")
    context = ssl.create_default_context(cafile=str(options.ca_file) if options.ca_file else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if not options.tls_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_security(service: str, host: str, security: str, options: EmailOptions) -> None:
    """Refuse to send a password or citizens' mail in clear text over a real network."""
    if security == "plain" and not is_loopback(host) and not options.allow_plaintext:
        raise MailConfigError(
            f"HCP_{service}_SECURITY=plain is allowed only to a loopback host; {host} needs tls or starttls "
            "(or HCP_EMAIL_ALLOW_PLAINTEXT=true for a trusted internal relay)")
    if security != "plain" and not options.tls_verify:
        log.warning("email: %s certificate verification is OFF (HCP_EMAIL_TLS_VERIFY=false)", service)


def explain_tls_failure(exc: BaseException, service: str, host: str, port: int) -> str | None:
    """A clear sentence for a TLS failure found anywhere in ``exc``'s chain, else ``None``."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return (f"{service} {host}:{port}: the server's TLS certificate was rejected "
                    f"({seen.verify_message or seen.reason}); set HCP_EMAIL_CA_FILE to the CA certificate "
                    "that signed it, or fix the server's certificate")
        if isinstance(seen, ssl.SSLError):
            return f"{service} {host}:{port}: TLS handshake failed ({seen.reason or seen})"
        seen = seen.__cause__ or seen.__context__
    return None
