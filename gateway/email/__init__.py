"""The e-mail channel's connection to the world: IMAP intake and SMTP delivery.

Intake (``ImapPoller``).  One connection stays open while the gateway runs.  Each cycle searches
the configured folder for UIDs above the last one finished (UIDVALIDITY and that UID live in
``worker_state``), reads their Message-IDs first (headers only), and fetches full bodies with
``BODY.PEEK[]`` (which leaves ``\\Seen`` alone) only for messages not stored yet.  The messages of a
batch are parsed and ingested concurrently, so the gateway's group commit writes them in a few
transactions; only when every case of the batch has committed are its messages flagged
``\\Seen`` (or moved to ``HCP_EMAIL_PROCESSED_FOLDER``), and the last UID advances only past
batches that finished with every batch before them.  Three batches are in flight at once (one
committing, one triaged in the worker process, one parsed) while the next is fetched.  A crash between commit and flag
fetches the message again, and exactly-once ingest by ``(channel, source_ref)`` makes that
harmless.  Mail is never deleted.

Between cycles the poller waits in IMAP IDLE when the server offers it, so new mail arrives
within about a second; otherwise (or with ``HCP_EMAIL_IDLE=false``) it polls every
``HCP_EMAIL_POLL_INTERVAL`` seconds.  A single wait never exceeds ``HCP_EMAIL_IDLE_SLICE``
seconds, so the worker can stop promptly.  A failed or dropped connection is closed and reopened
after a back-off that doubles from ``HCP_EMAIL_RETRY_SECONDS`` up to 15 minutes; every error is
recorded for the status page and ``hcp email status``.

Delivery (``SmtpSender``): the outbox's ``Sender`` for channel ``email``.  Every mail gets a
signed Message-ID (``channels.email.msgid``) derived from its outbox row, recorded as an outbound
``case_messages`` row *before* the message data is handed to the server, so a citizen's reply
threads onto the case whatever happens next.  That row also carries the delivery state, which
makes a retried outbox row safe: a mail recorded as sent is not sent again, and one whose fate is
unknown (the process died while the server was taking it) is never re-sent on our own — the row
fails visibly and staff decide (``hcp outbox retry``).  Acknowledgements carry
``Auto-Submitted: auto-replied`` and are limited per address and hour under a row lock, and nothing
goes to an address that bounced permanently.

Personal data: addresses appear here only as keyed hashes (``worker_state`` keys) and never in logs.

Modules: ``options`` (settings, errors, TLS), ``state`` (durable state, bounced addresses),
``quarantine``, ``reprocess``, ``imap`` (``Mailbox``, ``ImapPoller``), ``smtp`` (``SmtpSender``), ``status``.
"""

from __future__ import annotations

from channels.email.parse import source_ref_of_raw
from gateway.email.imap import ImapPoller, Mailbox, PollTimings
from gateway.email.options import (
    QUARANTINE_PREFIX,
    STATE_KEY,
    EmailOptions,
    MailConfigError,
    MailTlsError,
)
from gateway.email.quarantine import find_quarantined, quarantine, quarantined
from gateway.email.reprocess import Reprocessed, reprocess_quarantined
from gateway.email.smtp import SmtpConfig, SmtpSender
from gateway.email.state import load_state, save_state, states_with_prefix
from gateway.email.status import email_status

__all__ = ["QUARANTINE_PREFIX", "STATE_KEY", "EmailOptions", "ImapPoller", "MailConfigError", "MailTlsError",
           "Mailbox", "PollTimings", "Reprocessed", "SmtpConfig", "SmtpSender", "email_status", "find_quarantined",
           "load_state", "quarantine", "quarantined", "reprocess_quarantined", "save_state",
           "source_ref_of_raw", "states_with_prefix"]
