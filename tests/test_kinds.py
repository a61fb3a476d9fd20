"""Machine mail against a real server: bounces tied to the mail they bounce,
spam held apart, the IMAP ID command, and progress on a large backlog."""

import json
import logging
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from sqlalchemy import select

from store.db import transaction
from store.models import Outbox
from tests.deployment import SENDER_ADDRESS, Deployment, appeal, database

CANTEEN = ("二食堂饭菜涨价", "二食堂的青菜涨到5元一份了。")


def delivery_status_notification(bounced: EmailMessage, recipient: str) -> bytes:
    """A bounce as Postfix writes it (RFC 3464), quoting the mail's headers."""
    quoted = "".join(f"{name}: {value}\r\n" for name, value in bounced.items())
    return (
        "From: MAILER-DAEMON@mx.example.com (Mail Delivery System)\r\n"
        f"To: {SENDER_ADDRESS}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: {make_msgid(domain='mx.example.com')}\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: multipart/report; report-type=delivery-status;\r\n"
        '\tboundary="B1"\r\n\r\n'
        "--B1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
        "I'm sorry to have to inform you that your message could not\r\n"
        f"be delivered to one or more recipients: <{recipient}>\r\n\r\n"
        "--B1\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.com\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\n"
        "Action: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 User unknown\r\n\r\n"
        "--B1\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"{quoted}\r\n--B1--\r\n"
    ).encode()


def test_bounce_is_recorded_against_the_mail_it_bounces(deployment: Deployment) -> None:
    """A delivery failure for our acknowledgement is kind bounce, marks that
    outbox row bounced, and leaves an event on the case for staff."""
    deployment.deliver("xgc", appeal(*CANTEEN, sender="nobody@example.com"))
    deployment.poll()
    [ack] = deployment.wait_for_kind("ack", 1)
    deployment.deliver(
        "xgc", delivery_status_notification(ack.message(), "nobody@example.com")
    )
    deployment.poll()

    listed = json.loads(deployment.cli("messages", "--json").stdout)
    assert [m["kind"] for m in listed] == ["appeal", "bounce"]
    assert listed[1]["case"] == listed[0]["case"]
    with transaction(database(deployment.database_url)) as session:
        row = session.scalars(select(Outbox).where(Outbox.kind == "ack")).one()
        assert row.bounced_at is not None and "5.1.1" in (row.bounce_reason or "")
    shown = json.loads(deployment.cli("show", str(listed[0]["case"]), "--json").stdout)
    assert any(e["action"] == "mail_bounced" for e in shown["events"])


def test_spam_is_held_apart_not_dropped(deployment: Deployment) -> None:
    """Mail the receiving server marked as spam gets no case and no answer,
    and stays listed for staff."""
    deployment.deliver(
        "xgc",
        appeal(
            "代开发票 低价",
            "代开各类发票，加微信 abc123，http://spam.example",
            headers={"X-Spam-Flag": "YES", "X-Spam-Status": "Yes, score=9.1"},
        ),
    )
    deployment.poll()
    [mail] = json.loads(deployment.cli("messages", "--json").stdout)
    assert mail["kind"] == "spam" and mail["case"] is None
    assert deployment.smtp.messages == []


def test_client_identifies_itself_with_imap_id(deployment: Deployment) -> None:
    """suqiu sends the IMAP ID command after login (163.com refuses SELECT
    without it); the server's log shows what it sent."""
    deployment.deliver("xgc", appeal(*CANTEEN))
    deployment.poll(send=False)
    assert 'name="suqiu"' in deployment.dovecot.log_text() or "name=suqiu" in (
        deployment.dovecot.log_text()
    )


def test_large_backlog_reports_progress_in_the_log(
    deployment: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    """Reading a backlog of hundreds of mails, away from a terminal, logs how
    far it got in plain lines."""
    mails = [
        appeal(f"宿舍停电（{n}）", "停电了。", sender=f"s{n}@qq.com")
        for n in range(220)
    ]
    deployment.dovecot.deliver_many(deployment.boxes["xgc"].user, mails)
    with caplog.at_level(logging.INFO, logger="ingest.progress"):
        deployment.poll(send=False)
    lines = [r.getMessage() for r in caplog.records if r.name == "ingest.progress"]
    assert lines and lines[-1].startswith(
        "mailbox 学生工作处邮箱: 220 of 220 mails read"
    )
