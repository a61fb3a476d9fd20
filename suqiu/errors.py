"""The exception tree of suqiu; every package raises a subclass of SuqiuError.

    SuqiuError
    ├── ConfigError            suqiu: the configuration is missing or wrong
    ├── IngestError            ingest: a mailbox could not be read
    │   ├── MailboxLoginError      the server refused the login
    │   └── MailboxFolderError     the folder does not exist
    ├── NotifyError            notify: mail could not be rendered or sent
    │   ├── TemporarySendError     4xx or no connection: try again later
    │   └── PermanentSendError     5xx: the server refused this mail for good
    ├── StoreError             store: the database refused
    │   ├── NoSuchCase             no case has that number
    │   └── TransitionError        a change of state the rules do not allow
    └── RoutingError           routing: the rules file is wrong

Lower libraries' errors (imaplib, smtplib, SQLAlchemy) are translated where
they enter our packages, with the original kept as ``__cause__``.
"""


class SuqiuError(Exception):
    """Root of every error suqiu raises on purpose."""


class ConfigError(SuqiuError):
    """The configuration file is missing, unreadable or wrong."""


class IngestError(SuqiuError):
    """A mailbox could not be read."""


class MailboxLoginError(IngestError):
    """The mail server refused the login."""


class MailboxFolderError(IngestError):
    """The configured folder does not exist on the server."""


class NotifyError(SuqiuError):
    """Outbound mail could not be rendered or delivered."""


class TemporarySendError(NotifyError):
    """Delivery failed for now (4xx reply, no connection); retry later."""


class PermanentSendError(NotifyError):
    """The SMTP server refused the mail for good (5xx reply)."""


class StoreError(SuqiuError):
    """The database refused an operation."""


class NoSuchCase(StoreError):
    """No case has the given number."""


class TransitionError(StoreError):
    """A change of a case's state that the rules do not allow."""


class RoutingError(SuqiuError):
    """The routing rules are malformed."""
