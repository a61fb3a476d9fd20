"""The handling cycle by mail: 办理单 out, the unit's answer in and forwarded,
the student's rating, escalation, staff commands, confidentiality, crisis."""

import io
import json
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from docx import Document

from store.db import transaction
from suqiu import actions
from tests.deployment import ADMIN, Deployment, appeal, reply_to

SHANGHAI = ZoneInfo("Asia/Shanghai")
HOT_WATER = "7栋312宿舍热水器坏了两周"
HOT_WATER_TEXT = (
    "老师您好：\n我是土木工程学院土木2301班的覃志强，学号2023010517，"
    "住7栋312。宿舍热水器坏了两个星期，报修三次都没人来修，洗澡很不方便。\n"
    "联系电话：13877665544\n辅导员：刘老师\n"
)
STUDENT = "qinzhiqiang@qq.com"
UNIT_REPLY = "您好，后勤管理中心已于12月4日更换7栋312宿舍热水器，现已恢复使用。"


def show(site: Deployment, number: str) -> dict[str, Any]:
    data = json.loads(site.cli("show", number, "--json").stdout)
    assert isinstance(data, dict)
    return data


def only_case(site: Deployment) -> dict[str, Any]:
    [case] = json.loads(site.cli("cases", "--json").stdout)
    return show(site, case["number"])


def qq_style_reply(original: EmailMessage, text: str, *, sender: str) -> bytes:
    """A reply the way QQ Mail writes it: plain and HTML, original quoted."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = original["From"]
    message["Subject"] = "回复：" + str(original["Subject"])
    message["Message-ID"] = make_msgid(domain="qq.com")
    message["In-Reply-To"] = original["Message-ID"]
    message["References"] = original["Message-ID"]
    quoted = original.get_body(("plain",))
    quoted_text = quoted.get_content() if quoted is not None else ""
    message.set_content(
        f"{text}\n\n\n------------------&nbsp;原始邮件&nbsp;------------------\n"
        f'发件人: "学生工作处"<gxgcxgc2017@163.com>;\n'
        f"发送时间: 2026年12月3日(星期四) 上午10:00\n"
        f'收件人: "{sender}"<{sender}>;\n'
        f"主题: {original['Subject']}\n\n{quoted_text}"
    )
    message.add_alternative(
        f"<div>{text}</div><div><br></div>"
        '<div style="font-size: 12px;font-family: Arial Narrow;padding:2px 0 2px 0;">'
        "------------------&nbsp;原始邮件&nbsp;------------------</div>"
        '<div style="font-size: 12px;background:#efefef;padding:8px;">'
        '<div><b>发件人:</b>&nbsp;"学生工作处"&lt;gxgcxgc2017@163.com&gt;;</div>'
        f"<div><b>主题:</b>&nbsp;{original['Subject']}</div></div>"
        f"<div><br></div><pre>{quoted_text}</pre>",
        subtype="html",
    )
    return message.as_bytes()


def received_form(site: Deployment, count: int = 1) -> EmailMessage:
    forms = site.wait_for_kind("form", count)
    return forms[count - 1].message()


def docx_part(form: EmailMessage) -> bytes:
    """The bytes of the .docx attached to *form*."""
    part = next(
        p for p in form.iter_attachments() if str(p.get_filename()).endswith(".docx")
    )
    data = part.get_payload(decode=True)
    assert isinstance(data, bytes)
    return data


def form_docx_text(form: EmailMessage) -> str:
    document = Document(io.BytesIO(docx_part(form)))
    cells = [
        cell.text
        for table in document.tables
        for row in table.rows
        for cell in row.cells
    ]
    return "\n".join([p.text for p in document.paragraphs] + cells)


def plain(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def test_whole_cycle_to_satisfied(deployment: Deployment) -> None:
    """A dorm hot-water appeal goes to 后勤管理中心 with a 办理单 (.docx with
    the 附件2 fields); the unit's QQ-style reply reaches the student without
    the quote or the unit's address; 满意 closes the case."""
    deployment.deliver(
        "xgc", appeal(HOT_WATER, HOT_WATER_TEXT, sender=STUDENT, name="覃志强")
    )
    deployment.poll()

    case = only_case(deployment)
    assert case["status"] == "assigned" and case["unit"] == "后勤管理中心"
    assert case["category"] == "教学管理服务"
    form = received_form(deployment)
    recipients = {a.addr_spec for a in form["To"].addresses}
    assert recipients == {"hqzx@example.edu.cn", "hq-office@example.edu.cn"}
    assert case["number"] in form["Subject"]
    assert STUDENT not in form.as_string()
    text = form_docx_text(form)
    for label in (
        "编号",
        "诉求主题",
        "日　期",
        "学生班级",
        "学生姓名",
        "辅导员姓名",
        "联系方式",
        "学生工作处",
        "职能部门处",
        "学生满意度",
    ):
        assert label in text, label
    assert case["number"] in text and "覃志强" in text and "土木2301班" in text
    assert "报修三次都没人来修" in text and "报修三次都没人来修" in plain(form)

    deployment.deliver(
        "xgc", qq_style_reply(form, UNIT_REPLY, sender="hqzx@example.edu.cn")
    )
    deployment.poll()
    case = show(deployment, case["number"])
    assert case["status"] == "replied"
    [forward] = deployment.wait_for_kind("forward", 1)
    assert forward.rcpt_tos == [STUDENT]
    answer = forward.message()
    answer_text = plain(answer)
    assert UNIT_REPLY in answer_text
    assert "原始邮件" not in answer_text
    assert "hqzx@example.edu.cn" not in answer.as_string()
    unit_reply = [m for m in case["messages"] if m["kind"] == "unit_reply"]
    assert unit_reply[0]["text"].strip() == UNIT_REPLY

    deployment.deliver(
        "xgc", qq_style_reply(answer, "满意，谢谢老师！", sender=STUDENT)
    )
    deployment.poll()
    case = show(deployment, case["number"])
    assert case["status"] == "closed" and case["rating"] == "满意"
    kinds = [m["kind"] for m in case["messages"] if m["direction"] == "in"]
    assert kinds == ["appeal", "unit_reply", "rating"]


def test_unsatisfied_goes_to_the_leading_group(deployment: Deployment) -> None:
    """不满意 escalates the case, and the leading group gets the student's words."""
    deployment.deliver("xgc", appeal(HOT_WATER, HOT_WATER_TEXT, sender=STUDENT))
    deployment.poll()
    form = received_form(deployment)
    deployment.deliver(
        "xgc", qq_style_reply(form, UNIT_REPLY, sender="hqzx@example.edu.cn")
    )
    deployment.poll()
    [forward] = deployment.wait_for_kind("forward", 1)
    deployment.deliver(
        "xgc",
        qq_style_reply(
            forward.message(), "不满意，热水器换了还是不出热水。", sender=STUDENT
        ),
    )
    deployment.poll()

    case = only_case(deployment)
    assert case["status"] == "escalated" and case["rating"] == "不满意"
    [alert] = deployment.wait_for_kind("alert", 1)
    assert alert.rcpt_tos == [ADMIN]
    assert "热水器换了还是不出热水" in plain(alert.message())


def test_reply_from_outside_the_unit_changes_nothing(deployment: Deployment) -> None:
    """A reply in the thread from an address that is not the unit's (a forged
    or wrong sender) is held for staff; the case stays assigned."""
    deployment.deliver("xgc", appeal(HOT_WATER, HOT_WATER_TEXT, sender=STUDENT))
    deployment.poll()
    form = received_form(deployment)
    for impostor in ("hqzx@example.com.evil", "jwc@example.edu.cn"):
        deployment.deliver("xgc", qq_style_reply(form, UNIT_REPLY, sender=impostor))
    deployment.poll()

    case = only_case(deployment)
    assert case["status"] == "assigned"
    kinds = [m["kind"] for m in case["messages"] if m["direction"] == "in"]
    assert kinds == ["appeal", "unmatched", "unmatched"]
    assert deployment.sent_of_kind("forward") == []


def test_confidential_form_carries_no_personal_data(deployment: Deployment) -> None:
    """A student asking for confidentiality gets a 办理单 (mail and .docx)
    without name, class, 学号, phone, counselor or address, and no counselor copy."""
    text = HOT_WATER_TEXT + "请对我的身份保密，不要透露我的名字。\n"
    deployment.deliver("xgc", appeal(HOT_WATER, text, sender=STUDENT, name="覃志强"))
    deployment.poll()

    case = only_case(deployment)
    assert case["confidential"] is True
    form = received_form(deployment)
    everything = form.as_string() + plain(form) + form_docx_text(form)
    for secret in (
        "覃志强",
        "土木2301",
        "2023010517",
        "13877665544",
        "刘老师",
        STUDENT,
    ):
        assert secret not in everything, secret
    assert "（保密）" in form_docx_text(form)
    assert "报修三次都没人来修" in plain(form)  # the appeal itself is passed on


def test_teacher_conduct_is_always_confidential(deployment: Deployment) -> None:
    """Every 师德师风 case withholds the student's identity from the unit."""
    deployment.deliver(
        "shuji",
        appeal(
            "反映任课老师辱骂学生",
            "我是汽车与机电学院汽修2201班的李华，我们的任课老师上课经常辱骂学生，"
            "还暗示要送礼才能及格。电话13912345678。",
            sender="lihua@163.com",
            name="李华",
        ),
    )
    deployment.poll()
    case = only_case(deployment)
    assert case["category"] == "师德师风" and case["confidential"] is True
    form = received_form(deployment)
    everything = plain(form) + form_docx_text(form)
    assert "李华" not in everything and "13912345678" not in everything


def test_crisis_alerts_in_the_same_poll(deployment: Deployment) -> None:
    """A mail that reads as a psychological crisis alerts the counselling
    centre and the admins in the same poll; the ack gives the centre's phones
    before anything else."""
    deployment.deliver(
        "xgc",
        appeal(
            "最近很难受",
            "老师，我最近每天失眠，觉得活着没意思，真的不想活了。",
            sender="xiaolin@163.com",
        ),
    )
    deployment.poll()

    case = only_case(deployment)
    assert case["crisis"] is True
    [alert] = deployment.wait_for_kind("alert", 1)
    assert set(alert.rcpt_tos) == {"xlzx@example.edu.cn", ADMIN}
    assert "不想活了" in plain(alert.message())
    [ack] = deployment.wait_for_kind("ack", 1)
    ack_text = plain(ack.message())
    assert ack_text.index("0776-5825962") < ack_text.index("诉求编号")


def test_not_a_crisis_when_negated(deployment: Deployment) -> None:
    """'不是想自杀' in an ordinary complaint raises no alert."""
    deployment.deliver(
        "xgc",
        appeal("补考安排太紧", "我不是想自杀啊，只是补考安排得太紧了，三门连考。"),
    )
    deployment.poll()
    assert only_case(deployment)["crisis"] is False
    assert deployment.sent_of_kind("alert") == []


def command_reply(original: EmailMessage, text: str) -> bytes:
    return reply_to(original, text, sender=ADMIN, name="学工处王老师")


@pytest.mark.parametrize(
    ("command", "status", "check"),
    [
        ("转交 教务处", "assigned", lambda c: c["unit"] == "教务处"),
        (
            "重大 截止 2099-01-31",
            "escalated",
            lambda c: c["major"] and c["due_at"][:10] == "2099-01-31",
        ),
        ("不予受理 该事项属于个人消费纠纷，不在受理范围。", "declined", lambda c: True),
        ("办结 已与学生当面沟通解决", "closed", lambda c: True),
        ("公开", "assigned", lambda c: c["public"]),
        ("保密", "assigned", lambda c: c["confidential"]),
    ],
)
def test_staff_command_by_mail(
    deployment: Deployment, command: str, status: str, check: Any
) -> None:
    """Each staff command, written in a reply to the 办理单 copy of a case,
    is carried out, logged as an event and confirmed by mail."""
    deployment.deliver("xgc", appeal(HOT_WATER, HOT_WATER_TEXT, sender=STUDENT))
    deployment.poll()
    form = received_form(deployment)
    deployment.deliver("xgc", command_reply(form, command))
    deployment.poll()

    case = only_case(deployment)
    assert case["status"] == status and check(case)
    assert any(e["action"] == "command" for e in case["events"])
    confirmations = [
        r.message() for r in deployment.sent_of_kind("ack") if r.rcpt_tos == [ADMIN]
    ]
    assert len(confirmations) == 1 and "【已执行】" in confirmations[0]["Subject"]
    if command.startswith("不予受理"):
        [decline] = deployment.wait_for_kind("decline", 1)
        assert "个人消费纠纷" in plain(decline.message())
    if command.startswith("转交"):
        assert (
            received_form(deployment, 2)["To"].addresses[0].addr_spec
            == "jwc@example.edu.cn"
        )


def test_bad_command_gets_a_clear_error(deployment: Deployment) -> None:
    """A command naming an unknown unit is refused with a clear explanation."""
    deployment.deliver("xgc", appeal(HOT_WATER, HOT_WATER_TEXT, sender=STUDENT))
    deployment.poll()
    deployment.deliver(
        "xgc", command_reply(received_form(deployment), "转交 食堂承包商")
    )
    deployment.poll()
    assert only_case(deployment)["unit"] == "后勤管理中心"
    [answer] = [r for r in deployment.sent_of_kind("ack") if r.rcpt_tos == [ADMIN]]
    assert "【未执行】" in answer.message()["Subject"]
    assert "食堂承包商" in plain(answer.message())


def test_several_commands_in_one_mail_are_each_done_or_refused(
    deployment: Deployment,
) -> None:
    """Commands on consecutive lines are carried out in order, each on its
    own: one that cannot be done is refused without undoing the others, and
    one mail answers for all of them."""
    deployment.deliver("xgc", appeal(HOT_WATER, HOT_WATER_TEXT, sender=STUDENT))
    deployment.poll()
    deployment.deliver(
        "xgc",
        command_reply(received_form(deployment), "转交 教务处\n转交 食堂承包商\n公开"),
    )
    deployment.poll()

    case = only_case(deployment)
    assert case["unit"] == "教务处" and case["public"]
    events = [e["action"] for e in case["events"]]
    assert events.count("command") == 2 and events.count("command_refused") == 1
    [answer] = [r for r in deployment.sent_of_kind("ack") if r.rcpt_tos == [ADMIN]]
    subject = str(answer.message()["Subject"])
    assert "【部分执行】" in subject and "转交 教务处 等 3 条指令" in subject
    text = plain(answer.message())
    assert "执行 2 条，未执行 1 条" in text
    assert "2. “转交 食堂承包商”未能执行" in text and "食堂承包商" in text


def test_commands_without_a_case_are_answered_not_lost(
    deployment: Deployment,
) -> None:
    """Commands from an admin in a new mail naming no case open no case; the
    admin is told, for each command, how to name the case."""
    deployment.deliver(
        "xgc", appeal("热水器的事", "转交 教务处\n公开", sender=ADMIN, name="王老师")
    )
    deployment.poll()

    assert json.loads(deployment.cli("cases", "--json").stdout) == []
    [answer] = [r for r in deployment.sent_of_kind("ack") if r.rcpt_tos == [ADMIN]]
    subject = str(answer.message()["Subject"])
    assert "【未执行】[无编号] 转交 教务处 等 2 条指令" in subject
    text = plain(answer.message())
    assert text.count("找不到这条指令对应的诉求") == 2
    assert "SQ2026-0001" in text


def test_staff_commands_by_cli(deployment: Deployment) -> None:
    """assign, escalate, public, confidential, close and decline work from the CLI."""
    deployment.deliver("xgc", appeal(HOT_WATER, HOT_WATER_TEXT, sender=STUDENT))
    deployment.deliver(
        "xgc", appeal("网费太贵", "校园网一个月100元太贵了。", sender="b@qq.com")
    )
    deployment.poll()
    numbers = [
        c["number"] for c in json.loads(deployment.cli("cases", "--json").stdout)
    ]

    deployment.cli("assign", numbers[0], "教务处")
    assert show(deployment, numbers[0])["unit"] == "教务处"
    deployment.cli("escalate", numbers[0], "--due", "2099-02-01")
    assert show(deployment, numbers[0])["status"] == "escalated"
    deployment.cli("public", numbers[0])
    deployment.cli("confidential", numbers[0])
    case = show(deployment, numbers[0])
    assert case["public"] and case["confidential"]
    deployment.cli("close", numbers[0], "--reason", "领导小组研究后已解决")
    assert show(deployment, numbers[0])["status"] == "closed"

    deployment.cli(
        "decline", numbers[1], "--reason", "网费标准由运营商制定，不在受理范围。"
    )
    assert show(deployment, numbers[1])["status"] == "declined"
    refused = deployment.cli("assign", numbers[1], "教务处", check=False)
    assert refused.returncode != 0 and "不予受理" in refused.stderr


def remind(site: Deployment) -> tuple[int, int]:
    """Run the office's daily rating reminders now, then deliver."""
    app = site.app()
    with transaction(app.sessions) as session:
        result = app.office.remind_ratings(session)
    app.send()
    return result


def test_rating_reminder_then_closed_unrated(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No rating after 7 days brings one reminder; 7 days later the case is
    closed as 未评价."""
    deployment.deliver("xgc", appeal(HOT_WATER, HOT_WATER_TEXT, sender=STUDENT))
    deployment.poll()
    form = received_form(deployment)
    deployment.deliver(
        "xgc", qq_style_reply(form, UNIT_REPLY, sender="hqzx@example.edu.cn")
    )
    deployment.poll()

    assert remind(deployment) == (0, 0)
    monkeypatch.setenv("SUQIU_NOW", "2099-01-10T09:00:00+08:00")
    assert remind(deployment) == (1, 0)
    [reminder] = deployment.wait_for_kind("rating_request", 1)
    assert reminder.rcpt_tos == [STUDENT]
    assert remind(deployment) == (0, 0)
    monkeypatch.setenv("SUQIU_NOW", "2099-01-18T09:00:00+08:00")
    assert remind(deployment) == (0, 1)
    case = only_case(deployment)
    assert case["status"] == "closed" and case["rating"] is None
    assert any("未评价" in (e["reason"] or "") for e in case["events"])


def test_roster_fills_the_form_and_copies_the_counselor(deployment: Deployment) -> None:
    """A sender found in the imported roster gets the roster's class and
    counselor on the 办理单, and the counselor gets a copy."""
    roster = deployment.root / "roster.csv"
    roster.write_text(
        "学号,姓名,班级,学院,邮箱,辅导员,辅导员邮箱\n"
        f"2023010517,覃志强,土木2301班,土木工程学院,{STUDENT},刘芳,liufang@example.edu.cn\n",
        encoding="gb18030",
    )
    deployment.cli("roster", "import", str(roster))
    deployment.deliver(
        "xgc", appeal(HOT_WATER, "宿舍热水器坏了两周，没人修。", sender=STUDENT)
    )
    deployment.poll()

    case = only_case(deployment)
    assert (
        case["student"]["name"] == "覃志强" and case["student"]["counselor"] == "刘芳"
    )
    forms = deployment.wait_for_kind("form", 2)
    copies = [f for f in forms if f.rcpt_tos == ["liufang@example.edu.cn"]]
    assert len(copies) == 1 and "第一责任人" in plain(copies[0].message())


def test_register_offline_appeal_takes_the_same_path(deployment: Deployment) -> None:
    """An appeal registered from 处长接待日 gets a number, its 交报单 file, a
    办理单 to the unit and an acknowledgement to the student's address."""
    target = deployment.root / "交报单.docx"
    done = deployment.cli(
        "register",
        "--channel",
        "处长接待日",
        "--subject",
        "教室投影仪坏了",
        "--content",
        "教学楼B203的投影仪坏了一个月，上课看不清课件，影响教学。",
        "--name",
        "黄丽",
        "--class",
        "会计2302班",
        "--email",
        "huangli@163.com",
        "--form",
        str(target),
    )
    assert "已登记" in done.stdout
    case = only_case(deployment)
    assert case["channel"] == "处长接待日" and case["dispatcher"] == "学生工作处"
    text = "\n".join(
        cell.text
        for table in Document(str(target)).tables
        for row in table.rows
        for cell in row.cells
    )
    assert "黄丽" in text and "投影仪" in text
    [ack] = deployment.wait_for_kind("ack", 1)
    assert ack.rcpt_tos == ["huangli@163.com"]


def test_concentrated_topic_becomes_major(deployment: Deployment) -> None:
    """The fifth appeal on one topic within a week, worded differently,
    becomes a major issue for the leading group instead of going to a unit."""
    complaints = [
        ("二食堂涨价", "二食堂的菜价最近涨了很多，一份青菜要5块。"),
        ("食堂饭菜太贵", "食堂饭菜越来越贵了，学生吃不起。"),
        ("关于食堂价格", "希望学校管一管食堂的价格，涨得太快了。"),
        ("饭堂价格问题", "饭堂的菜价涨了，分量还变少，太贵了。"),
        ("食堂菜价上涨", "这学期食堂菜价普遍上涨，价格太贵，希望学校调控。"),
    ]
    for index, (subject, text) in enumerate(complaints):
        deployment.deliver("xgc", appeal(subject, text, sender=f"s{index}@qq.com"))
    deployment.poll()

    cases = json.loads(deployment.cli("cases", "--json").stdout)
    statuses = [c["status"] for c in cases]
    assert statuses[:4] == ["assigned"] * 4
    assert statuses[4] == "escalated" and cases[4]["major"] is True
    [alert] = deployment.wait_for_kind("alert", 1)
    assert all(c["number"] in plain(alert.message()) for c in cases[:4])

    # Later appeals on the topic join the major issue without new alerts.
    deployment.deliver(
        "xgc", appeal("食堂又涨价了", "食堂菜价太贵，涨价太多。", sender="s9@qq.com")
    )
    deployment.poll()
    latest = json.loads(deployment.cli("cases", "--json").stdout)[-1]
    assert latest["status"] == "escalated" and latest["major"] is True
    assert len(deployment.sent_of_kind("alert")) == 1


def test_backlog_spread_over_months_is_not_a_burst(deployment: Deployment) -> None:
    """Similar appeals written months apart, read in one go (a backlog), are
    not a concentration: each goes to its unit."""
    for month in range(1, 7):
        raw = appeal(
            "食堂饭菜太贵",
            "食堂饭菜越来越贵了，价格涨得太快。",
            sender=f"m{month}@qq.com",
            headers={},
        ).replace(
            b"Thu, 03 Dec 2026 10:00:00 +0800",
            format_datetime(datetime(2026, month, 1, 10, tzinfo=SHANGHAI)).encode(),
        )
        deployment.deliver("xgc", raw)
    deployment.poll()
    cases = json.loads(deployment.cli("cases", "--json").stdout)
    assert [c["status"] for c in cases] == ["assigned"] * 6
    assert deployment.sent_of_kind("alert") == []


def test_filled_in_form_counts_as_the_answer(deployment: Deployment) -> None:
    """A unit that sends back the 办理单 filled in, with an empty mail body,
    has the form's reply forwarded to the student."""
    deployment.deliver("xgc", appeal(HOT_WATER, HOT_WATER_TEXT, sender=STUDENT))
    deployment.poll()
    form = received_form(deployment)
    document = Document(io.BytesIO(docx_part(form)))
    for table in document.tables:
        for row in table.rows:
            if row.cells[0].text.startswith("职能部门"):
                row.cells[1].paragraphs[0].add_run(UNIT_REPLY)
    filled = io.BytesIO()
    document.save(filled)

    reply = _unit_answer(form, "")
    reply.add_attachment(
        filled.getvalue(),
        maintype="application",
        subtype="vnd.openxmlformats-officedocument.wordprocessingml.document",
        filename="办理单（已填）.docx",
    )
    deployment.deliver("xgc", reply.as_bytes())
    deployment.poll()

    assert only_case(deployment)["status"] == "replied"
    [forward] = deployment.wait_for_kind("forward", 1)
    assert UNIT_REPLY in plain(forward.message())


def _unit_answer(form: EmailMessage, text: str) -> EmailMessage:
    """The unit's answer to the 办理单 mail *form*, in its thread."""
    reply = EmailMessage()
    reply["From"] = "hq-office@example.edu.cn"
    reply["To"] = form["From"]
    reply["Subject"] = "回复：" + str(form["Subject"])
    reply["Message-ID"] = make_msgid(domain="example.edu.cn")
    reply["In-Reply-To"] = form["Message-ID"]
    reply.set_content(text)
    return reply


def test_answer_files_over_one_mails_limit_are_named_to_the_student(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A unit's answer carries its files to the student while their sum fits
    in one mail; the student is told the names of the others."""
    monkeypatch.setattr(actions, "PASSED_ON_LIMIT", 5_000)
    deployment.deliver("xgc", appeal(HOT_WATER, HOT_WATER_TEXT, sender=STUDENT))
    deployment.poll()
    form = received_form(deployment)

    reply = _unit_answer(form, UNIT_REPLY)
    for name, size in (("维修记录.pdf", 3_000), ("现场照片.jpg", 4_000)):
        reply.add_attachment(
            b"%" * size, maintype="application", subtype="octet-stream", filename=name
        )
    deployment.deliver("xgc", reply.as_bytes())
    deployment.poll()

    [forward] = deployment.wait_for_kind("forward", 1)
    message = forward.message()
    assert [part.get_filename() for part in message.iter_attachments()] == [
        "维修记录.pdf"
    ]
    text = plain(message)
    assert "答复附件：维修记录.pdf" in text
    assert "以下答复附件未随本邮件转发，如需查看请联系学生工作处：现场照片.jpg" in text


def test_appeal_attachments_travel_with_the_form(deployment: Deployment) -> None:
    """The files a student attached go to the unit with the 办理单, under
    their Chinese names."""
    from pathlib import Path

    sample = Path(__file__).parent / "data" / "mail" / "foxmail_gb2312_docx.eml"
    deployment.deliver("xgc", sample.read_bytes())
    deployment.poll()
    case = only_case(deployment)
    assert case["unit"] is not None, case
    form = received_form(deployment)
    names = [str(part.get_filename()) for part in form.iter_attachments()]
    attached = next(m["attachments"] for m in case["messages"] if m["kind"] == "appeal")
    assert attached and all(name in names for name in attached)
    assert any(name.startswith("学生诉求办理单") for name in names)
