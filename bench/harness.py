"""What every benchmark needs: private servers, a database, a configuration,
the `suqiu` command timed as a process, and a table of figures."""

import contextlib
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from store.db import make_engine
from tests.servers import Dovecot, ImapUser, SmtpServer

SUQIU = str(Path(sys.executable).with_name("suqiu"))
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SENDER = "gxgcxgc2017@163.com"
ADMIN = "xgc-staff@gxgc.edu.cn"
# The units of the shipped routing rules, each with an address, so that no
# routed case falls back to triage for want of one.
UNITS = {
    "后勤管理中心": "hqzx@gxgc.edu.cn",
    "教务处": "jwc@gxgc.edu.cn",
    "学生工作处": "xgc-office@gxgc.edu.cn",
    "大学生心理健康教育与咨询中心": "xlzx@gxgc.edu.cn",
    "保卫处": "bwc@gxgc.edu.cn",
    "团委": "tw@gxgc.edu.cn",
    "土木工程学院": "tm@gxgc.edu.cn",
    "艺术设计学院": "ys@gxgc.edu.cn",
    "经济管理学院": "jg@gxgc.edu.cn",
    "铁道与航空学院": "tdhk@gxgc.edu.cn",
    "汽车与机电学院": "qcjd@gxgc.edu.cn",
    "国防科技学院": "gfkj@gxgc.edu.cn",
    "教育学院": "jy@gxgc.edu.cn",
}


def machine() -> str:
    """CPUs and the load average: other work on the machine skews timings."""
    one, five, _ = os.getloadavg()
    return f"{os.cpu_count()} CPUs, load average {one:.2f} (1 min), {five:.2f} (5 min)"


def revision() -> str:
    """Which suqiu is measured: its folder and git commit, dirty or not."""
    import suqiu

    root = Path(suqiu.__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return f"suqiu from {root} (not a git checkout)"
    dirty = " with uncommitted changes" if changed else ""
    return f"suqiu from {root}, commit {commit}{dirty}"


@contextlib.contextmanager
def workdir(keep: bool = False) -> Iterator[Path]:
    """A scratch folder that Dovecot's unprivileged users can traverse."""
    root = Path(tempfile.mkdtemp(prefix="suqiu-bench-"))
    root.chmod(0o755)
    try:
        yield root
    finally:
        if keep:
            print(f"kept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def dovecot(root: Path, *, idle: bool = True) -> Iterator[Dovecot]:
    """A private Dovecot under *root*, stopped at the end whatever happens."""
    folder = root / "dovecot"
    folder.mkdir(mode=0o755)
    server = Dovecot(folder, idle=idle)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def smtp_server() -> Iterator[SmtpServer]:
    """A capturing SMTP server on loopback (aiosmtpd, in a thread)."""
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def database(kind: str, root: Path) -> Iterator[str]:
    """A URL to an empty database: a SQLite file, or a fresh PostgreSQL schema."""
    if kind == "sqlite":
        yield f"sqlite:///{root / 'suqiu.db'}"
        return

    base = os.environ.get("SUQIU_BENCH_PG", DEFAULT_PG)
    conninfo = make_url(base).set(drivername="postgresql")
    admin = psycopg.connect(
        conninfo.render_as_string(hide_password=False), autocommit=True
    )
    schema = f"bench_{secrets.token_hex(5)}"
    with admin:
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        separator = "&" if "?" in base else "?"
        try:
            # search_path in the options keeps every table in this schema.
            yield f"{base}{separator}options=-csearch_path%3D{schema}"
        finally:
            admin.execute(
                sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema))
            )


def engine(url: str) -> Engine:
    """An engine as suqiu makes it, for counting what a run left behind."""
    return make_engine(url)


def write_config(
    path: Path,
    *,
    database_url: str,
    smtp: SmtpServer | None,
    mailboxes: Sequence[tuple[str, ImapUser]] = (),
    extra: str = "",
) -> dict[str, str]:
    """Write suqiu.toml; return the environment holding the passwords."""
    lines = [f'[database]\nurl = "{database_url}"\n']
    if smtp is not None:
        lines += [
            "[smtp]",
            f'host = "{smtp.host}"',
            f"port = {smtp.port}",
            'security = "none"',
            f'sender = "学生工作处 <{SENDER}>"',
            # No pause between mails: the local server does not rate-limit.
            "pace_seconds = 0",
            "",
        ]
    env = dict(os.environ)
    for index, (name, user) in enumerate(mailboxes):
        variable = f"SUQIU_BENCH_PW_{index}"
        env[variable] = user.password
        lines += [
            "[[mailboxes]]",
            f'name = "{name}"',
            f'channel = "{name}"',
            f'host = "{user.host}"',
            f"port = {user.imap_port}",
            'security = "none"',
            f'username = "{user.user}"',
            f'password_env = "{variable}"',
            "",
        ]
    for unit, address in UNITS.items():
        lines += ["[[units]]", f'name = "{unit}"', f'emails = ["{address}"]', ""]
    lines += ["[admins]", f'emails = ["{ADMIN}"]', "", extra]
    path.write_text("\n".join(lines), encoding="utf-8")
    return env


@dataclass(frozen=True)
class Measured:
    """One finished child process: how long, how big, how it ended."""

    seconds: float
    peak_rss: int  # bytes, the child's own high-water mark
    returncode: int
    stdout: str
    stderr: str


def run(
    command: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    log: Path | None = None,
    timeout: float = 3600,
) -> Measured:
    """Run *command* to its end; its wall time and its own peak RSS.

    The peak is VmHWM from /proc, read until the child exits. The ru_maxrss
    of wait4() or RUSAGE_CHILDREN will not do: Linux counts into it the
    parent's memory at the fork (with vfork, the parent's own peak), so a
    benchmark holding 300 MB of mail would report every child at 300 MB.
    """
    folder = Path(tempfile.mkdtemp(prefix="suqiu-run-"))
    out_path = folder / "stdout"
    err_path = log or folder / "stderr"
    try:
        with out_path.open("wb") as out, err_path.open("wb") as err:
            started = time.perf_counter()
            process = subprocess.Popen(
                list(command), stdout=out, stderr=err, env=env, stdin=subprocess.DEVNULL
            )
            deadline = started + timeout
            peak = 0
            while True:
                peak = peak_rss(process.pid) or peak
                pid, status, _usage = os.wait4(process.pid, os.WNOHANG)
                if pid:
                    break
                if time.perf_counter() > deadline:
                    process.kill()
                time.sleep(0.005)
            seconds = time.perf_counter() - started
            process.returncode = os.waitstatus_to_exitcode(status)
        return Measured(
            seconds=seconds,
            peak_rss=peak,
            returncode=process.returncode,
            stdout=out_path.read_text(errors="replace"),
            stderr=err_path.read_text(errors="replace"),
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def peak_rss(pid: int) -> int | None:
    """The process's peak RSS so far (VmHWM) in bytes; None once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return None  # a zombie has no memory left to report


def suqiu(config: Path, *args: str) -> list[str]:
    """The command line of `suqiu --config CONFIG ARGS...`."""
    return [SUQIU, "--config", str(config), *args]


def check(measured: Measured, what: str) -> None:
    """Stop the benchmark with the child's own words when it failed."""
    if measured.returncode != 0:
        tail = "\n".join(measured.stderr.splitlines()[-30:])
        raise SystemExit(
            f"{what} exited with {measured.returncode}\n{measured.stdout}\n{tail}"
        )


# -- printing -----------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One line of a result table."""

    figure: str
    value: str
    floor: str = ""
    ratio: str = ""
    target: str = ""
    met: bool | None = None


HEAD = ("figure", "value", "floor", "ratio", "target", "met?")


def table(rows: Sequence[Row], head: Sequence[str] = HEAD) -> str:
    """Rows as a Markdown table: readable in a terminal, pasteable in README.

    Columns that no row fills are left out.
    """
    cells: list[tuple[str, ...]] = [
        (
            r.figure,
            r.value,
            r.floor,
            r.ratio,
            r.target,
            "" if r.met is None else ("yes" if r.met else "NO"),
        )
        for r in rows
    ]
    used = [i for i in range(len(head)) if i < 2 or any(c[i] for c in cells)]
    head = [head[i] for i in used]
    cells = [tuple(c[i] for i in used) for c in cells]
    widths = [max(_width(c[i]) for c in [head, *cells]) for i in range(len(head))]
    lines = [_line(head, widths), _line(["-" * w for w in widths], widths)]
    lines += [_line(c, widths) for c in cells]
    return "\n".join(lines)


def _width(text: str) -> int:
    # CJK characters take two columns in a terminal.
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _line(cells: Sequence[str], widths: Sequence[int]) -> str:
    padded = [c + " " * (w - _width(c)) for c, w in zip(cells, widths, strict=True)]
    return "| " + " | ".join(padded) + " |"


def mb(size: float) -> str:
    return f"{size / 1e6:.1f} MB"


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")
