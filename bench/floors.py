"""The floors: what fetching alone and parsing alone cost over the same mail.

Whatever suqiu does with a mail, it must at least fetch it and parse it; the
backlog figure is judged against these, measured in the same run.
"""

import contextlib
import email
import gc
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email import policy

import mailparser
from imapclient import IMAPClient

from ingest.parse import parse_mail
from tests.servers import ImapUser

FETCH_BATCH = 500


@dataclass(frozen=True)
class Floor:
    """How long one stage alone took over *count* mails."""

    name: str
    count: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else float("inf")


def fetch_only(user: ImapUser, batch: int = FETCH_BATCH) -> tuple[Floor, list[bytes]]:
    """UID FETCH BODY.PEEK[] of the whole INBOX in batches; the raw mails too.

    EXAMINE (read-only) and PEEK leave every flag as it was, so suqiu later
    finds the mailbox exactly as loaded.
    """
    client = IMAPClient(user.host, port=user.imap_port, ssl=False, timeout=120)
    raws: list[bytes] = []
    try:
        client.login(user.user, user.password)
        started = time.perf_counter()
        client.select_folder("INBOX", readonly=True)
        uids = sorted(client.search("ALL"))
        for start in range(0, len(uids), batch):
            chunk = uids[start : start + batch]
            data = client.fetch(chunk, ["BODY.PEEK[]"])
            raws += [bytes(data[uid][b"BODY[]"]) for uid in chunk if uid in data]
        seconds = time.perf_counter() - started
    finally:
        with contextlib.suppress(Exception):
            client.logout()
    return Floor(
        f"fetch only (imapclient, batches of {batch})", len(raws), seconds
    ), raws


def _suqiu(raw: bytes) -> None:
    parse_mail(raw)


def _mailparser(raw: bytes) -> None:
    parsed = mailparser.parse_from_bytes(raw)
    _ = (parsed.subject, parsed.from_, parsed.date, parsed.body, parsed.attachments)


def _stdlib(raw: bytes) -> None:
    # Headers read and every leaf part decoded: the work parse_mail does.
    message = email.message_from_bytes(raw, policy=policy.default)
    _ = (message["subject"], message["from"], message["date"], message["message-id"])
    for part in message.walk():
        if part.is_multipart():
            continue
        with contextlib.suppress(Exception):
            part.get_content()


PARSERS: dict[str, Callable[[bytes], None]] = {
    "parse only (suqiu ingest.parse.parse_mail)": _suqiu,
    "parse only (mail-parser alone)": _mailparser,
    "parse only (stdlib email, policy.default)": _stdlib,
}


def parse_only(raws: Sequence[bytes]) -> list[Floor]:
    """Time each parser over *raws*, in this process, garbage collector on."""
    # mail-parser logs a line for every part it cannot render; that would
    # time the logging, not the parsing.
    logging.getLogger("mailparser").setLevel(logging.CRITICAL)
    floors = []
    for name, parse in PARSERS.items():
        gc.collect()
        started = time.perf_counter()
        for raw in raws:
            parse(raw)
        floors.append(Floor(name, len(raws), time.perf_counter() - started))
    return floors


def combined(fetch: Floor, parse: Floor) -> float:
    """Mails per second of fetching then parsing each mail, nothing else."""
    return 1 / (1 / fetch.rate + 1 / parse.rate)
