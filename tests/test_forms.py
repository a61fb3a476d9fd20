"""Tests for notify.forms: the 办理单 and 交报单 as .docx, and returned 办理单."""

import datetime as dt
import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import replace

import docx
import pytest
from docx.document import Document as WordDocument
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_TAB_ALIGNMENT
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.oxml.xmlchemy import BaseOxmlElement
from docx.shared import Cm, Length, Pt
from docx.table import _Cell
from hypothesis import given, settings
from hypothesis import strategies as st

from notify.forms import (
    CONFIDENTIAL,
    RATINGS,
    FilledForm,
    HandlingForm,
    IntakeForm,
    handling_form_docx,
    intake_form_docx,
    read_handling_form,
)

# Personal data planted in the forms; a confidential form must not carry any.
NAME = "欧阳娜娜"
CLASS = "2024级护理5班"
PHONE = "13912345678"
COUNSELOR = "司马老师"

FORM = HandlingForm(
    number="SQ2026-0012",
    subject="7号宿舍楼热水供应不稳定",
    date=dt.date(2026, 12, 3),
    student_class=CLASS,
    student_name=NAME,
    counselor=COUNSELOR,
    contact=PHONE,
    summary="自11月以来，7号宿舍楼热水时有时无。\n\n晚上10点后基本没有热水。",
    office_opinion="请于2026年12月10日前将办理结果反馈至学生工作处。",
    unit="后勤管理中心",
)

INTAKE = IntakeForm(
    subject="班级综合测评加分有疑问",
    date=dt.date(2026, 12, 4),
    student_class=CLASS,
    student_name=NAME,
    counselor=COUNSELOR,
    contact=PHONE,
    content="综合测评中志愿服务加分与公示不一致。\n希望复核。",
    receiver_opinion="已登记，当天报学生工作处。",
    receiver="学生工作处处长接待日",
)

# 附件2's labels in the order of the paper form, white space removed.
HANDLING_LABELS = [
    "诉求主题",
    "日期",
    "学生班级",
    "学生姓名",
    "辅导员姓名",
    "联系方式",
    "诉求内容摘要",
    "学生工作处处理意见",
    "职能部门处理结果回复（可附页）",
    "学生满意度评价在相应□内打“√”",
]
INTAKE_LABELS = [
    "诉求主题",
    "日期",
    "学生班级",
    "学生姓名",
    "辅导员姓名",
    "联系方式",
    "诉求内容",
    "受理方（个人或部门）意见",
]
REPLY_LABEL = "职能部门处理结果回复（可附页）"
W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
# A4 less 2.8 cm and 2.6 cm margins; Word stores lengths in twips (1/1440 in).
TEXT_WIDTH = Length(Cm(21.0) - Cm(2.8) - Cm(2.6))


def twips(length: int | None) -> int:
    """Return *length* (EMU) in twips, the unit the file holds it in."""
    assert length is not None
    return int(Length(length).twips)


def squeeze(text: str) -> str:
    """Return *text* without white space."""
    return "".join(text.split())


def open_docx(data: bytes) -> WordDocument:
    """Open .docx bytes with python-docx."""
    return docx.Document(io.BytesIO(data))


def rows(document: WordDocument) -> list[list[_Cell]]:
    """Return the form table's rows, each merged cell once."""
    result = []
    for row in document.tables[0].rows:
        unique: list[_Cell] = []
        for cell in row.cells:
            if all(cell._tc is not seen._tc for seen in unique):
                unique.append(cell)
        result.append(unique)
    return result


def beside(document: WordDocument, label: str) -> list[str]:
    """Return the text of the cell right of *label*, in every row it labels."""
    found = []
    for row in rows(document):
        for index, cell in enumerate(row[:-1]):
            if squeeze(cell.text) == label:
                found.append(row[index + 1].text)
    assert found, f"no cell labelled {label}"
    return found


def labels(document: WordDocument) -> list[str]:
    """Return the label cells' texts in reading order, merged labels once."""
    found: list[str] = []
    for row in rows(document):
        for cell in row:
            text = squeeze(cell.text)
            known = text in HANDLING_LABELS + INTAKE_LABELS
            if known and (not found or found[-1] != text):
                found.append(text)
    return found


def every_part(data: bytes) -> str:
    """Return every part of the .docx package as text, for searching."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return "\n".join(
            archive.read(name).decode("utf-8", "replace") for name in archive.namelist()
        )


# Layout --------------------------------------------------------------------


def test_handling_form_has_every_label_of_annex_2_in_order() -> None:
    """The 办理单 table carries 附件2's labels, in the paper form's order."""
    assert labels(open_docx(handling_form_docx(FORM))) == HANDLING_LABELS


def test_handling_form_labels_break_where_the_paper_form_breaks_them() -> None:
    """Multi-line labels break over lines exactly as on the printed 附件2."""
    table = rows(open_docx(handling_form_docx(FORM)))
    label_texts = {row[0].text for row in table}
    assert "诉求\n内容\n摘要" in label_texts
    assert "学生工作处\n处理意见" in label_texts
    assert "职能部门处\n理结果回复\n（可附页）" in label_texts
    assert "学生满意度\n评价在相应\n□内打“√”" in label_texts


def test_each_value_sits_in_the_cell_beside_its_label() -> None:
    """Every field of the 办理单 is printed in the cell right of its label."""
    document = open_docx(handling_form_docx(replace(FORM, unit_reply="已修复。")))

    assert beside(document, "诉求主题") == [FORM.subject]
    assert beside(document, "日期") == ["2026年12月3日"]
    assert beside(document, "学生班级") == [CLASS]
    assert beside(document, "学生姓名") == [NAME]
    assert beside(document, "辅导员姓名") == [COUNSELOR]
    assert beside(document, "联系方式") == [PHONE]
    assert beside(document, "诉求内容摘要") == [FORM.summary]
    assert beside(document, "学生工作处处理意见")[0] == FORM.office_opinion
    assert beside(document, REPLY_LABEL)[0] == "已修复。"


def test_signature_lines_sit_at_the_bottom_right_of_their_cells() -> None:
    """Opinion, reply and rating cells end in the paper form's signature line."""
    document = open_docx(handling_form_docx(FORM))
    signatures = {
        "学生工作处处理意见": "负责人（签字）盖章　　　　年　　月　　日",
        REPLY_LABEL: "负责人（签字）盖章　　　　年　　月　　日",
        "学生满意度评价在相应□内打“√”": "学生签字：　　　　年　　月　　日",
    }

    for label, signature in signatures.items():
        assert beside(document, label)[-1] == signature
        cell = next(
            row[1]
            for row in rows(document)
            if squeeze(row[0].text) == label and row[1].text == signature
        )
        assert cell.paragraphs[0].alignment == WD_ALIGN_PARAGRAPH.RIGHT
        assert cell.vertical_alignment == WD_CELL_VERTICAL_ALIGNMENT.BOTTOM
        # The rule between text and signature is hidden: one cell in print.
        top = cell._tc.find(f"{qn('w:tcPr')}/{qn('w:tcBorders')}/{qn('w:top')}")
        assert top is not None and top.get(qn("w:val")) == "nil"


def test_number_and_unit_head_the_form_and_the_title_is_a_chinese_font() -> None:
    """The title is centred bold 二号 宋体, with 责任单位 and 编号 right under it."""
    document = open_docx(handling_form_docx(FORM))
    title, head = document.paragraphs[0], document.paragraphs[1]

    assert title.text == "广西工程职业学院学生诉求办理单"
    assert title.alignment == WD_ALIGN_PARAGRAPH.CENTER
    run = title.runs[0]
    assert run.bold
    assert run.font.size in (Pt(18), Pt(22))  # 小二 or 二号
    properties = run._r.rPr
    assert properties is not None
    fonts = properties.rFonts
    assert fonts is not None
    assert fonts.get(qn("w:eastAsia")) == "宋体"
    assert fonts.get(qn("w:ascii")) == "宋体"

    assert head.text == "责任单位：后勤管理中心\t编号：SQ2026-0012"
    stop = head.paragraph_format.tab_stops[0]
    assert stop.alignment == WD_TAB_ALIGNMENT.RIGHT
    assert twips(stop.position) == TEXT_WIDTH.twips


def test_page_is_a4_and_all_text_defaults_to_a_chinese_font() -> None:
    """The page is portrait A4 and the default font names an East Asian face."""
    data = handling_form_docx(FORM)
    document = open_docx(data)
    section = document.sections[0]

    assert twips(section.page_width) == Cm(21.0).twips
    assert twips(section.page_height) == Cm(29.7).twips
    for margin in ("top", "bottom", "left", "right"):
        assert Cm(2.0) <= getattr(section, f"{margin}_margin") <= Cm(3.7)

    defaults = document.styles.element.find(
        f"{qn('w:docDefaults')}/{qn('w:rPrDefault')}/{qn('w:rPr')}"
    )
    fonts = defaults.find(qn("w:rFonts"))
    assert fonts.get(qn("w:eastAsia")) == "宋体"
    assert fonts.get(qn("w:eastAsiaTheme")) is None  # the theme's is Japanese
    assert defaults.find(qn("w:lang")).get(qn("w:eastAsia")) == "zh-CN"
    assert "python-docx" not in every_part(data)


@pytest.mark.parametrize(
    "data",
    [handling_form_docx(FORM), intake_form_docx(INTAKE)],
    ids=["handling", "intake"],
)
def test_forms_carry_only_the_styles_they_use(data: bytes) -> None:
    """Every style a part names is defined, with what it is based on; the
    template's unused styles and parts are gone, so a form stays small."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        styles = archive.read("word/styles.xml").decode()
        named: set[str] = set()
        for name in names:
            if name.endswith(".xml") and name != "word/styles.xml":
                named.update(
                    re.findall(
                        r"<w:(?:pStyle|rStyle|tblStyle|numStyleLink|styleLink) "
                        r'w:val="([^"]+)"',
                        archive.read(name).decode(),
                    )
                )
    defined = set(re.findall(r'w:styleId="([^"]+)"', styles))
    linked = set(re.findall(r'<w:(?:basedOn|next|link) w:val="([^"]+)"', styles))
    assert named | linked <= defined
    assert "Normal" in defined and "latentStyles" not in styles
    assert not [n for n in names if "stylesWithEffects" in n or "customXml" in n]
    assert len(data) < 16_000
    open_docx(data)  # python-docx still reads it whole


def test_table_has_fixed_widths_that_add_up_and_centred_labels() -> None:
    """The table is fixed-layout, its cells as wide as their columns, labels centred."""
    document = open_docx(handling_form_docx(FORM))
    table = document.tables[0]
    grid = [
        int(col.get(qn("w:w"))) for col in table._tbl.tblGrid.findall(qn("w:gridCol"))
    ]

    assert table.alignment == WD_TABLE_ALIGNMENT.CENTER
    assert table._tbl.tblPr.find(qn("w:tblLayout")).get(qn("w:type")) == "fixed"
    assert sum(grid) == TEXT_WIDTH.twips
    assert table._tbl.tblPr.find(qn("w:tblBorders")) is not None
    for row in table.rows:
        column = 0
        for tc in row._tr.tc_lst:
            assert tc.width.twips == sum(grid[column : column + tc.grid_span])
            column += tc.grid_span
    for row in rows(document):
        if squeeze(row[0].text) in HANDLING_LABELS:
            assert row[0].vertical_alignment == WD_CELL_VERTICAL_ALIGNMENT.CENTER


@pytest.mark.parametrize(
    "data",
    [handling_form_docx(FORM), intake_form_docx(INTAKE)],
    ids=["办理单", "交报单"],
)
def test_blank_form_fits_on_one_a4_page(data: bytes) -> None:
    """Row heights leave room for the title on one A4 page, as on the paper form."""
    document = open_docx(data)
    section = document.sections[0]
    usable = twips(section.page_height) - twips(section.top_margin)
    usable -= twips(section.bottom_margin)
    heights = [twips(row.height) for row in document.tables[0].rows]

    # Title (二号 and 12 pt after) and the 编号 line take about 2.5 cm.
    assert sum(heights) + Cm(2.5).twips <= usable


def test_due_date_is_shown_with_the_office_opinion() -> None:
    """A due date prints as 办理时限 after the office's opinion."""
    document = open_docx(handling_form_docx(replace(FORM, due=dt.date(2026, 12, 10))))

    opinion = beside(document, "学生工作处处理意见")[0]
    assert opinion.split("\n") == [
        FORM.office_opinion,
        "办理时限：2026年12月10日前",
    ]


# Confidentiality and ratings -----------------------------------------------


def test_confidential_form_carries_no_personal_data_anywhere() -> None:
    """A confidential 办理单 holds no personal data in any part, only （保密）."""
    leaky = replace(
        FORM,
        confidential=True,
        summary=f"{CLASS}的{NAME}（电话{PHONE}）说：辅导员{COUNSELOR}知情。",
        office_opinion=f"请勿联系{NAME}本人。",
    )
    data = handling_form_docx(leaky)
    document = open_docx(data)

    text = every_part(data)
    for secret in (NAME, CLASS, PHONE, COUNSELOR):
        assert secret not in text
    for label in ("学生班级", "学生姓名", "辅导员姓名", "联系方式"):
        assert beside(document, label) == [CONFIDENTIAL]
    assert beside(document, "诉求内容摘要") == [
        "（保密）的（保密）（电话（保密））说：辅导员（保密）知情。"
    ]


def test_non_confidential_form_with_no_personal_data_leaves_blanks() -> None:
    """Without the confidential flag, missing personal fields stay blank."""
    anonymous = HandlingForm(number="SQ2026-0013", subject="食堂", date=FORM.date)
    document = open_docx(handling_form_docx(anonymous))

    for label in ("学生班级", "学生姓名", "辅导员姓名", "联系方式"):
        assert beside(document, label) == [""]
    assert CONFIDENTIAL not in every_part(handling_form_docx(anonymous))


@pytest.mark.parametrize("rating", [None, *RATINGS])
def test_rating_boxes_tick_only_the_chosen_rating(rating: str | None) -> None:
    """The rating cell shows □ for each choice and ☑ for the chosen one only."""
    document = open_docx(handling_form_docx(replace(FORM, rating=rating)))

    boxes = beside(document, "学生满意度评价在相应□内打“√”")[0]
    assert re.findall("[□☑](满意|较满意|不满意)", boxes) == list(RATINGS)
    for choice in RATINGS:
        mark = "☑" if choice == rating else "□"
        assert re.search(f"(^|\u3000){mark}{choice}", boxes)
    assert boxes.count("☑") == (0 if rating is None else 1)


def test_unknown_rating_is_refused() -> None:
    """A rating outside 满意/较满意/不满意 is a programming error, refused at once."""
    with pytest.raises(ValueError, match="满意度"):
        replace(FORM, rating="非常满意")


# Hostile text --------------------------------------------------------------


def test_hostile_text_survives_as_plain_text() -> None:
    """Markup, XML specials, emoji and GB18030-only characters print verbatim."""
    hostile = (
        "<w:t>&amp;</w:t> ]]> \"' {{ name }} <b>粗</b> **md** =cmd|' /C calc'!A0"
        " 😀👨‍👩‍👧 𠀀𪚥"
    )
    document = open_docx(
        handling_form_docx(replace(FORM, subject=hostile, summary=hostile))
    )

    assert beside(document, "诉求主题") == [hostile]
    assert beside(document, "诉求内容摘要") == [hostile]
    summary_cell = rows(document)[4][1]
    assert all(run.bold is None for run in summary_cell.paragraphs[0].runs)


def test_control_characters_are_stripped_and_line_breaks_kept() -> None:
    """Characters XML forbids vanish; every kind of line break starts a paragraph."""
    dirty = "一\x00二\x01\x08三\x1b\ufffe\uffff四\ud800五\r\n六\r七\x0b八\u2028九\t十"
    document = open_docx(handling_form_docx(replace(FORM, summary=dirty)))

    assert beside(document, "诉求内容摘要") == ["一二三四五\n六\n七\n八\n九\t十"]


def test_one_line_fields_fold_line_breaks_into_spaces() -> None:
    """A subject or name with line breaks prints on one line, spaces folded."""
    document = open_docx(
        handling_form_docx(
            replace(FORM, subject="热水\n\n 问题\t再次", student_name="张\r\n三")
        )
    )

    assert beside(document, "诉求主题") == ["热水 问题 再次"]
    assert beside(document, "学生姓名") == ["张 三"]


def test_very_long_text_stays_inside_its_cell() -> None:
    """A huge summary and an unbroken string keep the table at its fixed widths."""
    long_summary = "很长的诉求内容。" * 4000 + "\n" + "x" * 5000
    data = handling_form_docx(replace(FORM, summary=long_summary))
    document = open_docx(data)

    assert beside(document, "诉求内容摘要") == [long_summary]
    table = document.tables[0]
    assert table._tbl.tblPr.find(qn("w:tblLayout")).get(qn("w:type")) == "fixed"
    widths = [twips(column.width) for column in table.columns]
    assert widths == [Cm(3.2).twips, Cm(5.2).twips, Cm(2.4).twips, Cm(4.8).twips]


# 交报单 ---------------------------------------------------------------------


def test_intake_form_has_annex_1_labels_and_values_beside_them() -> None:
    """The 交报单 carries 附件1's title, labels, values and signature line."""
    document = open_docx(intake_form_docx(INTAKE))

    assert document.paragraphs[0].text == "广西工程职业学院学生诉求交报单"
    assert document.paragraphs[1].text == "受理方：学生工作处处长接待日"
    assert labels(document) == INTAKE_LABELS
    assert beside(document, "诉求主题") == [INTAKE.subject]
    assert beside(document, "日期") == ["2026年12月4日"]
    assert beside(document, "学生班级") == [CLASS]
    assert beside(document, "学生姓名") == [NAME]
    assert beside(document, "辅导员姓名") == [COUNSELOR]
    assert beside(document, "联系方式") == [PHONE]
    assert beside(document, "诉求内容") == [INTAKE.content]
    assert beside(document, "受理方（个人或部门）意见") == [
        INTAKE.receiver_opinion,
        "签字（盖章）　　　　年　　月　　日",
    ]
    assert rows(document)[5][0].text == "受理方（个人\n或部门）意见"


# Reading returned forms ----------------------------------------------------


def wml(xml: str) -> BaseOxmlElement:
    """Parse one WordprocessingML element written with the w: prefix."""
    declared = re.sub(r"^<(w:\w+)", lambda m: f"<{m[1]} {nsdecls('w')}", xml)
    element: BaseOxmlElement = parse_xml(declared)
    return element


def returned(edit: Callable[[WordDocument], None]) -> bytes:
    """Return FORM as a unit sends it back after *edit* and a save."""
    document = open_docx(handling_form_docx(FORM))
    edit(document)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def reply_cells(document: WordDocument) -> list[_Cell]:
    """Return the label cell, then the text and signature cells of the reply."""
    found = [row for row in rows(document) if squeeze(row[0].text) == REPLY_LABEL]
    return [found[0][0], found[0][1], found[1][1]]


def type_into(cell: _Cell, *paragraphs: str) -> None:
    """Replace *cell*'s paragraphs with raw WordprocessingML, as Word saves it."""
    for paragraph in list(cell._tc.findall(qn("w:p"))):
        cell._tc.remove(paragraph)
    for xml in paragraphs:
        cell._tc.append(wml(xml))


# Word splits typed text into runs at every edit session (rsid) and font
# switch, marks spelling with proofErr, and records tracked changes.
WORD_REPLY = (
    '<w:p w:rsidR="00A1"><w:pPr><w:ind w:firstLineChars="200"/></w:pPr>'
    '<w:r><w:rPr><w:rFonts w:hint="eastAsia"/></w:rPr><w:t>经核实，</w:t></w:r>'
    '<w:proofErr w:type="spellStart"/><w:r><w:t xml:space="preserve">7号楼 </w:t>'
    '</w:r><w:proofErr w:type="spellEnd"/><w:bookmarkStart w:id="0" w:name="a"/>'
    '<w:r><w:t>热水泵</w:t></w:r><w:bookmarkEnd w:id="0"/>'
    '<w:del w:id="1" w:author="后勤"><w:r><w:delText>旧的说法</w:delText></w:r>'
    "</w:del>"
    '<w:ins w:id="2" w:author="后勤"><w:r><w:t>已于12月5日更换。</w:t></w:r></w:ins>'
    "</w:p>",
    # A tracked move: the text shows once, where it was moved to.
    '<w:p><w:moveFrom w:id="3" w:author="后勤"><w:r><w:t>（挪走）</w:t></w:r>'
    '</w:moveFrom><w:r><w:t>每日巡检</w:t></w:r><w:moveTo w:id="4" w:author="后勤">'
    "<w:r><w:t>（挪走）</w:t></w:r></w:moveTo></w:p>",
    "<w:p/>",
    '<w:p><w:pPr><w:rPr><w:lang w:eastAsia="zh-CN"/></w:rPr></w:pPr></w:p>',
    "<w:p><w:r><w:t>特此答复。</w:t></w:r><w:r><w:tab/><w:t>后勤</w:t></w:r></w:p>",
)


def test_blank_returned_form_gives_its_number_and_no_reply() -> None:
    """A form sent back untouched reads as its number with an empty reply."""
    assert read_handling_form(handling_form_docx(FORM)) == FilledForm(
        number="SQ2026-0012", unit_reply=""
    )


def test_reply_typed_into_the_cell_in_word_runs_and_paragraphs_is_read() -> None:
    """Reply text typed in Word's runs, revisions and blank paragraphs reads back."""

    def edit(document: WordDocument) -> None:
        type_into(reply_cells(document)[1], *WORD_REPLY)

    assert read_handling_form(returned(edit)) == FilledForm(
        number="SQ2026-0012",
        unit_reply=(
            "经核实，7号楼 热水泵已于12月5日更换。\n每日巡检（挪走）\n特此答复。\t后勤"
        ),
    )


def test_reply_on_an_extra_page_after_the_table_is_read() -> None:
    """Paragraphs after the table, on a new page, join the reply as its 附页."""

    def edit(document: WordDocument) -> None:
        type_into(
            reply_cells(document)[1], "<w:p><w:r><w:t>详见附页。</w:t></w:r></w:p>"
        )
        body = document.element.body
        tail = [
            '<w:p><w:r><w:br w:type="page"/></w:r></w:p>',
            "<w:p><w:r><w:t>附页：</w:t></w:r></w:p>",
            "<w:p><w:r><w:t>一、更换热水泵。</w:t></w:r></w:p>",
            "<w:p/>",
            "<w:p><w:r><w:t>二、增加巡检。</w:t></w:r></w:p>",
        ]
        for xml in tail:
            body.insert(len(body) - 1, wml(xml))  # before w:sectPr

    assert read_handling_form(returned(edit)) == FilledForm(
        number="SQ2026-0012",
        unit_reply="详见附页。\n附页：\n一、更换热水泵。\n二、增加巡检。",
    )


def test_reply_typed_after_the_label_in_the_label_cell_is_read() -> None:
    """An answer typed into the label's own cell, after the label, is the reply."""

    def edit(document: WordDocument) -> None:
        label = reply_cells(document)[0]
        label.paragraphs[0].runs[-1].add_text("已处理完毕。")
        label._tc.append(wml("<w:p><w:r><w:t>请查收。</w:t></w:r></w:p>"))

    assert read_handling_form(returned(edit)) == FilledForm(
        number="SQ2026-0012", unit_reply="已处理完毕。\n请查收。"
    )


def test_resaved_label_and_content_control_are_still_understood() -> None:
    """A label re-saved as three paragraphs and an answer in a content control read."""

    def edit(document: WordDocument) -> None:
        type_into(
            reply_cells(document)[0],
            "<w:p><w:r><w:t>职能部门处</w:t></w:r></w:p>",
            "<w:p><w:r><w:t>理结果回复</w:t></w:r></w:p>",
            "<w:p><w:r><w:t>（可附页）</w:t></w:r></w:p>",
        )
        type_into(
            reply_cells(document)[1],
            '<w:sdt><w:sdtPr><w:alias w:val="答复"/></w:sdtPr><w:sdtContent>'
            "<w:p><w:r><w:t>已在控件中答复。</w:t></w:r></w:p>"
            "</w:sdtContent></w:sdt>",
        )

    assert read_handling_form(returned(edit)) == FilledForm(
        number="SQ2026-0012", unit_reply="已在控件中答复。"
    )


def test_signature_line_filled_in_is_not_part_of_the_reply() -> None:
    """Text before the signature line is kept; the signer and date are not."""

    def edit(document: WordDocument) -> None:
        signature = reply_cells(document)[2]
        type_into(
            signature,
            "<w:p><w:r><w:t>补充：已回访。负责人（签字）盖章 王五 2026年12月8日</w:t>"
            "</w:r></w:p>",
        )

    assert read_handling_form(returned(edit)) == FilledForm(
        number="SQ2026-0012", unit_reply="补充：已回访。"
    )


def test_other_cells_never_leak_into_the_reply() -> None:
    """Summary, opinion and rating texts are not mistaken for the unit's reply."""
    form = replace(FORM, rating="满意", due=dt.date(2026, 12, 10))
    assert read_handling_form(handling_form_docx(form)) == FilledForm(
        number="SQ2026-0012", unit_reply=""
    )


def test_form_without_a_number_reads_number_as_none() -> None:
    """A blank 编号 reads as None, never as a 编号 quoted in the student's text."""
    form = replace(FORM, number="", unit="", summary="我的宿舍编号：SQ2026-9999")
    assert read_handling_form(handling_form_docx(form)) == FilledForm(
        number=None, unit_reply=""
    )


def test_text_box_in_the_reply_is_read_once() -> None:
    """A text box, saved by Word twice (drawing and VML fallback), reads once."""
    box = "<w:txbxContent><w:p><w:r><w:t>框内答复</w:t></w:r></w:p></w:txbxContent>"
    paragraph = (
        '<w:p xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"'
        ' xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape"'
        ' xmlns:v="urn:schemas-microsoft-com:vml"><w:r><w:t>见框：</w:t></w:r><w:r>'
        '<mc:AlternateContent><mc:Choice Requires="wps"><w:drawing><wps:txbx>'
        f"{box}</wps:txbx></w:drawing></mc:Choice><mc:Fallback><w:pict><v:textbox>"
        f"{box}</v:textbox></w:pict></mc:Fallback></mc:AlternateContent></w:r></w:p>"
    )

    def edit(document: WordDocument) -> None:
        type_into(reply_cells(document)[1], paragraph)

    assert read_handling_form(returned(edit)) == FilledForm(
        number="SQ2026-0012", unit_reply="见框：框内答复"
    )


def test_strict_open_xml_form_is_read() -> None:
    """A form Word saved as "Strict Open XML Document" reads like a normal one."""
    data = returned(lambda document: type_into(reply_cells(document)[1], WORD_REPLY[0]))
    strict = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(strict, "w") as target,
    ):
        for name in source.namelist():
            content = source.read(name)
            content = content.replace(
                W.encode(), b"http://purl.oclc.org/ooxml/wordprocessingml/main"
            ).replace(
                b"http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument",
                b"http://purl.oclc.org/ooxml/officeDocument/relationships/officeDocument",
            )
            target.writestr(name, content)

    filled = read_handling_form(strict.getvalue())
    assert filled == FilledForm(
        number="SQ2026-0012", unit_reply="经核实，7号楼 热水泵已于12月5日更换。"
    )


# Not a returned form -------------------------------------------------------


def zipped(**parts: bytes) -> bytes:
    """Return a zip holding *parts*, names given with / as __."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in parts.items():
            archive.writestr(name.replace("__", "/"), content)
    return buffer.getvalue()


RELS = (
    b'<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/'
    b'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.'
    b'openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    b'Target="word/document.xml"/></Relationships>'
)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512,  # a .doc (OLE2)
        "已处理完毕。".encode("gb18030"),
        zipped(readme__txt=b"hello"),
        zipped(_rels__rels=RELS),
        zipped(_rels__rels=RELS, word__document__xml=b"<not xml"),
        zipped(_rels__rels=b"\x00\xff"),
    ],
    ids=["empty", "pdf", "doc", "text", "zip", "no-document", "bad-xml", "bad-rels"],
)
def test_non_docx_input_gives_none(data: bytes) -> None:
    """Bytes that are not a readable .docx give None, not an exception."""
    assert read_handling_form(data) is None


def test_unrelated_docx_and_intake_form_give_none() -> None:
    """A Word file that is not a 办理单, the 交报单 included, gives None."""
    other = docx.Document()
    other.add_paragraph("关于召开学生座谈会的通知")
    other.add_table(rows=2, cols=2).cell(0, 0).text = "职能部门"
    buffer = io.BytesIO()
    other.save(buffer)

    assert read_handling_form(buffer.getvalue()) is None
    assert read_handling_form(intake_form_docx(INTAKE)) is None


def test_docx_with_the_reply_label_but_not_our_title_gives_none() -> None:
    """Another office's form that happens to share the reply label is not ours."""
    other = docx.Document()
    other.add_paragraph("后勤管理中心维修登记表")
    table = other.add_table(rows=1, cols=2)
    table.cell(0, 0).text = "职能部门处理结果回复（可附页）"
    table.cell(0, 1).text = "已修好"
    buffer = io.BytesIO()
    other.save(buffer)

    assert read_handling_form(buffer.getvalue()) is None


def test_truncated_form_gives_none() -> None:
    """A form cut short in transit gives None."""
    data = handling_form_docx(FORM)
    assert read_handling_form(data[: len(data) // 2]) is None


def rewrite_document(data: bytes, change: Callable[[bytes], bytes]) -> bytes:
    """Return the .docx *data* with *change* applied to its word/document.xml."""
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for name in source.namelist():
            content = source.read(name)
            if name == "word/document.xml":
                content = change(content)
            target.writestr(name, content)
    return buffer.getvalue()


def test_form_with_a_dtd_gives_none() -> None:
    """A filled form whose XML declares entities (the expansion attack) is refused."""
    filled = returned(
        lambda document: type_into(
            reply_cells(document)[1], "<w:p><w:r><w:t>ENTITY</w:t></w:r></w:p>"
        )
    )
    dtd = b'<!DOCTYPE w:document [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;">]>'

    def declare(xml: bytes) -> bytes:
        prolog, _, rest = xml.partition(b"?>")
        return prolog + b"?>" + dtd + rest.replace(b">ENTITY<", b">&b;<")

    assert read_handling_form(rewrite_document(filled, lambda xml: xml)) is not None
    assert read_handling_form(rewrite_document(filled, declare)) is None


def test_oversized_document_part_gives_none(caplog: pytest.LogCaptureFixture) -> None:
    """A form whose document part inflates past the cap is not read into memory."""
    padding = b" " * (40 * 1024 * 1024)
    bloated = rewrite_document(
        handling_form_docx(FORM),
        lambda xml: xml.replace(b"<w:body>", b"<w:body>" + padding),
    )

    assert len(bloated) < 1024 * 1024  # it is small on the wire
    assert read_handling_form(bloated) is None
    assert "over" in caplog.text and "word/document.xml" in caplog.text


@settings(max_examples=200, deadline=None, database=None)
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    """Whatever bytes arrive, reading gives a result or None and never raises."""
    result = read_handling_form(data)
    assert result is None or isinstance(result, FilledForm)


FORM_BYTES = handling_form_docx(FORM)


@settings(max_examples=200, deadline=None, database=None)
@given(
    st.integers(min_value=0, max_value=len(FORM_BYTES) - 1),
    st.integers(min_value=0, max_value=255),
)
def test_corrupted_form_never_raises(position: int, value: int) -> None:
    """A real form with any one byte changed reads or gives None, never raises."""
    damaged = bytearray(FORM_BYTES)
    damaged[position] = value
    result = read_handling_form(bytes(damaged))
    assert result is None or isinstance(result, FilledForm)


@pytest.mark.parametrize(
    "form",
    [
        HandlingForm(number="SQ2026-0001", subject="s", date=dt.date(2026, 12, 3)),
        HandlingForm(
            number="SQ2026-0002",
            subject=" 宿舍<热水器> & 坏了 ",
            date=dt.date(2026, 1, 31),
            student_class="土木2301班",
            student_name="覃志强",
            counselor="刘芳",
            contact="13877665544",
            summary="第一行\n\n 第三行 <b>x</b>\r\n覃志强反映",
            office_opinion="请于期限前反馈。",
            unit="后勤管理中心",
            due=dt.date(2026, 2, 7),
            rating="较满意",
            unit_reply="已修好。\n谢谢。",
        ),
        HandlingForm(
            number="SQ2026-0003",
            subject="反映老师",
            date=dt.date(2026, 3, 1),
            student_name="李华",
            summary="李华说老师骂人",
            confidential=True,
        ),
    ],
)
def test_filled_template_equals_the_form_built_field_by_field(
    form: HandlingForm,
) -> None:
    """The fast fill of the prepared 办理单 gives, part for part, the same XML
    as building the form with python-docx."""
    from xml.etree.ElementTree import canonicalize

    from notify.forms import handling_form_docx_slowly

    def parts(data: bytes) -> dict[str, bytes]:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return {info.filename: archive.read(info) for info in archive.infolist()}

    fast, slow = parts(handling_form_docx(form)), parts(handling_form_docx_slowly(form))
    assert set(fast) == set(slow)
    for name, data in slow.items():
        assert canonicalize(fast[name].decode()) == canonicalize(data.decode()), name
