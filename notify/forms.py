"""The rules' paper forms 办理单 (附件2) and 交报单 (附件1) as printable .docx files.

``read_handling_form`` takes back the 办理单 a unit returns with its answer.
"""

import datetime as dt
import functools
import io
import logging
import posixpath
import re
import zipfile
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from xml.etree import ElementTree

from docx import Document
from docx.document import Document as WordDocument
from docx.enum.section import WD_ORIENT
from docx.enum.table import (
    WD_CELL_VERTICAL_ALIGNMENT,
    WD_ROW_HEIGHT_RULE,
    WD_TABLE_ALIGNMENT,
)
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_TAB_ALIGNMENT
from docx.opc.constants import RELATIONSHIP_TYPE
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.oxml.xmlchemy import BaseOxmlElement
from docx.shared import Cm, Length, Pt
from docx.table import Table, _Cell, _Row

log = logging.getLogger(__name__)

HANDLING_TITLE = "广西工程职业学院学生诉求办理单"  # 附件2
INTAKE_TITLE = "广西工程职业学院学生诉求交报单"  # 附件1
CONFIDENTIAL = "（保密）"
RATINGS = ("满意", "较满意", "不满意")


@dataclass(frozen=True)
class HandlingForm:
    """What one 办理单 (附件2) says; personal fields are withheld when confidential."""

    number: str  # 编号, e.g. "SQ2026-0012"
    subject: str  # 诉求主题
    date: dt.date  # 日期: when the appeal was received
    student_class: str = ""  # 学生班级
    student_name: str = ""  # 学生姓名
    counselor: str = ""  # 辅导员姓名
    contact: str = ""  # 联系方式
    summary: str = ""  # 诉求内容摘要, may run to several paragraphs
    office_opinion: str = ""  # 学生工作处处理意见
    unit_reply: str = ""  # 职能部门处理结果回复, normally left for the unit
    rating: str | None = None  # one of RATINGS, or None before the student rates
    # Printing （保密） rather than blanks tells the unit the data was withheld
    # on purpose (保密制度), not forgotten.
    confidential: bool = False
    unit: str = ""  # 责任单位, printed above the table
    due: dt.date | None = None  # 办理时限, printed with the office's opinion

    def __post_init__(self) -> None:
        if self.rating is not None and self.rating not in RATINGS:
            raise ValueError(f"满意度评价只能是 {'、'.join(RATINGS)}：{self.rating!r}")


@dataclass(frozen=True)
class IntakeForm:
    """What one 交报单 (附件1) says: an appeal taken in person or by phone."""

    subject: str  # 诉求主题
    date: dt.date  # 日期
    student_class: str = ""  # 学生班级
    student_name: str = ""  # 学生姓名
    counselor: str = ""  # 辅导员姓名
    contact: str = ""  # 联系方式
    content: str = ""  # 诉求内容
    receiver_opinion: str = ""  # 受理方（个人或部门）意见
    receiver: str = ""  # 受理方: the person or department that took the appeal


@dataclass(frozen=True)
class FilledForm:
    """What a unit wrote on a returned 办理单."""

    number: str | None  # 编号 as written on the form; None when blank
    unit_reply: str  # 职能部门处理结果回复, stripped; "" when left blank


# Labels are broken over lines where the paper forms break them, so that the
# printout looks like the form staff and units already know.
_SUBJECT = ("诉求主题",)
_DATE = ("日　期",)  # spaced out to the width of the four-character labels
_CLASS = ("学生班级",)
_NAME = ("学生姓名",)
_COUNSELOR = ("辅导员姓名",)
_CONTACT = ("联系方式",)
_SUMMARY = ("诉求", "内容", "摘要")
_OFFICE_OPINION = ("学生工作处", "处理意见")
_UNIT_REPLY = ("职能部门处", "理结果回复", "（可附页）")
_RATING = ("学生满意度", "评价在相应", "□内打“√”")
_CONTENT = ("诉求内容",)
_RECEIVER_OPINION = ("受理方（个人", "或部门）意见")

# The blanks leave room to write the date by hand.
_UNIT_SIGNATURE = "负责人（签字）盖章　　　　年　　月　　日"
_STUDENT_SIGNATURE = "学生签字：　　　　年　　月　　日"
_RECEIVER_SIGNATURE = "签字（盖章）　　　　年　　月　　日"

# 宋体 is on every Chinese Windows and is mapped by WPS on 统信/麒麟, and Word
# has no per-run fallback list: a title set in 方正小标宋, which most office
# PCs lack, would print in whatever font Word substitutes.
_FONT = "宋体"
_TITLE_SIZE = Pt(22)  # 二号
_TEXT_SIZE = Pt(12)  # 小四

# A4 with margins close to GB/T 9704's 156 mm wide text block.
_PAGE_WIDTH = Cm(21.0)
_PAGE_HEIGHT = Cm(29.7)
_MARGIN_TOP = Cm(2.5)
_MARGIN_BOTTOM = Cm(2.5)
_MARGIN_LEFT = Cm(2.8)
_MARGIN_RIGHT = Cm(2.6)
_TEXT_WIDTH = Length(_PAGE_WIDTH - _MARGIN_LEFT - _MARGIN_RIGHT)

# Label, value, label, value. The first column holds six characters of 小四
# plus Word's default cell padding of 0.19 cm on each side.
_COLUMNS = (Cm(3.2), Cm(5.2), Cm(2.4), Cm(4.8))

# TODO: the row heights were checked against the page only from the XML and
# an estimate of 宋体's line height, never printed from Word or WPS (no office
# suite where this was written); a blank 办理单 should fit one A4 page with
# about 1.5 cm to spare, which a real print should confirm.
_LINE_ROW = Cm(1.0)
_SIGNATURE_ROW = Cm(0.8)

# What may follow each inserted element inside its parent: the schema fixes
# the order of children, and Word calls a file with them out of order corrupt.
_AFTER_TBL_BORDERS = (
    "w:shd", "w:tblLayout", "w:tblCellMar", "w:tblLook", "w:tblCaption",
    "w:tblDescription", "w:tblPrChange",
)  # fmt: skip
_AFTER_CANT_SPLIT = (
    "w:trHeight", "w:tblHeader", "w:tblCellSpacing", "w:jc", "w:hidden",
    "w:ins", "w:del", "w:trPrChange",
)  # fmt: skip
_AFTER_TC_BORDERS = (
    "w:shd", "w:noWrap", "w:tcMar", "w:textDirection", "w:tcFitText",
    "w:vAlign", "w:hideMark", "w:headers", "w:cellIns", "w:cellDel",
    "w:cellMerge", "w:tcPrChange",
)  # fmt: skip

_LINE_BREAKS = re.compile(r"\r\n|[\r\n\x0b\x0c\x85\u2028\u2029]")
# Everything outside XML 1.0's Char production: C0 controls, lone surrogates,
# U+FFFE and U+FFFF. lxml refuses them, so python-docx would raise mid-document.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def handling_form_docx(form: HandlingForm) -> bytes:
    """Return 附件2 办理单 for *form* as .docx bytes, laid out like the paper form.

    The layout never changes, so it is built once, with a token in every
    field, and each form fills the tokens in: python-docx takes some 40 ms
    to lay out the merged table, filling it takes well under one.
    """
    values = _handling_values(form)
    try:
        return _HANDLING_TEMPLATE().fill(values, form.date)
    except _TemplateMismatch:  # a python-docx whose XML we do not expect
        log.warning("办理单 template not usable; building the form directly")
        return _build_handling(values, form.date)


def handling_form_docx_slowly(form: HandlingForm) -> bytes:
    """The 办理单 built field by field with python-docx (the fill's reference)."""
    return _build_handling(_handling_values(form), form.date)


def _handling_values(form: HandlingForm) -> dict[str, str]:
    """The text of each field of the 办理单, confidentiality applied."""
    personal = (form.student_class, form.student_name, form.counselor, form.contact)
    if form.confidential:
        student_class = student_name = counselor = contact = CONFIDENTIAL
        subject = _withhold(form.subject, personal)
        summary = _withhold(form.summary, personal)
        office_opinion = _withhold(form.office_opinion, personal)
        unit_reply = _withhold(form.unit_reply, personal)
    else:
        student_class, student_name, counselor, contact = personal
        subject, summary = form.subject, form.summary
        office_opinion, unit_reply = form.office_opinion, form.unit_reply

    opinion = office_opinion
    if form.due is not None:
        deadline = f"办理时限：{_chinese_date(form.due)}前"
        opinion = f"{opinion}\n{deadline}" if opinion.strip() else deadline
    # TODO: ☑ lies outside GBK, the set 宋体 covers, so Word and WPS draw it
    # in a fallback font (Segoe UI Symbol on Windows); a machine with no font
    # holding it would print a blank, and the file embeds no font to prevent it.
    boxes = "　　".join(
        ("☑" if choice == form.rating else "□") + choice for choice in RATINGS
    )
    return {
        "title": f"{HANDLING_TITLE} {_one_line(form.number)}",
        "unit": f"责任单位：{_one_line(form.unit)}" if form.unit.strip() else "",
        "number": f"编号：{_one_line(form.number)}",
        "subject": _one_line(subject),
        "date": _chinese_date(form.date),
        "class": _one_line(student_class),
        "name": _one_line(student_name),
        "counselor": _one_line(counselor),
        "contact": _one_line(contact),
        "summary": _clean(summary),
        "opinion": _clean(opinion),
        "reply": _clean(unit_reply),
        "boxes": _clean(boxes),
    }


def _build_handling(values: Mapping[str, str], when: dt.date) -> bytes:
    """Lay the 办理单 out with python-docx, from already cleaned field texts."""
    document = _new_document(values["title"], when)
    _add_title(document, HANDLING_TITLE)
    _add_head_line(document, values["unit"], values["number"])

    table = _new_table(document)
    _add_line_row(table, _SUBJECT, values["subject"])
    _add_line_row(table, _DATE, values["date"])
    _add_pair_row(table, _CLASS, values["class"], _NAME, values["name"])
    _add_pair_row(table, _COUNSELOR, values["counselor"], _CONTACT, values["contact"])
    _add_tall_row(table, _SUMMARY, values["summary"], Cm(5.5))
    _add_signed_rows(
        table, _OFFICE_OPINION, values["opinion"], _UNIT_SIGNATURE, Cm(2.6)
    )
    _add_signed_rows(table, _UNIT_REPLY, values["reply"], _UNIT_SIGNATURE, Cm(5.0))
    _add_signed_rows(
        table, _RATING, values["boxes"], _STUDENT_SIGNATURE, Cm(1.4), centred=True
    )
    _finish_table(table)

    # Word ends every document with a paragraph; this one is where a unit
    # that writes more than the cell holds starts its 附页.
    document.add_paragraph()
    return _to_bytes(document)


class _TemplateMismatch(Exception):
    """The built template does not hold a token where the fill expects it."""


_TOKEN_START, _TOKEN_END = "\ue000", "\ue001"  # private use: never in a form
_FIELDS = (
    "title", "unit", "number", "subject", "date", "class", "name", "counselor",
    "contact", "summary", "opinion", "reply", "boxes",
)  # fmt: skip
# Fields that share their paragraph with another: replaced in place.
_SHARED_LINE = frozenset({"unit", "number"})
_TEMPLATE_DATE = dt.date(2000, 1, 1)
_RUN_TEXT = re.compile(r"<w:t(?: [^>]*)?>([^<]*)</w:t>")


def _token(field: str) -> str:
    return f"{_TOKEN_START}{field}{_TOKEN_END}"


@dataclass(frozen=True)
class _Template:
    """The 办理单 with a token in every field, ready to fill.

    ``static`` is a finished .docx archive of every part no form changes
    (styles alone are 800 KB before compression): a form copies it and adds
    its own document and properties, so nothing is compressed twice.
    """

    static: bytes
    document: str
    core: str

    @classmethod
    def build(cls) -> "_Template":
        tokens = {field: _token(field) for field in _FIELDS}
        data = _build_handling(tokens, _TEMPLATE_DATE)
        buffer = io.BytesIO()
        with (
            zipfile.ZipFile(io.BytesIO(data)) as source,
            zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as static,
        ):
            for info in source.infolist():
                if info.filename not in (_DOCUMENT, _CORE):
                    static.writestr(info.filename, source.read(info))
            document = source.read(_DOCUMENT).decode()
            core = source.read(_CORE).decode()
        for field in _FIELDS[1:]:
            if document.count(_token(field)) != 1:
                raise _TemplateMismatch(field)
        return cls(buffer.getvalue(), document, core)

    def fill(self, values: Mapping[str, str], when: dt.date) -> bytes:
        buffer = io.BytesIO(self.static)
        buffer.seek(0, io.SEEK_END)
        with zipfile.ZipFile(buffer, "a", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(_DOCUMENT, _fill_document(self.document, values))
            archive.writestr(_CORE, _fill_core(self.core, values["title"], when))
        return buffer.getvalue()


_DOCUMENT = "word/document.xml"
_CORE = "docProps/core.xml"


def _fill_document(xml: str, values: Mapping[str, str]) -> str:
    for field in _FIELDS[1:]:
        token = _token(field)
        position = xml.find(token)
        if position < 0:
            raise _TemplateMismatch(field)
        if field in _SHARED_LINE:
            xml = xml.replace(token, _escape(values[field]), 1)
            continue
        # The paragraph holding the token becomes one paragraph per line,
        # each with the token paragraph's properties, as python-docx writes
        # them; an empty line is a paragraph without a run.
        start = max(xml.rfind("<w:p>", 0, position), xml.rfind("<w:p ", 0, position))
        end = xml.find("</w:p>", position) + len("</w:p>")
        run_start = xml.find("<w:r>", start, end)
        if start < 0 or run_start < 0:
            raise _TemplateMismatch(field)
        head = xml[start:run_start]
        filled = "".join(
            head + (_run(line) if line else "") + "</w:p>"
            for line in values[field].split("\n")
        )
        xml = xml[:start] + filled + xml[end:]
    # An empty 责任单位 leaves an empty text element before the tab.
    return xml.replace("<w:t></w:t>", "")


def _run(text: str) -> str:
    space = ' xml:space="preserve"' if text != text.strip() else ""
    return f"<w:r><w:t{space}>{_escape(text)}</w:t></w:r>"


def _fill_core(xml: str, title: str, when: dt.date) -> str:
    stamp = dt.datetime.combine(_TEMPLATE_DATE, dt.time()).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    real = dt.datetime.combine(when, dt.time()).strftime("%Y-%m-%dT%H:%M:%SZ")
    return xml.replace(_escape(_token("title")), _escape(title[:255])).replace(
        stamp, real
    )


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_HANDLING_TEMPLATE = functools.cache(_Template.build)


def intake_form_docx(form: IntakeForm) -> bytes:
    """Return 附件1 交报单 for *form* as .docx bytes, laid out like the paper form."""
    document = _new_document(INTAKE_TITLE, form.date)
    _add_title(document, INTAKE_TITLE)
    if form.receiver.strip():
        _add_head_line(document, f"受理方：{_one_line(form.receiver)}", "")

    table = _new_table(document)
    _add_line_row(table, _SUBJECT, form.subject)
    _add_line_row(table, _DATE, _chinese_date(form.date))
    _add_pair_row(table, _CLASS, form.student_class, _NAME, form.student_name)
    _add_pair_row(table, _COUNSELOR, form.counselor, _CONTACT, form.contact)
    _add_tall_row(table, _CONTENT, form.content, Cm(11.0))
    _add_signed_rows(
        table, _RECEIVER_OPINION, form.receiver_opinion, _RECEIVER_SIGNATURE, Cm(5.4)
    )
    _finish_table(table)

    document.add_paragraph()
    return _to_bytes(document)


def _new_document(title: str, when: dt.date) -> WordDocument:
    """Return an empty A4 document whose text defaults to 宋体 小四."""
    document = Document()

    section = document.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = _PAGE_WIDTH, _PAGE_HEIGHT
    section.top_margin, section.bottom_margin = _MARGIN_TOP, _MARGIN_BOTTOM
    section.left_margin, section.right_margin = _MARGIN_LEFT, _MARGIN_RIGHT

    # python-docx's template takes its fonts from the theme, whose East Asian
    # font is the Japanese ＭＳ 明朝; the theme attributes would win over plain
    # ones, so they go, and w:eastAsia is what Chinese text is set in.
    defaults = document.styles.element.find(
        f"{qn('w:docDefaults')}/{qn('w:rPrDefault')}/{qn('w:rPr')}"
    )
    fonts = defaults.find(qn("w:rFonts"))
    for name in ("asciiTheme", "hAnsiTheme", "eastAsiaTheme", "cstheme"):
        fonts.attrib.pop(qn(f"w:{name}"), None)
    _set_fonts(fonts, _FONT)
    for name in ("sz", "szCs"):
        # Font sizes are counted in half points.
        defaults.find(qn(f"w:{name}")).set(qn("w:val"), str(round(_TEXT_SIZE.pt * 2)))
    # zh-CN switches on Chinese line breaking rules (no line starts with ，。）).
    defaults.find(qn("w:lang")).set(qn("w:eastAsia"), "zh-CN")
    spacing = document.styles.element.find(
        f"{qn('w:docDefaults')}/{qn('w:pPrDefault')}/{qn('w:pPr')}/{qn('w:spacing')}"
    )
    # Single spacing and nothing after paragraphs: the template's 10 pt after
    # and 1.15 lines would push the tall cells off the page.
    spacing.set(qn("w:after"), "0")
    spacing.set(qn("w:line"), "240")

    # The template says it was written by python-docx in 2013 and carries a
    # thumbnail of some other page; Explorer and WPS would show both.
    properties = document.core_properties
    properties.title = title[:255]  # the most the property may hold
    properties.author = properties.last_modified_by = "学生工作处"
    properties.comments = ""
    properties.revision = 1
    # The form's own date stands in for the creation time: this module reads
    # no clock.
    created = dt.datetime.combine(when, dt.time(), tzinfo=dt.UTC)
    properties.created = properties.modified = created
    package_rels = document.part.package.rels
    for rel_id, rel in list(package_rels.items()):
        if rel.reltype == RELATIONSHIP_TYPE.THUMBNAIL:
            del package_rels[rel_id]

    return document


def _set_fonts(fonts: BaseOxmlElement, name: str) -> None:
    """Set every script slot of a w:rFonts element to *name*."""
    for slot in ("ascii", "hAnsi", "eastAsia", "cs"):
        fonts.set(qn(f"w:{slot}"), name)
    # Quotes and √ belong to both Latin and CJK; the hint has Word draw them
    # full width, in the Chinese font, as the paper form does.
    fonts.set(qn("w:hint"), "eastAsia")


def _add_title(document: WordDocument, title: str) -> None:
    """Add the centred, bold 二号 title."""
    paragraph = document.add_paragraph()
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    paragraph.paragraph_format.space_after = Pt(12)
    run = paragraph.add_run(title)
    run.bold = True
    run.font.size = _TITLE_SIZE
    _set_fonts(run._r.get_or_add_rPr().get_or_add_rFonts(), _FONT)


def _add_head_line(document: WordDocument, left: str, right: str) -> None:
    """Add the line above the table: *left* at the margin, *right* flush right."""
    paragraph = document.add_paragraph()
    paragraph.paragraph_format.space_after = Pt(6)
    paragraph.paragraph_format.tab_stops.add_tab_stop(
        _TEXT_WIDTH, WD_TAB_ALIGNMENT.RIGHT
    )
    paragraph.add_run(f"{left}\t{right}" if right else left)


def _new_table(document: WordDocument) -> Table:
    """Add the form's ruled, fixed-width table, still without rows."""
    table: Table = document.add_table(rows=0, cols=len(_COLUMNS))
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    # Fixed layout: without it Word widens a column to fit a long unbroken
    # string (a URL, a row of digits) and the form runs off the page.
    table.autofit = False

    properties = table._tbl.tblPr
    width = properties.find(qn("w:tblW"))
    width.set(qn("w:type"), "dxa")
    width.set(qn("w:w"), str(_TEXT_WIDTH.twips))

    # Borders are set on the table itself rather than by a style, so that a
    # unit's Word or WPS draws them even if it drops or renames styles.
    borders = OxmlElement("w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        line = OxmlElement(f"w:{edge}")
        line.set(qn("w:val"), "single")
        line.set(qn("w:sz"), "4" if edge.startswith("inside") else "8")
        line.set(qn("w:space"), "0")
        line.set(qn("w:color"), "000000")
        borders.append(line)
    properties.insert_element_before(borders, *_AFTER_TBL_BORDERS)
    return table


def _add_line_row(table: Table, label: Sequence[str], value: str) -> None:
    """Add a row of one label and one value across the rest of the width."""
    row = _new_row(table, _LINE_ROW, keep_whole=True)
    _write_label(row.cells[0], label)
    cell = row.cells[1].merge(row.cells[3])
    _write_value(cell, _one_line(value))
    cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER


def _add_pair_row(
    table: Table,
    first_label: Sequence[str],
    first_value: str,
    second_label: Sequence[str],
    second_value: str,
) -> None:
    """Add a row of two label and value pairs side by side."""
    row = _new_row(table, _LINE_ROW, keep_whole=True)
    _write_label(row.cells[0], first_label)
    _write_label(row.cells[2], second_label)
    for cell, value in ((row.cells[1], first_value), (row.cells[3], second_value)):
        _write_value(cell, _one_line(value))
        cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER


def _add_tall_row(
    table: Table, label: Sequence[str], text: str, height: Length
) -> None:
    """Add a tall row for free text, which grows with the text and may break."""
    row = _new_row(table, height, keep_whole=False)
    _write_label(row.cells[0], label)
    _write_value(row.cells[1].merge(row.cells[3]), text)


def _add_signed_rows(
    table: Table,
    label: Sequence[str],
    text: str,
    signature: str,
    height: Length,
    *,
    centred: bool = False,
) -> None:
    """Add a tall cell for *text* with *signature* at its bottom right.

    The cell is two rows with the rule between them hidden: the signature stays
    at the bottom of the cell however much or little is written above it.
    """
    top = _new_row(table, height, keep_whole=False)
    bottom = _new_row(table, _SIGNATURE_ROW, keep_whole=True)

    _write_label(top.cells[0].merge(bottom.cells[0]), label)

    body = top.cells[1].merge(top.cells[3])
    _write_value(body, text, centred=centred)
    if centred:
        body.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
    _hide_edge(body, "bottom")

    foot = bottom.cells[1].merge(bottom.cells[3])
    foot.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.RIGHT
    foot.paragraphs[0].add_run(signature)
    foot.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.BOTTOM
    _hide_edge(foot, "top")


def _new_row(table: Table, height: Length, *, keep_whole: bool) -> _Row:
    """Add a row at least *height* tall; *keep_whole* keeps it off page breaks."""
    # python-docx leaves Table.add_row unannotated.
    row: _Row = table.add_row()  # type: ignore[no-untyped-call]
    row.height = height
    row.height_rule = WD_ROW_HEIGHT_RULE.AT_LEAST
    if keep_whole:
        properties = row._tr.get_or_add_trPr()
        properties.insert_element_before(OxmlElement("w:cantSplit"), *_AFTER_CANT_SPLIT)
    return row


def _hide_edge(cell: _Cell, edge: str) -> None:
    """Switch off the border on one *edge* of *cell*."""
    properties = cell._tc.get_or_add_tcPr()
    borders = properties.find(qn("w:tcBorders"))
    if borders is None:
        borders = OxmlElement("w:tcBorders")
        properties.insert_element_before(borders, *_AFTER_TC_BORDERS)
    line = OxmlElement(f"w:{edge}")
    line.set(qn("w:val"), "nil")
    borders.append(line)


def _write_label(cell: _Cell, lines: Sequence[str]) -> None:
    """Write a label centred both ways, one line per item of *lines*."""
    cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
    paragraph = cell.paragraphs[0]
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = paragraph.add_run()
    for index, line in enumerate(lines):
        if index:
            run.add_break()
        run.add_text(line)


def _write_value(cell: _Cell, text: str, *, centred: bool = False) -> None:
    """Write *text* into *cell* as plain text, one paragraph per line."""
    for index, line in enumerate(_clean(text).split("\n")):
        paragraph = cell.paragraphs[0] if index == 0 else cell.add_paragraph()
        if centred:
            paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        if line:
            paragraph.add_run(line)


def _finish_table(table: Table) -> None:
    """Give every column and cell its width, as both Word and WPS read them."""
    # Word lays out by each cell's w:tcW and LibreOffice by w:gridCol; a merged
    # cell must be as wide as the grid columns it spans, or the rules wander.
    for column, width in zip(table.columns, _COLUMNS, strict=True):
        column.width = width
    for row in table.rows:
        start = 0
        for tc in row._tr.tc_lst:
            span = tc.grid_span
            tc.width = Length(sum(_COLUMNS[start : start + span]))
            start += span


def _to_bytes(document: WordDocument) -> bytes:
    """Return *document* serialised as .docx bytes."""
    _slim(document)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


# Parts of python-docx's template that no form uses: Word 2010's second copy
# of every style, and an empty bibliography. Word and WPS open a form
# without them, and every 办理单 mail and outbox row is the smaller for it.
_UNUSED_PARTS = ("/stylesWithEffects", "/customXml")
# Where a part names a style, and where a style names another.
_STYLE_USES = ("w:pStyle", "w:rStyle", "w:tblStyle", "w:numStyleLink", "w:styleLink")
_STYLE_LINKS = ("w:basedOn", "w:next", "w:link")


def _slim(document: WordDocument) -> None:
    """Drop what the template carries and the form does not use.

    The template defines some 160 styles and the latent list of 260 more
    (350 KB of XML); the form uses a handful. A style stays when it is a
    default, when any part names it, or when a style that stays is based on
    it, continues with it or is linked to it.
    """
    part = document.part
    for rId, rel in list(part.rels.items()):
        if not rel.is_external and rel.reltype.endswith(_UNUSED_PARTS):
            part.drop_rel(rId)

    styles = document.styles.element
    by_id = {
        style.get(qn("w:styleId")): style for style in styles.findall(qn("w:style"))
    }
    wanted = {
        style_id
        for style_id, style in by_id.items()
        if style.get(qn("w:default")) in ("1", "true")
    }
    for xml_part in part.package.iter_parts():
        root = getattr(xml_part, "element", None)
        if root is None or root is styles:
            continue
        for tag in _STYLE_USES:
            wanted.update(use.get(qn("w:val")) for use in root.iter(qn(tag)))
    pending = list(wanted)
    while pending:
        style = by_id.get(pending.pop())
        if style is None:
            continue
        for tag in _STYLE_LINKS:
            link = style.find(qn(tag))
            named = link.get(qn("w:val")) if link is not None else None
            if named and named not in wanted:
                wanted.add(named)
                pending.append(named)
    for style_id, style in by_id.items():
        if style_id not in wanted:
            styles.remove(style)
    latent = styles.find(qn("w:latentStyles"))
    if latent is not None:
        styles.remove(latent)


def _clean(text: str) -> str:
    """Return *text* with every line break as \\n and nothing XML forbids."""
    return _NOT_XML.sub("", _LINE_BREAKS.sub("\n", text))


def _one_line(text: str) -> str:
    """Return *text* cleaned, on one line, runs of white space made one space."""
    return " ".join(_clean(text).split())


def _withhold(text: str, personal: Sequence[str]) -> str:
    """Return *text* with each of the *personal* values in it replaced by （保密）."""
    # TODO: only the personal values the form was given are withheld from its
    # free text; a name written another way in a summary (a nickname, a student
    # number, a dormitory) still prints, because recognising who someone is in
    # free text is beyond what this module can know.
    # Longest first, so that a name inside a longer value goes with it; a
    # single character would blank out unrelated words.
    for value in sorted((value.strip() for value in personal), key=len, reverse=True):
        if len(value) >= 2:
            text = text.replace(value, CONFIDENTIAL)
    return text


def _chinese_date(day: dt.date) -> str:
    """Return *day* as the forms write dates: 2026年12月3日."""
    return f"{day.year}年{day.month}月{day.day}日"


# Reading a returned 办理单 -------------------------------------------------

_W_NAMESPACES = frozenset(
    {
        "http://schemas.openxmlformats.org/wordprocessingml/2006/main",
        # Word's "Strict Open XML Document" choice when saving.
        "http://purl.oclc.org/ooxml/wordprocessingml/main",
    }
)
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
# A document.xml holding pages of typed text is a few hundred kilobytes; the
# cap stops a zip bomb from being inflated into memory.
_MAX_PART = 32 * 1024 * 1024

_REPLY_LABEL = "".join(_UNIT_REPLY)
_TITLE_MARK = "学生诉求办理单"
_NUMBER = re.compile(r"编\s*号\s*[:：][ \t\u3000]*(\S*)")
_SIGNATURE = re.compile(r"负\s*责\s*人\s*[（(]\s*签\s*字\s*[）)]")

# Elements that only wrap content: their content counts, they do not.
_WRAPPERS = frozenset({"sdt", "sdtContent", "customXml"})
# Whose text is not the document's current text: properties (tab stops are
# w:tab too), deleted or moved-away revisions.
_NOT_TEXT = frozenset({"pPr", "rPr", "sectPr", "del", "moveFrom", "instrText"})


def read_handling_form(data: bytes) -> FilledForm | None:
    """Return what a unit wrote on a returned 办理单, or None if *data* is not one.

    Reads the answer typed into the reply cell (or after the label in the label
    cell, or on pages after the table) however Word or WPS re-saved the file.
    Never raises.
    """
    # TODO: a form saved back as .doc (Word 97–2003, still a WPS choice) gives
    # None: reading that binary format needs a parser suqiu does not ship, so
    # the unit's mail body has to carry the answer instead.
    try:
        body = _document_body(data)
        return None if body is None else _read_body(body)
    except Exception as exc:
        # zipfile, zlib and expat raise a dozen different errors on damaged or
        # hostile files; one attachment must never stop the mail it came with.
        log.warning("could not read a returned form (%s)", type(exc).__name__)
        return None


def _document_body(data: bytes) -> ElementTree.Element | None:
    """Return the w:body of the .docx in *data*, or None if it is not one."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        log.debug("attachment is not a zip file, so not a .docx")
        return None

    with archive:
        rels = _read_part(archive, "_rels/.rels")
        if rels is None:
            return None
        name = None
        for rel in _parse(rels):
            if rel.get("Type", "").endswith("/officeDocument"):
                name = posixpath.normpath(rel.get("Target", "").lstrip("/"))
        if name is None:
            return None
        xml = _read_part(archive, name)
    if xml is None:
        return None

    root = _parse(xml)
    if _local(root) != "document":
        return None
    return next((child for child in root if _local(child) == "body"), None)


def _read_part(archive: zipfile.ZipFile, name: str) -> bytes | None:
    """Return part *name* of *archive*, or None if it is missing or too large."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        return None
    # The size in the zip's directory can lie, so the read itself is capped.
    with archive.open(info) as stream:
        content = stream.read(_MAX_PART + 1)
    if len(content) > _MAX_PART:
        log.warning("returned form has a part over %d bytes: %s", _MAX_PART, name)
        return None
    return content


def _parse(xml: bytes) -> ElementTree.Element:
    """Parse *xml*, refusing a DTD, which Word never writes."""
    # A DTD is how entity-expansion and external-entity attacks get in.
    if b"<!DOCTYPE" in xml or b"<!ENTITY" in xml:
        raise ValueError("XML with a DTD")
    return ElementTree.fromstring(xml)


def _read_body(body: ElementTree.Element) -> FilledForm | None:
    """Return the number and reply written in *body*, or None if not our form."""
    if _TITLE_MARK not in _squeeze(_text(body)):
        return None
    blocks = list(_children(body, {"p", "tbl"}))
    tables = (
        (index, _reply_in_table(block))
        for index, block in enumerate(blocks)
        if _local(block) == "tbl"
    )
    found = next(((index, reply) for index, reply in tables if reply is not None), None)
    if found is None:
        return None

    # Pages after the table are the 附页 that the label allows for.
    # TODO: an answer written as a Word comment (批注) or in a header or footer
    # is not read: those live in other parts of the package, and a unit that
    # answers that way is left to staff, who see the attachment.
    index, lines = found
    lines += [line for after in blocks[index + 1 :] for line in _lines(after)]
    unit_reply = "\n".join(line.strip() for line in lines if line.strip())

    # Only above the table: below it, 编号 could come from the student's text.
    number = None
    for block in blocks[:index]:
        match = _NUMBER.search(_text(block))
        if match:
            number = match.group(1) or None
            break
    return FilledForm(number=number, unit_reply=unit_reply)


def _reply_in_table(table: ElementTree.Element) -> list[str] | None:
    """Return the lines written in the reply cell of *table*, or None if absent."""
    rows = [list(_children(row, {"tc"})) for row in _children(table, {"tr"})]
    found = next(
        (
            (start, column)
            for start, cells in enumerate(rows)
            for column, cell in enumerate(cells)
            if _squeeze("\n".join(_lines(cell))).startswith(_REPLY_LABEL)
        ),
        None,
    )
    if found is None:
        return None
    start, column = found

    # Text typed into the label's own cell, after the label.
    label_cell = "\n".join(_lines(rows[start][column]))
    lines = _after_label(label_cell, _REPLY_LABEL).split("\n")

    # The cell is two rows (text, then signature) under a label merged down
    # both; the region ends where the label column holds another label.
    for offset, row in enumerate(rows[start:]):
        if offset and column < len(row):
            label = _squeeze("\n".join(_lines(row[column])))
            if label and label != _REPLY_LABEL:
                break
        for cell in row[column + 1 :]:
            for line in _lines(cell):
                signature = _SIGNATURE.search(line)
                lines.append(line[: signature.start()] if signature else line)
    return lines


def _after_label(text: str, label: str) -> str:
    """Return what follows *label* at the start of *text*, white space aside."""
    position = 0
    for char in label:
        while position < len(text) and text[position].isspace():
            position += 1
        if position == len(text) or text[position] != char:
            return ""
        position += 1
    return text[position:]


def _lines(block: ElementTree.Element) -> list[str]:
    """Return the lines of text in a paragraph, table or cell, in reading order."""
    if _local(block) == "p":
        return _text(block).split("\n")
    lines: list[str] = []
    for child in _children(block, {"p", "tbl", "tr", "tc"}):
        lines.extend(_lines(child))
    return lines


def _children(
    parent: ElementTree.Element, names: Collection[str]
) -> Iterator[ElementTree.Element]:
    """Yield the children of *parent* named in *names*, seeing through wrappers."""
    for child in parent:
        name = _local(child)
        if name in names:
            yield child
        elif name in _WRAPPERS:
            yield from _children(child, names)


def _text(element: ElementTree.Element) -> str:
    """Return the current text inside *element*: runs, tabs and breaks."""
    # python-docx's Paragraph.text reads only direct runs and hyperlinks, so it
    # misses what Word records as a tracked insertion (w:ins), content controls
    # and simple fields: all of it is what the unit sees on screen.
    parts: list[str] = []
    for child in element:
        if child.tag == _MC_FALLBACK:
            continue  # the same content again, for older readers
        name = _local(child)
        if name in _NOT_TEXT:
            continue
        if name == "t":
            parts.append(child.text or "")
        elif name == "tab":
            parts.append("\t")
        elif name in ("br", "cr"):
            parts.append("\n")
        elif name == "noBreakHyphen":
            parts.append("-")
        else:
            parts.append(_text(child))
            if name == "p":
                parts.append("\n")  # a paragraph in a text box inside this one
    return "".join(parts)


def _local(element: ElementTree.Element) -> str:
    """Return the WordprocessingML name of *element*, or "" for any other."""
    namespace, _, name = element.tag.rpartition("}")
    return name if namespace[1:] in _W_NAMESPACES else ""


def _squeeze(text: str) -> str:
    """Return *text* without any white space, for comparing labels."""
    return "".join(text.split())
