"""Tests of ingest.parse, ingest.charsets and ingest.html on raw mails."""

import base64
import dataclasses
import importlib
import os
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest import parse
from ingest.charsets import (
    decode_base64,
    decode_header,
    decode_quoted_printable,
    decode_text,
)
from ingest.html import html_to_text
from ingest.mail import Address, Attachment, ParsedMail
from ingest.parse import extract_attachment, parse_mail

MAIL = Path(__file__).parent / "data" / "mail"
# Real mail from other projects' test suites, copied with their licences.
CORPORA = Path(__file__).parent / "data" / "corpora"
ZIP_NAME = base64.b64encode("中国视频.zip".encode("gb2312"))
OURS = sorted(MAIL.glob("*.eml"))


def read(name: str) -> ParsedMail:
    return parse_mail((MAIL / name).read_bytes())


def corpus_files() -> list[Path]:
    if not CORPORA.is_dir():
        return []
    return sorted(
        path
        for path in CORPORA.glob("*/*")
        if path.is_file() and path.name not in ("LICENSE", "README.md")
    )


def assert_well_formed(mail: ParsedMail, raw: bytes) -> None:
    """Check every field has its declared type and attachments can be found."""
    assert isinstance(mail, ParsedMail)
    assert mail.message_id is None or isinstance(mail.message_id, str)
    assert isinstance(mail.subject, str)
    for address in [mail.sender] if mail.sender else []:
        assert isinstance(address, Address)
    for group in (mail.to, mail.cc, mail.reply_to):
        assert all(isinstance(a, Address) and a.addr == a.addr.lower() for a in group)
    assert mail.date is None or mail.date.tzinfo is not None
    assert all(isinstance(i, str) and i for i in mail.in_reply_to + mail.references)
    assert all(
        name == name.lower() and all(isinstance(v, str) for v in values)
        for name, values in mail.headers.items()
    )
    assert isinstance(mail.text, str)
    assert mail.html is None or isinstance(mail.html, str)
    assert all(isinstance(d, str) for d in mail.defects)
    for attachment in mail.attachments:
        assert isinstance(attachment, Attachment)
        assert attachment.size >= 0
        if not attachment.oversized:
            data = extract_attachment(raw, attachment.index)
            assert data is not None
            assert len(data) == attachment.size


def attachment_mail(payload_size: int) -> bytes:
    """The Foxmail appeal with its .docx replaced by random bytes of a size."""
    head = (MAIL / "foxmail_gb2312_docx.eml").read_bytes()
    boundary = b"------=_001_NextPart413870221584_=----"
    cut = head.index(boundary + b"\r\nContent-Type: application/vnd")
    encoded = base64.encodebytes(os.urandom(payload_size)).replace(b"\n", b"\r\n")
    return (
        head[:cut]
        + boundary
        + b"\r\nContent-Type: application/zip;\r\n"
        + b'\tname="=?gb2312?B?'
        + ZIP_NAME
        + b'?="\r\n'
        + b"Content-Transfer-Encoding: base64\r\n"
        + b'Content-Disposition: attachment; filename="=?gb2312?B?'
        + ZIP_NAME
        + b'?="\r\n\r\n'
        + encoded
        + b"\r\n"
        + boundary
        + b"--\r\n"
    )


def with_peak_memory(read: Callable[[], ParsedMail]) -> tuple[ParsedMail, int]:
    """What *read* returns, and the most Python allocated while it ran."""
    tracemalloc.start()
    try:
        mail = read()
        return mail, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# -- one client each ----------------------------------------------------------


def test_qq_mail_gb18030_alternative_and_photo() -> None:
    """QQ Mail's gb18030 base64 parts, quoted encoded-word names and photo decode."""
    mail = read("qq_gb18030_photo.eml")

    assert mail.subject == "宿舍门锁坏了快两周还没修好"
    assert mail.sender == Address(name="韦海燕", addr="2690458813@qq.com")
    assert mail.to == [Address(name="学生工作处", addr="gxgcxgc2017@163.com")]
    assert "我是土木工程学院土木2301班的韦海燕，学号2023010215" in mail.text
    assert "联系电话：13877615234" in mail.text
    assert mail.html is not None and "&nbsp; &nbsp; 我是土木工程学院" in mail.html
    assert [(a.filename, a.content_type) for a in mail.attachments] == [
        ("宿舍门锁.jpg", "application/octet-stream")
    ]
    assert mail.message_id == "tencent_5D2A8E41B7C35F0A6E1D2C9B@qq.com"
    assert mail.defects == []


def test_netease_163_coremail_utf8() -> None:
    """163 webmail's UTF-8 alternative gives the plain text and keeps the HTML."""
    mail = read("netease163_utf8.eml")

    assert mail.subject == "关于二食堂饭菜涨价和卫生问题的反映"
    assert mail.sender == Address(name="黄俊杰", addr="hjj_2203@163.com")
    assert "机电一体化2203班的黄俊杰（学号2022030118）" in mail.text
    assert "3. 餐盘经常洗不干净，摸上去是油的。" in mail.text
    assert mail.html is not None and 'font-family:Arial"' in mail.html
    assert (mail.header("x-mailer") or "").startswith(
        "Coremail Webmail Server Version XT5.0.14"
    )
    assert mail.date == datetime(
        2026, 11, 26, 20, 31, 7, tzinfo=timezone(timedelta(hours=8))
    )


def test_outlook_gb2312_label_carrying_gbk_characters() -> None:
    """Outlook's gb2312 labels are read as GB18030, so 喆, 镕 and 堃 survive."""
    mail = read("outlook_gb2312_qp.eml")

    assert mail.subject == "关于王喆、李镕、陈堃《工程测量》成绩显示缺考的申诉"
    assert mail.sender == Address(name="王喆", addr="wangzhe2302@outlook.com")
    assert mail.to == [Address(name="校长信箱", addr="xiaozhang@example.edu.cn")]
    assert "我和同班同学李镕、陈堃的成绩都显示为“缺考”" in mail.text
    assert "\ufffd" not in mail.text + mail.subject
    assert mail.headers["thread-topic"] == [mail.subject]
    assert mail.date == datetime(2026, 11, 27, 9, 12, 44, tzinfo=UTC)
    assert mail.defects == []


def test_iphone_mail_utf8() -> None:
    """iPhone Mail's single base64 UTF-8 part is the body, signature included."""
    mail = read("iphone_utf8.eml")

    assert mail.subject == "国家助学金评定不公平，请求重新审核"
    assert mail.sender == Address(name="蓝丽萍", addr="lanliping0207@icloud.com")
    assert "我家是建档立卡脱贫户" in mail.text
    assert mail.text.endswith("发自我的iPhone")
    assert mail.html is None
    assert mail.attachments == []
    assert mail.date is not None and mail.date.utcoffset() == timedelta(hours=8)


def test_iphone_text_parts_around_a_photo_are_joined() -> None:
    """Text parts on both sides of an inline photo are joined in order."""
    mail = read("iphone_inline_photo.eml")

    assert mail.subject == "北区3栋5楼浴室热水器漏电"
    assert mail.text.startswith("老师好，这是北区3栋5楼公共浴室的照片")
    assert mail.text.index("照片如下：") < mail.text.index("麻烦尽快安排维修")
    assert mail.text.endswith("发自我的iPhone")
    [photo] = mail.attachments
    assert (photo.filename, photo.inline) == ("IMG_2034.jpeg", True)


def test_related_image_with_content_id() -> None:
    """A pasted screenshot in multipart/related is an inline attachment with its id."""
    mail = read("netease163_related_cid.eml")

    assert mail.subject == "选修课在教务系统里查不到"
    assert "《大学生心理健康》课程" in mail.text
    assert mail.html is not None and "cid:1f3a9c2e$1$" in mail.html
    [image] = mail.attachments
    assert image.filename == "截图.png"
    assert image.inline
    assert image.content_id == "1f3a9c2e$1$19d2a4b6c8e$Coremail$weiming2402$163.com"


def test_foxmail_rfc2047_name_inside_quotes() -> None:
    """Foxmail's quoted RFC 2047 attachment name decodes, and the .docx extracts."""
    raw = (MAIL / "foxmail_gb2312_docx.eml").read_bytes()
    mail = parse_mail(raw)

    assert mail.subject == "关于优秀学生干部评选未经公示的反映"
    assert mail.sender == Address(name="莫晓东", addr="moxiaodong2301@foxmail.com")
    assert mail.to == [Address(name="shuji", addr="shuji@example.edu.cn")]
    assert "班级推荐名单报到学院后被改掉了" in mail.text
    [docx] = mail.attachments
    assert docx.filename == "班级评议记录-莫晓东.docx"
    assert docx.content_type.endswith("wordprocessingml.document")
    data = extract_attachment(raw, docx.index)
    assert data is not None and data.startswith(b"PK\x03\x04")
    assert len(data) == docx.size


def test_html_only_mail_gives_text_from_html() -> None:
    """An HTML-only mail's text comes from its HTML; the HTML itself is kept."""
    mail = read("html_only_utf8.eml")

    assert mail.subject == "反映7号教学楼教室设施损坏"
    assert mail.sender == Address(name="谢雨桐", addr="xieyutong2401@sina.com")
    assert mail.content_type == "text/html"
    assert mail.html is not None and "<ol>" in mail.html
    lines = mail.text.split("\n")
    assert lines[0] == "关于7号教学楼教室设施损坏的反映"
    assert "7教307有两台空调不制热，晚上上课很冷；" in lines
    assert "学号 2024060131" in lines
    assert "谢谢！ 盼复。" in lines
    assert "font-family" not in mail.text
    assert "sina_signature" not in mail.text


def test_thunderbird_rfc2231_continuations_and_content_type_name() -> None:
    """RFC 2231 continuations and a Content-Type name= give the attachment names."""
    mail = read("thunderbird_rfc2231.eml")

    assert mail.subject == "国家励志奖学金申请材料漏报，申请补报"
    assert mail.sender == Address(name="覃梦瑶", addr="qinmengyao2301@163.com")
    assert [a.filename for a in mail.attachments] == [
        "2026-2027学年国家励志奖学金申请表（覃梦瑶-学前教育2301班）.docx",
        "获奖证书.jpg",
    ]
    assert [a.content_type for a in mail.attachments][1] == "image/jpeg"
    # format=flowed: the soft line break after "漏报了，" joins the lines.
    assert "被漏报了， 辅导员说名单已经交上去了" in mail.text


def test_8bit_gbk_without_any_charset() -> None:
    """Raw GBK in headers, body and filename with no charset is read as GB18030."""
    raw = (MAIL / "gbk_8bit_no_charset.eml").read_bytes()
    mail = parse_mail(raw)

    assert mail.subject == "撤销晚归通报批评的申诉"
    assert mail.sender == Address(name="梁志强", addr="liangzq2303@126.com")
    assert "宿管登记后学院给了我“通报批评”处分" in mail.text
    [note] = mail.attachments
    assert note.filename == "请假条.txt"
    data = extract_attachment(raw, note.index)
    assert data is not None and "辅导员：同意" in data.decode("gb18030")
    assert any("gb18030" in d for d in mail.defects)


def test_broken_base64_body_decodes_what_it_can() -> None:
    """A base64 body with a stray character and a cut end still yields its text."""
    mail = read("broken_base64.eml")

    assert mail.subject == "宿舍校园网晚上用不了还照常扣费"
    assert "宿舍的校园网这学期每个月扣费30元" in mail.text
    assert "希望学校能和运营商沟通" in mail.text
    assert any("base64" in d for d in mail.defects)


def test_encoded_words_split_mid_character() -> None:
    """Words split inside a character, under a gb2312 label, decode whole."""
    mail = read("gb2312_subject_split.eml")

    assert mail.subject == "反映郑堃老师经常迟到和随意调课的问题（林喆）"
    assert mail.sender == Address(name="林喆", addr="linzhe2301@qq.com")
    assert "郑堃老师这学期经常迟到二三十分钟" in mail.text
    assert mail.message_id == "000a01db4c2f$7e3b1a20$7ab14e60$@qq.com"


def test_bounce_report_parts() -> None:
    """A multipart/report exposes its type, status text and the bounced headers."""
    mail = read("bounce_postfix.eml")

    assert mail.report_type == "delivery-status"
    assert mail.content_type == "multipart/report"
    assert mail.delivery_status is not None
    assert "Status: 5.1.1" in mail.delivery_status
    assert "Final-Recipient: rfc822; hqzx-old@example.edu.cn" in mail.delivery_status
    [bounced] = mail.attached_headers
    assert bounced["subject"] == "【办理单】XGC-2026-0042 宿舍门锁坏了快两周还没修好"
    assert bounced["message-id"] == "<suqiu.XGC-2026-0042.form.1@gxgcxgc2017.163.com>"
    assert "message/rfc822" in [a.content_type for a in mail.attachments]
    assert "unknown user" in mail.text


def test_broken_address_and_id_headers() -> None:
    """Two Froms, groups, names with commas or @, and unbracketed ids are read."""
    mail = read("broken_headers.eml")

    assert mail.sender == Address(
        name="Tan, Xiaoyu (谭晓雨)", addr="tanxy2402@example.edu.cn"
    )
    assert [a.addr for a in mail.to] == [
        "xiaozhang@example.edu.cn",
        "shuji@example.edu.cn",
    ]
    assert mail.cc == [
        Address(name="2690458813@qq.com", addr="2690458813@qq.com"),
        Address(name="学生工作处", addr="gxgcxgc2017@163.com"),
    ]
    assert mail.message_id == "20261202170541.7731@form.example.edu.cn"
    assert mail.in_reply_to == ["suqiu.XGC-2026-0040.ack.1@gxgcxgc2017.163.com"]
    assert mail.references == [
        "suqiu.XGC-2026-0040.ack.1@gxgcxgc2017.163.com",
        "suqiu.XGC-2026-0040.form.1@gxgcxgc2017.163.com",
        "suqiu.XGC-2026-0040.reply.2@gxgcxgc2017.163.com",
    ]
    assert mail.date is None
    assert "unreadable Date header" in mail.defects
    assert "2 From headers" in mail.defects


CHINA = timezone(timedelta(hours=8))


@pytest.mark.parametrize(
    ("written", "meant", "defect"),
    [
        # A bare CST from a Chinese server is China Standard Time.
        (
            "Thu, 03 Dec 2026 10:00:00 CST",
            datetime(2026, 12, 3, 10, tzinfo=CHINA),
            "Date: CST read as China Standard Time (+0800)",
        ),
        # A number beside it says which CST was meant.
        (
            "Thu, 03 Dec 2026 10:00:00 +0800 (CST)",
            datetime(2026, 12, 3, 2, tzinfo=UTC),
            None,
        ),
        (
            "Thu, 03 Dec 2026 10:00:00 -0600 (CST)",
            datetime(2026, 12, 3, 16, tzinfo=UTC),
            None,
        ),
        # JavaScript's and web forms' ways of writing the offset.
        (
            "Thu, 3 Dec 2026 10:00:00 GMT+0800 (中国标准时间)",
            datetime(2026, 12, 3, 10, tzinfo=CHINA),
            "Date header not in RFC 5322 form; read loosely",
        ),
        (
            "Thu, 3 Dec 2026 10:00:00 GMT+8",
            datetime(2026, 12, 3, 10, tzinfo=CHINA),
            "Date header not in RFC 5322 form; read loosely",
        ),
        (
            "Thu, 3 Dec 2026 10:00:00 UTC+08:00",
            datetime(2026, 12, 3, 10, tzinfo=CHINA),
            "Date header not in RFC 5322 form; read loosely",
        ),
        (
            "Thu, 3 Dec 2026 10:00:00 GMT-0530",
            datetime(2026, 12, 3, 15, 30, tzinfo=UTC),
            "Date header not in RFC 5322 form; read loosely",
        ),
        # No zone at all: UTC, and said so.
        (
            "Thu, 3 Dec 2026 10:00:00",
            datetime(2026, 12, 3, 10, tzinfo=UTC),
            "Date: no time zone; read as UTC",
        ),
    ],
)
def test_date_zones_as_chinese_clients_write_them(
    written: str, meant: datetime, defect: str | None
) -> None:
    """The Date header's moment, whichever way the client wrote its zone."""
    raw = f"From: a@example.com\r\nDate: {written}\r\n\r\nhi\r\n".encode()
    mail = parse_mail(raw)
    assert mail.date == meant
    if defect is None:
        assert mail.defects == []
    else:
        assert defect in mail.defects


def test_headers_keep_every_occurrence_decoded() -> None:
    """Headers are listed by lower-case name, every occurrence decoded, in order."""
    mail = read("broken_headers.eml")

    assert mail.headers["from"] == [
        '"Tan, Xiaoyu (谭晓雨)" <TanXY2402@Example.EDU.cn>',
        "学生会权益维护部 <qyb@example.edu.cn>",
    ]
    assert mail.header("SUBJECT") == "转：关于北区宿舍热水供应时间的建议"


def test_missing_from_gives_no_sender() -> None:
    """A mail without From has sender None and is otherwise read."""
    mail = read("no_from.eml")

    assert mail.sender is None
    assert mail.subject == "匿名建议：图书馆自习座位被长期占用"
    assert "图书馆三楼自习区" in mail.text


# -- charsets -----------------------------------------------------------------


@pytest.mark.parametrize(
    "label", ["gb2312", "GBK", "x-gbk", "euc-cn", "cp936", "eucgb2312_cn", "GB18030"]
)
def test_gb_labels_read_as_gb18030(label: str) -> None:
    """Every GB label decodes GBK-only characters (堃) without a defect."""
    assert decode_text("陈堃的成绩".encode("gbk"), label) == ("陈堃的成绩", [])


def test_unlabelled_8bit_tries_utf8_then_gb18030() -> None:
    """Bytes without a charset are read as UTF-8 when valid, else as GB18030."""
    utf8, _ = decode_text("宿舍报修".encode(), None)
    gbk, defects = decode_text("宿舍报修".encode("gbk"), None)

    assert (utf8, gbk) == ("宿舍报修", "宿舍报修")
    assert defects == ["8-bit text without charset; read as gb18030"]


def test_unknown_charset_label_is_guessed() -> None:
    """An unknown label is noted as a defect and the bytes are guessed."""
    text, defects = decode_text("食堂".encode("gbk"), "x-unknown-cn")

    assert text == "食堂"
    assert defects[0] == "unknown charset 'x-unknown-cn'"


def test_gb2312_label_on_utf8_text_is_overruled() -> None:
    """Long valid UTF-8 under a gb2312 label is read as UTF-8, with a defect."""
    text, defects = decode_text("希望学校尽快安排维修".encode(), "gb2312")

    assert text == "希望学校尽快安排维修"
    assert defects == ["text labelled gb18030 is UTF-8"]


def test_utf8_label_on_gbk_text_is_overruled() -> None:
    """GBK under a utf-8 label is read as GB18030, with a defect."""
    text, defects = decode_text("奖学金评定".encode("gbk"), "utf-8")

    assert text == "奖学金评定"
    assert defects == ["text labelled utf-8 is gb18030"]


def test_damaged_utf8_keeps_its_good_text() -> None:
    """UTF-8 cut inside its last character keeps the rest rather than switching."""
    data = "校园网晚上用不了还照常扣费".encode()[:-1]
    text, defects = decode_text(data, "utf-8")

    assert text.startswith("校园网晚上用不了还照常扣")
    assert defects == ["invalid utf-8 bytes; decoded lossily"]


def test_hopeless_bytes_fall_back_with_a_defect() -> None:
    """Bytes valid in no guessed charset are decoded lossily, never raising."""
    text, defects = decode_text(b"\xff\xfe" * 50, None)

    assert text == "\xff\xfe" * 50
    assert defects == ["8-bit text without usable charset; read as guess"]


def test_header_word_split_inside_a_character() -> None:
    """Adjacent encoded words are joined as bytes before the charset decodes them."""
    data = "张三丰".encode()
    value = (
        f"=?utf-8?B?{base64.b64encode(data[:4]).decode()}?=\r\n"
        f" =?utf-8?B?{base64.b64encode(data[4:]).decode()}?="
    )
    assert decode_header(value) == ("张三丰", [])


def test_header_base64_split_inside_a_quantum() -> None:
    """An encoder that splits base64 text mid-quantum across words is repaired."""
    encoded = base64.b64encode("宿舍热水".encode()).decode()
    value = f"=?UTF-8?B?{encoded[:5]}?= =?UTF-8?B?{encoded[5:]}?="

    assert decode_header(value)[0] == "宿舍热水"


def test_header_raw_8bit_gbk() -> None:
    """Raw GBK bytes in a header (surrogate-escaped) are read as GB18030."""
    value = "回复：成绩".encode("gbk").decode("ascii", "surrogateescape")

    assert decode_header(value) == ("回复：成绩", ["raw 8-bit GB18030 in a header"])


def test_header_keeps_text_between_words() -> None:
    """Plain text between encoded words stays; white space between words goes."""
    value = "Re: =?gbk?B?s8m8qA==?= =?gbk?Q?=D2=EC=D2=E9?= (2301)"

    assert decode_header(value) == ("Re: 成绩异议 (2301)", [])


def test_header_q_encoding_and_underscores() -> None:
    """Q words turn underscores into spaces and =XX into bytes."""
    assert decode_header("=?utf-8?q?A_=E6=B5=8B=E8=AF=95?=")[0] == "A 测试"


def test_base64_with_stray_characters_and_no_padding() -> None:
    """Lenient base64 skips stray characters and decodes an unpadded tail."""
    data, defects = decode_base64(b"5a6/6IiN*5oql\r\n5L+u")

    assert data.decode() == "宿舍报修"
    assert "stray characters in base64" in defects


def test_base64_truncated_keeps_whole_bytes() -> None:
    """Base64 cut one character into a quantum keeps the bytes before it."""
    data, defects = decode_base64(b"5a6/6IiN5")
    assert data.decode() == "宿舍"
    assert defects == ["truncated or badly padded base64"]


def test_base64_chunks_padded_separately() -> None:
    """Separately padded base64 chunks are all decoded, not just the first."""
    data, defects = decode_base64(b"YWI=\r\nY2Q=\r\n")

    assert data == b"abcd"
    assert defects == ["base64 padding inside the data"]


def test_quoted_printable_oddities() -> None:
    """Lower-case hex, blanks after a soft break and a stray = are all read."""
    data, defects = decode_quoted_printable(b"=e6=b5=8b= \r\n=E8=AF=95 100%=")

    assert data.decode("utf-8", "replace").startswith("测试 100%")
    assert defects == []
    data, defects = decode_quoted_printable(b"a=zz b")
    assert data == b"a=zz b"
    assert defects == ["stray '=' in quoted-printable"]


# -- html_to_text -------------------------------------------------------------


def test_html_drops_head_scripts_styles_and_comments() -> None:
    """Head, title, scripts, styles and comments never reach the text."""
    html = (
        "<html><head><title>标题</title><style>p{color:red}</style></head>"
        "<body><script>alert('x')</script><!-- 注释 --><p>正文</p></body></html>"
    )
    assert html_to_text(html) == "正文"


def test_html_blocks_and_breaks_give_lines() -> None:
    """Block elements and <br> break lines; blank runs collapse to one."""
    html = (
        "<div>老师您好：</div><div><br></div><div><br></div><h2>问题</h2>"
        "<ul><li>门锁坏了</li><li>热水不热</li></ul>"
        "<table><tr><td>姓名</td><td>张三</td></tr><tr><td>班级</td>"
        "<td>土木2301班</td></tr></table>第一行<br>第二行<br><br><br>第三行"
    )
    assert html_to_text(html) == (
        "老师您好：\n\n问题\n门锁坏了\n热水不热\n姓名 张三\n班级 土木2301班\n"
        "第一行\n第二行\n\n第三行"
    )


def test_html_nbsp_is_a_space_and_chinese_is_kept() -> None:
    """&nbsp; becomes a space, source line breaks a space, Chinese untouched."""
    html = "<p>我是土木2301班的&nbsp;&nbsp;张三，\n学号2023010101。</p>"

    assert html_to_text(html) == "我是土木2301班的 张三， 学号2023010101。"


def test_html_empty_paragraph_is_a_blank_line() -> None:
    """Outlook's <p>&nbsp;</p> between paragraphs gives one blank line."""
    html = "<p>第一段</p><p><o:p>&nbsp;</o:p></p><p>第二段</p>"

    assert html_to_text(html) == "第一段\n\n第二段"


def test_html_empty_and_garbage_input() -> None:
    """Empty, blank and tag-soup input give text without raising."""
    assert html_to_text("") == ""
    assert html_to_text("  \n ") == ""
    assert "文字" in html_to_text("<<<div>>>&&;</p></td>文字")


# -- attachments, size cap and extraction -------------------------------------


def test_raw_gbk_filename_ending_in_backslash_byte() -> None:
    """A raw GBK name whose character ends in 0x5C keeps it: it is no escape."""
    name = "誠信承诺书.txt".encode("gbk")
    assert b"\\" in name
    raw = (
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
        b"Content-Type: text/plain\r\n\r\nbody\r\n--b\r\n"
        b'Content-Disposition: attachment; filename="' + name + b'"\r\n\r\n'
        b"data\r\n--b--\r\n"
    )
    [attachment] = parse_mail(raw).attachments

    assert attachment.filename == "誠信承诺书.txt"


def test_oversized_part_is_listed_not_decoded() -> None:
    """A part over the cap is listed with an estimated size and a defect."""
    raw = attachment_mail(200_000)
    mail = parse_mail(raw, max_part_bytes=100_000)

    [big] = mail.attachments
    assert big.oversized
    assert big.filename == "中国视频.zip"
    assert abs(big.size - 200_000) <= 3
    assert any("over the 100000 byte cap" in d for d in mail.defects)
    assert "班级推荐名单报到学院后被改掉了" in mail.text


def test_oversized_part_is_still_extractable() -> None:
    """extract_attachment decodes a part that parse_mail left undecoded."""
    raw = attachment_mail(200_000)
    [big] = parse_mail(raw, max_part_bytes=100_000).attachments

    data = extract_attachment(raw, big.index)
    assert data is not None and len(data) == 200_000


@pytest.mark.parametrize("path", OURS, ids=lambda p: p.name)
def test_extract_attachment_matches_listed_size(path: Path) -> None:
    """Each listed attachment is found again by its index, at its listed size."""
    raw = path.read_bytes()
    assert_well_formed(parse_mail(raw), raw)


def test_extract_attachment_unknown_index() -> None:
    """An index that names no part, or a multipart container, gives None."""
    raw = (MAIL / "foxmail_gb2312_docx.eml").read_bytes()

    assert extract_attachment(raw, 99) is None
    assert extract_attachment(raw, -1) is None
    assert extract_attachment(raw, 0) is None
    assert extract_attachment(b"", 0) == b""


@pytest.mark.parametrize("path", OURS, ids=lambda p: p.name)
def test_lean_walker_agrees_with_mail_parser(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The in-place walker used for big mails reads our mails as mail-parser does."""
    raw = path.read_bytes()
    usual = dataclasses.asdict(parse_mail(raw))
    monkeypatch.setattr(parse, "LEAN_THRESHOLD", 0)
    lean = dataclasses.asdict(parse_mail(raw))

    for mail in (usual, lean):
        del mail["defects"]
        for attachment in mail["attachments"]:
            # The email package re-writes an attached message/* part.
            if attachment["content_type"].startswith("message/"):
                attachment["size"] = None
    assert lean == usual


def test_big_mail_memory_is_bounded() -> None:
    """A 50 MB attachment adds under 1.5 times the mail's size, decoded or not."""
    raw = attachment_mail(50 * 1024 * 1024)
    assert len(raw) > parse.LEAN_THRESHOLD

    mail, peak = with_peak_memory(lambda: parse_mail(raw))

    assert peak < 1.5 * len(raw)
    [big] = mail.attachments
    assert big.oversized and big.filename == "中国视频.zip"
    assert "班级推荐名单报到学院后被改掉了" in mail.text

    whole, peak = with_peak_memory(lambda: parse_mail(raw, max_part_bytes=len(raw)))
    [decoded] = whole.attachments

    assert peak < 1.5 * len(raw)
    assert decoded.size == 50 * 1024 * 1024 and not decoded.oversized


# -- never raising ------------------------------------------------------------


@pytest.mark.parametrize(
    "path", corpus_files(), ids=lambda p: f"{p.parent.name}/{p.name}"
)
def test_never_raises_on_corpora(path: Path) -> None:
    """Every mail other projects collected parses to a well-formed ParsedMail."""
    raw = path.read_bytes()
    assert_well_formed(parse_mail(raw), raw)


def test_corpora_are_present() -> None:
    """The shared corpora are where the corpus test looks for them."""
    assert len(corpus_files()) > 100


def test_never_raises_on_cpython_email_data() -> None:
    """Every file in CPython's test_email data folder parses without raising."""
    try:
        cpython_tests = importlib.import_module("test.test_email")
    except ImportError:
        pytest.skip("this Python was installed without its test package")
    folder = Path(str(cpython_tests.__file__)).parent / "data"
    files = sorted(p for p in folder.iterdir() if p.is_file())
    assert files
    for path in files:
        raw = path.read_bytes()
        assert_well_formed(parse_mail(raw), raw)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\r\n\r\n",
        b"\x00" * 1000,
        bytes(range(256)) * 20,
        b"Subject: only a header",
        b"X" * 100_000 + b": y\r\n\r\nbody",
        b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n" * 3,
        b'Content-Type: multipart/mixed; boundary="a"\r\n\r\n'
        + b'--a\r\nContent-Type: multipart/mixed; boundary="a"\r\n\r\n' * 3000,
        b"Content-Type: text/plain; charset=utf-16\r\n\r\n\xff\xfe\x00\xd8",
        b"Content-Type: text/plain; charset=undefined\r\n\r\n\xe4\xb8\xad",
        b"Content-Type: text/plain; charset=unicode_escape\r\n\r\n\\N{",
        b"Content-Type: text/plain; charset*=x''%zz\r\n\r\nabc",
        b"Content-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 a\r\n#86)C\r\n",
        b"Date: Mon, 99 Foo 99999 99:99:99 +9999\r\nFrom: <<<@@@>>>\r\n\r\n",
        b"From: =?utf-8?B?####?= <a@b>\r\nSubject: =?x?Q?=ZZ?=\r\n\r\n",
    ],
)
def test_never_raises_on_garbage(raw: bytes) -> None:
    """Empty, binary, truncated and hostile inputs give a ParsedMail."""
    assert_well_formed(parse_mail(raw), raw)


def test_falls_back_when_the_email_package_raises(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """When the email package cannot build the tree (deep nesting raises
    RecursionError), suqiu's own walker reads the mail, with a defect."""
    import email

    def broken(raw: bytes, **_: object) -> None:
        raise RecursionError("too deep")

    monkeypatch.setattr(email, "message_from_bytes", broken)
    mail = read("qq_gb18030_photo.eml")

    assert mail.subject == "宿舍门锁坏了快两周还没修好"
    assert "联系电话：13877615234" in mail.text
    assert "email package failed (RecursionError)" in mail.defects


SEEDS = [path.read_bytes() for path in OURS]
LABELS = ["utf-8", "gb2312", "big5", "utf-16", "x-unknown", "base64", "utf-7", ""]


@st.composite
def mutated_mail(draw: st.DrawFn) -> bytes:
    """A real mail: truncated, bytes flipped, a wrong boundary or a lying charset."""
    raw = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 3))):
        mutation = draw(st.sampled_from(["truncate", "flip", "boundary", "charset"]))
        if mutation == "truncate":
            del raw[draw(st.integers(0, len(raw))) :]
        elif mutation == "flip" and raw:
            for _ in range(draw(st.integers(1, 20))):
                raw[draw(st.integers(0, len(raw) - 1))] = draw(st.integers(0, 255))
        elif mutation == "boundary":
            raw = bytearray(raw.replace(b"boundary=", b"boundary=X", 1))
        else:
            label = draw(st.sampled_from(LABELS)).encode()
            for old in (b"gb18030", b"GB2312", b"gb2312", b"UTF-8", b"utf-8"):
                raw = raw.replace(b"charset=" + old, b"charset=" + label)
                raw = raw.replace(b'charset="' + old, b'charset="' + label)
    return bytes(raw)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_mail())
def test_never_raises_on_mutated_mail(raw: bytes) -> None:
    """Mutated real mails never make parse_mail or extract_attachment raise."""
    assert_well_formed(parse_mail(raw), raw)
