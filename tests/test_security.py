"""Nothing leaked, nothing forged, no loops: spoofed senders, hostile text,
auto-responders and our own mail coming back."""

import json
from email.message import EmailMessage
from email.utils import make_msgid

import pytest

from ingest.authentication import authenticated
from ingest.mail import Address, ParsedMail
from tests.deployment import ADMIN, SENDER_ADDRESS, Deployment, appeal, reply_to

HOT_WATER = ("宿舍热水器坏了两周", "7栋312宿舍热水器坏了，报修三次没人来。")
ANSWER = "已更换热水器，现已恢复。"


def listed(site: Deployment) -> list[dict[str, object]]:
    data = json.loads(site.cli("messages", "--json").stdout)
    assert isinstance(data, list)
    return data


def one_case(site: Deployment) -> dict[str, object]:
    [case] = json.loads(site.cli("cases", "--json").stdout)
    assert isinstance(case, dict)
    return case


def reply_with_results(form: EmailMessage, sender: str, results: list[str]) -> bytes:
    raw = reply_to(form, ANSWER, sender=sender, quote=False)
    head = "".join(f"Authentication-Results: {r}\r\n" for r in results)
    return head.encode() + raw


@pytest.fixture
def verified(deployment: Deployment) -> Deployment:
    """A deployment that trusts only its own receiving server's verdicts."""
    deployment.extra["ingest"] = {"trusted_authservs": ["mx.example.edu.cn"]}
    deployment.write_config()
    deployment.deliver("xgc", appeal(*HOT_WATER, sender="student@example.com"))
    deployment.poll()
    return deployment


@pytest.mark.parametrize(
    ("results", "accepted"),
    [
        (["mx.example.edu.cn; dmarc=pass header.from=example.edu.cn"], True),
        (["mx.example.edu.cn; dkim=pass header.d=example.edu.cn; spf=fail"], True),
        ([], False),
        (["mx.example.edu.cn; dmarc=fail header.from=example.edu.cn"], False),
        (["mx.example.edu.cn; dkim=pass header.d=evil.example"], False),
        # Written by the forger, under another server's name: not trusted.
        (["mx.evil.example; dmarc=pass header.from=example.edu.cn"], False),
    ],
)
def test_unit_answer_counts_only_when_authenticated(
    verified: Deployment, results: list[str], accepted: bool
) -> None:
    """With trusted_authservs set, a reply bearing the unit's From address
    is taken as the answer only when our server vouches for its domain; a
    forged one is held for staff and forwards nothing."""
    form = verified.wait_for_kind("form", 1)[0].message()
    verified.deliver("xgc", reply_with_results(form, "hqzx@example.edu.cn", results))
    verified.poll()
    kinds = [m["kind"] for m in listed(verified)]
    assert kinds[-1] == ("unit_reply" if accepted else "unmatched")
    assert one_case(verified)["status"] == ("replied" if accepted else "assigned")
    assert bool(verified.sent_of_kind("forward")) == accepted


def test_forged_staff_command_is_refused(verified: Deployment) -> None:
    """A 不予受理 command with an admin's From but no authentication changes
    nothing and sends nothing to the student."""
    form = verified.wait_for_kind("form", 1)[0].message()
    verified.deliver(
        "xgc", reply_to(form, "不予受理 骗你的", sender=ADMIN, quote=False)
    )
    verified.poll()
    assert one_case(verified)["status"] == "assigned"
    assert verified.sent_of_kind("decline") == []


def test_authentication_results_parsing() -> None:
    """RFC 8601 headers are read per method, comments and all."""
    mail = ParsedMail(
        message_id=None,
        subject="",
        sender=Address(None, "jwc@example.edu.cn"),
        headers={
            "authentication-results": [
                "mx.example.edu.cn (Coremail) ; spf=pass (sender IP is 1.2.3.4)"
                " smtp.mailfrom=jwc@example.edu.cn; dkim=none"
            ]
        },
    )
    assert authenticated(mail, ["mx.example.edu.cn"])
    assert not authenticated(mail, ["other.example"])


HOSTILE_SUBJECT = '<script>alert("x")</script> 宿舍<b>漏水</b>'
HOSTILE_NAME = '"<img src=x onerror=alert(1)>" '
HOSTILE_BODY = "<iframe src='http://evil.example'></iframe>\n请处理 & 回复 <宿舍>"


def test_hostile_text_is_escaped_everywhere(deployment: Deployment) -> None:
    """Markup in a subject, a sender's name and a body arrives as text, never
    as markup, in every mail we send (HTML parts, plain parts, the form)."""
    message = EmailMessage()
    message["From"] = f"{HOSTILE_NAME}<student@example.com>"
    message["To"] = SENDER_ADDRESS
    message["Subject"] = HOSTILE_SUBJECT
    message["Message-ID"] = make_msgid(domain="example.com")
    message.set_content(HOSTILE_BODY)
    deployment.deliver("xgc", message.as_bytes())
    deployment.poll()

    sent = deployment.smtp.wait_for(2)
    for received in sent:
        mail = received.message()
        html = mail.get_body(("html",))
        assert html is not None
        content = html.get_content()
        assert "<script>" not in content and "<iframe" not in content
        assert "<img src=x" not in content and "<b>漏水" not in content
        assert "&lt;script&gt;" in content
        plain = mail.get_body(("plain",))
        assert plain is not None and "宿舍<b>漏水</b>" in plain.get_content()


def test_no_header_can_be_injected(deployment: Deployment) -> None:
    """CR and LF hidden in an encoded subject or name never reach a header we
    write: no Bcc appears, every header stays on its line."""
    evil = "=?utf-8?B?5a6/6IiNDQpCY2M6IGV2aWxAZXhhbXBsZS5jb20=?="  # 宿舍\r\nBcc: …
    name = "=?utf-8?B?5byg5LiJDQpCY2M6IGV2aWxAZXhhbXBsZS5jb20=?="  # 张三\r\nBcc: …
    raw = (
        f"From: {name} <s@example.com>\r\n"
        f"To: {SENDER_ADDRESS}\r\nSubject: {evil}\r\n"
        "Message-ID: <inject-1@example.com>\r\n\r\n请处理。\r\n"
    ).encode()
    deployment.deliver("xgc", raw)
    deployment.poll()
    for received in deployment.smtp.wait_for(2):
        assert received.rcpt_tos != ["evil@example.com"]
        assert "evil@example.com" not in received.rcpt_tos
        mail = received.message()
        assert mail["Bcc"] is None
        assert "\n" not in str(mail["Subject"]) and "\r" not in str(mail["Subject"])


def test_out_of_office_reply_to_our_ack_is_not_acknowledged(
    deployment: Deployment,
) -> None:
    """A student's vacation reply to our acknowledgement is recorded as an
    automatic reply: no second acknowledgement, no loop."""
    deployment.deliver("xgc", appeal(*HOT_WATER, sender="student@example.com"))
    deployment.poll()
    [ack] = deployment.wait_for_kind("ack", 1)
    vacation = EmailMessage()
    vacation["From"] = "student@example.com"
    vacation["To"] = SENDER_ADDRESS
    vacation["Subject"] = "自动回复：" + str(ack.message()["Subject"])
    vacation["Message-ID"] = make_msgid(domain="example.com")
    vacation["In-Reply-To"] = ack.message()["Message-ID"]
    vacation.set_content("您好，我正在休假，返校后回复。")
    deployment.deliver("xgc", vacation.as_bytes())
    deployment.poll()
    assert [m["kind"] for m in listed(deployment)] == ["appeal", "auto_reply"]
    assert len(deployment.sent_of_kind("ack")) == 1


def test_our_own_mail_coming_back_is_ignored(deployment: Deployment) -> None:
    """A copy of our own acknowledgement landing in a polled mailbox is
    recognised as ours: no case, no answer."""
    deployment.deliver("xgc", appeal(*HOT_WATER, sender="student@example.com"))
    deployment.poll()
    [ack] = deployment.wait_for_kind("ack", 1)
    deployment.deliver("shuji", ack.data)
    deployment.poll()
    assert [m["kind"] for m in listed(deployment)] == ["appeal", "auto_reply"]
    assert len(deployment.smtp.messages) == 2  # the ack and the 办理单, nothing new


def test_list_mail_is_not_an_appeal(deployment: Deployment) -> None:
    """Mailing-list mail (List-Id, Precedence: list) gets no case and no ack."""
    deployment.deliver(
        "xgc",
        appeal(
            "[校园通知] 本周讲座安排",
            "本周讲座安排如下……",
            headers={"List-Id": "<notice.example.edu.cn>", "Precedence": "list"},
        ),
    )
    deployment.poll()
    assert [m["kind"] for m in listed(deployment)] == ["auto_reply"]
    assert deployment.smtp.messages == []


def test_responder_loop_is_cut_by_the_daily_limit(deployment: Deployment) -> None:
    """A responder that marks nothing and answers every mail with a new one
    would loop for ever; every mail is kept, but acknowledgements to it stop
    at the per-sender daily limit (5)."""
    responder = "robot@example.com"
    for round_ in range(8):
        deployment.deliver(
            "xgc",
            appeal("您的来信已收到", f"感谢来信（第{round_}次）。", sender=responder),
        )
        deployment.poll()
    assert len(listed(deployment)) == 8
    acks = [r for r in deployment.sent_of_kind("ack") if r.rcpt_tos == [responder]]
    assert len(acks) == 5
    cases = json.loads(deployment.cli("cases", "--json").stdout)
    shown = json.loads(deployment.cli("show", cases[-1]["number"], "--json").stdout)
    assert any(e["action"] == "ack_skipped" for e in shown["events"])


def test_two_acknowledging_systems_do_not_ping_pong(deployment: Deployment) -> None:
    """Another helpdesk that acknowledges our acknowledgement (it replies in
    our thread, marked auto-replied or not) never gets a second one back."""
    deployment.deliver("xgc", appeal(*HOT_WATER, sender="helpdesk@other.example"))
    deployment.poll()
    for _ in range(3):
        [*_, last] = [
            r
            for r in deployment.smtp.messages
            if r.rcpt_tos == ["helpdesk@other.example"]
        ]
        deployment.deliver(
            "xgc",
            reply_to(
                last.message(),
                "您的邮件已收到，工单号 12345。",
                sender="helpdesk@other.example",
                quote=False,
            ),
        )
        deployment.poll()
    assert (
        len(
            [
                r
                for r in deployment.smtp.messages
                if r.message()["X-Suqiu-Kind"] == "ack"
            ]
        )
        == 1
    )
