"""Monthly and quarterly reports: figures that match the database, charts that
open with Chinese labels, a workbook openpyxl reads, and the mail they go in."""

import dataclasses
import io
import logging
import statistics
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from notify import charts
from notify.periodic import report_mail
from notify.reports import NO_UNIT, Period, Tally, case_rows, gather, survey
from notify.topics import Appeal, clusters
from notify.workbook import report_workbook
from routing.similar import topic_terms
from store.db import transaction
from store.models import Case, CaseStatus
from suqiu import clock, config, routine
from suqiu.app import App
from suqiu.cli import main
from tests import casebook
from tests.deployment import ADMIN, Deployment

REPORT_TIME = "2026-12-01T09:00:00+08:00"
NOVEMBER = Period.month("2026-11")
GOOD = ("满意", "较满意")


@pytest.fixture
def generated(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[App]:
    """Four hundred cases received over October and November 2026, in every
    state; the report is made on 1 December."""
    path = casebook.write_config(tmp_path / "suqiu.toml", database_url)
    casebook.migrate(database_url)
    app = App(config.load(path), show_progress=False)
    with transaction(app.sessions) as session:
        casebook.generate(session, 400, start="2026-10-01 00:00", days=61)
    monkeypatch.setenv("SUQIU_NOW", REPORT_TIME)
    yield app
    app.engine.dispose()


def test_period_reading_and_bounds() -> None:
    """Months and quarters read from YYYY-MM / YYYYQN, span the right local
    days, and know the period before, across a year's end."""
    assert Period.quarter("2026Q4").start == date(2026, 10, 1)
    assert Period.quarter("2026Q4").end == date(2027, 1, 1)
    assert Period.month("2026-01").previous() == Period.month("2025-12")
    assert Period.quarter("2026Q1").previous() == Period.quarter("2025Q4")
    assert Period.month_before(date(2026, 1, 1)) == Period.month("2025-12")
    assert Period.quarter_before(date(2026, 10, 1)) == Period.quarter("2026Q3")
    start, end = NOVEMBER.bounds()
    assert start.isoformat() == "2026-11-01T00:00:00+08:00"
    assert end.isoformat() == "2026-12-01T00:00:00+08:00"
    for wrong in ("2026-13", "2026/11", "11-2026"):
        with pytest.raises(ValueError, match="YYYY-MM"):
            Period.month(wrong)
    with pytest.raises(ValueError, match="YYYYQN"):
        Period.quarter("2026Q5")


def test_monthly_figures_equal_direct_counts(generated: App) -> None:
    """Every figure of the November report equals what the test counts itself,
    straight from the cases table, by the definitions in the 口径说明."""
    now = clock.now()
    with transaction(generated.sessions) as session:
        figures = gather(session, NOVEMBER, as_of=now)
        start, end = NOVEMBER.bounds()
        period = [Case.received_at >= start, Case.received_at < end]
        counted = session.scalar(select(func.count(Case.id)).where(*period))
        by_channel = dict(
            session.execute(
                select(Case.channel, func.count()).where(*period).group_by(Case.channel)
            ).all()
        )
        found = session.scalars(select(Case).where(*period)).all()
        previous = _count_in(session, Period.month("2026-10"))

    assert counted is not None and 100 < counted < 300
    assert figures.overall.total == counted == len(found)
    assert figures.previous.total == previous
    assert dict(figures.by_channel) == by_channel
    assert dict(figures.by_category) == _with_zeros(
        Counter(c.category or "未分类" for c in found)
    )
    assert figures.by_status == dict(Counter(c.status for c in found))
    assert figures.major == sum(c.major for c in found)
    assert figures.ratings == dict(Counter(c.rating for c in found if c.rating))

    _check(figures.overall, found, now)
    units = {tally.name: tally for tally in figures.by_unit}
    assert set(units) == {c.unit or NO_UNIT for c in found}
    for name, tally in units.items():
        own = [c for c in found if (c.unit or NO_UNIT) == name]
        _check(tally, own, now)
    assert sum(t.total for t in figures.by_unit) == figures.overall.total
    assert figures.by_unit[-1].name == NO_UNIT


def _check(tally: Tally, cases: Sequence[Case], now: datetime) -> None:
    """The definitions of 口径说明, applied case by case in Python."""
    waiting = (CaseStatus.ASSIGNED, CaseStatus.ESCALATED)
    answered = on_time = overdue_open = due = 0
    spans: list[float] = []
    for case in cases:
        if case.replied_at is not None:
            answered += 1
            if case.due_at is not None:
                due += 1
                on_time += case.replied_at <= case.due_at
            if case.assigned_at is not None:
                spans.append(
                    (case.replied_at - case.assigned_at).total_seconds() / 86400
                )
        elif case.due_at is not None and case.due_at < now and case.status in waiting:
            overdue_open += 1
            due += 1
    rated = [c.rating for c in cases if c.rating]

    assert tally.total == len(cases)
    assert tally.assigned == sum(c.assigned_at is not None for c in cases)
    assert (tally.answered, tally.due) == (answered, due)
    assert (tally.on_time, tally.overdue_open) == (on_time, overdue_open)
    assert tally.rated == len(rated)
    assert tally.satisfied == sum(r in GOOD for r in rated)
    assert tally.unsatisfied == rated.count("不满意")
    if spans:
        assert tally.mean_days == pytest.approx(statistics.fmean(spans), abs=1e-6)
        assert tally.median_days == pytest.approx(statistics.median(spans), abs=1e-6)
    else:
        assert tally.mean_days is None and tally.median_days is None


def _count_in(session: Session, period: Period) -> int:
    start, end = period.bounds()
    return (
        session.scalar(
            select(func.count(Case.id)).where(
                Case.received_at >= start, Case.received_at < end
            )
        )
        or 0
    )


def _with_zeros(counts: Counter[str]) -> dict[str, int]:
    names = ("教学管理服务", "评优评奖", "师德师风", "思想心理", "困难与建议")
    return {**dict.fromkeys(names, 0), **counts}


def test_report_charts_open_and_draw_chinese(generated: App, tmp_path: Path) -> None:
    """The four charts are PNGs that open, drawn in a CJK font without a
    single missing glyph (which would be drawn as a box)."""
    assert charts.cjk_family() in charts.CJK_FAMILIES
    with transaction(generated.sessions) as session:
        figures = gather(session, NOVEMBER, as_of=clock.now())
    drawn = charts.report_charts(figures)

    assert [c.name for c in drawn] == ["sources", "units", "satisfaction", "topics"]
    for chart in drawn:
        assert chart.missing == "", chart.name
        with Image.open(io.BytesIO(chart.png)) as image:
            image.verify()
        with Image.open(io.BytesIO(chart.png)) as image:
            assert image.format == "PNG"
            assert image.width >= 700 and image.height >= 250
            # Not a blank canvas: bars and labels in several colours.
            assert len(image.convert("RGB").getcolors(100_000) or []) > 20
        (tmp_path / f"{chart.name}.png").write_bytes(chart.png)


def test_a_character_the_font_lacks_is_named(
    generated: App, caplog: pytest.LogCaptureFixture
) -> None:
    """The glyph check is not blind: an emoji in a hot word (Noto Sans CJK
    has none) is reported on the chart and in a warning, the Chinese beside
    it is not."""
    with transaction(generated.sessions) as session:
        figures = gather(session, NOVEMBER, as_of=clock.now())
    odd = dataclasses.replace(figures, hot_words=(("快递\U0001f4e6", 3), ("宿舍", 2)))
    with caplog.at_level(logging.WARNING, logger="notify.charts"):
        topics = charts.report_charts(odd)[3]
    assert topics.name == "topics"
    assert topics.missing == "\U0001f4e6"
    assert "no glyph" in caplog.text


def test_without_a_chinese_font_the_charts_name_the_package(
    generated: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A machine without a CJK font gets an error naming the Debian package,
    not charts whose labels are boxes."""
    with transaction(generated.sessions) as session:
        figures = gather(session, NOVEMBER, as_of=clock.now())
    monkeypatch.setattr(charts, "FONT_DIRS", (str(tmp_path),))
    charts._find_face.cache_clear()
    try:
        with pytest.raises(charts.ChartError, match=charts.FONT_PACKAGE):
            charts.report_charts(figures)
    finally:
        monkeypatch.undo()
        charts._find_face.cache_clear()
    assert charts.cjk_family() in charts.CJK_FAMILIES


def test_workbook_reads_back_with_the_cases_and_no_personal_data(
    generated: App,
) -> None:
    """openpyxl reads the .xlsx: one row per case of the period under Chinese
    headers, the unit sheet agrees with the figures, and no student's name
    or address is in it."""
    report = routine.make_report(generated, NOVEMBER)
    book = load_workbook(io.BytesIO(report.workbook), read_only=True)
    assert book.sheetnames == ["诉求明细", "单位统计", "口径说明"]

    rows = list(book["诉求明细"].iter_rows(values_only=True))
    assert rows[0][:6] == ("编号", "受理时间", "渠道", "类别", "责任单位", "诉求主题")
    with transaction(generated.sessions) as session:
        expected = case_rows(session, NOVEMBER, as_of=clock.now())
    assert [r[0] for r in rows[1:]] == [row.number for row in expected]
    assert len(rows) - 1 == report.figures.overall.total

    units = list(book["单位统计"].iter_rows(values_only=True))
    totals = {row[0]: row[1] for row in units[1:]}
    assert totals["全校"] == report.figures.overall.total
    assert totals == {
        **{t.name: t.total for t in report.figures.by_unit},
        "全校": report.figures.overall.total,
    }
    notes = [row[0] for row in book["口径说明"].iter_rows(values_only=True)]
    assert any("按期答复率" in str(line) for line in notes)

    every_cell = " ".join(
        str(value)
        for sheet in book.worksheets
        for row in sheet.iter_rows(values_only=True)
        for value in row
        if value is not None
    )
    assert "学生0" not in every_cell and "@example.com" not in every_cell


def test_workbook_cells_keep_dates_numbers_and_texts(generated: App) -> None:
    """Each case row reads back from the .xlsx with dates as dates in the
    college's wall time (formatted as dates), 答复用时 as a number and the
    texts as they are."""
    report = routine.make_report(generated, NOVEMBER)
    with transaction(generated.sessions) as session:
        expected = case_rows(session, NOVEMBER, as_of=clock.now())
    sheet = load_workbook(io.BytesIO(report.workbook))["诉求明细"]
    rows = list(sheet.iter_rows(min_row=2))

    assert len(rows) == len(expected)
    for cells, case in zip(rows, expected, strict=True):
        number, received, channel, *_ = cells
        assert number.value == case.number and channel.value == case.channel
        assert received.is_date and isinstance(received.value, datetime)
        wall = clock.local(case.received_at).replace(tzinfo=None)
        assert abs((received.value - wall).total_seconds()) < 0.001
        days = cells[10].value
        if case.answer_days is None:
            assert days is None
        else:
            assert days == round(case.answer_days, 1)
        assert cells[11].value == case.timeliness


def test_workbook_texts_with_markup_and_control_characters(generated: App) -> None:
    """A subject holding XML's special characters, spaces at its ends, a
    leading "=" and a control character reads back as text, less the control
    character, which XML cannot carry."""
    with transaction(generated.sessions) as session:
        figures, rows = survey(session, NOVEMBER, as_of=clock.now())
    subject = " <b>宿舍&食堂</b> \x07=SUM(A1) "
    odd = rows[0]._replace(subject=subject)

    data = report_workbook(figures, [odd, *rows[1:]])
    cell = load_workbook(io.BytesIO(data))["诉求明细"]["F2"]

    assert cell.value == " <b>宿舍&食堂</b> =SUM(A1) "
    assert cell.data_type == "s"


def test_report_out_writes_files(
    generated: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`suqiu report monthly --month 2026-11 --out DIR` writes the page, the
    text, four charts and the workbook; the page shows the charts and the
    口径说明; a wrong month is a usage error in Chinese."""
    out = tmp_path / "out"
    runner = CliRunner()
    done = runner.invoke(
        main,
        [
            "--config",
            str(generated.settings.path),
            "report",
            "monthly",
            "--month",
            "2026-11",
            "--out",
            str(out),
        ],
    )
    assert done.exit_code == 0, done.output
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(
        [
            "report-2026-11.html",
            "report-2026-11.txt",
            "report-2026-11.xlsx",
            *(
                f"report-2026-11-{n}.png"
                for n in ("sources", "units", "satisfaction", "topics")
            ),
        ]
    )
    page = (out / "report-2026-11.html").read_text(encoding="utf-8")
    assert 'src="report-2026-11-units.png"' in page
    assert "口径说明" in page and "按期答复率" in page
    text = (out / "report-2026-11.txt").read_text(encoding="utf-8")
    assert "2026年11月" in text and "与上期比较（上期：2026年10月）" in text

    wrong = runner.invoke(
        main,
        [
            "--config",
            str(generated.settings.path),
            "report",
            "monthly",
            "--month",
            "2026-13",
        ],
    )
    assert wrong.exit_code == 2 and "2026-11" in wrong.output


def test_report_mail_carries_charts_inline_and_the_workbook(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`suqiu report quarterly` mails the leading group and the admins one
    HTML mail whose charts are related parts its HTML names by Content-ID,
    with a plain-text alternative and the .xlsx attached."""
    deployment.extra = {"leading_group": {"emails": ["leader@example.edu.cn"]}}
    deployment.write_config()
    with transaction(deployment.app().sessions) as session:
        casebook.generate(session, 60, start="2026-10-01 00:00", days=90)
    monkeypatch.setenv("SUQIU_NOW", "2027-01-04T10:00:00+08:00")

    deployment.cli("report", "quarterly", "--quarter", "2026Q4")
    [mail] = deployment.wait_for_kind("report", 1)
    assert sorted(mail.rcpt_tos) == sorted(["leader@example.edu.cn", ADMIN])
    message = mail.message()
    assert "季度分析" in str(message["Subject"]) and "2026年第四季度" in str(
        message["Subject"]
    )
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert plain is not None and html is not None
    assert "按期答复率" in plain.get_content()

    related = next(
        p for p in message.walk() if p.get_content_type() == "multipart/related"
    )
    images = [p for p in related.iter_parts() if p.get_content_type() == "image/png"]
    assert len(images) == 4
    page = html.get_content()
    for image in images:
        cid = str(image["Content-ID"]).strip("<>")
        assert f'src="cid:{cid}"' in page
        data = image.get_payload(decode=True)
        assert isinstance(data, bytes)
        with Image.open(io.BytesIO(data)) as picture:
            picture.verify()

    [workbook] = [
        p for p in message.iter_attachments() if str(p.get_filename()).endswith(".xlsx")
    ]
    data = workbook.get_payload(decode=True)
    assert isinstance(data, bytes)
    rows = list(load_workbook(io.BytesIO(data), read_only=True)["诉求明细"].iter_rows())
    assert len(rows) == 61


def test_similar_appeals_cluster_together() -> None:
    """Canteen price complaints told in different words form one group; a
    network complaint and a dorm repair stay out of it."""
    texts = [
        ("食堂饭菜太贵", "二食堂最近涨价，一份荤菜十几块。"),
        ("饭堂涨价", "饭堂的菜价上涨，吃不起。"),
        ("食堂菜价上涨", "三食堂的饭菜价格变贵了，希望降价。"),
        ("宿舍断网", "晚上宿舍校园网经常断网，网速很慢。"),
        ("热水器坏了", "7栋宿舍热水器坏了，洗澡没有热水。"),
    ]
    appeals = [
        Appeal(f"SQ2026-{i:04d}", subject, topic_terms(subject, text))
        for i, (subject, text) in enumerate(texts, 1)
    ]
    [group] = clusters(appeals)
    assert group.size == 3
    assert set(group.numbers) == {"SQ2026-0001", "SQ2026-0002", "SQ2026-0003"}
    assert "价格" in group.terms


def test_report_states_its_definitions(generated: App) -> None:
    """The report mail's text and HTML both carry the 口径说明, with the
    period and the moment the figures were counted."""
    report = routine.make_report(generated, NOVEMBER)
    rendered = report_mail(report.figures, report.charts, image_src=report.chart_file)
    for body in (rendered.text, rendered.html):
        assert "口径说明" in body
        assert "受理时间在2026年11月内" in body
        assert "统计至 2026年12月01日 09:00" in body
        assert "评价为“满意”或“较满意”的件数 ÷ 已评价件数" in body
