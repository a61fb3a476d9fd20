"""Real mail from other projects' test suites goes through the whole ingest.

tests/data/corpora (from mail-parser, imap_tools, php-imap) and CPython's own
test_email data: malformed MIME, odd charsets, nested messages. Every file
must be stored once and come out as a case or a kind with a reason.
"""

import importlib.util
import json
from pathlib import Path

from tests.deployment import Deployment

# Copied, unchanged and with their licences, from the project's shared corpora.
CORPORA = Path(__file__).parent / "data" / "corpora"


def cpython_email_data() -> Path | None:
    # Debian splits CPython's own tests into libpython3-testsuite; without
    # it there is nothing to read here.
    spec = importlib.util.find_spec("test.test_email")
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "data"
    return folder if folder.is_dir() else None


def mail_files() -> list[Path]:
    files = [
        path
        for path in sorted(CORPORA.rglob("*"))
        if path.is_file() and path.name not in ("LICENSE", "README.md")
    ]
    cpython = cpython_email_data()
    assert cpython is not None, (
        "CPython's test_email data is missing: scripts/test installs it "
        "(Debian's libpython3.x-testsuite)"
    )
    if cpython is not None:
        # Every file, the images and sounds too: whatever lands in a mailbox
        # must be survived.
        files += sorted(p for p in cpython.iterdir() if p.is_file())
    return files


def test_every_corpus_mail_is_read_once_without_error(deployment: Deployment) -> None:
    """Each of the corpora's files, written into the mailbox as delivered, is
    listed exactly once by `suqiu messages`, with a kind and no error."""
    files = mail_files()
    assert len(files) > 150
    user = deployment.boxes["xgc"].user
    deployment.dovecot.deliver_many(user, (path.read_bytes() for path in files))
    assert deployment.dovecot.message_count(user) == len(files)

    deployment.cli("poll", "--once", "--no-send")

    listed = json.loads(deployment.cli("messages", "--json").stdout)
    assert len(listed) == len(files)
    failed = [m for m in listed if m["error"] is not None or m["kind"] is None]
    assert failed == []
    kinds = {m["kind"] for m in listed}
    assert kinds <= {
        "appeal",
        "follow_up",
        "auto_reply",
        "bounce",
        "spam",
        "duplicate",
        "unmatched",
    }
    # Mails that are the same mail (the corpora share a few) are duplicates,
    # never a second case.
    cases = json.loads(deployment.cli("cases", "--json").stdout)
    assert len(cases) == sum(1 for m in listed if m["kind"] == "appeal")
