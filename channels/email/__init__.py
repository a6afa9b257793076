"""The e-mail channel's pure part: raw RFC 5322 bytes → ``Intake`` (see ``parse``), loop and
bounce detection (``loops``), quote/signature trimming (``quotes``) and signed Message-IDs
(``msgid``).  Nothing here touches the database or the network; ``gateway.email`` does."""

from channels.email.loops import BounceRecipient, Verdict, classify
from channels.email.msgid import check_references, make_message_id
from channels.email.parse import ParsedMail, ParseOptions, UnparseableEmail, parse_email

__all__ = ["BounceRecipient", "ParseOptions", "ParsedMail", "UnparseableEmail", "Verdict", "check_references",
           "classify", "make_message_id", "parse_email"]
