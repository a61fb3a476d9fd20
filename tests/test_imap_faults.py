"""IMAP faults against Dovecot: a connection cut mid-fetch, a mailbox emptied
or a folder renamed by someone else, a wrong password. Nothing is lost or
read twice, and the other mailboxes carry on."""

import json

import pytest
from imapclient import IMAPClient

from ingest.imap import ImapMailbox
from ingest.source import Fetched
from tests.deployment import Deployment, appeal


def listed(site: Deployment) -> list[dict[str, object]]:
    data = json.loads(site.cli("messages", "--json").stdout)
    assert isinstance(data, list)
    return data


def several(site: Deployment, count: int, box: str = "xgc") -> None:
    for index in range(count):
        site.deliver(
            box, appeal(f"宿舍停电（{index}）", "7栋停电。", sender=f"s{index}@qq.com")
        )


def test_connection_cut_mid_fetch_loses_and_repeats_nothing(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server drops the connection after the first batch: that poll
    reports the mailbox as unreadable, keeps what it committed, and the next
    poll reads the rest; every mail is stored once."""
    deployment.extra["ingest"] = {"batch_size": 3}
    deployment.write_config()
    several(deployment, 10)
    user = deployment.boxes["xgc"].user
    original = ImapMailbox.fetch
    calls = {"n": 0}

    def cut_after_first(self: ImapMailbox, uids: list[int]) -> list[Fetched]:
        calls["n"] += 1
        if calls["n"] == 2 and self.name == "学生工作处邮箱":
            deployment.dovecot.kick(user)
        return original(self, uids)

    monkeypatch.setattr(ImapMailbox, "fetch", cut_after_first)
    reports = deployment.poll(send=False)
    broken = next(r for r in reports if r.mailbox == "学生工作处邮箱")
    assert broken.error is not None and broken.stored == 3

    monkeypatch.setattr(ImapMailbox, "fetch", original)
    deployment.poll(send=False)
    mails = listed(deployment)
    assert len(mails) == 10 and all(m["kind"] == "appeal" for m in mails)
    assert len({m["case"] for m in mails}) == 10


def test_mailbox_emptied_by_someone_else(deployment: Deployment) -> None:
    """Mail deleted on the server by another client stays in suqiu's records,
    and new mail is still read afterwards."""
    several(deployment, 3)
    deployment.poll(send=False)
    user = deployment.boxes["xgc"]
    with IMAPClient(user.host, port=user.imap_port, ssl=False) as client:
        client.login(user.user, user.password)
        client.select_folder("INBOX")
        client.delete_messages(client.search("ALL"))
        client.expunge()
    assert deployment.dovecot.message_count(user.user) == 0

    deployment.deliver("xgc", appeal("新问题", "图书馆空调坏了。", sender="new@qq.com"))
    reports = deployment.poll(send=False)
    assert all(r.error is None for r in reports)
    assert len(listed(deployment)) == 4


def test_folder_renamed_is_reported_and_the_rest_go_on(deployment: Deployment) -> None:
    """When the configured folder is renamed by someone else, the poll says
    which folder is missing and lists those that exist, reads the other
    mailboxes, exits non-zero; renamed back, it reads on without loss."""
    user = deployment.boxes["xgc"].user
    deployment.dovecot.create_folder(user, "诉求")
    text = deployment.config_path.read_text(encoding="utf-8")
    text = text.replace(
        'name = "学生工作处邮箱"', 'name = "学生工作处邮箱"\nfolder = "诉求"'
    )
    deployment.config_path.write_text(text, encoding="utf-8")
    deployment.dovecot.append(
        user, "诉求", appeal("一", "宿舍停电。", sender="a@qq.com")
    )
    deployment.cli("poll", "--once", "--no-send")

    deployment.dovecot.rename_folder(user, "诉求", "诉求-旧")
    deployment.deliver("shuji", appeal("二", "食堂太贵。", sender="b@qq.com"))
    done = deployment.cli("poll", "--once", "--no-send", check=False)
    assert done.returncode != 0
    assert "找不到文件夹" in done.stdout and "诉求-旧" in done.stdout
    assert len(listed(deployment)) == 2  # 书记信箱 was read all the same

    deployment.dovecot.rename_folder(user, "诉求-旧", "诉求")
    deployment.dovecot.append(user, "诉求", appeal("三", "网断了。", sender="c@qq.com"))
    deployment.cli("poll", "--once", "--no-send")
    assert [m["subject"] for m in listed(deployment)] == ["一", "二", "三"]


def test_wrong_password_fails_that_mailbox_only(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refused login fails its own mailbox, with the reason; the other
    mailboxes are read, and the mail waits safely on the server."""
    monkeypatch.setenv("PW_XGC", "wrong")
    deployment.deliver("xgc", appeal("一", "宿舍停电。"))
    deployment.deliver("shuji", appeal("二", "食堂太贵。", sender="b@qq.com"))
    done = deployment.cli("poll", "--once", "--no-send", check=False)
    assert done.returncode != 0 and "登录被拒绝" in done.stdout
    assert [m["mailbox"] for m in listed(deployment)] == ["书记信箱"]

    monkeypatch.setenv("PW_XGC", deployment.boxes["xgc"].password)
    deployment.cli("poll", "--once", "--no-send")
    assert len(listed(deployment)) == 2
