"""A small sampling profiler for a `suqiu` command, and what its samples say.

``python -m bench.sampler --out FILE -- ARGS`` runs ``suqiu ARGS`` here and
writes its main thread's stacks folded (``a;b;c microseconds``, a format
flamegraph.pl and speedscope read); ``--read FILE --mails N`` summarises.
"""

import argparse
import re
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

INTERVAL = 0.002
ROOT = str(Path(__file__).resolve().parent.parent) + "/"


class Sampler:
    """Records the main thread's stack every few milliseconds, from a thread.

    Walking another thread's frames is not crash-proof on CPython 3.11
    (python/cpython#99110 and its kin): one sampled poll of four died of
    SIGSEGV here. For long runs, py-spy from outside is the safer choice.

    The sampling thread runs only when it gets the GIL: at once while the
    main thread is in C code that released it (a socket read, an SQLite
    step), and otherwise at the next switch interval, which main() shortens
    to 0.1 ms. Each sample is weighted by the wall time since the previous
    one, so a long C call that held the GIL counts for its whole length,
    where a plain count would give it one sample.
    """

    def __init__(self, interval: float = INTERVAL) -> None:
        self.interval = interval
        self.stacks: Counter[str] = Counter()
        self._target = threading.get_ident()  # the thread that builds it
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        names: dict[object, str] = {}
        last = time.perf_counter()
        while not self._stop.wait(self.interval):
            frame = sys._current_frames().get(self._target)
            now = time.perf_counter()
            if frame is not None:
                self.stacks[_fold(frame, names)] += round((now - last) * 1e6)
            last = now

    def write(self, path: Path) -> None:
        lines = [f"{stack} {count}" for stack, count in self.stacks.most_common()]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _fold(frame: FrameType | None, names: dict[object, str]) -> str:
    frames = []
    while frame is not None:
        code = frame.f_code
        name = names.get(code)
        if name is None:
            where = code.co_filename.removeprefix(ROOT)
            name = names[code] = f"{where}:{code.co_qualname}"
        frames.append(name)
        frame = frame.f_back
    return ";".join(reversed(frames))


# -- reading samples ------------------------------------------------------------

# A stage is the innermost frame of the pipeline a sample is in: SQL run to
# open a case counts as opening a case. Checked from the leaf up.
STAGES: tuple[tuple[str, str], ...] = (
    ("once: jieba dictionary load", "jieba/__init__.py:Tokenizer.initialize"),
    ("once: routing rules load", "routing/rules.py:load_rules"),
    ("IMAP fetch and flags", "ingest/imap.py:"),
    ("parse", "ingest/parse.py:parse_mail"),
    ("re-parse for attachments", "ingest/parse.py:extract_attachment"),
    ("identity hash", "ingest/identity.py:"),
    ("classify (thread, bounce, auto-reply)", "ingest/classify.py:"),
    ("student statements", "ingest/statements.py:"),
    ("case number and case row", "store/cases.py:open_case"),
    ("topic terms (jieba)", "routing/similar.py:topic_terms"),
    ("similar-case scan", "suqiu/actions.py:Office._similar_recent"),
    ("routing rules (jieba)", "routing/decide.py:route"),
    ("crisis words", "routing/crisis.py:"),
    ("办理单 .docx", "notify/forms.py:handling_form_docx"),
    ("templates (Jinja2)", "notify/render.py:render_mail"),
    ("MIME build", "notify/compose.py:build"),
    ("outbox row", "store/outbox.py:add"),
    ("ack cap lookup", "store/outbox.py:acks_to_student_since"),
    ("first-appeal lookup", "suqiu/actions.py:_first_appeal"),
    ("seen-before lookups", "store/inbound.py:"),
    ("event rows", "store/cases.py:record"),
    ("commit", "store/db.py:transaction"),
    ("mark on server", "ingest/poller.py:Poller._mark"),
    ("per-mail log line", "ingest/poller.py:_log_mail"),
    ("stored row build", "ingest/poller.py:_new_row"),
    ("handler, other", "suqiu/flow.py:"),
    ("poller, other", "ingest/poller.py:"),
    ("start-up and imports", "<frozen importlib"),
)

# A library is the innermost frame's home: where the CPU actually was.
LIBRARIES: tuple[tuple[str, str], ...] = (
    ("SQLAlchemy", "sqlalchemy/"),
    ("sqlite3 driver", "sqlite3/"),
    ("psycopg driver", "psycopg/"),
    ("jieba", "jieba/"),
    ("python-docx", "docx/"),
    ("lxml", "lxml/"),
    ("Jinja2", "jinja2/"),
    ("mail-parser", "mailparser/"),
    ("stdlib email", "/email/"),
    ("imapclient", "imapclient/"),
    ("imaplib, ssl, socket", "/imaplib.py"),
    ("logging", "/logging/"),
    ("json", "/json/"),
    ("zipfile", "/zipfile"),
    ("re", "/re/"),
    ("importlib", "importlib"),
)


@dataclass(frozen=True)
class Share:
    """What share of the samples one label took."""

    label: str
    samples: int
    share: float


# py-spy's raw output names a frame "qualname (path:line)".
_PY_SPY_FRAME = re.compile(r"(?P<name>.*) \((?P<path>[^()]*):\d+\)$")


def read(path: Path) -> Counter[str]:
    """The folded stacks of a samples file, ours or py-spy's (``record
    --format raw``); only shares are compared, so units do not matter."""
    stacks: Counter[str] = Counter()
    for line in path.read_text(encoding="utf-8").splitlines():
        stack, _, count = line.rpartition(" ")
        if stack:
            stacks[";".join(_frame(f) for f in stack.split(";"))] += int(count)
    return stacks


def _frame(frame: str) -> str:
    found = _PY_SPY_FRAME.match(frame)
    if found is None:
        return frame
    return f"/{found['path'].removeprefix('/')}:{found['name']}"


def by_stage(stacks: Counter[str]) -> list[Share]:
    return _shares(stacks, STAGES, from_leaf=True, other="other")


def by_library(stacks: Counter[str]) -> list[Share]:
    return _shares(
        stacks,
        LIBRARIES,
        from_leaf=True,
        leaf_only=True,
        other="suqiu and other Python",
    )


def _shares(
    stacks: Counter[str],
    labels: Sequence[tuple[str, str]],
    *,
    from_leaf: bool,
    other: str,
    leaf_only: bool = False,
) -> list[Share]:
    counts: Counter[str] = Counter()
    for stack, count in stacks.items():
        frames = stack.split(";")
        if from_leaf:
            frames.reverse()
        if leaf_only:
            frames = frames[:1]
        counts[_label(frames, labels) or other] += count
    total = sum(counts.values()) or 1
    return [Share(label, n, n / total) for label, n in counts.most_common()]


def _label(frames: Sequence[str], labels: Sequence[tuple[str, str]]) -> str | None:
    for frame in frames:
        for label, marker in labels:
            if marker in frame:
                return label
    return None


def report(stacks: Counter[str], seconds: float, mails: int) -> str:
    """Two tables: by stage of the pipeline and by library, in ms per mail."""
    lines = []
    for title, shares in (
        ("by stage (innermost pipeline step)", by_stage(stacks)),
        ("by library (where the CPU was)", by_library(stacks)),
    ):
        lines.append(f"{title}:")
        for share in shares:
            per_mail = share.share * seconds / mails * 1000 if mails else 0.0
            lines.append(
                f"  {share.label:<40} {share.share:6.1%} {per_mail:8.2f} ms/mail"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, help="write the folded stacks here")
    parser.add_argument("--interval", type=float, default=INTERVAL)
    parser.add_argument("--read", type=Path, help="summarise a samples file")
    parser.add_argument("--seconds", type=float, default=0.0, help="wall time")
    parser.add_argument("--mails", type=int, default=0, help="mails processed")
    parser.add_argument("args", nargs="*", help="arguments for suqiu, after --")
    options = parser.parse_args(argv)

    if options.read:
        stacks = read(options.read)
        seconds = options.seconds or sum(stacks.values()) / 1e6
        print(report(stacks, seconds, options.mails))
        return

    sampler = Sampler(options.interval)
    sys.argv = ["suqiu", *options.args]
    sys.setswitchinterval(1e-4)
    sampler.start()
    try:
        # Imported under the sampler: start-up is part of a command's cost.
        from suqiu.cli import main as suqiu_main

        suqiu_main()
    finally:
        sampler.stop()
        if options.out:
            sampler.write(options.out)


if __name__ == "__main__":
    main(sys.argv[1:])
