"""Tests for ingest.quotes: real client replies, then each marker on its own."""

import email
import email.policy
import logging
import time
import timeit
from email.message import EmailMessage
from pathlib import Path

import pytest

from ingest import quotes
from ingest.quotes import strip_reply, strip_subject_prefixes

REPLIES = Path(__file__).parent / "data" / "replies"
SAMPLES = sorted(REPLIES.glob("*.eml"))
# Mail labelled with a GB2312-family charset often carries GBK or GB18030
# bytes; GB18030 is the superset that reads them all.
GB_LABELS = frozenset({"gb2312", "gbk", "x-gbk", "euc-cn", "cp936"})


def _decode(part: EmailMessage) -> str:
    charset = (part.get_content_charset() or "us-ascii").lower()
    if charset in GB_LABELS:
        charset = "gb18030"
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode(charset, errors="replace")


def _bodies(path: Path) -> tuple[str, str | None]:
    """Return the first text/plain and text/html bodies of a raw mail."""
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    text: str | None = None
    html: str | None = None
    for part in message.walk():
        if part.is_multipart():
            continue
        if part.get_content_type() == "text/plain" and text is None:
            text = _decode(part)
        elif part.get_content_type() == "text/html" and html is None:
            html = _decode(part)
    return text or "", html


def _expected(path: Path) -> str:
    return path.with_name(path.stem + ".expected.txt").read_text("utf-8")


def _norm(text: str) -> str:
    """Strip each line's trailing spaces and the blank lines around the text."""
    return "\n".join(line.rstrip() for line in text.split("\n")).strip("\n")


# --- The samples ---------------------------------------------------------------


@pytest.mark.parametrize("path", SAMPLES, ids=[p.stem for p in SAMPLES])
def test_sample_gives_what_was_typed(path: Path) -> None:
    """A real client's reply comes back as exactly what its sender typed."""
    text, html = _bodies(path)

    assert _norm(strip_reply(text, html)) == _norm(_expected(path))


PLAIN_AND_HTML = [p for p in SAMPLES if all(_bodies(p))]
# Outlook's plain text marks neither the start nor the end of the signature.
PLAIN_GAPS = {"outlook_web_zhcn_unit"}


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(
            p,
            id=p.stem,
            marks=[pytest.mark.xfail(strict=True, reason="no signature marker")]
            if p.stem in PLAIN_GAPS
            else [],
        )
        for p in PLAIN_AND_HTML
    ],
)
def test_plain_part_alone_gives_the_same_text(path: Path) -> None:
    """The text markers alone find the same answer in each client's plain part."""
    text, _ = _bodies(path)

    assert _norm(strip_reply(text)) == _norm(_expected(path))


def test_samples_are_many_listed_and_expected() -> None:
    """There are at least 24 samples, each with expectations and a README row."""
    readme = (REPLIES / "README.md").read_text("utf-8")

    assert len(SAMPLES) >= 24
    for path in SAMPLES:
        assert path.with_name(path.stem + ".expected.txt").is_file(), path.name
        assert f"`{path.name}`" in readme, path.name


# --- Text markers --------------------------------------------------------------

QUOTED_BODY = "学生诉求办公室：\n诉求编号：SQ20261203-0007\n请回复办理结果。"
OFFICE = "学生诉求办公室 <suqiu@gxgcedu.cn>"
QUOTED_OFFICE = '"学生诉求办公室" <suqiu@gxgcedu.cn>'

SEPARATORS = {
    "qq_literal_nbsp": "------------------&nbsp;原始邮件&nbsp;------------------",
    "qq_spaces": "------------------ 原始邮件 ------------------",
    "foxmail_original": "------------------ Original ------------------",
    "outlook_original_message": "-----Original Message-----",
    "outlook_zh": "-----原始邮件-----",
    "outlook_2003_zh": "-----邮件原件-----",
    "sina": "----- 原始邮件 -----",
    "android_zh": "-------- 原始邮件 --------",
    "android_en": "-------- Original message --------",
    "samsung_zh": "-------- 原始信息 --------",
    "gmail_forward": "---------- Forwarded message ---------",
}


@pytest.mark.parametrize("line", SEPARATORS.values(), ids=SEPARATORS.keys())
def test_separator_line_starts_the_quote(line: str) -> None:
    """Each client's separator line cuts off itself and all below it."""
    body = f"已处理，谢谢。\n\n{line}\n发件人: 学生诉求办公室\n\n{QUOTED_BODY}"

    assert strip_reply(body) == "已处理，谢谢。"


HEADER_BLOCKS = {
    "outlook_web_zh": (
        "________________________________\n发件人: 学生诉求办公室 <suqiu@gxgcedu.cn>\n"
        "发送时间: 2026年12月3日 10:20\n收件人: 后勤管理中心 <hqzx@gxgcedu.cn>\n"
        "主题: 【诉求办理单】SQ20261203-0007"
    ),
    "outlook_desktop_zh": (
        "发件人: 学生诉求办公室 <suqiu@gxgcedu.cn> \n发送时间: 2026年12月3日 10:20\n"
        "收件人: 后勤管理中心\n抄送: 督办组\n主题: 【诉求办理单】SQ20261203-0007"
    ),
    "full_width_colons": (
        f"发件人： {OFFICE}\n日期： 2026年12月3日 星期四 下午2:30\n"
        "收件人： 网络信息中心\n主题： 【诉求办理单】SQ20261203-0019"
    ),
    "outlook_en": (
        "From: 学生诉求办公室 <suqiu@gxgcedu.cn>\n"
        "Sent: Thursday, December 3, 2026 3:05 PM\n"
        "To: John Miller <jmiller@gxgcedu.cn>\nSubject: 【诉求办理单】SQ20261203-0033"
    ),
    "qq_blank_before_subject": (
        '发件人: "学生诉求办公室"<suqiu@gxgcedu.cn>;\n发送时间: 2026年12月3日(星期四)'
        ' 上午10:20\n收件人: "张同学"<2837461950@qq.com>;\n\n主题: 【学生诉求】'
    ),
    "bold_in_plain_text": (
        "*发件人:* 学生诉求办公室\n*发送时间:* 2026年12月3日 10:20\n"
        "*收件人:* 后勤管理中心"
    ),
}


@pytest.mark.parametrize("block", HEADER_BLOCKS.values(), ids=HEADER_BLOCKS.keys())
def test_header_block_starts_the_quote(block: str) -> None:
    """A From/Sent/To/Subject block, ASCII or full-width, cuts off the quote."""
    body = f"已安排维修。\n\n{block}\n\n{QUOTED_BODY}"

    assert strip_reply(body) == "已安排维修。"


def test_typed_colon_lines_are_not_a_header_block() -> None:
    """Typed 时间：/主题：/发件人： lines stay when they do not form a header block."""
    body = (
        "处理结果：已更换热水器\n时间：12月4日上午\n地点：B栋302\n主题：热水器更换\n"
        "\n发件人：后勤管理中心（代王师傅回复）\n请学生保持电话畅通。"
    )

    assert strip_reply(body) == body


def test_typed_time_line_just_above_a_separator_is_kept() -> None:
    """A typed 时间： line above a quote is not swallowed into its header block."""
    body = (
        "维修安排如下\n时间：12月4日上午\n\n-----原始邮件-----\n"
        "发件人: 学生诉求办公室\n发送时间: 2026年12月3日 10:20\n收件人: 后勤管理中心\n"
        "主题: 报修"
    )

    assert strip_reply(body) == "维修安排如下\n时间：12月4日上午"


ATTRIBUTIONS = {
    "netease_webmail": f"At 2026-12-03 10:20:38, {QUOTED_OFFICE} wrote:",
    "mailmaster_zh": f"在 2026-12-03 10:20:38，{QUOTED_OFFICE} 写道：",
    "mailmaster_en": f"On 2026-12-03 10:20:38，{QUOTED_OFFICE} wrote：",
    "mailmaster_pc": "On 12/3/2026 14:12，学生诉求办公室<suqiu@gxgcedu.cn> wrote： ",
    "gmail_zh": f"{OFFICE} 于2026年12月3日周四 上午10:21写道：",
    "gmail_zh_wrapped": f"{OFFICE} 于2026年12月3日周四\n上午10:21写道：",
    "gmail_en": f"On Thu, Dec 3, 2026 at 10:21 AM {OFFICE} wrote:",
    "gmail_en_wrapped_in_address": (
        "On Thu, Dec 3, 2026 at 10:21\u202fAM 学生诉求办公室 <\nsuqiu@gxgcedu.cn>"
        " wrote:"
    ),
    "gmail_en_wrapped_before_wrote": (
        f"On Thu, Dec 3, 2026 at 10:21 AM {OFFICE}\nwrote:"
    ),
    "apple_mail_zh": f"2026年12月3日 上午10:21，{OFFICE} 写道：",
    "iphone_zh": f"在 2026年12月3日，上午10:21，{OFFICE} 写道：",
    "apple_en": f"On Dec 3, 2026, at 10:21, {OFFICE} wrote:",
    "thunderbird_zh": "在 2026/12/3 10:21, 学生诉求办公室 写道:",
}


@pytest.mark.parametrize("line", ATTRIBUTIONS.values(), ids=ATTRIBUTIONS.keys())
def test_attribution_starts_the_quote(line: str) -> None:
    """Each client's "… wrote:" / "…写道：" line, even wrapped, starts the quote."""
    body = f"不满意，问题还没有解决。\n\n{line}\n\n{QUOTED_BODY}"

    assert strip_reply(body) == "不满意，问题还没有解决。"


def test_typed_line_above_a_wrapped_attribution_is_kept() -> None:
    """Joining a wrapped attribution never pulls in the typed line above it."""
    body = (
        "谢谢\n学生诉求办公室 <suqiu@gxgcedu.cn> 于2026年12月3日周四\n上午10:21写道：\n"
        "\n> 请评价"
    )

    assert strip_reply(body) == "谢谢"


@pytest.mark.parametrize(
    "body",
    [
        "还是没修好。\n老师在回信中写道：\n“已经安排维修”，但是一直没人来。",
        "Still broken.\nOn Monday the repairman wrote:\nhe would come back later.",
    ],
    ids=["zh_without_time", "en_without_date"],
)
def test_typed_sentence_ending_in_wrote_is_kept(body: str) -> None:
    """A typed "…写道：" with no time or address in it is not an attribution."""
    assert strip_reply(body) == body


def test_quoted_lines_are_dropped_between_answers() -> None:
    """In an interleaved reply the "> " lines go and every answer stays."""
    body = "> 问题解决了吗？\n解决了\n\n> 是否满意？\n满意"

    assert strip_reply(body) == "解决了\n\n满意"


def test_bottom_posted_answer_under_attribution_is_found() -> None:
    """An answer typed below an attribution and its "> " lines is kept alone."""
    body = "在 2026/12/4 10:20, 学生诉求办公室 写道:\n> 请评价\n> 1 2 3\n\n3\n"

    assert strip_reply(body) == "3"


def test_bottom_posted_answer_under_quoted_attribution_is_found() -> None:
    """iPhone-style "> On … wrote:" inside the quote still leaves the answer."""
    body = f"> On Dec 4, 2026, at 10:20, {OFFICE} wrote:\n> 请评价\n\n2"

    assert strip_reply(body) == "2"


SIGNATURES = [
    "-- ",
    "--",
    "------------------",
    "发自我的iPhone",
    "发自我的 iPad",
    "发自我的华为手机",
    "发自我的荣耀手机",
    "发自我的小米手机",
    "发自我的企业微信",
    "发自网易邮箱大师",
    "来自 QQ邮箱",
    "Sent from my iPhone",
    "Sent from my Huawei phone",
    "Get Outlook for Android",
    "Get Outlook for iOS<https://aka.ms/o0ukef>",
    "获取 Outlook for iOS",
    "从 Windows 版邮件发送",
]


@pytest.mark.parametrize("signature", SIGNATURES)
def test_signature_and_what_follows_it_are_dropped(signature: str) -> None:
    """A signature separator or a phone's fixed line ends what was typed."""
    body = f"满意，谢谢老师！\n\n{signature}\n王老师\n电话：0772-3152110"

    assert strip_reply(body) == "满意，谢谢老师！"


@pytest.mark.parametrize(
    "line",
    [
        "发自内心地感谢老师！",
        "发自我的内心，感谢老师。",
        "来自机电工程学院的同学",
        "Sent from the dormitory office at 9 pm, thanks.",
        "-----",
    ],
)
def test_typed_line_resembling_a_signature_is_kept(line: str) -> None:
    """Lines that only look like signatures stay with the typed text."""
    body = f"满意\n{line}\n谢谢"

    assert strip_reply(body) == body


# --- HTML markers --------------------------------------------------------------

QUOTE = "<div>学生诉求办公室：</div><div>诉求编号：SQ20261203-0007</div>"
HTML_MARKERS = {
    "outlook_divRplyFwdMsg": f'<div id="divRplyFwdMsg"><b>发件人:</b> x</div>{QUOTE}',
    "outlook_reprefixed": f'<div id="x_divRplyFwdMsg"><b>From:</b> x</div>{QUOTE}',
    "outlook_appendonsend": f'<div id="appendonsend"></div><hr><div>{QUOTE}</div>',
    "outlook_signature": f'<div id="Signature">陈科长</div><hr>{QUOTE}',
    "outlook_mobile": (
        f'<div id="mail-editor-reference-message-container">{QUOTE}</div>'
    ),
    "netease_isReplyContent": f'<blockquote id="isReplyContent">{QUOTE}</blockquote>',
    "mailmaster_pc": f'<blockquote id="ntes-pcmail-quote">{QUOTE}</blockquote>',
    "mailmaster_ios": f'<blockquote id="ntes-iosmail-quote">{QUOTE}</blockquote>',
    "mailmaster_android": (
        f'<blockquote id="ntes-andriodmail-quote">{QUOTE}</blockquote>'
    ),
    "flashmail": f'<blockquote id="ntes-flashmail-quote">{QUOTE}</blockquote>',
    "mailmaster_reprefixed": (
        f'<blockquote id="1764819900ntes-pcmail-quote">{QUOTE}</blockquote>'
    ),
    "mailmaster_j_reply": f'<div class="J-reply">On … wrote：</div>{QUOTE}',
    "sina_origbody": f'<div id="origbody">{QUOTE}</div>',
    "gmail_quote": f'<div class="gmail_quote gmail_quote_container">{QUOTE}</div>',
    "gmail_requoted_by_outlook": f'<div class="x_gmail_quote">{QUOTE}</div>',
    "gmail_signature": f'<div class="gmail_signature">Zhang Wei</div>{QUOTE}',
    "apple_cite": f'<blockquote type="cite">{QUOTE}</blockquote>',
    "thunderbird": (
        '<div class="moz-cite-prefix">'
        "在 2026/12/3 10:21, 学生诉求办公室 写道:<br></div>"
        f'<blockquote type="cite" cite="mid:x@gxgcedu.cn">{QUOTE}</blockquote>'
    ),
    "qq_separator_div": (
        '<div style="font-size: 12px;font-family: Arial Narrow;padding:2px 0 2px 0;">'
        f"------------------&nbsp;原始邮件&nbsp;------------------</div>{QUOTE}"
    ),
    "qq_sign": f'<div><sign signid="0"><div>王喆</div></sign></div>{QUOTE}',
    "outlook_word_box": (
        "<div style='border:none;border-top:solid #E1E1E1 1.0pt;"
        "padding:3.0pt 0cm 0cm 0cm'>"
        "<p class=MsoNormal><b>发件人<span lang=EN-US>:</span></b> 学生诉求办公室</p>"
        f"</div>{QUOTE}"
    ),
}


@pytest.mark.parametrize("marker", HTML_MARKERS.values(), ids=HTML_MARKERS.keys())
def test_html_marker_starts_the_quote(marker: str) -> None:
    """Each client's quote element, its id matched by suffix, ends the typed part."""
    html = f"<div>已处理，谢谢。</div><div><br></div>{marker}<div>尾部</div>"

    assert strip_reply("", html) == "已处理，谢谢。"


@pytest.mark.parametrize(
    "element",
    [
        '<div style="border-top:1px solid #ccc">备注：请保持电话畅通</div>',
        "<blockquote>备注：请保持电话畅通</blockquote>",
        '<div id="signature-note">备注：请保持电话畅通</div>',
    ],
    ids=["border_top_not_a_header", "blockquote_not_cite", "id_not_a_suffix"],
)
def test_look_alike_html_element_is_kept(element: str) -> None:
    """Elements that only resemble quote markers are kept as typed text."""
    assert (
        strip_reply("", f"<div>已处理</div>{element}") == "已处理\n备注：请保持电话畅通"
    )


def test_html_marker_wins_over_unmarked_plain_text() -> None:
    """With both bodies given, the HTML structure decides where the quote starts."""
    text = "满意\n\n请评价办理结果"
    html = '<div>满意</div><blockquote type="cite">请评价办理结果</blockquote>'

    assert strip_reply(text, html) == "满意"


def test_html_without_markers_falls_back_to_text_markers() -> None:
    """HTML with no quote element is cut at the text markers of its own text."""
    html = (
        "<p>已处理</p><p>发件人: 学生诉求办公室</p><p>发送时间: 2026年12月3日 10:20</p>"
        "<p>收件人: 后勤管理中心</p><p>主题: 报修</p><p>原文</p>"
    )

    assert strip_reply("", html) == "已处理"


def test_plain_part_answers_when_html_gives_nothing() -> None:
    """A bottom-posted answer missing from the HTML cut is found in the plain part."""
    html = '<blockquote type="cite">请评价</blockquote><div>3</div>'
    text = f"On Dec 4, 2026, at 10:20, {OFFICE} wrote:\n> 请评价\n\n3"

    assert strip_reply(text, html) == "3"


def test_html_only_mail_with_derived_text_gives_the_same() -> None:
    """Text a parser derived from the HTML does not change the HTML's answer."""
    html = (
        "<div>3</div><div>不满意</div><div>发自我的华为手机</div>"
        "<div>-------- 原始邮件 --------</div><div>发件人： 学生诉求办公室</div>"
    )
    derived = (
        "3\n不满意\n发自我的华为手机\n-------- 原始邮件 --------\n"
        "发件人： 学生诉求办公室"
    )

    assert strip_reply(derived, html) == strip_reply("", html) == "3\n不满意"


HTML_TEXT = {
    "head_script_style_dropped": (
        '<!DOCTYPE html PUBLIC "-//W3C//DTD HTML 4.0 Transitional//EN">'
        "<html><head><title>t</title><style>p{color:red}</style></head>"
        '<?xml:namespace prefix = o ns = "urn:schemas-microsoft-com:office:office" />'
        "<body><script>alert(1)</script><p>满意</p><noscript>n</noscript></body></html>",
        "满意",
    ),
    "nbsp_becomes_space": ("<div>&nbsp;&nbsp;您好&nbsp;老师</div>", "  您好 老师"),
    "blank_lines_collapse": (
        "<div>第一段</div><div><br></div><div><br></div><div><br></div><div>第二段</div>",
        "第一段\n\n第二段",
    ),
    "blocks_break_inline_does_not": (
        "<p>第一行<b>加粗</b><span>继续</span></p><p>第二行</p><ul><li>一</li><li>二</li></ul>",
        "第一行加粗继续\n第二行\n一\n二",
    ),
    "br_breaks": ("满意<br>谢谢<br><br><br>老师", "满意\n谢谢\n\n老师"),
    "source_whitespace_collapses": (
        "<div>\n    满意\n    谢谢\n</div>\n\n<div>x</div>",
        "满意 谢谢\nx",
    ),
    "pre_keeps_whitespace": ("<pre>  编号\n  SQ1</pre>", "  编号\n  SQ1"),
    "cells_are_spaced": (
        "<table><tr><td>编号</td><td>SQ1</td></tr></table>",
        "编号 SQ1",
    ),
    "comments_and_zero_width_dropped": ("<div>满\u200b意<!-- x --></div>", "满意"),
    "word_paragraphs": (
        "<p class=MsoNormal>甲<o:p></o:p></p><p class=MsoNormal><o:p>&nbsp;</o:p></p>"
        "<p class=MsoNormal>乙<o:p></o:p></p>",
        "甲\n\n乙",
    ),
}


@pytest.mark.parametrize(("html", "text"), HTML_TEXT.values(), ids=HTML_TEXT.keys())
def test_html_is_laid_out_as_a_reader_sees_it(html: str, text: str) -> None:
    """HTML becomes the lines a mail reader shows, without markup or hidden text."""
    assert strip_reply("", html) == text


# --- Fallbacks and robustness -------------------------------------------------


def test_all_quoted_returns_text_before_first_marker() -> None:
    """When nothing typed survives, the text above the first marker comes back."""
    body = "发自我的iPhone\n\n-----原始邮件-----\n发件人: 学生诉求办公室\n请评价"

    assert strip_reply(body) == "发自我的iPhone"


def test_mail_starting_with_a_marker_returns_whole_text() -> None:
    """A body that is all quote comes back whole rather than empty."""
    body = "\n-----原始邮件-----\n发件人: 学生诉求办公室\n请评价\n"

    assert strip_reply(body) == body.strip()


def test_only_quoted_lines_returns_them() -> None:
    """A body of nothing but "> " lines comes back rather than an empty string."""
    assert strip_reply("> 请评价\n> 1 2 3") == "> 请评价\n> 1 2 3"


@pytest.mark.parametrize(("text", "html"), [("", None), (" \n\t", None), ("", " ")])
def test_empty_mail_gives_empty_string(text: str, html: str | None) -> None:
    """An empty or blank body gives an empty string."""
    assert strip_reply(text, html) == ""


PATHOLOGICAL = {
    "unclosed_cite": ("满意", "<div>满意</div><blockquote type=cite"),
    "not_html": ("", "<<<>>>"),
    "nul_bytes": ("", "\x00<div>满意\x00</div>"),
    "lone_surrogate": ("满意\ud800", "<div>满意\ud800</div>"),
    "deep_nesting": ("", "<div>" * 20000 + "满意" + "</div>" * 20000),
    "deep_quotes": ("", "<div>满意</div>" + '<blockquote type="cite">' * 5000),
    "long_dash_line": ("-" * 200000, "<div>" + "-" * 200000 + "</div>"),
    "unclosed_comments": ("满意", "<!--" * 50000 + "满意"),
    "many_header_lines": ("发件人: x\n" * 50000, None),
    "many_attribution_like_lines": ("On 10:20 <a@b>\n" * 50000, None),
}


@pytest.mark.parametrize(
    ("text", "html"), PATHOLOGICAL.values(), ids=PATHOLOGICAL.keys()
)
def test_odd_input_never_raises(text: str, html: str | None) -> None:
    """Broken or hostile bodies give some text quickly and raise nothing."""
    started = time.perf_counter()
    result = strip_reply(text, html)
    taken = time.perf_counter() - started

    assert isinstance(result, str)
    assert result
    assert taken < 5


def test_internal_failure_returns_whole_text(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """An unexpected error inside is logged and the whole body is returned."""

    def broken(text: str, html: str | None) -> str:
        raise RuntimeError("boom")

    monkeypatch.setattr(quotes, "_strip", broken)
    with caplog.at_level(logging.WARNING, logger="ingest.quotes"):
        result = strip_reply("  满意\n\n-----原始邮件-----\n请评价 ", "<div>x</div>")

    assert result == "满意\n\n-----原始邮件-----\n请评价"
    assert "quote stripping failed" in caplog.text


@pytest.mark.parametrize(
    "name", ["qq_web_student_satisfied", "thunderbird_bottom_post_rating"]
)
def test_typical_reply_takes_well_under_a_millisecond(name: str) -> None:
    """A typical student reply, HTML or plain, is stripped in under 1 ms."""
    text, html = _bodies(REPLIES / f"{name}.eml")

    best = min(timeit.repeat(lambda: strip_reply(text, html), number=20, repeat=5))

    assert best / 20 < 0.001


# --- Subjects ------------------------------------------------------------------

SUBJECTS = [
    ("Re: 宿舍热水器不出热水", "宿舍热水器不出热水"),
    ("RE: 宿舍热水器", "宿舍热水器"),
    ("Re:宿舍热水器", "宿舍热水器"),
    ("Fw: 宿舍热水器", "宿舍热水器"),
    ("FW:宿舍热水器", "宿舍热水器"),
    ("Fwd: 宿舍热水器", "宿舍热水器"),
    ("回复：【学生诉求】宿舍热水器", "【学生诉求】宿舍热水器"),
    ("回复: 宿舍热水器", "宿舍热水器"),
    ("答复: 宿舍热水器", "宿舍热水器"),
    ("答复：宿舍热水器", "宿舍热水器"),
    ("转发：宿舍热水器", "宿舍热水器"),
    ("转发: 宿舍热水器", "宿舍热水器"),
    ("Fwd：宿舍热水器", "宿舍热水器"),
    ("Re: 回复：答复: RE:Fw: 宿舍热水器", "宿舍热水器"),
    ("  Re :  宿舍热水器  ", "宿舍热水器"),
    ("Re[2]: 宿舍热水器", "宿舍热水器"),
    ("RE (2): 宿舍热水器", "宿舍热水器"),
    ("Re: [External] 宿舍热水器", "[External] 宿舍热水器"),
    ("[External] Re: 宿舍热水器", "[External] Re: 宿舍热水器"),
    ("Review: 宿舍热水器", "Review: 宿舍热水器"),
    ("Reply: 宿舍热水器", "Reply: 宿舍热水器"),
    ("【诉求办理单】回复：宿舍热水器", "【诉求办理单】回复：宿舍热水器"),
    ("", ""),
]


@pytest.mark.parametrize(("subject", "expected"), SUBJECTS)
def test_subject_prefixes_are_removed(subject: str, expected: str) -> None:
    """Leading reply and forward prefixes go, repeated; tags and the rest stay."""
    assert strip_subject_prefixes(subject) == expected


def test_long_subject_prefix_run_is_fast() -> None:
    """A hostile run of prefixes or spaces is handled in linear time."""
    subjects = ["Re: " * 50000 + "x", "re" + " " * 50000 + "x"]

    taken = min(
        timeit.repeat(lambda: [strip_subject_prefixes(s) for s in subjects], number=1)
    )

    assert taken < 1
