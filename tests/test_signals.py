"""Tests for ingest.signals: auto-replies, bounces and spam told apart from appeals."""

from ingest.mail import Address, ParsedMail
from ingest.signals import auto_reply_reason, bounce_info, spam_reason

OUR_ADDRESS = "gxgcxgc2017@163.com"


def make_mail(
    *,
    subject: str = "",
    sender: tuple[str | None, str] = ("张三", "2839475610@qq.com"),
    headers: dict[str, str] | None = None,
    text: str = "",
    content_type: str = "text/plain",
    report_type: str | None = None,
    delivery_status: str | None = None,
    attached_headers: list[dict[str, str]] | None = None,
    in_reply_to: list[str] | None = None,
    references: list[str] | None = None,
) -> ParsedMail:
    """Build a ParsedMail the way the parser fills it, addressed to our mailbox."""
    return ParsedMail(
        message_id="test@example.invalid",
        subject=subject,
        sender=Address(sender[0], sender[1]),
        to=[Address("学生工作处", OUR_ADDRESS)],
        headers={name.lower(): [value] for name, value in (headers or {}).items()},
        text=text,
        content_type=content_type,
        report_type=report_type,
        delivery_status=delivery_status,
        attached_headers=attached_headers or [],
        in_reply_to=in_reply_to or [],
        references=references or [],
    )


# Headers QQ Mail puts on an ordinary message a student sends.
QQ_HEADERS = {
    "X-QQ-mid": "xmsezb38-0t1764728437tq2m4k8fe",
    "X-QQ-XMAILINFO": "NkGdvH4nCsrx0nAVYq3s+7J5MxPzjQsdLR6zfEWl3r=",
    "X-QQ-SSF": "0000000000000020000000000000",
    "X-QQ-FEAT": "3C1WcPM5lQ4i+tGOZHPx80amo8TvG3to",
    "X-Mailer": "QQMail 2.x",
    "Return-Path": "<2839475610@qq.com>",
}

APPEAL_TEXT = (
    "老师您好：\n"
    "我是土木工程学院土木2301班的学生，宿舍7栋热水已经停了一周，"
    "向宿管反映过也没有结果，希望学校尽快解决。\n"
    "张三\n13877665544"
)


# --- appeals stay appeals ----------------------------------------------------


def test_ordinary_qq_appeal_is_not_machine_mail() -> None:
    """An appeal from QQ Mail with QQ's usual headers is none of the three kinds."""
    mail = make_mail(subject="宿舍热水停了一周", headers=QQ_HEADERS, text=APPEAL_TEXT)
    assert auto_reply_reason(mail) is None
    assert bounce_info(mail) is None
    assert spam_reason(mail) is None


def test_student_saying_received_your_mail_is_not_automatic() -> None:
    """A student who writes "我已收到您的邮件" in a reply is not an auto-reply."""
    mail = make_mail(
        subject="回复：【诉求 2026-0012】已受理",
        headers=QQ_HEADERS,
        text="老师好，我已收到您的邮件，谢谢。想问一下大概什么时候能有答复？",
    )
    assert auto_reply_reason(mail) is None


def test_student_mentioning_bounce_and_auto_reply_in_body_is_a_person() -> None:
    """Words like 退信 and 自动回复 in a student's body decide nothing."""
    mail = make_mail(
        subject="关于奖学金评定的申诉",
        headers=QQ_HEADERS,
        text=(
            "我上周发到书记信箱的邮件被退信了，退信原因说无法送达，"
            "之前还只收到一封自动回复。现在重新反映：奖学金评定没有公示。"
        ),
    )
    assert auto_reply_reason(mail) is None
    assert bounce_info(mail) is None


def test_student_subject_about_bounce_is_not_a_bounce() -> None:
    """A student whose subject is "退信" and who says "被退回" is still a person."""
    mail = make_mail(
        subject="退信",
        headers=QQ_HEADERS,
        text="我的邮件被退回了，发送失败，请问邮箱地址对吗？",
    )
    assert bounce_info(mail) is None
    assert auto_reply_reason(mail) is None


def test_subject_starting_with_outing_word_is_not_a_vacation_reply() -> None:
    """ "外出实习…" as a subject plus "已收到您的邮件" in the body is an appeal."""
    mail = make_mail(
        subject="外出实习补贴一直未发放",
        text="老师您好，已收到您的邮件。补贴的事情还是没有消息，麻烦再帮忙问问。",
    )
    assert auto_reply_reason(mail) is None


def test_complaint_about_auto_reply_is_not_one() -> None:
    """A subject "自动回复太慢了" does not begin like a responder's subject."""
    mail = make_mail(subject="自动回复太慢了", text="发了诉求两天才收到回执。")
    assert auto_reply_reason(mail) is None


def test_auto_submitted_no_is_a_person() -> None:
    """RFC 3834 "Auto-Submitted: no" marks a person's mail."""
    mail = make_mail(subject="食堂价格", headers={"Auto-Submitted": "no"}, text="太贵")
    assert auto_reply_reason(mail) is None


def test_suppress_header_alone_is_not_enough() -> None:
    """X-Auto-Response-Suppress alone does not make an Outlook mail automatic."""
    mail = make_mail(
        subject="关于补考安排",
        sender=("李四", "lisi2022@outlook.com"),
        headers={"X-Auto-Response-Suppress": "All", "X-MS-Has-Attach": ""},
        text="请问补考安排什么时候公布？",
    )
    assert auto_reply_reason(mail) is None


# --- auto-replies ------------------------------------------------------------


def test_gmail_vacation_responder() -> None:
    """Gmail's vacation responder is known by Auto-Submitted: auto-replied."""
    mail = make_mail(
        subject="休假中",
        sender=("Wang Fang", "wangfang.teacher@gmail.com"),
        headers={
            "Auto-Submitted": "auto-replied",
            "Return-Path": "<wangfang.teacher@gmail.com>",
            "X-Gm-Message-State": "AOJu0YwAAAAAAAAAA",
        },
        text="您好，我正在休假，12月15日返校后回复。",
    )
    assert auto_reply_reason(mail) == "自动回复：Auto-Submitted: auto-replied"


def test_outlook_automatic_reply_in_chinese() -> None:
    """Outlook zh-CN's "自动答复" carries Auto-Submitted: auto-generated."""
    mail = make_mail(
        subject="自动答复: 【诉求 2026-0012】办理单",
        sender=("教务处 陈老师", "chen@example.edu.cn"),
        headers={
            "Auto-Submitted": "auto-generated",
            "X-Auto-Response-Suppress": "All",
            "X-MS-Exchange-Inbox-Rules-Loop": "chen@example.edu.cn",
            "Content-Language": "zh-CN",
        },
        text="我目前不在办公室，将于下周一回复您的邮件。",
    )
    assert auto_reply_reason(mail) == "自动回复：Auto-Submitted: auto-generated"


def test_outlook_english_subject_alone_decides() -> None:
    """ "Automatic reply:" at the start of the subject decides without any header."""
    mail = make_mail(
        subject="Automatic reply: 【诉求 2026-0012】办理单",
        headers={"X-Auto-Response-Suppress": "All"},
        text="I am out of the office until Monday.",
    )
    assert auto_reply_reason(mail) == "自动回复：主题以“Automatic reply”开头"


def test_qq_vacation_reply_with_subject_only() -> None:
    """QQ's vacation reply may carry nothing but a subject starting "自动回复"."""
    mail = make_mail(
        subject="自动回复: 【诉求 2026-0012】请评价办理结果",
        headers=QQ_HEADERS,
        text="您好，您的邮件我已收到，我会尽快给您回复。",
    )
    assert auto_reply_reason(mail) == "自动回复：主题以“自动回复”开头"


def test_163_style_auto_reply_subject_with_fullwidth_colon() -> None:
    """A 163 webmail auto-reply subject "自动回复：" (full-width colon) is caught."""
    mail = make_mail(
        subject="自动回复：关于宿舍热水",
        sender=(None, "houqin2020@163.com"),
        headers={"X-CM-TRANSID": "_____wDn7_6iWVNlDXBpDA--.55740S2"},
        text="这是一封自动回复邮件：您的来信已收到。",
    )
    assert auto_reply_reason(mail) == "自动回复：主题以“自动回复”开头"


def test_bracketed_out_of_office_subject() -> None:
    """ "[Out of Office]" in brackets at the start counts like the bare words."""
    mail = make_mail(subject="[Out of Office] Re: 办理单", text="Back on 12/15.")
    assert auto_reply_reason(mail) == "自动回复：主题以“Out of Office”开头"


def test_auto_submitted_with_parameters() -> None:
    """Auto-Submitted with RFC 3834 parameters still counts by its keyword."""
    mail = make_mail(
        subject="Re: 办理单",
        headers={"Auto-Submitted": 'auto-replied; owner-email="a@example.edu.cn"'},
    )
    reason = auto_reply_reason(mail)
    assert reason is not None
    assert reason.startswith("自动回复：Auto-Submitted: auto-replied;")


def test_x_autoreply_header() -> None:
    """X-Autoreply: yes, set by vacation programs, decides."""
    mail = make_mail(subject="Re: 办理单", headers={"X-Autoreply": "yes"})
    assert auto_reply_reason(mail) == "自动回复：X-Autoreply: yes"


def test_x_autorespond_header() -> None:
    """cPanel's X-Autorespond decides whatever its value."""
    mail = make_mail(subject="Re: 办理单", headers={"X-Autorespond": "Re: 办理单"})
    assert auto_reply_reason(mail) == "自动回复：X-Autorespond: Re: 办理单"


def test_null_return_path_without_bounce_content() -> None:
    """A null Return-Path on mail that is not a bounce marks an auto-reply."""
    mail = make_mail(
        subject="Re: 【诉求 2026-0012】办理单",
        headers={"Return-Path": "<>"},
        text="谢谢来信。",
    )
    reason = auto_reply_reason(mail)
    assert reason is not None
    assert "Return-Path" in reason


def test_vacation_subject_and_vacation_text_together() -> None:
    """ "休假中" as the subject and a vacation text are two signs, and decide."""
    mail = make_mail(
        subject="休假中",
        text="您的邮件已收到。我目前正在休假，返校后回复。",
    )
    assert auto_reply_reason(mail) == "自动回复：主题含“休假”，正文含“您的邮件已收到”"


def test_suppress_header_with_vacation_text() -> None:
    """Exchange's suppress header plus an out-of-office text decide together."""
    mail = make_mail(
        subject="RE: 办理单",
        headers={"X-Auto-Response-Suppress": "DR, RN, NRN, OOF, AutoReply"},
        text="I'm currently out of the office with limited access to email.",
    )
    reason = auto_reply_reason(mail)
    assert reason is not None
    assert "X-Auto-Response-Suppress" in reason
    assert "正文含" in reason


def test_mailing_list_by_precedence_and_list_id() -> None:
    """Mail from a mailing list is named as list mail."""
    mail = make_mail(
        subject="[xsh-notice] 本周例会安排",
        sender=("学生会", "xsh-notice@lists.example.edu.cn"),
        headers={
            "Precedence": "list",
            "List-Id": "学生会通知 <xsh-notice.lists.example.edu.cn>",
            "List-Unsubscribe": "<mailto:xsh-notice-leave@lists.example.edu.cn>",
        },
    )
    assert auto_reply_reason(mail) == "邮件列表：Precedence: list"


def test_list_id_alone() -> None:
    """A List-Id header alone names list mail and quotes the list."""
    mail = make_mail(
        subject="Re: 通知",
        headers={"List-Id": "<notice.example.edu.cn>"},
    )
    assert auto_reply_reason(mail) == "邮件列表：List-Id: <notice.example.edu.cn>"


def test_newsletter_by_list_unsubscribe() -> None:
    """A newsletter with only List-Unsubscribe is bulk mail."""
    mail = make_mail(
        subject="本周热门课程推荐",
        sender=("某某网课", "news@mooc.example.com"),
        headers={"List-Unsubscribe": "<https://mooc.example.com/unsub?u=1>"},
    )
    assert auto_reply_reason(mail) == "群发邮件：带有 List-Unsubscribe（退订）头"


def test_precedence_bulk() -> None:
    """Precedence: bulk names bulk mail."""
    mail = make_mail(subject="通知", headers={"Precedence": "bulk"})
    assert auto_reply_reason(mail) == "群发邮件：Precedence: bulk"


def test_x_loop() -> None:
    """X-Loop, set by autoresponders against loops, decides."""
    mail = make_mail(subject="Re: 办理单", headers={"X-Loop": "helpdesk@example.com"})
    assert auto_reply_reason(mail) == "自动邮件：X-Loop: helpdesk@example.com"


def test_read_receipt() -> None:
    """An RFC 8098 read receipt (已读回执) is automatic."""
    mail = make_mail(
        subject="已读: 【诉求 2026-0012】办理单",
        content_type="multipart/report",
        report_type="disposition-notification",
    )
    assert auto_reply_reason(mail) == "已读回执：report-type=disposition-notification"


def test_mailer_daemon_notice_that_is_no_bounce() -> None:
    """A notice from MAILER-DAEMON that is not a bounce is still system mail."""
    mail = make_mail(
        subject="Mailbox quota warning",
        sender=(None, "mailer-daemon@mail.example.edu.cn"),
        text="Your mailbox is 90% full.",
    )
    assert (
        auto_reply_reason(mail)
        == "系统邮件：发件人为 mailer-daemon@mail.example.edu.cn"
    )


# --- bounces -----------------------------------------------------------------

POSTFIX_DSN = """Reporting-MTA: dns; mx1.example.edu.cn
X-Postfix-Queue-ID: 3E47A1BC025
X-Postfix-Sender: rfc822; gxgcxgc2017@163.com
Arrival-Date: Thu,  3 Dec 2026 10:20:38 +0800 (CST)

Final-Recipient: rfc822; jwc-old@example.edu.cn
Original-Recipient: rfc822;jwc-old@example.edu.cn
Action: failed
Status: 5.1.1
Remote-MTA: dns; mx2.example.edu.cn
Diagnostic-Code: smtp; 550 5.1.1 <jwc-old@example.edu.cn>: Recipient address
    rejected: User unknown in local recipient table
"""

POSTFIX_TEXT = """This is the mail system at host mx1.example.edu.cn.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

                   The mail system

<jwc-old@example.edu.cn>: host mx2.example.edu.cn[192.0.2.10] said: 550 5.1.1
    <jwc-old@example.edu.cn>: Recipient address rejected: User unknown in local
    recipient table (in reply to RCPT TO command)
"""


def test_postfix_bounce_with_delivery_status() -> None:
    """A Postfix DSN gives the recipient, status, diagnostic and original id."""
    mail = make_mail(
        subject="Undelivered Mail Returned to Sender",
        sender=("Mail Delivery System", "mailer-daemon@mx1.example.edu.cn"),
        headers={"Auto-Submitted": "auto-replied", "Return-Path": "<>"},
        text=POSTFIX_TEXT,
        content_type="multipart/report",
        report_type="delivery-status",
        delivery_status=POSTFIX_DSN,
        attached_headers=[
            {
                "message-id": "<case-2026-0012.form@suqiu.example.edu.cn>",
                "subject": "【诉求 2026-0012】办理单",
                "to": "jwc-old@example.edu.cn",
            }
        ],
    )
    bounce = bounce_info(mail)
    assert bounce is not None
    assert bounce.original_message_ids == ("case-2026-0012.form@suqiu.example.edu.cn",)
    assert bounce.recipients == ("jwc-old@example.edu.cn",)
    assert bounce.status == "5.1.1"
    assert bounce.permanent is True
    assert bounce.diagnostic is not None
    assert bounce.diagnostic.startswith("550 5.1.1 <jwc-old@example.edu.cn>")
    assert "\n" not in bounce.diagnostic
    assert bounce.reason == (
        "退信：发往 jwc-old@example.edu.cn 的邮件无法送达，收件人地址不存在（5.1.1）"
    )


def test_bounce_is_not_also_an_auto_reply() -> None:
    """A bounce with Auto-Submitted is left to bounce_info, not auto_reply_reason."""
    mail = make_mail(
        subject="Undelivered Mail Returned to Sender",
        sender=("Mail Delivery System", "MAILER-DAEMON@mx1.example.edu.cn"),
        headers={"Auto-Submitted": "auto-replied"},
        text=POSTFIX_TEXT,
        content_type="multipart/report",
        report_type="delivery-status",
        delivery_status=POSTFIX_DSN,
    )
    assert bounce_info(mail) is not None
    assert auto_reply_reason(mail) is None


def test_exim_bounce_unfolds_diagnostic_and_reads_failed_header() -> None:
    """Exim's folded Diagnostic-Code is joined, and its recipient read."""
    dsn = (
        "Reporting-MTA: dns; relay.example.net\n"
        "\n"
        "Action: failed\n"
        "Final-Recipient: rfc822;houqin@example.org\n"
        "Status: 5.0.0\n"
        "Remote-MTA: dns; 198.51.100.7\n"
        "Diagnostic-Code: smtp; 550-Verification failed for <gxgcxgc2017@163.com>\n"
        " 550-Unrouteable address\n"
        " 550 Sender verify failed\n"
    )
    mail = make_mail(
        subject="Mail delivery failed: returning message to sender",
        sender=("Mail Delivery System", "Mailer-Daemon@relay.example.net"),
        headers={"X-Failed-Recipients": "houqin@example.org"},
        text="This message was created automatically by mail delivery software.",
        content_type="multipart/report",
        report_type="delivery-status",
        delivery_status=dsn,
        attached_headers=[{"message-id": "<form-31@suqiu.example.edu.cn>"}],
    )
    bounce = bounce_info(mail)
    assert bounce is not None
    assert bounce.recipients == ("houqin@example.org",)
    assert bounce.status == "5.0.0"
    assert bounce.diagnostic == (
        "550-Verification failed for <gxgcxgc2017@163.com> 550-Unrouteable address "
        "550 Sender verify failed"
    )
    assert bounce.permanent is True
    assert bounce.original_message_ids == ("form-31@suqiu.example.edu.cn",)


def test_exim_header_alone_marks_a_bounce() -> None:
    """X-Failed-Recipients alone is enough, and names the recipients."""
    mail = make_mail(
        subject="Mail delivery failed",
        sender=(None, "bounces@relay.example.net"),
        headers={"X-Failed-Recipients": "a@example.org, b@example.org"},
        text="A message that you sent could not be delivered.",
    )
    bounce = bounce_info(mail)
    assert bounce is not None
    assert bounce.recipients == ("a@example.org", "b@example.org")


QMAIL_TEXT = """Hi. This is the qmail-send program at mail.example.org.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<xgc-teacher@example.org>:
198.51.100.25 does not like recipient.
Remote host said: 550 5.1.1 <xgc-teacher@example.org>: Recipient address rejected
Giving up on 198.51.100.25.

--- Below this line is a copy of the message.

Return-Path: <gxgcxgc2017@163.com>
Received: (qmail 12345 invoked from network); 3 Dec 2026 02:20:38 -0000
Message-ID: <case-2026-0040.ack@suqiu.example.edu.cn>
From: 学生工作处 <gxgcxgc2017@163.com>
To: xgc-teacher@example.org
Subject: 【诉求 2026-0040】已受理
"""


def test_qmail_text_bounce() -> None:
    """A qmail bounce, text only, yields recipient, status and the quoted id."""
    mail = make_mail(
        subject="failure notice",
        sender=(None, "MAILER-DAEMON@mail.example.org"),
        text=QMAIL_TEXT,
    )
    bounce = bounce_info(mail)
    assert bounce is not None
    assert bounce.recipients == ("xgc-teacher@example.org",)
    assert bounce.status == "5.1.1"
    assert bounce.original_message_ids == ("case-2026-0040.ack@suqiu.example.edu.cn",)
    assert bounce.diagnostic is not None
    assert bounce.diagnostic.startswith("550 5.1.1")
    assert bounce.permanent is True


COREMAIL_TEXT = """抱歉，您的邮件被退回来了……

原邮件信息：
时　间：2026-12-03 10:20:38
收件人：jwc-new@example.edu.cn
主　题：【诉求 2026-0012】办理单

退信原因：
发件人（gxgcxgc2017@163.com）邮件发送时出现错误：
jwc-new@example.edu.cn: 550 User not found

建议解决方案：请检查收件人地址是否正确。
"""


def test_163_system_bounce_in_chinese() -> None:
    """A 163 (Coremail) "系统退信" from postmaster is read from its Chinese text."""
    mail = make_mail(
        subject="系统退信",
        sender=("postmaster@163.com", "postmaster@163.com"),
        text=COREMAIL_TEXT,
    )
    bounce = bounce_info(mail)
    assert bounce is not None
    assert bounce.recipients == ("jwc-new@example.edu.cn",)
    assert bounce.status is None
    assert bounce.diagnostic is not None
    assert "550 User not found" in bounce.diagnostic
    assert bounce.permanent is True
    assert bounce.original_message_ids == ()
    assert (
        bounce.reason
        == "退信：发往 jwc-new@example.edu.cn 的邮件无法送达，收件人地址不存在"
    )
    assert auto_reply_reason(mail) is None


TENCENT_TEXT = """很抱歉您的邮件没有发送成功。

收件人：xuegong@example.cn
发送时间：2026年12月3日(星期四) 上午10:20
主题：【诉求 2026-0051】请评价办理结果

退信原因：收件人邮箱空间不足，无法接收新邮件。

此为系统邮件，请勿回复。
"""


def test_qq_style_bounce_in_chinese() -> None:
    """A Tencent-style "退信" notice from MAILER-DAEMON@qq.com is read for its cause."""
    mail = make_mail(
        subject="退信：【诉求 2026-0051】请评价办理结果",
        sender=("Mail Delivery System", "MAILER-DAEMON@qq.com"),
        text=TENCENT_TEXT,
        in_reply_to=["case-2026-0051.rating@suqiu.example.edu.cn"],
    )
    bounce = bounce_info(mail)
    assert bounce is not None
    assert bounce.recipients == ("xuegong@example.cn",)
    assert bounce.original_message_ids == (
        "case-2026-0051.rating@suqiu.example.edu.cn",
    )
    assert bounce.diagnostic == "收件人邮箱空间不足，无法接收新邮件。"
    assert (
        bounce.reason == "退信：发往 xuegong@example.cn 的邮件无法送达，收件人邮箱已满"
    )


def test_gmail_delay_notification_is_not_permanent() -> None:
    """A Gmail "(Delay)" DSN with Action: delayed and 4.x.x is not permanent."""
    dsn = (
        "Reporting-MTA: dns; googlemail.com\n"
        "Arrival-Date: Thu, 03 Dec 2026 02:20:38 -0800 (PST)\n"
        "\n"
        "Final-Recipient: rfc822; tuanwei@example.edu.cn\n"
        "Action: delayed\n"
        "Status: 4.4.7\n"
        "Diagnostic-Code: smtp; The recipient server did not accept our requests\n"
        "Will-Retry-Until: Sat, 05 Dec 2026 02:20:38 -0800 (PST)\n"
    )
    mail = make_mail(
        subject="Delivery Status Notification (Delay)",
        sender=("Mail Delivery Subsystem", "mailer-daemon@googlemail.com"),
        text="There was a temporary problem delivering your message.",
        content_type="multipart/report",
        report_type="delivery-status",
        delivery_status=dsn,
    )
    bounce = bounce_info(mail)
    assert bounce is not None
    assert bounce.permanent is False
    assert bounce.status == "4.4.7"
    assert bounce.reason == (
        "延迟通知：发往 tuanwei@example.edu.cn 的邮件暂未送达，"
        "对方服务器仍在重试（4.4.7）"
    )


def test_success_notification_is_not_permanent() -> None:
    """A DSN whose action is "delivered" is a success notice, not a failure."""
    dsn = (
        "Reporting-MTA: dns; mx.example.edu.cn\n"
        "\n"
        "Final-Recipient: rfc822; jwc@example.edu.cn\n"
        "Action: delivered\n"
        "Status: 2.0.0\n"
    )
    mail = make_mail(
        subject="Delivery Status Notification (Success)",
        sender=("Mail Delivery System", "MAILER-DAEMON@mx.example.edu.cn"),
        content_type="multipart/report",
        report_type="delivery-status",
        delivery_status=dsn,
    )
    bounce = bounce_info(mail)
    assert bounce is not None
    assert bounce.permanent is False
    assert bounce.reason.startswith("投递通知：")


def test_several_recipients_in_one_report() -> None:
    """Each per-recipient block adds its address, and 5.2.2 reads as a full mailbox."""
    dsn = (
        "Reporting-MTA: dns; mx.example.edu.cn\n"
        "\n"
        "Final-Recipient: rfc822; a@example.edu.cn\n"
        "Action: failed\n"
        "Status: 5.2.2\n"
        "Diagnostic-Code: smtp; 552 5.2.2 Mailbox full\n"
        "\n"
        "Final-Recipient: rfc822; b@example.edu.cn\n"
        "Action: failed\n"
        "Status: 5.2.2\n"
    )
    mail = make_mail(
        subject="Undelivered Mail Returned to Sender",
        sender=("Mail Delivery System", "MAILER-DAEMON@mx.example.edu.cn"),
        report_type="delivery-status",
        delivery_status=dsn,
    )
    bounce = bounce_info(mail)
    assert bounce is not None
    assert bounce.recipients == ("a@example.edu.cn", "b@example.edu.cn")
    assert "收件人邮箱已满" in bounce.reason


def test_recipients_run_together_without_blank_lines() -> None:
    """A server that runs recipient blocks together still yields each address."""
    dsn = (
        "Reporting-MTA: dns; mta.example.com\n"
        "Original-Recipient: rfc822;u@example.com\n"
        "Final-Recipient: RFC822; <u@example.com>\n"
        "Action: failed\n"
        "Status: 5.3.0\n"
        "Final-Recipient: RFC822; <v@example.com>\n"
        "Action: failed\n"
        "Status: 5.3.0\n"
    )
    mail = make_mail(
        subject="Mail System Error - Returned Mail",
        sender=("Mail Administrator", "Postmaster@example.com"),
        report_type="delivery-status",
        delivery_status=dsn,
    )
    bounce = bounce_info(mail)
    assert bounce is not None
    assert bounce.recipients == ("u@example.com", "v@example.com")
    assert bounce.status == "5.3.0"


def test_exchange_ndr_reads_cause_from_words() -> None:
    """Exchange's 5.1.10 "recipient not found" is read as a missing address."""
    dsn = (
        "Reporting-MTA: dns;SG2PR01MB1234.apcprd01.prod.outlook.com\n"
        "\n"
        "Final-recipient: RFC822; nobody@outlook.com\n"
        "Action: failed\n"
        "Status: 5.1.10\n"
        "Diagnostic-code: smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; "
        "Recipient not found by SMTP address lookup\n"
    )
    mail = make_mail(
        subject="无法投递: 【诉求 2026-0077】已受理",
        sender=("Microsoft Outlook", "postmaster@outlook.com"),
        report_type="delivery-status",
        delivery_status=dsn,
    )
    bounce = bounce_info(mail)
    assert bounce is not None
    assert bounce.status == "5.1.10"
    assert "收件人地址不存在" in bounce.reason


def test_nonstandard_text_bounce_with_null_sender() -> None:
    """An odd server's Chinese bounce counts with Return-Path <> and bounce words."""
    mail = make_mail(
        subject="邮件投递失败",
        sender=("系统管理员", "admin@mail.example.cn"),
        headers={"Return-Path": "<>"},
        text=(
            "您发送的邮件无法投递到以下地址：\n"
            "  student01@example.cn\n"
            "错误信息：552 Requested mail action aborted: exceeded storage allocation\n"
        ),
    )
    bounce = bounce_info(mail)
    assert bounce is not None
    assert bounce.recipients == ("student01@example.cn",)
    assert bounce.diagnostic == (
        "552 Requested mail action aborted: exceeded storage allocation"
    )
    assert bounce.permanent is True


def test_text_delay_notice_without_codes() -> None:
    """A text-only "delayed" notice from MAILER-DAEMON is not permanent."""
    mail = make_mail(
        subject="Warning: could not send message for past 4 hours",
        sender=("Mail Delivery Subsystem", "MAILER-DAEMON@old.example.org"),
        text=(
            "**********************************************\n"
            "**      THIS IS A WARNING MESSAGE ONLY      **\n"
            "**  YOU DO NOT NEED TO RESEND YOUR MESSAGE  **\n"
            "**********************************************\n\n"
            "The original message was received at Thu, 3 Dec 2026 10:20:38 +0800\n"
            "The message has not yet been delivered; the mail system will continue "
            "to try.\n"
        ),
    )
    bounce = bounce_info(mail)
    assert bounce is not None
    assert bounce.permanent is False
    assert bounce.reason.startswith("延迟通知：")


def test_bounce_falls_back_to_references() -> None:
    """Without attached headers the bounced id comes from In-Reply-To/References."""
    mail = make_mail(
        subject="Undeliverable: 办理单",
        sender=(None, "postmaster@example.org"),
        text="Delivery has failed to these recipients or groups: x@example.org",
        references=["form-1@suqiu.example.edu.cn"],
    )
    bounce = bounce_info(mail)
    assert bounce is not None
    assert bounce.original_message_ids == ("form-1@suqiu.example.edu.cn",)
    assert bounce.recipients == ("x@example.org",)


def test_many_recipients_are_summarised() -> None:
    """More than three failed addresses show three and a count in the reason."""
    blocks = "".join(
        f"\nFinal-Recipient: rfc822; s{n}@example.cn\nAction: failed\nStatus: 5.1.1\n"
        for n in range(5)
    )
    mail = make_mail(
        subject="Undelivered Mail Returned to Sender",
        sender=(None, "MAILER-DAEMON@mx.example.cn"),
        report_type="delivery-status",
        delivery_status="Reporting-MTA: dns; mx.example.cn\n" + blocks,
    )
    bounce = bounce_info(mail)
    assert bounce is not None
    assert len(bounce.recipients) == 5
    assert (
        "s0@example.cn、s1@example.cn、s2@example.cn 等 5 个地址的邮件" in bounce.reason
    )


# --- spam --------------------------------------------------------------------


def test_spamassassin_flag() -> None:
    """SpamAssassin's X-Spam-Flag: YES holds the mail as spam."""
    mail = make_mail(
        subject="优惠活动",
        headers={"X-Spam-Flag": "YES", "X-Spam-Status": "Yes, score=9.1 required=5.0"},
    )
    assert spam_reason(mail) == "垃圾邮件：X-Spam-Flag: YES"


def test_spamassassin_status_alone() -> None:
    """X-Spam-Status beginning with "Yes" holds the mail as spam."""
    mail = make_mail(headers={"X-Spam-Status": "Yes, score=12.3 required=5.0 tests=…"})
    reason = spam_reason(mail)
    assert reason is not None
    assert reason.startswith("垃圾邮件：X-Spam-Status: Yes")


def test_rspamd_header() -> None:
    """rspamd's "X-Spam: Yes" holds the mail as spam."""
    assert spam_reason(make_mail(headers={"X-Spam": "Yes"})) == "垃圾邮件：X-Spam: Yes"


def test_negative_spam_verdicts_are_ignored() -> None:
    """X-Spam-Flag: NO and X-Spam-Status: No are no reason to hold a mail."""
    mail = make_mail(
        subject="食堂价格问题",
        headers={
            "X-Spam-Flag": "NO",
            "X-Spam-Status": "No, score=-0.1",
            "X-Spam": "no",
        },
        text=APPEAL_TEXT,
    )
    assert spam_reason(mail) is None


def test_spam_subject_tags() -> None:
    """Gateway subject tags ***SPAM***, [SPAM] and 【垃圾邮件】 hold the mail."""
    assert spam_reason(make_mail(subject="*****SPAM***** 优惠")) == (
        "垃圾邮件：主题带有“*****SPAM*****”标记"
    )
    assert (
        spam_reason(make_mail(subject="[SPAM] hello"))
        == "垃圾邮件：主题带有“[SPAM]”标记"
    )
    assert spam_reason(make_mail(subject="【垃圾邮件】发票")) == (
        "垃圾邮件：主题带有“【垃圾邮件】”标记"
    )


def test_qq_spam_header_is_not_a_verdict() -> None:
    """X-QQ-SPAM: true, stamped on ordinary Tencent mail, never holds an appeal."""
    headers = {**QQ_HEADERS, "X-QQ-SPAM": "true", "X-QQ-RECHKSPAM": "3"}
    mail = make_mail(subject="宿舍热水停了一周", headers=headers, text=APPEAL_TEXT)
    assert spam_reason(mail) is None


def test_invoice_spam_with_wechat_lure() -> None:
    """An invoice-fraud ad with a WeChat contact is spam."""
    mail = make_mail(
        subject="财务咨询",
        sender=(None, "k8s7d@example.top"),
        text="本公司长期代开各类发票，增值税专用发票，可验证后付款。加微信 fp88886666",
    )
    assert spam_reason(mail) == "疑似垃圾邮件：含“代开各类发票”并附有链接或联系方式"


def test_gambling_spam_with_link() -> None:
    """A gambling ad with a link is spam."""
    mail = make_mail(
        subject="新用户福利",
        text="真人百家乐，首存送彩金 188，立即注册 http://vip-88.example.top",
    )
    reason = spam_reason(mail)
    assert reason is not None
    assert reason.startswith("疑似垃圾邮件：")


def test_loan_spam_with_link() -> None:
    """An instant-loan ad with a link is spam."""
    mail = make_mail(text="贷款秒批，无抵押贷款，当天到账 www.daikuan.example.top")
    assert spam_reason(mail) is not None


def test_student_reporting_loan_flyers_is_not_spam() -> None:
    """A student reporting loan-scam flyers, link and all, is an appeal."""
    mail = make_mail(
        subject="宿舍楼有人发贷款广告",
        text=(
            "老师您好，最近宿舍楼里有人塞贷款秒批的传单，上面写着"
            "http://daikuan.example.top，好几个同学差点被骗，希望学校管一管。"
        ),
    )
    assert spam_reason(mail) is None


def test_student_reporting_gambling_ads_is_not_spam() -> None:
    """A student mentioning gambling ads on campus Wi-Fi is an appeal."""
    mail = make_mail(
        subject="校园网登录页弹出博彩广告",
        text=(
            "每次登录校园网都会弹出博彩网站广告 https://portal.example.edu.cn ，"
            "影响学习。"
        ),
    )
    assert spam_reason(mail) is None


def test_marker_without_lure_is_not_spam() -> None:
    """A marker word with no link or contact is not enough."""
    mail = make_mail(subject="咨询", text="请问报销时能不能代开发票？")
    assert spam_reason(mail) is None


def test_subject_mentioning_spam_is_not_a_tag() -> None:
    """A student's subject about spam mail is not a gateway's tag."""
    mail = make_mail(
        subject="关于垃圾邮件太多的问题", text="学校邮箱每天收到很多垃圾邮件。"
    )
    assert spam_reason(mail) is None
