"""The daily digest, chase mails and the 督办 list: who gets which cases, on
which days, once a day, against a real SMTP server and both databases."""

import re
from dataclasses import dataclass
from email.message import EmailMessage

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from notify import chase, digest
from store import cases
from store.db import transaction
from store.models import Case, Inbound, JobRun, MailState, Outbox
from suqiu import clock, routine
from tests import casebook
from tests.deployment import ADMIN, UNITS, Deployment

LEADER = "leader@example.edu.cn"
PARTY_OFFICE = "dwb@example.edu.cn"  # 党委办公室, dispatcher of 书记信箱
NUMBER = re.compile(r"SQ\d{4}-\d{4}")
TRIAGE_REASON = "规则未能确定责任单位，留待学生工作处分派：没有规则命中"


@dataclass
class Office:
    """A deployment with cases at known deadlines, by a short name."""

    site: Deployment
    numbers: dict[str, str]

    def names(self, numbers: set[str]) -> set[str]:
        by_number = {number: name for name, number in self.numbers.items()}
        return {by_number[n] for n in numbers}


@pytest.fixture
def office(deployment: Deployment) -> Office:
    """Eight cases: late, nearly late, later, answered, and one for triage.

    Deadlines are the end of the 7th day after 交办 (2026-12-01 → 12-08).
    """
    deployment.extra = {
        "leading_group": {"emails": [LEADER]},
        "reports": {"supervise_after_days": 3, "soon_days": 2},
    }
    deployment.write_config()
    with deployment.config_path.open("a", encoding="utf-8") as config:
        config.write(f'\n[[units]]\nname = "党委办公室"\nemails = ["{PARTY_OFFICE}"]\n')

    app = deployment.app()
    xgc = "学生工作处邮箱"
    plan = [
        # name, subject, channel, day received (09:00) and assigned (10:00), unit
        ("hot_water", "宿舍热水器坏了两周", xgc, "2026-12-01", "后勤管理中心"),
        ("exam", "两门补考时间冲突", "书记信箱", "2026-11-25", "教务处"),
        ("timetable", "课表调整没有通知", xgc, "2026-12-03", "教务处"),
        ("league_fee", "团费重复收取", xgc, "2026-12-04", "团委"),
        ("canteen", "食堂饭菜涨价", "校长信箱", "2026-12-08", "后勤管理中心"),
        ("bikes", "电动车充电桩不够", xgc, "2026-12-06", "保卫处"),
        ("answered", "团员证明开具", xgc, "2026-12-02", "团委"),
    ]
    numbers = {}
    with transaction(app.sessions) as session:
        for name, subject, channel, day, unit in plan:
            case = casebook.receive(
                session, subject, when=f"{day} 09:00", channel=channel
            )
            casebook.assign(session, app.office, case, unit, when=f"{day} 10:00")
            numbers[name] = case.number
            if name == "answered":
                casebook.answer(
                    session, case, "已开具团员证明。", when="2026-12-05 10:00"
                )
        triage = casebook.receive(session, "有件事想反映", when="2026-12-09 15:00")
        # What the office records when no rule places an appeal.
        cases.record(session, triage, "triage", reason=TRIAGE_REASON)
        numbers["triage"] = triage.number
    deployment.send()  # the 办理单 go out now, not with the digest
    deployment.smtp.messages.clear()
    return Office(deployment, numbers)


def at(monkeypatch: pytest.MonkeyPatch, moment: str) -> None:
    monkeypatch.setenv("SUQIU_NOW", moment)


def plain(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def html(message: EmailMessage) -> str:
    body = message.get_body(("html",))
    assert body is not None
    return str(body.get_content())


def section(text: str, title: str) -> str:
    """The lines of the digest's section whose heading starts with *title*."""
    match = re.search(rf"^■ {title}.*?(?=^■ |\Z)", text, re.MULTILINE | re.DOTALL)
    return match.group(0) if match else ""


@pytest.mark.parametrize(
    ("moment", "overdue", "soon", "supervised"),
    [
        (
            "2026-12-10T08:00:00+08:00",
            {"hot_water": 2, "exam": 8},
            {"timetable", "league_fee"},
            {"exam"},
        ),
        (
            "2026-12-11T08:00:00+08:00",
            {"hot_water": 3, "exam": 9, "timetable": 1},
            {"league_fee"},
            {"exam"},
        ),
        (
            "2026-12-14T08:00:00+08:00",
            {"hot_water": 6, "exam": 12, "timetable": 4, "league_fee": 3, "bikes": 1},
            {"canteen"},
            {"hot_water", "exam", "timetable"},
        ),
    ],
)
def test_overdue_and_soon_due_move_with_the_days(
    office: Office,
    monkeypatch: pytest.MonkeyPatch,
    moment: str,
    overdue: dict[str, int],
    soon: set[str],
    supervised: set[str],
) -> None:
    """As SUQIU_NOW moves across days, the digest's overdue list (with days
    late), its due-soon list and the 督办 list hold exactly the right cases."""
    at(monkeypatch, moment)
    now = clock.now()
    app = office.site.app()
    with transaction(app.sessions) as session:
        found = digest.gather(session, now=now, since=None, soon_days=2)
        _, supervision = chase.gather(
            session, now=now, soon_days=2, supervise_after_days=3
        )

    late = {line.number: line.days_late for line in found.overdue.lines}
    assert {office.names({n}).pop(): d for n, d in late.items()} == overdue
    assert found.overdue.total == len(overdue)
    assert office.names({line.number for line in found.due_soon.lines}) == soon
    assert office.names({line.number for line in supervision.lines}) == supervised
    assert office.names({line.number for line in found.triage.lines}) == {"triage"}
    assert office.names({line.number for line in found.awaiting_rating.lines}) == {
        "answered"
    }


def test_digest_mail_lists_exactly_the_late_and_the_soon_due(
    office: Office, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`suqiu digest` on a working morning mails the admins a digest whose
    overdue section names exactly the late cases by unit with days late, and
    whose due-soon section exactly the cases due today and tomorrow."""
    at(monkeypatch, "2026-12-10T08:00:00+08:00")
    done = office.site.cli("digest")
    assert "日报" in done.stdout

    digests = office.site.wait_for_kind("digest", 2)
    [staff] = [m for m in digests if m.rcpt_tos == [ADMIN]]
    message = staff.message()
    text = plain(message)
    n = office.numbers

    overdue = section(text, "超期未答复")
    assert set(NUMBER.findall(overdue)) == {n["hot_water"], n["exam"]}
    assert "教务处：1 件，最长超期 8 天" in overdue
    assert "后勤管理中心：1 件，最长超期 2 天" in overdue
    assert re.search(rf"{n['exam']} .*\n\s+超期 8 天", overdue)
    soon = section(text, "即将到期")
    assert set(NUMBER.findall(soon)) == {n["timetable"], n["league_fee"]}
    assert "今天到期" in soon and "明天到期" in soon
    triage = section(text, "待分派")
    assert set(NUMBER.findall(triage)) == {n["triage"]}
    assert TRIAGE_REASON in triage
    assert set(NUMBER.findall(section(text, "已答复、等待学生评价"))) == {n["answered"]}
    assert "目前在办 8 件" in text

    # The HTML alternative says the same and loads nothing from outside.
    page = html(message)
    assert 'name="viewport"' in page
    assert set(NUMBER.findall(page)) >= {n["hot_water"], n["exam"], n["timetable"]}
    assert not re.search(r"(src|href)=\"https?:", page)
    assert message["X-Suqiu-Kind"] == "digest"


def test_dispatcher_gets_only_the_cases_of_its_channel(
    office: Office, monkeypatch: pytest.MonkeyPatch
) -> None:
    """党委办公室 receives a 书记信箱 digest holding only 书记信箱 cases; 校长办公室,
    not configured with an address, receives nothing."""
    at(monkeypatch, "2026-12-10T08:00:00+08:00")
    office.site.cli("digest")

    digests = office.site.wait_for_kind("digest", 2)
    assert sorted(m.rcpt_tos[0] for m in digests) == sorted([ADMIN, PARTY_OFFICE])
    [party] = [m for m in digests if m.rcpt_tos == [PARTY_OFFICE]]
    text = plain(party.message())
    assert "书记信箱日报" in str(party.message()["Subject"])
    assert set(NUMBER.findall(text)) == {office.numbers["exam"]}


def test_chase_mails_reach_only_late_units_with_only_their_cases(
    office: Office, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each unit with late or soon-due cases gets one chase mail listing only
    its own cases; a unit whose cases are not yet near is not chased."""
    at(monkeypatch, "2026-12-10T08:00:00+08:00")
    office.site.cli("digest")

    # Three units, and the 督办 list for the leading group.
    mails = office.site.wait_for_kind("chase", 4)
    n = office.numbers
    expected = {
        frozenset(UNITS["后勤管理中心"]): {n["hot_water"]},
        frozenset(UNITS["教务处"]): {n["exam"], n["timetable"]},
        frozenset(UNITS["团委"]): {n["league_fee"]},
        frozenset([LEADER]): {n["exam"]},
    }
    got = {
        frozenset(m.rcpt_tos): set(NUMBER.findall(plain(m.message()))) for m in mails
    }
    assert got == expected
    chased = {address for m in mails for address in m.rcpt_tos}
    assert not chased & set(UNITS["保卫处"])
    [supervision] = [m for m in mails if m.rcpt_tos == [LEADER]]
    assert "督办" in str(supervision.message()["Subject"])
    assert "超期 8 天" in plain(supervision.message())


def test_digest_and_chase_go_once_a_day(
    office: Office, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second run on the same day sends nothing; the next working day's
    digest counts as new only what arrived since the first."""
    at(monkeypatch, "2026-12-10T08:00:00+08:00")
    app = office.site.app()
    assert routine.send_digest(app, routine.today()).done
    assert routine.send_chase(app, routine.today()).done
    again = routine.send_digest(app, routine.today())
    assert not again.done and "已经发送过" in again.summary
    assert not routine.send_chase(app, routine.today()).done

    with transaction(app.sessions) as session:
        late = casebook.receive(session, "晚上宿舍断网", when="2026-12-10 20:00")
    at(monkeypatch, "2026-12-11T08:00:00+08:00")
    with transaction(app.sessions) as session:
        run = session.get(JobRun, routine.DIGEST)
        assert run is not None
        found = digest.gather(
            session, now=clock.now(), since=run.last_run_at, soon_days=2
        )
    assert [line.number for line in found.new.lines] == [late.number]
    assert routine.send_digest(app, routine.today()).done

    with transaction(app.sessions) as session:
        kinds = session.execute(
            select(Outbox.kind, func.count()).group_by(Outbox.kind)
        ).all()
    assert dict(kinds)["digest"] == 4  # two days, staff and 党委办公室


@pytest.mark.parametrize(
    ("moment", "reason"),
    [
        ("2026-10-01T08:00:00+08:00", "国庆节"),
        ("2026-10-05T08:00:00+08:00", "国庆节"),  # a Monday in the holiday
        ("2026-10-17T08:00:00+08:00", "周末"),
    ],
)
def test_no_digest_on_days_off(
    office: Office, monkeypatch: pytest.MonkeyPatch, moment: str, reason: str
) -> None:
    """On a public holiday (even a weekday) or a weekend, `suqiu digest` sends
    no digest and no chase mail, says why, and exits 0."""
    at(monkeypatch, moment)
    done = office.site.cli("digest")
    assert reason in done.stdout and "不发送日报" in done.stdout

    office.site.send()
    assert office.site.sent_of_kind("digest") == []
    assert office.site.sent_of_kind("chase") == []
    with transaction(office.site.app().sessions) as session:
        assert session.scalar(select(func.count()).select_from(JobRun)) == 0


def test_digest_on_make_up_working_day(
    office: Office, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Saturday 2026-10-10 is a make-up working day (调休) after 国庆节: the
    digest goes out."""
    at(monkeypatch, "2026-10-10T08:00:00+08:00")
    assert routine.day_off(routine.today(), office.site.settings().calendar) is None
    office.site.cli("digest")
    [staff] = [
        m for m in office.site.wait_for_kind("digest", 1) if m.rcpt_tos == [ADMIN]
    ]
    assert "10月10日（星期六）" in str(staff.message()["Subject"])


def test_configured_calendar_decides_a_year_the_package_lacks(
    office: Office, monkeypatch: pytest.MonkeyPatch
) -> None:
    """chinese_calendar 1.11 knows nothing of 2027. Days off and a make-up
    working day named in [calendar] decide the digest there. (The dates are
    an example, not the State Council's schedule.)"""
    with office.site.config_path.open("a", encoding="utf-8") as config:
        config.write(
            '\n[calendar]\ndays_off = ["2027-02-08..2027-02-12"]\n'
            "workdays = [2027-02-14]\n"
        )

    at(monkeypatch, "2027-02-09T08:00:00+08:00")  # a Tuesday, configured off
    done = office.site.cli("digest")
    assert "2027-02-09 是放假日，不发送日报。" in done.stdout
    office.site.send()
    assert office.site.sent_of_kind("digest") == []

    at(monkeypatch, "2027-02-14T08:00:00+08:00")  # a Sunday, configured worked
    office.site.cli("digest")
    [staff] = [
        m for m in office.site.wait_for_kind("digest", 1) if m.rcpt_tos == [ADMIN]
    ]
    assert "2月14日（星期日）" in str(staff.message()["Subject"])
    assert "系统提示" not in plain(staff.message())  # 2027 is configured


def test_digest_asks_for_next_years_holidays_in_december(
    office: Office, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In December, with no holidays for next year anywhere, the admins'
    digest says what to do, in both parts; the units' chase mails do not."""
    at(monkeypatch, "2026-12-10T08:00:00+08:00")
    office.site.cli("digest")
    [staff] = [
        m for m in office.site.wait_for_kind("digest", 1) if m.rcpt_tos == [ADMIN]
    ]
    notice = "还没有 2027 年的放假安排"
    assert "■ 系统提示" in plain(staff.message())
    assert notice in plain(staff.message()) and notice in html(staff.message())
    assert "[calendar]" in plain(staff.message())
    for chase_mail in office.site.sent_of_kind("chase"):
        assert notice not in plain(chase_mail.message())


def test_dry_run_prints_and_queues_nothing(
    office: Office, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`suqiu digest --dry-run` prints the digest and the chase mails and
    leaves the outbox and JobRun as they were."""
    at(monkeypatch, "2026-12-10T08:00:00+08:00")
    done = office.site.cli("digest", "--dry-run")
    assert "【学生诉求日报】12月10日（星期四）" in done.stdout
    assert "【催办】教务处" in done.stdout and "【督办】" in done.stdout
    assert office.numbers["exam"] in done.stdout

    with transaction(office.site.app().sessions) as session:
        kinds = set(session.scalars(select(Outbox.kind)))
        assert not kinds & {"digest", "chase"}
        assert session.scalar(select(func.count()).select_from(JobRun)) == 0


def test_digest_names_mail_that_needs_a_person(
    office: Office, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mail whose processing failed and a bounce of one of our mails both
    appear in the digest, with what `suqiu messages` calls them."""
    at(monkeypatch, "2026-12-10T08:00:00+08:00")
    app = office.site.app()
    with transaction(app.sessions) as session:
        case = session.scalars(
            select(Case).where(Case.number == office.numbers["canteen"])
        ).one()
        form = session.scalars(select(Outbox).where(Outbox.case_id == case.id)).first()
        assert form is not None
        failed = _inbound(
            session, "乱码的来信", state=MailState.FAILED, error="解析失败"
        )
        bounce = _inbound(session, "退信：[SQ] 办理单", kind="bounce")
        bounce.outbox_id = form.id
        bounce.case_id = case.id
        bounce.reason = "收件人地址不存在（550 User not found）"
        ids = (failed.id, bounce.id)

    outcome = routine.send_digest(app, routine.today(), dry_run=True)
    text = outcome.mails[0][1].text
    problems = section(text, "需要人工查看的邮件")
    assert f"【处理失败】来信 #{ids[0]} 乱码的来信" in problems
    assert "解析失败" in problems
    assert f"【退信】来信 #{ids[1]}" in problems
    assert "550 User not found" in problems and case.number in problems
    assert "邮件异常 2 封" in outcome.mails[0][1].subject  # mails, not cases


def _inbound(session: Session, subject: str, **fields: object) -> Inbound:
    """A stored inbound mail, as the poller would have left it."""
    moment = casebook.local("2026-12-09 20:00")
    values: dict[str, object] = {
        "mailbox": "学生工作处邮箱",
        "folder": "INBOX",
        "location": f"test/{subject}",
        "identity": f"sha:{subject}",
        "raw": b"",
        "size": 0,
        "sha256": "0" * 64,
        "from_addr": "someone@example.com",
        "subject": subject,
        "read_at": moment,
        "state": MailState.DONE,
        **fields,
    }
    row = Inbound(**values)
    session.add(row)
    session.flush()
    return row
