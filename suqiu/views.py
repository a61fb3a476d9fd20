"""Cases and mails as CONTRACT.md's JSON, and as tables for people."""

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import Case, Inbound, Outbox
from suqiu import clock


def iso(moment: datetime | None) -> str | None:
    return clock.local(moment).isoformat() if moment is not None else None


def case_json(session: Session, case: Case, *, messages: bool = True) -> dict[str, Any]:
    """One case with CONTRACT.md's keys."""
    data: dict[str, Any] = {
        "number": case.number,
        "status": case.status,
        "channel": case.channel,
        "dispatcher": case.dispatcher,
        "category": case.category,
        "unit": case.unit,
        "subject": case.subject,
        "student": {
            "name": case.student_name,
            "class": case.student_class,
            "student_id": case.student_id,
            "email": case.student_email,
            "phone": case.student_phone,
            "counselor": case.student_counselor,
        },
        "confidential": case.confidential,
        "major": case.major,
        "crisis": case.crisis,
        "public": case.public,
        "received_at": iso(case.received_at),
        "assigned_at": iso(case.assigned_at),
        "due_at": iso(case.due_at),
        "replied_at": iso(case.replied_at),
        "closed_at": iso(case.closed_at),
        "rating": case.rating,
    }
    if messages:
        data["messages"] = case_messages(session, case)
        data["events"] = [
            {
                "at": iso(event.at),
                "actor": event.actor,
                "action": event.action,
                "from_status": event.from_status,
                "to_status": event.to_status,
                "reason": event.reason,
            }
            for event in case.events
        ]
    return data


def case_messages(session: Session, case: Case) -> list[dict[str, Any]]:
    """Every mail in and out of a case, in time order."""
    received = session.scalars(
        select(Inbound).where(Inbound.case_id == case.id).order_by(Inbound.id)
    ).all()
    sent = session.scalars(
        select(Outbox).where(Outbox.case_id == case.id).order_by(Outbox.id)
    ).all()
    entries: list[tuple[datetime, dict[str, Any]]] = []
    for mail in received:
        entries.append(
            (
                mail.read_at,
                {
                    "direction": "in",
                    "kind": mail.kind,
                    "from": mail.from_addr,
                    "to": mail.to_addrs,
                    "subject": mail.subject,
                    "at": iso(mail.read_at),
                    "text": mail.text,
                    "attachments": [a.get("filename") for a in mail.attachments],
                    "defects": mail.defects,
                },
            )
        )
    for row in sent:
        entries.append(
            (
                row.created_at,
                {
                    "direction": "out",
                    "kind": row.kind,
                    "from": row.sender,
                    "to": row.recipients,
                    "subject": row.subject,
                    "at": iso(row.sent_at or row.created_at),
                    "text": row.text,
                    "attachments": row.attachments,
                    "state": row.state,
                },
            )
        )
    entries.sort(key=lambda entry: entry[0])
    return [entry for _, entry in entries]


def message_json(mail: Inbound) -> dict[str, Any]:
    """One inbound mail for `suqiu messages --json`."""
    return {
        "mailbox": mail.mailbox,
        "message_id": mail.message_id,
        "from": mail.from_addr,
        "subject": mail.subject,
        "at": iso(mail.read_at),
        "kind": mail.kind,
        "case": mail.case.number if mail.case is not None else None,
        "error": mail.error,
    }
