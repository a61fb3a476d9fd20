"""Real servers for the tests: a private Dovecot and a capturing SMTP server."""

from tests.servers.certs import Certificate, session_certificate
from tests.servers.dovecot import Dovecot, DovecotError, ImapUser
from tests.servers.smtp import Received, SmtpServer

__all__ = [
    "Certificate",
    "Dovecot",
    "DovecotError",
    "ImapUser",
    "Received",
    "SmtpServer",
    "session_certificate",
]
