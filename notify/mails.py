"""Queue each kind of mail we send: render it, build it, put it in the outbox."""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from notify import college
from notify.compose import Attachment, Outgoing, build
from notify.render import render_mail
from store import outbox
from store.models import Case, Inbound

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MailSettings:
    """What every mail needs from the configuration."""

    sender: str  # From of every mail we send
    deadline_days: int = 7


def queue(
    session: Session,
    settings: MailSettings,
    *,
    case: Case | None,
    kind: str,
    template: str,
    to: Sequence[str],
    cc: Sequence[str] = (),
    answering: Inbound | None = None,
    attachments: Sequence[Attachment] = (),
    auto_submitted: str = "auto-generated",
    **context: Any,
) -> int:
    """Render *template*, build the mail and queue it; the outbox row's id."""
    rendered = render_mail(template, case=case, **context)
    in_reply_to = answering.message_id if answering is not None else None
    references = [*answering.references, in_reply_to] if answering is not None else []
    mail = build(
        rendered,
        sender=settings.sender,
        to=to,
        cc=cc,
        case_number=case.number if case is not None else None,
        kind=kind,
        in_reply_to=in_reply_to,
        references=[r for r in references if r],
        attachments=attachments,
        auto_submitted=auto_submitted,
    )
    return enqueue(session, mail, case=case, kind=kind)


def enqueue(session: Session, mail: Outgoing, *, case: Case | None, kind: str) -> int:
    """Put a composed mail in the outbox, as it will go out; the row's id."""
    return outbox.add(
        session,
        case=case,
        kind=kind,
        message_id=mail.message_id,
        sender=mail.sender,
        recipients=mail.recipients,
        subject=mail.subject,
        text=mail.text,
        raw=mail.raw,
        attachments=mail.attachments,
    )


def dispatcher_step(case: Case) -> str:
    """Say in one sentence who dispatches this case (DESIGN.md, 诉求受理)."""
    if case.dispatcher == college.STUDENT_AFFAIRS:
        return (
            "学生工作处（学生诉求工作领导小组办公室）将把您的诉求交由相关责任单位办理。"
        )
    return f"您的来信将由{case.dispatcher}直接分派至相关责任单位办理。"


def queue_ack(
    session: Session,
    settings: MailSettings,
    case: Case,
    answering: Inbound | None,
    to: str,
) -> int:
    """The acknowledgement (受理回执) to the student."""
    return queue(
        session,
        settings,
        case=case,
        kind="ack",
        template="student_ack",
        to=[to],
        answering=answering,
        auto_submitted="auto-replied",
        crisis=case.crisis,
        counselling_phones=college.phones(college.COUNSELLING_CENTRE),
        dispatcher_step=dispatcher_step(case),
        deadline_days=settings.deadline_days,
    )
