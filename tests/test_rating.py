"""Tests for routing.rating: a student's 满意度评价 read from the top of a reply."""

import pytest

from routing.rating import Rating, read_rating

SATISFIED = [
    "满意",
    "满意。",
    "非常满意！",
    "很满意",
    "十分满意，感谢老师们的帮助",
    "满意，谢谢",
    "满意,谢谢老师",
    "挺满意的",
    "1",
    "A",
    "a",
    "选A",
    "我选1",
    "１",
    "Ａ",
    "①",
    "(1)",
    "1、满意",
    "A. 满意",
    "没有不满意",
    "没什么不满意的，谢谢",
]

FAIRLY_SATISFIED = [
    "较满意",
    "比较满意",
    "基本满意，希望以后能快一点",
    "还算满意",
    "还行",
    "还行吧",
    "还可以",
    "我觉得还行",
    "2",
    "B",
    "２",
    "②",
    "2 较满意",
]

DISSATISFIED = [
    "不满意",
    "不满意！",
    "不太满意",
    "很不满意",
    "非常不满意，问题根本没解决",
    "不是很满意",
    "不怎么满意",
    "3",
    "C",
    "３",
    "③",
    "问题没解决",
    "问题还是没有解决。",
    "热水到现在都没有解决",
    "3 不满意",
]

NO_RATING = [
    "",
    "   \n\n  ",
    "谢谢老师",
    "收到",
    "满意度调查是什么时候？",
    "您是否满意是指什么？",
    "还可以再快一点吗",
    "2026年",
    "1楼的热水还是停了",
    "A bit slow",
    "不是不满意，就是有点慢",
    "满意\n但是食堂的问题还是没解决",
    "满意，但不满意的是拖了太久",
    "1 不满意",
    "较满意\n总体满意",
]


@pytest.mark.parametrize("text", SATISFIED)
def test_satisfied(text: str) -> None:
    """Every way of saying 满意, and options 1 / A, reads as 满意."""
    assert read_rating(text) == "满意"


@pytest.mark.parametrize("text", FAIRLY_SATISFIED)
def test_fairly_satisfied(text: str) -> None:
    """较满意, 基本满意, 还行 and options 2 / B read as 较满意."""
    assert read_rating(text) == "较满意"


@pytest.mark.parametrize("text", DISSATISFIED)
def test_dissatisfied(text: str) -> None:
    """不满意 in all its forms, "问题没解决" and options 3 / C read as 不满意."""
    assert read_rating(text) == "不满意"


@pytest.mark.parametrize("text", NO_RATING)
def test_no_rating_or_ambiguous(text: str) -> None:
    """Text without a rating, or with ratings that disagree, reads as None."""
    assert read_rating(text) is None


def test_dissatisfied_is_never_read_as_satisfied() -> None:
    """ "不满意" contains "满意", yet is read whole."""
    rating: Rating | None = read_rating("不满意")
    assert rating == "不满意"


def test_only_first_lines_are_read() -> None:
    """A rating word far below the top of the reply does not count."""
    text = "老师好\n\n收到回复了\n\n我再想想\n\n最后一行写满意"
    assert read_rating(text) is None


def test_greeting_before_rating() -> None:
    """A greeting on the first line does not hide the rating below it."""
    assert read_rating("老师您好：\n非常满意，谢谢！") == "满意"


def test_quoted_request_is_not_read() -> None:
    """Our own request, quoted below the answer, does not make it ambiguous."""
    text = "满意\n> 请回复：1 满意 2 较满意 3 不满意\n> 学生工作处"
    assert read_rating(text) == "满意"


def test_qq_original_mail_block_is_not_read() -> None:
    """QQ Mail's "原始邮件" divider ends what is read."""
    text = (
        "较满意\n\n"
        "------------------ 原始邮件 ------------------\n"
        '发件人: "学生工作处" <gxgcxgc2017@163.com>\n'
        "主题: 【诉求 2026-0012】请评价办理结果\n"
        "请回复 满意 / 较满意 / 不满意"
    )
    assert read_rating(text) == "较满意"


def test_gmail_attribution_ends_reading() -> None:
    """Gmail's "…写道：" line ends what is read."""
    text = (
        "3\n"
        "学生工作处 <gxgcxgc2017@163.com> 于2026年12月3日周四 上午10:21写道：\n"
        "> 1 满意"
    )
    assert read_rating(text) == "不满意"


def test_mobile_signature_is_not_read() -> None:
    """ "发自我的iPhone" below a rating is a signature, not text."""
    assert read_rating("不太满意\n\n发自我的iPhone") == "不满意"
