"""Mail delivered into Dovecot becomes cases and acknowledgements, exactly once."""

import json
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from store.db import transaction
from store.models import Case, Inbound, Outbox
from suqiu.flow import Flow
from tests.deployment import (
    BOXES,
    SENDER_ADDRESS,
    Deployment,
    appeal,
    database,
    reply_to,
)

DATA = Path(__file__).parent / "data" / "mail"

CANTEEN = "二食堂的饭菜太贵了"
CANTEEN_TEXT = (
    "老师您好：\n我是经济管理学院会计2302班的刘洋，二食堂最近一份青菜涨到5元，"
    "分量还少，希望学校管一管。\n联系电话：13977123456\n"
)


def messages(site: Deployment) -> list[dict[str, object]]:
    listed = json.loads(site.cli("messages", "--json").stdout)
    assert isinstance(listed, list)
    return listed


def test_each_mailbox_gives_one_case_and_one_acknowledgement(
    deployment: Deployment,
) -> None:
    """One appeal in each of the three mailboxes gives three cases, each with
    its channel, and three acknowledgements at the SMTP server after one poll."""
    for index, box in enumerate(BOXES):
        deployment.deliver(
            box,
            appeal(f"{CANTEEN}（{index}）", CANTEEN_TEXT, sender=f"s{index}@qq.com"),
        )

    done = deployment.cli("poll", "--once")
    assert "新邮件 1 封" in done.stdout

    cases = json.loads(deployment.cli("cases", "--json").stdout)
    assert sorted(c["channel"] for c in cases) == sorted(BOXES.values())
    dispatchers = {c["channel"]: c["dispatcher"] for c in cases}
    assert dispatchers == {
        "书记信箱": "党委办公室",
        "校长信箱": "校长办公室",
        "学生工作处邮箱": "学生工作处",
    }

    acks = deployment.wait_for_kind("ack", 3)
    assert len(acks) == 3
    by_recipient = {a.rcpt_tos[0]: a.message() for a in acks}
    assert set(by_recipient) == {"s0@qq.com", "s1@qq.com", "s2@qq.com"}
    for case in cases:
        ack = by_recipient[case["student"]["email"]]
        assert case["number"] in ack["Subject"]
        body = ack.get_body(("plain",))
        assert body is not None
        text = body.get_content()
        assert case["number"] in text and case["channel"] in text
        assert "7 日内" in text and "0776-5825962" in text and "8:00—11:30" in text
        assert ack["Auto-Submitted"] == "auto-replied"
        assert ack["From"].addresses[0].addr_spec == SENDER_ADDRESS


def test_same_mail_delivered_twice_is_one_case(deployment: Deployment) -> None:
    """The same mail delivered twice gives one case, one acknowledgement, and
    the second copy listed as a duplicate of the first."""
    raw = appeal(CANTEEN, CANTEEN_TEXT)
    deployment.deliver("xgc", raw)
    deployment.deliver("xgc", raw)
    deployment.poll()

    listed = messages(deployment)
    assert [m["kind"] for m in listed] == ["appeal", "duplicate"]
    assert listed[0]["case"] == listed[1]["case"] is not None
    assert len(json.loads(deployment.cli("cases", "--json").stdout)) == 1
    assert len(deployment.wait_for_kind("ack", 1)) == 1


def test_one_appeal_sent_to_all_three_mailboxes_is_one_case(
    deployment: Deployment,
) -> None:
    """An appeal addressed to all three mailboxes at once is one case; the
    other copies are recorded as duplicates, one per mailbox."""
    raw = appeal(CANTEEN, CANTEEN_TEXT, to="shuji@x.cn, xiaozhang@x.cn, xgc@x.cn")
    for box in BOXES:
        deployment.deliver(box, raw)
    deployment.poll()

    listed = messages(deployment)
    assert Counter(m["kind"] for m in listed) == {"appeal": 1, "duplicate": 2}
    assert {m["mailbox"] for m in listed} == set(BOXES.values())
    assert len({str(m["case"]) for m in listed}) == 1
    assert len(deployment.wait_for_kind("ack", 1)) == 1


def test_duplicate_without_message_id_is_found_by_content(
    deployment: Deployment,
) -> None:
    """Without a Message-ID, two deliveries of one mail (different trace
    headers) are still recognised as one by their content."""
    raw = appeal(CANTEEN, CANTEEN_TEXT)
    lines = [line for line in raw.split(b"\n") if not line.startswith(b"Message-ID")]
    raw = b"\n".join(lines)
    deployment.deliver("xgc", raw)
    deployment.deliver("shuji", b"X-Original-To: shuji@x.cn\n" + raw)
    deployment.poll()
    assert sorted(str(m["kind"]) for m in messages(deployment)) == [
        "appeal",
        "duplicate",
    ]


def test_auto_reply_gives_no_case_and_no_acknowledgement(
    deployment: Deployment,
) -> None:
    """An out-of-office reply is recorded as auto_reply: no case, no mail back."""
    deployment.deliver(
        "xgc",
        appeal(
            "自动回复: 关于座谈会",
            "您好，我正在休假，12月7日返校后回复。",
            headers={"Auto-Submitted": "auto-replied"},
        ),
    )
    deployment.deliver(
        "xgc",
        appeal("Automatic reply: 期末安排", "I am out of the office until Monday."),
    )
    deployment.poll()

    listed = messages(deployment)
    assert [m["kind"] for m in listed] == ["auto_reply", "auto_reply"]
    assert all(m["case"] is None for m in listed)
    assert json.loads(deployment.cli("cases", "--json").stdout) == []
    assert deployment.smtp.messages == []


def test_reply_to_our_acknowledgement_joins_the_case(deployment: Deployment) -> None:
    """A student's reply to the acknowledgement is a follow-up of the same
    case, with the quoted acknowledgement stripped, and gets no new ack."""
    deployment.deliver("xgc", appeal(CANTEEN, CANTEEN_TEXT))
    deployment.poll()
    [ack] = deployment.wait_for_kind("ack", 1)

    deployment.deliver(
        "xgc",
        reply_to(
            ack.message(),
            "补充一下：三食堂也一样涨价了。",
            sender="student@example.com",
        ),
    )
    deployment.poll()

    listed = messages(deployment)
    assert [m["kind"] for m in listed] == ["appeal", "follow_up"]
    number = listed[0]["case"]
    assert listed[1]["case"] == number
    shown = json.loads(deployment.cli("show", str(number), "--json").stdout)
    follow_up = [m for m in shown["messages"] if m["kind"] == "follow_up"]
    assert follow_up[0]["text"].strip() == "补充一下：三食堂也一样涨价了。"
    assert len(deployment.sent_of_kind("ack")) == 1


def test_case_number_in_subject_alone_joins_the_case(deployment: Deployment) -> None:
    """A new mail (no thread headers) naming the case number in its subject,
    from the same student, joins that case."""
    deployment.deliver("xgc", appeal(CANTEEN, CANTEEN_TEXT))
    deployment.poll()
    with transaction(database(deployment.database_url)) as session:
        number = session.scalars(select(Case.number)).one()

    deployment.deliver("shuji", appeal(f"关于{number}的补充", "还有三食堂。"))
    deployment.poll()
    assert [m["kind"] for m in messages(deployment)] == ["appeal", "follow_up"]


def test_reply_from_a_stranger_is_held_not_joined(deployment: Deployment) -> None:
    """Someone other than the student answering in the thread is kept as
    unmatched for staff, and the case is unchanged."""
    deployment.deliver("xgc", appeal(CANTEEN, CANTEEN_TEXT))
    deployment.poll()
    [ack] = deployment.wait_for_kind("ack", 1)
    deployment.deliver(
        "xgc", reply_to(ack.message(), "我来评价：满意", sender="other@example.com")
    )
    deployment.poll()
    listed = messages(deployment)
    assert [m["kind"] for m in listed] == ["appeal", "unmatched"]


def test_mails_are_flagged_seen_only_when_stored(deployment: Deployment) -> None:
    """After a poll every processed mail is \\Seen on the server and nothing
    was deleted; BODY.PEEK left them unread until then."""
    for index in range(3):
        deployment.deliver("xgc", appeal(f"{CANTEEN}{index}", CANTEEN_TEXT))
    user = deployment.boxes["xgc"].user
    assert all(b"\\Seen" not in f for f in deployment.dovecot.flags(user).values())

    deployment.poll(send=False)
    flags = deployment.dovecot.flags(user)
    assert len(flags) == 3
    assert all(b"\\Seen" in f for f in flags.values())


def test_after_none_leaves_the_server_untouched(deployment: Deployment) -> None:
    """With after = "none" mail is read but its flags stay as they were."""
    deployment.write_config(after="none")
    deployment.deliver("xgc", appeal(CANTEEN, CANTEEN_TEXT))
    deployment.poll(send=False)
    user = deployment.boxes["xgc"].user
    assert all(b"\\Seen" not in f for f in deployment.dovecot.flags(user).values())
    assert len(messages(deployment)) == 1


def test_after_move_moves_to_the_folder(deployment: Deployment) -> None:
    """With after = "move" processed mail moves to the named folder."""
    deployment.write_config(after="move", move_to="已处理")
    deployment.deliver("xgc", appeal(CANTEEN, CANTEEN_TEXT))
    deployment.poll(send=False)
    user = deployment.boxes["xgc"].user
    assert deployment.dovecot.message_count(user) == 0
    assert deployment.dovecot.message_count(user, "已处理") == 1


def test_uidvalidity_change_rescans_without_duplicating(
    deployment: Deployment,
) -> None:
    """After the server renumbers the folder (new UIDVALIDITY), mail already
    stored is recognised, not stored again, and new mail is still read."""
    deployment.write_config(after="none")
    for index in range(3):
        deployment.deliver("xgc", appeal(f"{CANTEEN}{index}", CANTEEN_TEXT))
    deployment.poll()
    user = deployment.boxes["xgc"].user
    deployment.dovecot.change_uidvalidity(user)
    deployment.deliver("xgc", appeal("新的诉求：校园网断线", "宿舍校园网每晚断线。"))
    deployment.poll()

    listed = messages(deployment)
    assert [m["kind"] for m in listed] == ["appeal"] * 4
    assert len(json.loads(deployment.cli("cases", "--json").stdout)) == 4
    assert len(deployment.wait_for_kind("ack", 4)) == 4
    with transaction(database(deployment.database_url)) as session:
        uidvalidities = set(session.scalars(select(Inbound.uidvalidity)))
    assert uidvalidities == {deployment.dovecot.uidvalidity(user)}


def test_failing_mail_is_kept_retried_and_never_blocks(
    deployment: Deployment,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A mail whose processing raises is stored with its error, the mails
    after it are processed, and a later poll processes it once fixed."""
    original = Flow.on_appeal

    def broken(self: Flow, session, row, parsed):  # type: ignore[no-untyped-def]
        if "故障" in parsed.subject:
            raise RuntimeError("注入的故障")
        return original(self, session, row, parsed)

    monkeypatch.setattr(Flow, "on_appeal", broken)
    deployment.deliver("xgc", appeal("故障：这封会失败", "内容"))
    deployment.deliver("xgc", appeal(CANTEEN, CANTEEN_TEXT))
    reports = deployment.poll()
    assert sum(r.failed for r in reports) == 1

    listed = messages(deployment)
    assert listed[0]["kind"] is None and "注入的故障" in str(listed[0]["error"])
    assert listed[1]["kind"] == "appeal"
    failed = deployment.cli("messages", "--failed").stdout
    assert "注入的故障" in failed
    user = deployment.boxes["xgc"].user
    flags = deployment.dovecot.flags(user)
    assert [b"\\Seen" in f for _, f in sorted(flags.items())] == [False, True]

    monkeypatch.setattr(Flow, "on_appeal", original)
    monkeypatch.setenv("SUQIU_NOW", "2099-01-01T08:00:00+08:00")
    deployment.poll()
    listed = messages(deployment)
    assert [m["kind"] for m in listed] == ["appeal", "appeal"]
    assert listed[0]["error"] is None
    assert all(b"\\Seen" in f for f in deployment.dovecot.flags(user).values())


@pytest.mark.parametrize("sample", sorted(p.name for p in DATA.glob("*.eml")))
def test_client_mail_reaches_a_case_with_decoded_text(
    deployment: Deployment, sample: str
) -> None:
    """Each realistic client mail (QQ, 163, Outlook, iPhone, Foxmail; UTF-8,
    GBK, GB18030, HTML only, attachments) is read once and its subject
    decoded without replacement characters."""
    deployment.deliver("xgc", (DATA / sample).read_bytes())
    deployment.poll()
    [listed] = messages(deployment)
    assert listed["error"] is None
    assert "\ufffd" not in str(listed["subject"])
    if listed["kind"] == "appeal":
        shown = json.loads(deployment.cli("show", str(listed["case"]), "--json").stdout)
        assert "\ufffd" not in shown["messages"][0]["text"]


def test_whole_path_delivers_ack_for_every_client_sample(
    deployment: Deployment,
) -> None:
    """Every realistic client mail that is an appeal gets exactly one
    acknowledgement at the SMTP server, addressed to its sender."""
    samples = sorted(DATA.glob("*.eml"))
    for sample in samples:
        deployment.deliver("xgc", sample.read_bytes())
    deployment.poll()
    with transaction(database(deployment.database_url)) as session:
        appeals = session.scalars(select(Inbound).where(Inbound.kind == "appeal")).all()
        expected = Counter(a.from_addr for a in appeals if a.from_addr)
        acks = session.scalars(select(Outbox).where(Outbox.kind == "ack")).all()
        assert len(acks) == sum(expected.values())
    received = deployment.wait_for_kind("ack", sum(expected.values()))
    assert Counter(r.rcpt_tos[0] for r in received) == expected
