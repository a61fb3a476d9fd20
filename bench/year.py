"""A year of cases: 100,000 cases with their mails and events, then the
digest and the monthly and quarterly reports timed, on SQLite and PostgreSQL.

The commands are timed as whole processes when this tree has them. Beside
them, the queries a digest and a report must run, and the lookups the
poller makes for every mail, are timed in-process with their query plans.
"""

import argparse
import importlib
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Engine, Select, case, func, select, text
from sqlalchemy.orm import Session

from bench import harness
from bench.generate import CHINA
from bench.harness import Row
from bench.year_data import YearWriter, appeal_pool
from routing.similar import MAJOR_WINDOW, similar_to
from store.models import (
    OPEN_STATUSES,
    Case,
    CaseStatus,
    Event,
    Inbound,
    MailState,
    Outbox,
    OutboxState,
)
from suqiu import clock

AnySelect = Select[*tuple[Any, ...]]

# "Now" for every command (CONTRACT.md's SUQIU_NOW): the morning after a
# year of cases, so that the digest has a full day behind it.
NOW = datetime(2026, 12, 10, 8, 0, tzinfo=CHINA)
MONTH = "2026-11"
QUARTER = "2026Q3"
TARGET_SECONDS = 2.0
# The commands the issue names. They are looked up in `suqiu --help`; one
# this tree does not have yet is reported as missing, not failed.
COMMANDS: tuple[tuple[str, list[str], bool], ...] = (
    ("suqiu digest --dry-run", ["digest", "--dry-run"], True),
    ("suqiu report monthly", ["report", "monthly", "--month", MONTH], True),
    ("suqiu report quarterly", ["report", "quarterly", "--quarter", QUARTER], True),
    ("suqiu cases --status assigned", ["cases", "--status", "assigned"], False),
    ("suqiu cases --json (every case)", ["cases", "--json"], False),
)
REPEATS = 3


@dataclass(frozen=True)
class Timed:
    """One query or command: its median time and what the planner did."""

    name: str
    seconds: float | None  # None: the command does not exist here
    plan: str = ""
    note: str = ""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", "--cases", type=int, default=100_000)
    parser.add_argument(
        "--db", choices=("sqlite", "postgresql", "both"), default="both"
    )
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--pool", type=int, default=3000, help="distinct appeals")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)

    backends = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    started = time.perf_counter()
    pool = appeal_pool(args.pool, args.seed)
    print(
        f"year: {args.cases} cases over the year to {NOW:%Y-%m-%d %H:%M %z}, "
        f"{len(pool)} distinct appeals generated and read in "
        f"{time.perf_counter() - started:.1f} s"
    )
    print(harness.revision())
    print(f"machine at start: {harness.machine()}")
    for backend in backends:
        with (
            harness.workdir(args.keep) as root,
            harness.smtp_server() as smtp,
            harness.database(backend, root) as url,
        ):
            config = root / "suqiu.toml"
            env = harness.write_config(config, database_url=url, smtp=smtp)
            env["SUQIU_NOW"] = NOW.isoformat()
            harness.check(harness.run(harness.suqiu(config, "init"), env=env), "init")

            engine = harness.engine(url)
            started = time.perf_counter()
            written = YearWriter(engine, pool, NOW, args.seed).write(args.cases)
            seconds = time.perf_counter() - started
            if backend == "postgresql":
                # Autovacuum would have analysed a year-old database long ago.
                with engine.begin() as connection:
                    connection.execute(text("ANALYZE"))
            print()
            print(
                f"== {backend}: wrote "
                + ", ".join(f"{n} {t}" for t, n in written.items())
                + f" in {seconds:.0f} s; database {_size(engine, root)}"
            )
            commands = _commands(config, env)
            queries = _queries(engine)
            engine.dispose()
        _print(backend, commands, queries)
    print(f"machine at end: {harness.machine()}")


# -- the commands as processes ------------------------------------------------


def _commands(config: Path, env: dict[str, str]) -> list[Timed]:
    startup = harness.run(harness.suqiu(config, "--help"), env=env)
    # click lists each command on a line of its own, indented.
    available = {
        line.split()[0]
        for line in startup.stdout.splitlines()
        if line.startswith("  ") and line.strip()
    }
    timed = [Timed("suqiu --help (start-up alone)", startup.seconds)]
    for name, args, _target in COMMANDS:
        if args[0] not in available:
            timed.append(Timed(name, None, note="not in this tree yet"))
            continue
        runs = [
            harness.run(harness.suqiu(config, *args), env=env) for _ in range(REPEATS)
        ]
        failed = next((r for r in runs if r.returncode != 0), None)
        if failed is not None:
            reason = (failed.stderr.strip().splitlines() or ["?"])[-1][:100]
            timed.append(Timed(name, None, note=f"exit {failed.returncode}: {reason}"))
            continue
        peak = max(r.peak_rss for r in runs)
        timed.append(
            Timed(
                name,
                statistics.median(r.seconds for r in runs),
                note=f"peak RSS {harness.mb(peak)}",
            )
        )
    return timed


# -- the queries in-process ---------------------------------------------------


def _queries(engine: Engine) -> list[Timed]:
    """What a digest, a report and the poller ask of a year-old database."""
    since = NOW - timedelta(days=1)
    soon = NOW + timedelta(days=2)
    month = (datetime(2026, 11, 1, tzinfo=CHINA), datetime(2026, 12, 1, tzinfo=CHINA))
    quarter = (datetime(2026, 7, 1, tzinfo=CHINA), datetime(2026, 10, 1, tzinfo=CHINA))
    with Session(engine) as session:
        student = session.scalar(
            select(Case.student_email).where(Case.student_email.is_not(None)).limit(1)
        )
        message_id = session.scalar(select(Inbound.message_id).limit(1))
        recent_case = session.scalar(
            select(Inbound.case_id).order_by(Inbound.id.desc()).limit(1)
        )
    open_cases = Case.status.in_(OPEN_STATUSES)
    statements: list[tuple[str, AnySelect]] = [
        (
            "digest: new since the last digest",
            select(Case)
            .where(Case.received_at > since, Case.received_at <= NOW)
            .order_by(Case.received_at)
            .limit(50),
        ),
        (
            "digest: triage list",
            select(Case)
            .where(Case.status == CaseStatus.RECEIVED)
            .order_by(Case.received_at)
            .limit(50),
        ),
        (
            "digest: due within two days",
            select(func.count()).where(
                Case.status == CaseStatus.ASSIGNED,
                Case.due_at >= NOW,
                Case.due_at < soon,
            ),
        ),
        (
            "digest: overdue by unit",
            select(Case.unit, func.count(), func.min(Case.due_at))
            .where(Case.status == CaseStatus.ASSIGNED, Case.due_at < NOW)
            .group_by(Case.unit),
        ),
        (
            "digest: state changes since the last digest",
            select(Event.to_status, func.count())
            .where(Event.at > since, Event.at <= NOW, Event.to_status.is_not(None))
            .group_by(Event.to_status),
        ),
        (
            "digest: latest escalation reasons",
            select(Event.case_id, Event.reason).where(
                Event.id.in_(
                    select(func.max(Event.id))
                    .where(
                        Event.action == "escalate",
                        Event.case_id.in_(
                            select(Case.id)
                            .where(Case.status == CaseStatus.ESCALATED)
                            .limit(50)
                        ),
                    )
                    .group_by(Event.case_id)
                )
            ),
        ),
        (
            "digest: open cases by status",
            select(Case.status, func.count()).where(open_cases).group_by(Case.status),
        ),
        (
            "digest: failed mail, bounces, unsent",
            select(func.count())
            .select_from(Inbound)
            .where(
                (Inbound.state == MailState.FAILED)
                | ((Inbound.kind == "bounce") & (Inbound.read_at > since))
            ),
        ),
        (
            "digest: outbox failed or uncertain",
            select(func.count()).where(
                Outbox.state.in_((OutboxState.FAILED, OutboxState.UNCERTAIN))
            ),
        ),
        (
            "report (month): tallies by unit",
            _tallies(*month),
        ),
        (
            "report (month): topic words of the month",
            select(Case.number, Case.subject, Case.topic_terms).where(
                Case.received_at >= month[0], Case.received_at < month[1]
            ),
        ),
        (
            "report (quarter): tallies by unit",
            _tallies(*quarter),
        ),
        (
            "report (quarter): topic words of the quarter",
            select(Case.number, Case.subject, Case.topic_terms).where(
                Case.received_at >= quarter[0], Case.received_at < quarter[1]
            ),
        ),
        (
            "per mail: acknowledgements to one student today",
            select(func.count())
            .select_from(Outbox)
            .join(Case, Outbox.case_id == Case.id)
            .where(
                Case.student_email == student,
                Outbox.kind == "ack",
                Outbox.created_at >= NOW - timedelta(days=1),
            ),
        ),
        (
            "per mail: thread lookup by Message-ID",
            select(Inbound.id).where(
                Inbound.message_id.in_([message_id or ""]), Inbound.case_id.is_not(None)
            ),
        ),
        (
            "per action: a case's first appeal (办理单, forward, escalation)",
            select(Inbound)
            .where(Inbound.case_id == recent_case, Inbound.kind == "appeal")
            .order_by(Inbound.id)
            .limit(1),
        ),
        (
            "per poll: processed mails never flagged on the server",
            select(Inbound.uid)
            .where(
                Inbound.mailbox == "学生工作处邮箱",
                Inbound.state == MailState.DONE,
                Inbound.marked_at.is_(None),
            )
            .order_by(Inbound.uid)
            .limit(1000),
        ),
        (
            "per mail: the week's cases for the similar-case scan",
            select(Case.number, Case.topic_terms).where(
                Case.received_at >= NOW - MAJOR_WINDOW
            ),
        ),
    ]
    timed = [_time_query(engine, name, statement) for name, statement in statements]
    timed.append(_similar_scan(engine))
    timed += _gatherers(engine, month, quarter)
    return timed


def _tallies(start: datetime, end: datetime) -> AnySelect:
    return (
        select(
            Case.unit,
            func.count(),
            _count_if(Case.replied_at.is_not(None)),
            _count_if(Case.replied_at <= Case.due_at),
            _count_if(Case.rating.in_(("满意", "较满意"))),
        )
        .where(Case.received_at >= start, Case.received_at < end)
        .group_by(Case.unit)
    )


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.sum(case((condition, 1), else_=0))


def _time_query(engine: Engine, name: str, statement: AnySelect) -> Timed:
    seconds = []
    for _ in range(REPEATS):
        with Session(engine) as session:
            started = time.perf_counter()
            session.execute(statement).all()
            seconds.append(time.perf_counter() - started)
    return Timed(name, statistics.median(seconds), plan=_plan(engine, statement))


def _plan(engine: Engine, statement: AnySelect) -> str:
    """The tables read whole ("scan") and by index, as the planner chose."""
    compiled = statement.compile(
        dialect=engine.dialect, compile_kwargs={"render_postcompile": True}
    )
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            params = tuple(compiled.params[k] for k in compiled.positiontup or ())
            rows = connection.exec_driver_sql(
                f"EXPLAIN QUERY PLAN {compiled.string}", params
            ).all()
            steps = [str(r[-1]) for r in rows]
            scans = [s.split()[1] for s in steps if s.startswith("SCAN ")]
            searches = [s.split()[1] for s in steps if s.startswith("SEARCH ")]
        else:
            rows = connection.exec_driver_sql(
                f"EXPLAIN {compiled.string}", compiled.params
            ).all()
            steps = [str(r[0]) for r in rows]
            scans = [
                s.split("Seq Scan on ")[1].split()[0]
                for s in steps
                if "Seq Scan on " in s
            ]
            searches = [
                s.split(" on ")[1].split()[0]
                for s in steps
                if "Index" in s and " on " in s
            ]
    parts = []
    if scans:
        parts.append("SCAN " + ", ".join(dict.fromkeys(scans)))
    if searches:
        parts.append("index on " + ", ".join(dict.fromkeys(searches)))
    return "; ".join(parts)


def _similar_scan(engine: Engine) -> Timed:
    """The poller's similar-case check for one new appeal, as it runs it."""
    with Session(engine) as session:
        terms = frozenset(
            session.scalar(select(Case.topic_terms).order_by(Case.id.desc()).limit(1))
            or ()
        )
        seconds = []
        for _ in range(REPEATS):
            started = time.perf_counter()
            recent = session.execute(
                select(Case.number, Case.topic_terms).where(
                    Case.received_at >= NOW - MAJOR_WINDOW
                )
            ).all()
            similar_to(terms, [frozenset(t or ()) for _, t in recent])
            seconds.append(time.perf_counter() - started)
    return Timed(
        "per mail: similar-case scan, query and compare",
        statistics.median(seconds),
        note=f"{len(recent)} cases in the window",
    )


def _gatherers(
    engine: Engine,
    month: tuple[datetime, datetime],
    quarter: tuple[datetime, datetime],
) -> list[Timed]:
    """The digest's and the reports' own gather(), when this tree has them."""
    found: list[Timed] = []
    calls: list[tuple[str, str, Callable[[Any, Session], object]]] = [
        (
            "notify.digest.gather (in-process)",
            "notify.digest",
            lambda m, s: m.gather(s, now=NOW, since=None, soon_days=2),
        ),
        (
            "notify.reports.gather, month (in-process)",
            "notify.reports",
            lambda m, s: m.gather(s, m.Period.month(MONTH), as_of=NOW),
        ),
        (
            "notify.reports.gather, quarter (in-process)",
            "notify.reports",
            lambda m, s: m.gather(s, m.Period.quarter(QUARTER), as_of=NOW),
        ),
    ]
    clock.use_zone(ZoneInfo("Asia/Shanghai"))
    for name, module_name, call in calls:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            found.append(Timed(name, None, note="not in this tree yet"))
            continue
        seconds = []
        try:
            for _ in range(REPEATS):
                with Session(engine) as session:
                    started = time.perf_counter()
                    call(module, session)
                    seconds.append(time.perf_counter() - started)
        except Exception as exc:  # a module being written may not work yet
            found.append(Timed(name, None, note=f"{type(exc).__name__}: {exc}"[:100]))
            continue
        found.append(Timed(name, statistics.median(seconds)))
    return found


def _size(engine: Engine, root: Path) -> str:
    if engine.dialect.name == "sqlite":
        return harness.mb((root / "suqiu.db").stat().st_size)
    with engine.connect() as connection:
        size = connection.execute(
            text(
                "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = current_schema() AND c.relkind = 'r'"
            )
        ).scalar()
    return harness.mb(float(size or 0))


def _print(backend: str, commands: list[Timed], queries: list[Timed]) -> None:
    rows = []
    for item in commands:
        targeted = any(item.name == name and target for name, _a, target in COMMANDS)
        if item.seconds is None:
            rows.append(Row(item.name, "—", target=item.note))
            continue
        rows.append(
            Row(
                item.name,
                f"{item.seconds:.2f} s",
                ratio=item.note,
                target=f"< {TARGET_SECONDS:.0f} s" if targeted else "",
                met=item.seconds < TARGET_SECONDS if targeted else None,
            )
        )
    print()
    print(f"commands on {backend} (median of {REPEATS}):")
    print(harness.table(rows, head=("command", "median", "", "note", "target", "met?")))
    rows = [
        Row(
            q.name,
            "—" if q.seconds is None else f"{q.seconds * 1000:.1f} ms",
            floor=q.plan,
            ratio=q.note,
        )
        for q in queries
    ]
    print()
    print(f"queries on {backend} (median of {REPEATS}; plan: tables scanned whole):")
    print(harness.table(rows, head=("query", "median", "plan", "note", "", "")))


if __name__ == "__main__":
    main(sys.argv[1:])
