"""Progress of a large backlog: a bar on a terminal, plain log lines otherwise."""

import logging
import sys
import time
from types import TracebackType

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichProgress

log = logging.getLogger(__name__)

# Below this many mails a bar only flickers; the per-mail log lines suffice.
BAR_FROM = 200
LOG_EVERY_SECONDS = 10.0


class Progress:
    """Counts mails read from one mailbox and shows how far it got."""

    def __init__(self, total: int, label: str, *, bar: bool = True) -> None:
        self.total = total
        self.label = label
        self.done = 0
        self.started = time.monotonic()
        self.last_log = self.started
        self.active = total >= BAR_FROM
        self.bar: RichProgress | None = None
        self.task: object = None
        # A bar only where a person watches a terminal; log lines elsewhere.
        if self.active and bar and sys.stderr.isatty():
            self.bar = RichProgress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                transient=True,
            )

    def __enter__(self) -> "Progress":
        if self.bar is not None:
            self.bar.start()
            self.task = self.bar.add_task(f"读取 {self.label}", total=self.total)
        return self

    def advance(self, count: int) -> None:
        self.done += count
        if self.bar is not None:
            self.bar.update(self.task, advance=count)  # type: ignore[arg-type]
            return
        now = time.monotonic()
        if self.active and (
            now - self.last_log >= LOG_EVERY_SECONDS or self.done >= self.total
        ):
            self.last_log = now
            rate = self.done / max(now - self.started, 1e-6)
            log.info(
                "mailbox %s: %d of %d mails read (%.0f/s)",
                self.label,
                self.done,
                self.total,
                rate,
            )

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self.bar is not None:
            self.bar.stop()
