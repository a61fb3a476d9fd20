"""The store: schema, case numbers under concurrency, transitions, outbox claims."""

import multiprocessing
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from store import cases, outbox, schema
from store.cases import StudentFacts
from store.db import make_engine, make_sessions, transaction
from store.models import Case, CaseStatus, Event, Outbox
from store.numbers import find_numbers, format_number
from suqiu.errors import StoreError, TransitionError
from tests import casebook

SHANGHAI_NOON = datetime(2026, 12, 3, 4, 0, tzinfo=UTC)


def ready(url: str):  # type: ignore[no-untyped-def]
    engine = make_engine(url)
    schema.upgrade(engine)
    return make_sessions(engine)


def open_one(session, subject: str = "宿舍漏水") -> Case:  # type: ignore[no-untyped-def]
    return cases.open_case(
        session,
        channel="学生工作处邮箱",
        dispatcher="学生工作处",
        subject=subject,
        student=StudentFacts(name="李明", email="liming@example.com"),
        received_at=SHANGHAI_NOON,
    )


def test_init_creates_then_reports_current(database_url: str) -> None:
    """`init` creates the schema once; a second run changes nothing."""
    engine = make_engine(database_url)
    with pytest.raises(StoreError, match="suqiu init"):
        schema.require_current(engine)
    before, after = schema.upgrade(engine)
    assert before is None and after == schema.HEAD
    assert schema.upgrade(engine) == (after, after)
    schema.require_current(engine)


def test_head_is_the_newest_migration() -> None:
    """schema.HEAD, which every command checks against, is Alembic's head."""
    assert schema.scripts_head() == schema.HEAD


def test_checking_the_schema_needs_no_alembic(database_url: str) -> None:
    """A command that only checks the schema does not pay for Alembic."""
    casebook.migrate(database_url)
    probe = (
        "import sys\n"
        "from store import schema\n"
        "from store.db import make_engine\n"
        "engine = make_engine(sys.argv[1])\n"
        "schema.require_current(engine)\n"
        "engine.dispose()\n"
        "print('alembic' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, database_url],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "False"


def test_times_come_back_aware_and_equal(database_url: str) -> None:
    """A UTC time stored on either database comes back aware and unchanged."""
    sessions = ready(database_url)
    with transaction(sessions) as session:
        case = open_one(session)
        number = case.number
    with transaction(sessions) as session:
        stored = cases.get_case(session, number)
        assert stored.received_at == SHANGHAI_NOON
        assert stored.received_at.tzinfo is not None


def _open_many(url: str, count: int) -> list[str]:
    sessions = make_sessions(make_engine(url))
    numbers = []
    for _ in range(count):
        with transaction(sessions) as session:
            numbers.append(open_one(session).number)
    return numbers


def test_numbers_stay_unique_when_processes_race(database_url: str) -> None:
    """Four processes opening cases at once get distinct, gap-free numbers."""
    ready(database_url)
    context = multiprocessing.get_context("spawn")
    with context.Pool(4) as pool:
        results = pool.starmap(_open_many, [(database_url, 15)] * 4)
    numbers = [n for batch in results for n in batch]
    assert len(set(numbers)) == 60
    assert sorted(numbers) == [format_number(2026, i) for i in range(1, 61)]


def test_number_is_yearly_in_college_time() -> None:
    """Numbers print as SQ<year>-<seq> and are found in subjects as typed."""
    assert format_number(2026, 7) == "SQ2026-0007"
    assert find_numbers("回复：[sq2026－0007] 您的诉求已受理") == ["SQ2026-0007"]
    assert find_numbers("2026-12-03 的课表") == []


def test_illegal_transition_is_refused_in_chinese(database_url: str) -> None:
    """A closed case cannot be reassigned; the error says why in Chinese."""
    sessions = ready(database_url)
    with transaction(sessions) as session:
        case = open_one(session)
        cases.change_status(
            session,
            case,
            CaseStatus.CLOSED,
            action="close",
            actor="cli:root",
            reason="已当面解决",
        )
        with pytest.raises(TransitionError, match="已销号"):
            cases.change_status(
                session, case, CaseStatus.ASSIGNED, action="assign", actor="cli:root"
            )
        assert case.closed_at is not None


def test_every_change_is_an_event_with_who_and_why(database_url: str) -> None:
    """Opening and closing a case leave events naming actor, states and reason."""
    sessions = ready(database_url)
    with transaction(sessions) as session:
        case = open_one(session)
        cases.change_status(
            session,
            case,
            CaseStatus.CLOSED,
            action="close",
            actor="cli:root",
            reason="重复反映",
        )
        case_id = case.id
    with transaction(sessions) as session:
        events = session.scalars(
            select(Event).where(Event.case_id == case_id).order_by(Event.id)
        ).all()
        assert [(e.action, e.from_status, e.to_status) for e in events] == [
            ("received", None, "received"),
            ("close", "received", "closed"),
        ]
        assert events[1].actor == "cli:root" and events[1].reason == "重复反映"


def test_an_event_of_a_case_not_yet_written_belongs_to_it(database_url: str) -> None:
    """Events go straight to the connection; one about a case the session
    has not flushed yet still carries that case's id."""
    sessions = ready(database_url)
    with transaction(sessions) as session:
        case = open_one(session)
        pending = Case(
            **{
                column.key: getattr(case, column.key)
                for column in Case.__table__.columns
                if column.key not in ("id", "number", "year", "seq")
            },
            number="TEST-2",
            year=case.year,
            seq=case.seq + 1000,
        )
        session.add(pending)
        assert pending.id is None
        cases.record(session, pending, "note", actor="cli:root", reason="备注")
        pending_id = pending.id
    with transaction(sessions) as session:
        [event] = session.scalars(select(Event).where(Event.action == "note")).all()
        assert pending_id is not None and event.case_id == pending_id


def _queue(sessions, count: int) -> list[int]:  # type: ignore[no-untyped-def]
    with transaction(sessions) as session:
        return [
            outbox.add(
                session,
                case=None,
                kind="digest",
                message_id=f"m{i}@example.edu.cn",
                sender="a@example.edu.cn",
                recipients=["b@example.edu.cn"],
                subject="s",
                text="t",
                raw=b"Subject: s\r\n\r\nt\r\n",
            )
            for i in range(count)
        ]


def test_a_row_is_claimed_by_one_sender_only(database_url: str) -> None:
    """Two senders claiming the same rows never both win one."""
    sessions = ready(database_url)
    ids = _queue(sessions, 5)
    with transaction(sessions) as session:
        first = [i for i in ids if outbox.claim(session, i, "first")]
    with transaction(sessions) as session:
        second = [i for i in ids if outbox.claim(session, i, "second")]
    assert first == ids and second == []


def test_stale_sending_rows_become_uncertain_not_resent(database_url: str) -> None:
    """A row left in sending by a dead sender is marked uncertain, not requeued."""
    sessions = ready(database_url)
    [row_id] = _queue(sessions, 1)
    with transaction(sessions) as session:
        assert outbox.claim(session, row_id, "dead-process")
        row = session.get_one(Outbox, row_id)
        row.claimed_at = datetime.now(UTC) - timedelta(hours=1)
    with transaction(sessions) as session:
        stale = outbox.release_stale(session, "me", timedelta(minutes=15))
        assert [r.id for r in stale] == [row_id]
        assert outbox.due_ids(session, datetime.now(UTC), 10) == []
    with transaction(sessions) as session:
        assert outbox.requeue_uncertain(session) == 1


def test_upgrade_from_the_first_schema_keeps_and_indexes_cases(
    database_url: str,
) -> None:
    """A database created at revision 0001, with a case and a mail in it,
    upgrades to the newest schema: the case keeps its data, its topic words
    are indexed, and the mail's raw bytes are kept unchanged."""
    from sqlalchemy import text

    engine = make_engine(database_url)
    schema.upgrade(engine, "0001")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO cases (number, year, seq, status, channel, dispatcher,"
                " subject, confidential, major, crisis, public, received_at,"
                " updated_at, topic_terms) VALUES ('SQ2026-0001', 2026, 1,"
                " 'received', '学生工作处邮箱', '学生工作处', '食堂涨价', false, false,"
                " false, false, :at, :at, :terms)"
            ),
            {"at": SHANGHAI_NOON.replace(tzinfo=None), "terms": '["食堂", "价格"]'},
        )
        connection.execute(
            text(
                "INSERT INTO inbound (mailbox, folder, location, identity, raw, size,"
                " sha256, read_at, subject, text, state, attempts, to_addrs,"
                " in_reply_to, \"references\", attachments, defects) VALUES ('x',"
                " 'INBOX', '1/1', 'mid:a', :raw, 3, 's', :at, 's', 't', 'done', 1,"
                " '[]', '[]', '[]', '[]', '[]')"
            ),
            {"raw": b"abc", "at": SHANGHAI_NOON.replace(tzinfo=None)},
        )
    schema.upgrade(engine)
    schema.require_current(engine)
    with engine.connect() as connection:
        terms = (
            connection.execute(text("SELECT term FROM case_terms ORDER BY term"))
            .scalars()
            .all()
        )
        appealed = connection.execute(text("SELECT appealed_at FROM cases")).scalar()
        raw = connection.execute(text("SELECT data FROM raw_mails")).scalar()
    assert sorted(terms) == ["价格", "食堂"]
    assert appealed is not None
    assert raw is not None and bytes(raw) == b"abc"  # moved to its own table


def test_migrations_build_exactly_the_models_schema(database_url: str) -> None:
    """Alembic's migrations and the models describe the same schema: no table,
    column or index missing on either side."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from store.models import Base

    engine = make_engine(database_url)
    schema.upgrade(engine)
    with engine.connect() as connection:
        differences = compare_metadata(
            MigrationContext.configure(connection), Base.metadata
        )
    assert differences == []


def test_topic_words_longer_than_the_column_are_indexed_once(database_url: str) -> None:
    """Two long words that share their first 100 characters are one index
    entry, not a unique-key violation that fails the mail."""
    from store import topics

    sessions = ready(database_url)
    with transaction(sessions) as session:
        case = open_one(session)
        topics.index(
            session, case, ["甲" * 120 + "一", "甲" * 120 + "二"], SHANGHAI_NOON
        )
        found = topics.neighbours(
            session,
            ["甲" * 100],
            since=SHANGHAI_NOON - timedelta(days=1),
            until=SHANGHAI_NOON,
            exclude=0,
        )
        assert [n.number for n in found] == [case.number]
