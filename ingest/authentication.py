"""Did the receiving server authenticate the sender? Authentication-Results.

RFC 8601: the mail server that accepted a message records its SPF, DKIM and
DMARC verdicts in an Authentication-Results header naming itself (the
authserv-id). Only headers from servers we trust count: anyone can write
such a header into a forged mail, but not under our server's name, because
a receiving server removes or precedes those (RFC 8601 §5).
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass

from ingest.mail import ParsedMail

# method=result, with an optional reason in parentheses and properties such
# as header.d=example.edu.cn or smtp.mailfrom=a@example.edu.cn after it.
_RESULT = re.compile(r"\b(spf|dkim|dmarc)\s*=\s*([a-z]+)", re.IGNORECASE)
_PROPERTY = re.compile(
    r"\b(header\.d|header\.i|header\.from|smtp\.mailfrom)\s*=\s*([^\s;]+)",
    re.IGNORECASE,
)
_COMMENT = re.compile(r"\([^()]*\)")


@dataclass(frozen=True)
class Verdict:
    method: str  # spf | dkim | dmarc
    result: str  # pass | fail | none | …
    domains: tuple[str, ...]  # the domains the result speaks for


def verdicts(mail: ParsedMail, trusted: Iterable[str]) -> list[Verdict]:
    """The SPF/DKIM/DMARC results recorded by the servers we trust."""
    servers = {s.lower() for s in trusted}
    found: list[Verdict] = []
    for value in mail.headers.get("authentication-results", []):
        text = _COMMENT.sub(" ", value)
        authserv, _, rest = text.partition(";")
        if authserv.strip().split()[0:1] not in ([s] for s in servers):
            continue
        for clause in rest.split(";"):
            match = _RESULT.search(clause)
            if match is None:
                continue
            domains = tuple(
                _domain(prop.group(2)) for prop in _PROPERTY.finditer(clause)
            )
            found.append(
                Verdict(match.group(1).lower(), match.group(2).lower(), domains)
            )
    return found


def authenticated(mail: ParsedMail, trusted: Iterable[str]) -> bool:
    """True when a trusted server vouches for the From address's domain:
    DMARC passed, or DKIM or SPF passed for that very domain."""
    if mail.sender is None or "@" not in mail.sender.addr:
        return False
    domain = mail.sender.addr.rpartition("@")[2].lower()
    for verdict in verdicts(mail, trusted):
        if verdict.result != "pass":
            continue
        if verdict.method == "dmarc":
            if not verdict.domains or domain in verdict.domains:
                return True
        elif domain in verdict.domains:
            return True
    return False


def _domain(value: str) -> str:
    value = value.strip().strip('"').lower()
    return value.rpartition("@")[2] if "@" in value else value
