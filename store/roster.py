"""The student roster (花名册): imported from CSV or XLSX, looked up by address."""

import csv
import io
import logging
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import Student
from suqiu import clock
from suqiu.errors import StoreError

log = logging.getLogger(__name__)

# The columns the college's spreadsheets use, in the words.
COLUMNS = {
    "学号": "student_id",
    "姓名": "name",
    "班级": "class_name",
    "学院": "college",
    "邮箱": "email",
    "辅导员": "counselor",
    "辅导员邮箱": "counselor_email",
}
REQUIRED = ("学号", "姓名")


@dataclass
class ImportReport:
    added: int = 0
    updated: int = 0
    skipped: list[str] | None = None


def read_rows(path: Path) -> list[dict[str, str]]:
    """Read a roster file (.csv in UTF-8 or GB18030, or .xlsx) into rows."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return _read_xlsx(path)
    data = path.read_bytes()
    # Excel on Chinese Windows saves CSV in GB18030; elsewhere it is UTF-8.
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise StoreError(f"无法识别 {path} 的编码，请另存为 UTF-8 的 CSV 或 XLSX")
    return [dict(row) for row in csv.DictReader(io.StringIO(text))]


def _read_xlsx(path: Path) -> list[dict[str, str]]:
    from openpyxl import load_workbook

    workbook = load_workbook(path, read_only=True, data_only=True)
    sheet = workbook.active
    rows = list(sheet.iter_rows(values_only=True)) if sheet is not None else []
    if not rows:
        return []
    header = [str(cell).strip() if cell is not None else "" for cell in rows[0]]
    return [
        {
            header[i]: str(cell).strip() if cell is not None else ""
            for i, cell in enumerate(row)
            if i < len(header)
        }
        for row in rows[1:]
    ]


def import_rows(
    session: Session, rows: list[dict[str, str]], source: str
) -> ImportReport:
    """Add or update students by 学号; report rows that could not be used."""
    if rows:
        missing = [c for c in REQUIRED if c not in rows[0]]
        if missing:
            raise StoreError(
                f"{source} 缺少必需的列：{'、'.join(missing)}"
                f"（应有的列：{'、'.join(COLUMNS)}）"
            )
    report = ImportReport(skipped=[])
    moment = clock.now()
    for number, row in enumerate(rows, start=2):
        values = {
            field: (row.get(column) or "").strip() or None
            for column, field in COLUMNS.items()
        }
        if not values["student_id"] or not values["name"]:
            assert report.skipped is not None
            report.skipped.append(f"第 {number} 行缺少学号或姓名")
            continue
        for key in ("email", "counselor_email"):
            if values[key]:
                values[key] = str(values[key]).lower()
        student = session.get(Student, values["student_id"])
        if student is None:
            session.add(Student(**values, imported_at=moment))
            report.added += 1
        else:
            for key, value in values.items():
                setattr(student, key, value)
            student.imported_at = moment
            report.updated += 1
    log.info("roster %s: %d added, %d updated", source, report.added, report.updated)
    return report


def present(session: Session) -> bool:
    """Whether any student has been imported."""
    return session.scalars(select(Student.student_id).limit(1)).first() is not None


def by_email(session: Session, address: str | None) -> Student | None:
    """Return the student whose roster address is *address*, if exactly one."""
    if not address:
        return None
    found = session.scalars(
        select(Student).where(Student.email == address.lower())
    ).all()
    return found[0] if len(found) == 1 else None
