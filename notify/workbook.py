"""The report's .xlsx: the period's cases, the figures by unit, the definitions.

Written with openpyxl in write-only mode, row by row, so that a quarter of
many thousand cases does not sit in memory as cell objects.

TODO: openpyxl spends 4 µs on a number, 6 µs on a string and 9 µs on a
date here, about 80 µs a row: a quarter of 25,000 cases (100,000 a year)
takes 2 s and more, so the quarterly report misses its 2 s target on this
sheet alone. The issue asked for openpyxl; the columns are kept to what the
figures need (交办 and 办结 times are left out: 答复用时 and the state carry
them).
"""

import io
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from notify.reports import NO_CATEGORY, NO_UNIT, CaseRow, Figures, Tally, definitions
from store.cases import STATUS_NAMES
from store.models import CaseStatus
from suqiu import clock

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PERCENT_FORMAT = "0.0%"
DAYS_FORMAT = "0.0"
_HEADER_FONT = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="DDE6F3")

# Column title, width; in the order of ``_case_values``.
CASE_COLUMNS: tuple[tuple[str, int], ...] = (
    ("编号", 14),
    ("受理时间", 17),
    ("渠道", 14),
    ("类别", 13),
    ("责任单位", 20),
    ("诉求主题", 44),
    ("状态", 12),
    ("重大问题", 9),
    ("办理时限", 17),
    ("答复时间", 17),
    ("答复用时（天）", 14),
    ("按期情况", 12),
    ("满意度评价", 11),
)
UNIT_COLUMNS: tuple[tuple[str, int], ...] = (
    ("责任单位", 22),
    ("诉求件数", 10),
    ("交办件数", 10),
    ("已答复", 9),
    ("应答复", 9),
    ("按期答复", 10),
    ("逾期答复", 10),
    ("超期未答复", 11),
    ("按期答复率", 11),
    ("平均答复用时（天）", 18),
    ("答复用时中位数（天）", 20),
    ("已评价", 9),
    ("满意及较满意", 13),
    ("不满意", 9),
    ("满意率", 9),
)


def report_workbook(figures: Figures, rows: Sequence[CaseRow]) -> bytes:
    """Return the .xlsx bytes of a report: cases, units, definitions."""
    book = Workbook(write_only=True)

    cases = _sheet(book, "诉求明细", CASE_COLUMNS)
    for row in rows:
        cases.append(_case_values(row))

    units = _sheet(book, "单位统计", UNIT_COLUMNS)
    for tally in (*figures.by_unit, figures.overall):
        units.append(_tally_values(tally, units))

    notes = book.create_sheet("口径说明")
    notes.column_dimensions["A"].width = 110
    notes.append(
        [_bold(notes, f"{figures.period.label}{figures.period.name} 口径说明")]
    )
    for line in definitions(figures.period, figures.as_of):
        notes.append([line])

    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _sheet(book: Workbook, title: str, columns: Sequence[tuple[str, int]]) -> Any:
    sheet = book.create_sheet(title)
    for index, (_, width) in enumerate(columns):
        sheet.column_dimensions[_letter(index)].width = width
    sheet.freeze_panes = "A2"
    sheet.append([_header(sheet, name) for name, _ in columns])
    return sheet


def _letter(index: int) -> str:
    return str(get_column_letter(index + 1))


def _header(sheet: Any, text: str) -> Any:
    cell = WriteOnlyCell(sheet, value=text)
    cell.font = _HEADER_FONT
    cell.fill = _HEADER_FILL
    cell.alignment = Alignment(horizontal="center", vertical="center")
    return cell


def _bold(sheet: Any, text: str) -> Any:
    cell = WriteOnlyCell(sheet, value=text)
    cell.font = _HEADER_FONT
    return cell


def _local(moment: datetime | None) -> datetime | None:
    # Excel has no time zones: cells hold the college's wall time.
    return clock.local(moment).replace(tzinfo=None) if moment else None


def _case_values(row: CaseRow) -> list[Any]:
    days = row.answer_days
    return [
        row.number,
        _local(row.received_at),
        row.channel,
        row.category or NO_CATEGORY,
        row.unit or NO_UNIT,
        row.subject,
        STATUS_NAMES.get(CaseStatus(row.status), row.status),
        "是" if row.major else None,
        _local(row.due_at),
        _local(row.replied_at),
        round(days, 1) if days is not None else None,
        row.timeliness,
        row.rating,
    ]


def _tally_values(tally: Tally, sheet: Any) -> list[Any]:
    def number(value: float | None, fmt: str) -> Any:
        if value is None:
            return None
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = fmt
        return cell

    return [
        tally.name,
        tally.total,
        tally.assigned,
        tally.answered,
        tally.due,
        tally.on_time,
        tally.late_answered,
        tally.overdue_open,
        number(tally.on_time_rate, PERCENT_FORMAT),
        number(tally.mean_days, DAYS_FORMAT),
        number(tally.median_days, DAYS_FORMAT),
        tally.rated,
        tally.satisfied,
        tally.unsatisfied,
        number(tally.satisfaction, PERCENT_FORMAT),
    ]
