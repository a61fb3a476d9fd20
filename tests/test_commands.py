"""Tests for routing.commands: staff commands written on top of a reply."""

from datetime import date

import pytest

from routing.commands import MAX_COMMANDS, Command, CommandProblem, read_commands

TODAY = date(2026, 12, 10)


def read(text: str) -> Command | CommandProblem | None:
    """Read *text* as staff would send it on TODAY: its first command."""
    orders = read_commands(text, today=TODAY)
    return orders[0].command if orders else None


def read_all(text: str) -> list[tuple[str, Command | CommandProblem]]:
    return [(o.line, o.command) for o in read_commands(text, today=TODAY)]


def problem_message(text: str) -> str:
    """Return the problem's message for *text*, failing if it reads otherwise."""
    result = read(text)
    assert isinstance(result, CommandProblem), result
    return result.message


# --- 转交 ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "转交 教务处",
        "转交：教务处",
        "转交:教务处",
        "转交　教务处",
        "转交教务处",
        "转交给教务处",
        "转交 ：教务处。",
        "  转交 教务处  ",
        "转办 教务处",
        "改派：教务处",
    ],
)
def test_assign_forms(text: str) -> None:
    """转交 / 转办 / 改派 with any colon or space name the unit as written."""
    assert read(text) == Command("assign", unit="教务处")


def test_assign_keeps_note_for_the_unit() -> None:
    """Text after the unit is kept as a note."""
    assert read("转交 后勤管理中心 请三天内答复，谢谢") == Command(
        "assign", unit="后勤管理中心", reason="请三天内答复，谢谢"
    )


def test_assign_unit_with_inner_conjunction() -> None:
    """A unit whose name holds "与" is one unit, not two."""
    assert read("转交 汽车与机电学院") == Command("assign", unit="汽车与机电学院")


def test_assign_without_unit_is_a_problem() -> None:
    """A bare 转交 asks for the unit, in the verb the staff member used."""
    assert problem_message("转交") == "“转交”后面需要写单位名称，例如：转交 教务处"
    assert problem_message("改派：") == "“改派”后面需要写单位名称，例如：改派 教务处"


def test_assign_to_two_units_is_a_problem() -> None:
    """Two units at once is refused with the right form."""
    message = problem_message("转交 教务处、后勤管理中心")
    assert "只能写一个单位" in message
    assert "转交 教务处" in message


def test_assign_as_part_of_a_sentence_is_not_a_command() -> None:
    """ "转交的材料已收到" is a sentence, not a command."""
    assert read("转交的材料已收到，谢谢") is None


# --- 重大 ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "重大 截止 2026-12-20",
        "重大 截止 2026/12/20",
        "重大：截止 2026.12.20",
        "重大，截止12月20日",
        "重大 截至 12月20号",
        "重大 截止 2026年12月20日",
        "重大 12-20",
        "重大 12/20",
        "重大截止12月20日前",
        "重大 截止：２０２６－１２－２０",
        "重大问题 截止 2026-12-20",
    ],
)
def test_escalate_with_deadline(text: str) -> None:
    """Every accepted way of writing the deadline gives the same date."""
    assert read(text) == Command("escalate", due=date(2026, 12, 20))


def test_escalate_without_deadline() -> None:
    """A bare 重大 hands the case to the leading group without a deadline."""
    assert read("重大") == Command("escalate")
    assert read("重大问题") == Command("escalate")


def test_escalate_with_deadline_and_note() -> None:
    """Text after the date is kept as the reason."""
    assert read("重大 截止 12月20日 多个学院学生反映同一问题") == Command(
        "escalate", due=date(2026, 12, 20), reason="多个学院学生反映同一问题"
    )


def test_escalate_with_reason_only() -> None:
    """Words without a date after 重大 are the reason."""
    assert read("重大 涉及多个部门") == Command("escalate", reason="涉及多个部门")


def test_escalate_deadline_today_is_allowed() -> None:
    """Today is not in the past."""
    assert read("重大 截止 2026-12-10") == Command("escalate", due=TODAY)


def test_escalate_past_date_is_a_problem() -> None:
    """A deadline already past is refused, naming today and an example."""
    assert problem_message("重大 截止 2026-12-01") == (
        "截止日期 2026-12-01 已经过去，请写今天（2026-12-10）或以后的日期，"
        "例如：重大 截止 2026-12-24"
    )


def test_escalate_yearless_past_date_is_a_problem() -> None:
    """ "11月5日" written in December is this year's, and past."""
    assert "已经过去" in problem_message("重大 截止 11月5日")


def test_escalate_yearless_date_early_next_year() -> None:
    """ "1月5日" written in December means next January."""
    assert read("重大 截止 1月5日") == Command("escalate", due=date(2027, 1, 5))


def test_escalate_yearless_date_far_ahead_is_not_rolled() -> None:
    """A year-less date passed by days is a mistake, not next year's date."""
    result = read("重大 截止 12-08")
    assert isinstance(result, CommandProblem)


def test_escalate_impossible_date_is_a_problem() -> None:
    """2月30日 is refused as a date that does not exist."""
    assert problem_message("重大 截止 2027-02-30").startswith("日期“2027-02-30”不存在")


@pytest.mark.parametrize("text", ["重大 截止 下周五", "重大 12月底", "重大 截止"])
def test_escalate_unreadable_deadline_is_a_problem(text: str) -> None:
    """A deadline meant but not written as a date asks for the right form."""
    message = problem_message(text)
    assert message.startswith("没能读懂“重大”后面的截止日期")
    assert "重大 截止 2026-12-24" in message


# --- 不予受理, 办结, 销号 -------------------------------------------------------------


def test_decline_with_reason() -> None:
    """不予受理 keeps its reason as written, Chinese punctuation included."""
    assert read("不予受理：该事项属于个人私事，不属于受理范围。") == Command(
        "decline", reason="该事项属于个人私事，不属于受理范围"
    )


def test_decline_without_reason_is_a_problem() -> None:
    """不予受理 without a reason asks for one, with an example."""
    assert problem_message("不予受理") == (
        "“不予受理”后面需要写明理由，例如：不予受理 该事项不属于学生诉求受理范围"
    )


@pytest.mark.parametrize("verb", ["办结", "销号"])
def test_close_with_reason(verb: str) -> None:
    """办结 and 销号 close the case with the reason given."""
    assert read(f"{verb} 已电话答复学生，问题已解决") == Command(
        "close", reason="已电话答复学生，问题已解决"
    )


def test_close_reason_on_next_line() -> None:
    """A reason written on the line under a bare 办结 counts."""
    assert read("办结\n已当面答复学生。") == Command("close", reason="已当面答复学生")


def test_close_without_reason_is_a_problem() -> None:
    """办结 without a reason asks for one."""
    assert problem_message("办结：") == (
        "“办结”后面需要写明理由，例如：办结 已当面答复学生，问题已解决"
    )


# --- 公开, 保密, 取消保密 -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "verb"),
    [
        ("公开", "public"),
        ("公开。", "public"),
        ("保密", "confidential"),
        ("保密！", "confidential"),
        ("取消保密", "unconfidential"),
    ],
)
def test_flags(text: str, verb: str) -> None:
    """公开, 保密 and 取消保密 stand alone as commands."""
    result = read(text)
    assert isinstance(result, Command)
    assert result.verb == verb
    assert result.reason is None


def test_unconfidential_is_not_read_as_confidential() -> None:
    """取消保密 is read whole, never as 保密."""
    assert read("取消保密：学生同意公开") == Command(
        "unconfidential", reason="学生同意公开"
    )


@pytest.mark.parametrize(
    "text", ["公开栏已经张贴", "保密工作会议下午开", "重大节日值班安排"]
)
def test_words_starting_sentences_are_not_commands(text: str) -> None:
    """A sentence that merely begins with a command word is no command."""
    assert read(text) is None


# --- where commands are read --------------------------------------------------


def test_greeting_before_command() -> None:
    """A greeting on the first line does not hide the command below it."""
    assert read("收到。\n转交 教务处") == Command("assign", unit="教务处")


def test_no_command() -> None:
    """An ordinary reply holds no command."""
    assert read("您好，材料已收到，我们会尽快处理。\n\n学生工作处 陈老师") is None
    assert read("") is None


def test_quoted_command_is_not_read() -> None:
    """A command inside the quoted mail is not the staff member's."""
    assert read("> 转交 教务处") is None
    assert read("好的\n\n-----原始邮件-----\n转交 教务处") is None
    assert read("收到\n发件人：学生工作处\n转交 教务处") is None


def test_only_first_lines_are_read() -> None:
    """A command far below the top of the reply is not read."""
    assert read("一\n二\n三\n转交 教务处") is None


def test_a_block_of_commands_is_read_in_order() -> None:
    """Commands on consecutive lines are all read, in the order written."""
    assert read_all("保密\n转交 教务处") == [
        ("保密", Command("confidential")),
        ("转交 教务处", Command("assign", unit="教务处")),
    ]


def test_a_reason_below_its_verb_stays_with_it_in_a_block() -> None:
    """办结 with its reason on the next line, then 公开: two commands."""
    assert read_all("收到\n办结\n已当面答复学生\n公开\n\n陈老师") == [
        ("办结 已当面答复学生", Command("close", reason="已当面答复学生")),
        ("公开", Command("public")),
    ]


def test_prose_ends_the_block() -> None:
    """A line that is no command ends the block: a command below it is the
    staff member's prose or quoting, not an order."""
    assert read_all("转交 教务处\n请尽快处理\n公开") == [
        ("转交 教务处", Command("assign", unit="教务处"))
    ]


def test_each_command_of_a_block_is_judged_alone() -> None:
    """A problem with one line does not hide the commands around it."""
    orders = read_all("不予受理\n转交 教务处")
    assert isinstance(orders[0][1], CommandProblem)
    assert orders[1] == ("转交 教务处", Command("assign", unit="教务处"))


def test_a_block_holds_a_bounded_number_of_commands() -> None:
    text = "\n".join(["公开", "保密"] * MAX_COMMANDS)
    assert len(read_all(text)) == MAX_COMMANDS
