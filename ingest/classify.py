"""Tell what an inbound mail is: a new appeal, a reply on a case, or neither.

The order matters and is the same for every mail: our own mail coming back,
bounces, automatic replies and spam are recognised from the mail itself
before any case is looked up; then the thread (In-Reply-To, References, the
case number in the subject) and the sender's role decide the rest.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ingest.authentication import authenticated
from ingest.mail import ParsedMail
from ingest.signals import Bounce, auto_reply_reason, bounce_info, spam_reason
from store.models import Case, Inbound, Outbox
from store.numbers import find_numbers

log = logging.getLogger(__name__)

OUR_MESSAGE_IDS = "suqiu."


@dataclass(frozen=True)
class Directory:
    """Who is who, by address: ourselves, staff, and the units."""

    own: frozenset[str]
    admins: frozenset[str]
    units: dict[str, str]  # address → unit name
    # When set, staff and unit roles need the sender authenticated by one
    # of these servers' Authentication-Results.
    trusted_authservs: frozenset[str] = frozenset()


@dataclass
class Verdict:
    """What a mail is, why, and what it concerns."""

    kind: str
    reason: str
    case: Case | None = None
    bounced: Outbox | None = None  # the mail of ours that bounced
    bounce: Bounce | None = None
    role: str | None = None  # student | unit | admin | other


def classify(session: Session, parsed: ParsedMail, directory: Directory) -> Verdict:
    """Decide the kind of one mail (``kind`` as CONTRACT.md names them)."""
    sender = parsed.sender.addr if parsed.sender and parsed.sender.addr else None

    ours = own_mail(session, parsed, directory, sender)
    if ours is not None:
        return ours

    bounce = bounce_info(parsed)
    if bounce is not None:
        bounced = _outbox_by_ids(session, bounce.original_message_ids)
        return Verdict(
            "bounce",
            bounce.reason,
            case=bounced.case if bounced is not None else None,
            bounced=bounced,
            bounce=bounce,
        )

    case = thread_case(session, parsed)

    automatic = auto_reply_reason(parsed)
    if automatic is not None:
        return Verdict("auto_reply", automatic, case=case)

    spam = spam_reason(parsed)
    if spam is not None:
        return Verdict("spam", spam, case=case)

    role = role_of(sender, case, directory)
    if (
        role in ("unit", "admin")
        and directory.trusted_authservs
        and not authenticated(parsed, directory.trusted_authservs)
    ):
        return Verdict(
            "unmatched",
            f"发件人 {sender} 是职能部门或管理员的地址，但收信服务器没有验证其"
            "身份（SPF/DKIM/DMARC），可能是伪造的，已保留待学生工作处查看",
            case=case,
            role="other",
        )
    if case is not None:
        return Verdict(
            "follow_up", f"属于诉求 {case.number} 的往来邮件", case, role=role
        )
    if role in ("unit", "admin"):
        return Verdict(
            "unmatched",
            "职能部门或管理员的来信没有关联任何诉求（缺少编号或回复关系）",
            role=role,
        )
    return Verdict("appeal", "新的诉求", role=role)


def own_mail(
    session: Session, parsed: ParsedMail, directory: Directory, sender: str | None
) -> Verdict | None:
    """Recognise our own mail coming back to a polled mailbox (a loop)."""
    # Every Message-ID we write starts "suqiu." (notify.compose): only such
    # a mail can be one of ours, and only then is the outbox asked.
    if parsed.message_id and parsed.message_id.startswith(OUR_MESSAGE_IDS):
        row = session.scalars(
            select(Outbox).where(Outbox.message_id == parsed.message_id)
        ).first()
        if row is not None:
            return Verdict(
                "auto_reply",
                f"本系统发出的邮件（{row.kind}）回到了信箱，未作处理",
                case=row.case,
            )
    if sender is not None and sender in directory.own:
        return Verdict("auto_reply", f"发件人 {sender} 是本系统自己的地址，未作处理")
    return None


def role_of(sender: str | None, case: Case | None, directory: Directory) -> str:
    """Say who wrote: the case's student, its unit, staff, or someone else."""
    if sender is None:
        return "other"
    if sender in directory.admins:
        return "admin"
    unit = directory.units.get(sender)
    if unit is not None and (case is None or unit == case.unit):
        return "unit"
    if case is not None and case.student_email and sender == case.student_email:
        return "student"
    if case is None and unit is None:
        return "student"
    return "other"


def thread_case(session: Session, parsed: ParsedMail) -> Case | None:
    """Find the case a mail answers: by thread headers, else by number."""
    ids = [*parsed.in_reply_to, *reversed(parsed.references)]
    if ids:
        sent = _outbox_by_ids(session, ids)
        if sent is not None and sent.case is not None:
            return sent.case
        received = session.scalars(
            select(Inbound).where(
                Inbound.message_id.in_(ids[:50]), Inbound.case_id.is_not(None)
            )
        ).first()
        if received is not None:
            return received.case

    for number in find_numbers(parsed.subject):
        case = session.scalars(select(Case).where(Case.number == number)).first()
        if case is not None:
            return case
    return None


def _outbox_by_ids(session: Session, ids: Iterable[str]) -> Outbox | None:
    wanted = [i for i in ids if i][:50]
    if not wanted:
        return None
    rows = session.scalars(select(Outbox).where(Outbox.message_id.in_(wanted))).all()
    by_id = {row.message_id: row for row in rows}
    # The first id named (In-Reply-To) is the closest ancestor.
    return next((by_id[i] for i in wanted if i in by_id), None)
