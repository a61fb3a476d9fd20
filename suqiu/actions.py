"""The handling cycle as actions: 受理, 交办, 答复, 评价, 研判, 不予受理, 销号.

Both the mail flow and the command line act on cases only through these, so
a reassignment by mail and one by `suqiu assign` do the same things: the
change of state with its event, and the mails that follow from it.
"""

import logging
import time as clock_time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ingest.mail import ParsedMail
from ingest.parse import extract_attachment
from ingest.statements import Statements, extract_statements
from ingest.stored import stored_mail
from notify import college, mails
from notify.compose import Attachment
from notify.forms import HandlingForm, handling_form_docx, read_handling_form
from notify.scrub import scrub
from routing.commands import Command
from routing.crisis import crisis_signs
from routing.deadline import due_at
from routing.decide import Decision, dispatcher_for, route
from routing.rules import RuleSet, load_rules
from routing.similar import MAJOR_MIN_CASES, MAJOR_WINDOW, similar_to, topic_terms
from store import cases, outbox, roster, topics
from store.cases import SYSTEM, StudentFacts
from store.models import Case, CaseStatus, Inbound
from suqiu import clock
from suqiu.config import Settings
from suqiu.errors import TransitionError

log = logging.getLogger(__name__)

TEACHER_CONDUCT = "师德师风"
SUMMARY_LIMIT = 3000  # characters of the appeal quoted in a 办理单
# Attachments travel in one mail (to the unit with the 办理单, to the student
# with the answer) up to this sum; the others are named and stay with the
# case. Base64 adds a third, and a mail much over 25 MB is refused by many
# servers (Gmail's limit is 25 MB, Exchange Online's default 35 MB).
PASSED_ON_LIMIT = 18 * 1024 * 1024
RATING_WAIT = timedelta(days=7)
ROSTER_RECHECK = 60.0  # seconds
GOOD_RATINGS = ("满意", "较满意")
UNRATED = "未评价"


@dataclass(frozen=True)
class AppealFacts:
    """An appeal as it reached us, by mail or registered by staff (交报单)."""

    channel: str
    subject: str
    text: str
    received_at: datetime
    written_at: datetime | None = None  # the mail's Date, as the student sent it
    sender: str | None = None  # the student's address, when there is one
    sender_name: str | None = None
    reply_address: str | None = None  # where the acknowledgement goes
    mail: Inbound | None = None  # the mail it came in, for thread and files
    student: StudentFacts | None = None  # what staff registered, if any


class Office:
    """学生工作处 at work: applies the college's process to cases."""

    def __init__(self, settings: Settings, rules: RuleSet | None = None) -> None:
        if settings.smtp is None:
            raise ValueError("the office needs [smtp] to address its mails")
        self.settings = settings
        self.rules = rules or load_rules(settings.routing.rules)
        self.mail = mails.MailSettings(
            sender=settings.smtp.sender, deadline_days=settings.routing.deadline_days
        )
        self._roster_present = False
        self._roster_checked = -ROSTER_RECHECK

    # -- 受理 -----------------------------------------------------------------

    def receive(
        self, session: Session, facts: AppealFacts, *, actor: str = SYSTEM
    ) -> Case:
        """Register an appeal, route it, and send what follows (受理, 交办)."""
        said = extract_statements(facts.text, facts.sender_name)
        student = self._student(session, said, facts)
        case = cases.open_case(
            session,
            channel=facts.channel,
            dispatcher=dispatcher_for(facts.channel),
            subject=facts.subject,
            student=student,
            received_at=facts.received_at,
            actor=actor,
            reason=None if facts.mail is not None else f"由 {actor} 登记（交报单）",
            # Linked now: the 办理单 below quotes this mail and passes on its files.
            mail=facts.mail,
        )
        if facts.mail is not None:
            self._note_oversized(session, case, facts.mail)
        terms = topic_terms(facts.subject, facts.text)
        case.topic_terms = sorted(terms)
        case.appealed_at = _appealed_at(facts)
        topics.index(session, case, terms, case.appealed_at)

        decision = route(
            facts.subject,
            facts.text,
            self.rules,
            threshold=self.settings.routing.threshold,
        )
        case.category = decision.category
        case.confidential = said.wants_confidential or case.category == TEACHER_CONDUCT
        if case.confidential:
            cases.record(
                session,
                case,
                "confidential",
                reason="师德师风问题，按规定保密"
                if case.category == TEACHER_CONDUCT
                else "学生要求对身份保密",
            )

        signs = crisis_signs(f"{facts.subject}\n{facts.text}")
        if signs:
            case.crisis = True
            cases.record(
                session,
                case,
                "crisis",
                reason=f"来信含心理危机表述：{'、'.join(signs)}",
            )
            self._alert_crisis(session, case, signs, facts.text)

        self._dispatch(session, case, decision, terms, facts.mail)
        return case

    def _note_oversized(self, session: Session, case: Case, mail: Inbound) -> None:
        """Tell staff, on the case, of attachments too large to be decoded."""
        cap = self.settings.ingest.max_part_bytes // (1024 * 1024)
        for item in mail.attachments:
            if item.get("oversized"):
                size = int(item.get("size") or 0) // (1024 * 1024)
                cases.record(
                    session,
                    case,
                    "attachment_oversized",
                    reason=f"附件“{item.get('filename') or '未命名'}”约 {size} MB，"
                    f"超过 {cap} MB 上限：原始邮件已完整保存，但附件未解码、未转发",
                )

    def _student(
        self, session: Session, said: Statements, facts: AppealFacts
    ) -> StudentFacts:
        """What we know of the student: staff's entry, the roster, the text."""
        given = facts.student or StudentFacts()
        known = (
            roster.by_email(session, facts.sender) if self._roster(session) else None
        )
        return StudentFacts(
            name=given.name or (known.name if known else None) or said.name,
            class_name=given.class_name
            or (known.class_name if known else None)
            or said.class_name,
            student_id=given.student_id
            or (known.student_id if known else None)
            or said.student_id,
            email=given.email or facts.sender,
            phone=given.phone or said.phone,
            counselor=given.counselor
            or (known.counselor if known else None)
            or said.counselor,
            counselor_email=given.counselor_email
            or (known.counselor_email if known else None),
        )

    def _roster(self, session: Session) -> bool:
        """Whether a roster was imported (asked again after a minute, so an
        import reaches a running service without a lookup per mail)."""
        moment = clock_time.monotonic()
        if moment - self._roster_checked > ROSTER_RECHECK:
            self._roster_present = roster.present(session)
            self._roster_checked = moment
        return self._roster_present

    def _dispatch(
        self,
        session: Session,
        case: Case,
        decision: Decision,
        terms: frozenset[str],
        appeal: Inbound | None,
    ) -> None:
        """交办 by the rules, or to the leading group, or leave for triage."""
        # A mail written well before it was read is a backlog being caught
        # up: its week has passed, and a burst then is no burst now.
        assert case.appealed_at is not None
        backlog = case.appealed_at < case.received_at - MAJOR_WINDOW
        similar = [] if backlog else self._similar_recent(session, case, terms)
        related = [n.number for n in similar]
        joined = [n.number for n in similar if n.major]
        if decision.major:
            self.escalate(
                session,
                case,
                actor=SYSTEM,
                why=f"需要多个部门协同解决（{decision.explanation}）",
                units=decision.units,
                major=True,
                appeal=appeal,
            )
        elif joined:
            # The topic is already before the leading group: this appeal
            # joins it, without a new alert for every student who writes.
            self.escalate(
                session,
                case,
                actor=SYSTEM,
                why=f"与已提请研判的重大问题 {joined[0]} 同类，一并研判",
                related=related,
                major=True,
                alert=False,
                appeal=appeal,
            )
        elif len(related) + 1 >= MAJOR_MIN_CASES:
            self.escalate(
                session,
                case,
                actor=SYSTEM,
                why=f"{MAJOR_WINDOW.days} 日内已有 {len(related) + 1} 件同类诉求，"
                "属学生诉求比较集中的问题",
                related=related,
                major=True,
                appeal=appeal,
            )
        elif decision.confident and decision.unit is not None:
            self.assign(
                session,
                case,
                decision.unit,
                actor=SYSTEM,
                decision=decision,
                appeal=appeal,
            )
        else:
            cases.record(
                session,
                case,
                "triage",
                reason=f"规则未能确定责任单位，留待学生工作处分派：{decision.explanation}",
                data=_decision_data(decision),
            )

    def _similar_recent(
        self, session: Session, case: Case, terms: frozenset[str]
    ) -> list[topics.Neighbour]:
        """The other cases on the same topic written within the week before."""
        assert case.appealed_at is not None
        nearby = topics.neighbours(
            session,
            terms,
            since=case.appealed_at - MAJOR_WINDOW,
            until=case.appealed_at,
            exclude=case.id,
        )
        similar = similar_to(terms, [n.terms for n in nearby])
        return [nearby[i] for i in similar]

    def acknowledge(self, session: Session, case: Case, facts: AppealFacts) -> None:
        """Send the 受理回执 to the student, within the per-sender limit."""
        address = facts.reply_address or facts.sender
        if not address:
            cases.record(
                session, case, "ack_skipped", reason="没有学生邮箱，无法发送受理回执"
            )
            return

        limit = self.settings.ingest.acks_per_sender_per_day
        sent = outbox.acks_to_student_since(
            session, facts.sender or address, clock.now() - timedelta(days=1)
        )
        if sent >= limit:
            # The cap stops a loop with a responder we failed to recognise;
            # the case itself is kept, and staff see why no ack went out.
            cases.record(
                session,
                case,
                "ack_skipped",
                reason=f"{address} 在 24 小时内已收到 {sent} 封受理回执，"
                f"达到上限 {limit}，本次不再回复",
            )
            log.warning(
                "case %s: ack to %s skipped, limit reached", case.number, address
            )
            return
        mails.queue_ack(session, self.mail, case, facts.mail, address)

    # -- 交办 -----------------------------------------------------------------

    def assign(
        self,
        session: Session,
        case: Case,
        unit_name: str,
        *,
        actor: str,
        decision: Decision | None = None,
        reason: str | None = None,
        appeal: Inbound | None = None,
    ) -> str:
        """Give *case* to a unit: the 办理单 goes to it, the deadline starts.

        *appeal* is the case's first mail when the caller has it at hand.
        """
        appeal = appeal or _first_appeal(session, case)
        unit = self.settings.unit(unit_name)
        if unit is None:
            problem = (
                f"责任单位“{unit_name}”没有在配置文件的 [[units]] 中登记邮箱，"
                "无法发送办理单"
            )
            if decision is None:
                raise TransitionError(problem + "。")
            cases.record(
                session,
                case,
                "triage",
                reason=f"{problem}，留待学生工作处分派（{decision.explanation}）",
                data=_decision_data(decision),
            )
            return problem

        moment = clock.now()
        again = case.status == CaseStatus.ASSIGNED
        # A case still at 受理 was never assigned: no earlier assignment to end.
        assigned_before = case.status != CaseStatus.RECEIVED
        explanation = decision.explanation if decision else reason
        cases.change_status(
            session,
            case,
            CaseStatus.ASSIGNED,
            action="reassign" if again else "assign",
            actor=actor,
            reason=f"交由{unit_name}办理" + (f"：{explanation}" if explanation else ""),
            data=_decision_data(decision) if decision else None,
        )
        if assigned_before:
            for previous in case.assignments:
                previous.active = False
        # A major issue keeps the deadline the leading group set.
        if not (case.major and case.due_at is not None and case.due_at > moment):
            case.due_at = due_at(
                moment,
                days=self.settings.routing.deadline_days,
                working_days=self.settings.routing.working_days,
                calendar=self.settings.calendar,
                tz=self.settings.timezone,
            )
        case.unit = unit_name
        case.assigned_at = moment
        cases.record_assignment(
            session,
            case,
            unit=unit_name,
            rule=decision.rule if decision else None,
            score=decision.score if decision else None,
            explanation=explanation,
            decided_by=actor,
            at=moment,
        )
        self._send_form(session, case, unit.emails, appeal)
        if not again:
            self._copy_counselor(session, case, appeal)
        return f"已交由{unit_name}办理，办理时限为 {clock.local(case.due_at).date()}。"

    def _send_form(
        self,
        session: Session,
        case: Case,
        to: Sequence[str],
        appeal: Inbound | None,
    ) -> None:
        summary = self._summary(case, appeal)
        opinion = (
            f"请于{_chinese_date(case.due_at)}前将办理结果反馈至学生工作处。"
            if case.due_at
            else "请及时办理并反馈办理结果。"
        )
        form = HandlingForm(
            number=case.number,
            subject=case.subject,
            date=clock.local(case.received_at).date(),
            student_class="" if case.confidential else case.student_class or "",
            student_name="" if case.confidential else case.student_name or "",
            counselor="" if case.confidential else case.student_counselor or "",
            contact="" if case.confidential else case.student_phone or "",
            summary=summary,
            office_opinion=opinion,
            confidential=case.confidential,
            unit=case.unit or "",
            due=clock.local(case.due_at).date() if case.due_at else None,
        )
        files, note = self._passed_on(session, case, appeal)
        docx = Attachment(
            f"学生诉求办理单{case.number}.docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            handling_form_docx(form),
        )
        mails.queue(
            session,
            self.mail,
            case=case,
            kind="form",
            template="unit_form",
            to=to,
            attachments=[docx, *files],
            unit=case.unit,
            summary=summary,
            office_opinion=opinion,
            attachments_note=note,
        )

    def _summary(self, case: Case, appeal: Inbound | None) -> str:
        text = (appeal.text if appeal is not None else "") or case.subject
        text = text.strip()[:SUMMARY_LIMIT]
        if not case.confidential:
            return text
        return scrub(
            text,
            [case.student_name, case.student_class, case.student_counselor],
        )

    def _passed_on(
        self, session: Session, case: Case, appeal: Inbound | None
    ) -> tuple[list[Attachment], str]:
        """The appeal's attachments for the unit, and a note on any held back."""
        if appeal is None or not appeal.attachments:
            return [], ""
        if case.confidential:
            # A photo or a document may name the student; staff pass them on
            # by hand when it is safe.
            return [], (
                f"学生来信附有 {len(appeal.attachments)} 个附件，"
                "因本件保密未随办理单转发，如需查看请联系学生工作处。"
            )
        found = _attachments(session, appeal)
        note = (
            f"以下附件过大未随办理单转发：{'、'.join(found.held)}。"
            if found.held
            else ""
        )
        return found.files, note

    def _copy_counselor(
        self, session: Session, case: Case, appeal: Inbound | None
    ) -> None:
        """The counselor (第一责任人) hears of the case, unless it is confidential."""
        if case.confidential or not case.counselor_email:
            return
        mails.queue(
            session,
            self.mail,
            case=case,
            kind="form",
            template="counselor_copy",
            to=[case.counselor_email],
            summary=self._summary(case, appeal),
        )

    # -- 研判 -----------------------------------------------------------------

    def escalate(
        self,
        session: Session,
        case: Case,
        *,
        actor: str,
        why: str,
        due: date | None = None,
        units: Sequence[str] = (),
        related: Sequence[str] = (),
        words: str | None = None,
        major: bool = False,
        alert: bool = True,
        appeal: Inbound | None = None,
    ) -> str:
        """Hand *case* to the leading group (领导小组研判)."""
        if due is not None and due < clock.local(clock.now()).date():
            raise TransitionError(f"截止日期 {due} 已经过去。")
        already = case.status == CaseStatus.ESCALATED
        if already:
            cases.record(session, case, "escalate", actor=actor, reason=why)
        else:
            cases.change_status(
                session,
                case,
                CaseStatus.ESCALATED,
                action="escalate",
                actor=actor,
                reason=why,
            )
        if major:
            case.major = True
        if due is not None:
            case.due_at = datetime.combine(
                due, time(23, 59, 59), self.settings.timezone
            )
        if already:
            return "本件已在领导小组研判中" + (
                f"，办结时限改为 {due}。" if due else "。"
            )
        if not alert:
            return "已提请领导小组研判。"
        appeal = appeal or _first_appeal(session, case)
        mails.queue(
            session,
            self.mail,
            case=case,
            kind="alert",
            template="staff_alert_escalated",
            to=list(self.settings.leading_group),
            why=why,
            units=list(units),
            related=list(related),
            words=words,
            summary=self._summary(case, appeal),
        )
        return "已提请领导小组研判" + (f"，办结时限 {due}。" if due else "。")

    # -- 答复 -----------------------------------------------------------------

    def answer(
        self,
        session: Session,
        case: Case,
        mail: Inbound,
        parsed: ParsedMail,
        *,
        actor: str,
    ) -> bool:
        """Take a unit's (or staff's) reply as the answer and forward it."""
        if case.status not in (
            CaseStatus.ASSIGNED,
            CaseStatus.ESCALATED,
            CaseStatus.REPLIED,
        ):
            mail.kind = "unmatched"
            mail.reason = (
                f"诉求 {case.number} 已{cases.STATUS_NAMES[CaseStatus(case.status)]}，"
                "这封来信未作为答复转给学生"
            )
            cases.record(session, case, "reply_held", actor=actor, reason=mail.reason)
            return False

        form_reply, files, held = _reply_files(session, mail)
        text = mail.text.strip()
        answer = "\n\n".join(p for p in (text, form_reply) if p)
        if not answer:
            mail.kind = "unmatched"
            mail.reason = "答复邮件没有正文，也没有填写办理单，未转给学生"
            cases.record(session, case, "reply_held", actor=actor, reason=mail.reason)
            return False
        mail.text = answer

        if case.status != CaseStatus.REPLIED:
            cases.change_status(
                session,
                case,
                CaseStatus.REPLIED,
                action="answer",
                actor=actor,
                reason=f"{case.unit or '学生工作处'}答复（来信 #{mail.id}）",
            )
        else:
            cases.record(
                session,
                case,
                "answer",
                actor=actor,
                reason=f"补充答复（来信 #{mail.id}）",
            )
        case.replied_at = clock.now()
        case.rating_reminded_at = None

        if case.student_email:
            mails.queue(
                session,
                self.mail,
                case=case,
                kind="forward",
                template="student_answer",
                to=[case.student_email],
                answering=_first_appeal(session, case),
                attachments=files,
                answer=answer,
                answered_by=case.unit or "学生工作处",
                attachment_names=[f.filename for f in files],
                held_names=held,
            )
        else:
            cases.record(
                session, case, "forward_skipped", reason="没有学生邮箱，答复无法转达"
            )
        return True

    def follow_up(self, session: Session, case: Case, mail: Inbound) -> None:
        """The student adds to an open case: the unit hears of it."""
        cases.record(
            session,
            case,
            "follow_up",
            actor=mail.from_addr or SYSTEM,
            reason=f"学生补充来信 #{mail.id}",
        )
        if case.status != CaseStatus.ASSIGNED or case.unit is None:
            return
        unit = self.settings.unit(case.unit)
        if unit is None:
            return
        text = mail.text.strip()
        if case.confidential:
            text = scrub(text, [case.student_name, case.student_class])
        note = (
            f"学生另附 {len(mail.attachments)} 个附件，请联系学生工作处获取。"
            if mail.attachments
            else ""
        )
        mails.queue(
            session,
            self.mail,
            case=case,
            kind="forward",
            template="unit_follow_up",
            to=unit.emails,
            unit=case.unit,
            text=text,
            attachments_note=note,
        )

    # -- 满意度评价 -------------------------------------------------------------

    def rate(
        self,
        session: Session,
        case: Case,
        rating: str,
        mail: Inbound | None,
        *,
        actor: str,
    ) -> None:
        """满意 or 较满意 closes the case; 不满意 goes to the leading group."""
        case.rating = rating
        case.rated_at = clock.now()
        if case.student_email:
            mails.queue(
                session,
                self.mail,
                case=case,
                kind="ack",
                template="student_rated",
                to=[case.student_email],
                answering=mail,
                auto_submitted="auto-replied",
                rating=rating,
            )
        if rating in GOOD_RATINGS:
            cases.change_status(
                session,
                case,
                CaseStatus.CLOSED,
                action="rate",
                actor=actor,
                reason=f"学生评价：{rating}，销号",
            )
            return
        words = mail.text.strip() if mail is not None else None
        self.escalate(
            session,
            case,
            actor=actor,
            why="学生对办理结果不满意",
            words=words,
        )

    def remind_ratings(self, session: Session) -> tuple[int, int]:
        """Remind once after 7 days without a rating; close as 未评价 after 7
        more. Return (reminded, closed)."""
        moment = clock.now()
        waiting = session.scalars(
            select(Case).where(
                Case.status == CaseStatus.REPLIED,
                Case.replied_at <= moment - RATING_WAIT,
            )
        ).all()
        reminded = closed = 0
        for case in waiting:
            if case.rating_reminded_at is None:
                if case.student_email:
                    mails.queue(
                        session,
                        self.mail,
                        case=case,
                        kind="rating_request",
                        template="student_rating_reminder",
                        to=[case.student_email],
                    )
                case.rating_reminded_at = moment
                cases.record(
                    session, case, "rating_reminded", reason="答复后 7 日未评价，已提醒"
                )
                reminded += 1
            elif case.rating_reminded_at <= moment - RATING_WAIT:
                cases.change_status(
                    session,
                    case,
                    CaseStatus.CLOSED,
                    action="close_unrated",
                    actor=SYSTEM,
                    reason=f"提醒后 7 日仍未评价，按“{UNRATED}”销号",
                )
                closed += 1
        return reminded, closed

    # -- 学生工作处的指令 ------------------------------------------------------

    def apply(
        self, session: Session, case: Case, command: Command, *, actor: str
    ) -> str:
        """Carry out a staff command (by mail or CLI); return what was done."""
        if command.verb == "assign":
            assert command.unit is not None
            return self.assign(
                session,
                case,
                command.unit,
                actor=actor,
                reason=command.reason or "学生工作处转交",
            )
        if command.verb == "escalate":
            return self.escalate(
                session,
                case,
                actor=actor,
                why=command.reason or "学生工作处认定为重大问题",
                due=command.due,
                major=True,
            )
        if command.verb == "decline":
            return self.decline(session, case, command.reason or "", actor=actor)
        if command.verb == "close":
            return self.close(session, case, command.reason or "", actor=actor)
        if command.verb == "public":
            return self.mark(session, case, "public", True, actor=actor)
        if command.verb == "confidential":
            return self.mark(session, case, "confidential", True, actor=actor)
        return self.mark(session, case, "confidential", False, actor=actor)

    # -- 不予受理、办结、公开、保密 ---------------------------------------------------

    def decline(self, session: Session, case: Case, reason: str, *, actor: str) -> str:
        """不予受理: the student is told why, as the rules require."""
        cases.change_status(
            session,
            case,
            CaseStatus.DECLINED,
            action="decline",
            actor=actor,
            reason=reason,
        )
        if case.student_email:
            mails.queue(
                session,
                self.mail,
                case=case,
                kind="decline",
                template="student_decline",
                to=[case.student_email],
                answering=_first_appeal(session, case),
                reason=reason,
            )
        return (
            "已不予受理，并已把理由告知学生。"
            if case.student_email
            else "已不予受理（无学生邮箱，请另行告知）。"
        )

    def close(self, session: Session, case: Case, reason: str, *, actor: str) -> str:
        """办结 by staff, with a reason; the student is told."""
        cases.change_status(
            session, case, CaseStatus.CLOSED, action="close", actor=actor, reason=reason
        )
        if case.student_email:
            mails.queue(
                session,
                self.mail,
                case=case,
                kind="forward",
                template="student_closed",
                to=[case.student_email],
                reason=reason,
            )
        return "已办结。"

    def mark(
        self, session: Session, case: Case, flag: str, value: bool, *, actor: str
    ) -> str:
        """Set 公开 (public) or 保密 (confidential) on a case."""
        names = {"public": "公开", "confidential": "保密"}
        if flag not in names:
            raise ValueError(flag)
        setattr(case, flag, value)
        label = names[flag] if value else f"取消{names[flag]}"
        cases.record(
            session, case, flag if value else f"not_{flag}", actor=actor, reason=label
        )
        return f"已标记为“{label}”。"

    # -- 心理危机 ----------------------------------------------------------------

    def _alert_crisis(
        self, session: Session, case: Case, signs: Sequence[str], text: str
    ) -> None:
        centre = self.settings.unit(college.COUNSELLING_CENTRE)
        to = [*(centre.emails if centre else ()), *self.settings.admins]
        if case.counselor_email:
            to.append(case.counselor_email)
        if not to:
            log.error("case %s: crisis alert has nobody to go to", case.number)
            return
        mails.queue(
            session,
            self.mail,
            case=case,
            kind="alert",
            template="staff_alert_crisis",
            to=list(dict.fromkeys(to)),
            signs=list(signs),
            text=text[:SUMMARY_LIMIT],
        )
        log.warning("case %s: crisis alert queued for %s", case.number, ", ".join(to))


def _appealed_at(facts: AppealFacts) -> datetime:
    """When the student wrote: the mail's Date, unless it lies in the future."""
    written = facts.written_at
    if written is None or written > facts.received_at:
        return facts.received_at
    return written


def _decision_data(decision: Decision) -> dict[str, object]:
    return {
        "rule": decision.rule,
        "score": decision.score,
        "unit": decision.unit,
        "units": list(decision.units),
        "hits": [
            {"rule": h.rule, "score": h.score, "terms": list(h.terms)}
            for h in decision.hits
        ],
    }


def _first_appeal(session: Session, case: Case) -> Inbound | None:
    # The poller handles a mail without autoflush; the appeal may be the
    # mail in hand, linked to its case but not yet written.
    session.flush()
    return session.scalars(
        select(Inbound)
        .where(Inbound.case_id == case.id, Inbound.kind == "appeal")
        .order_by(Inbound.id)
        .limit(1)
    ).first()


def _reply_files(
    session: Session, mail: Inbound
) -> tuple[str, list[Attachment], list[str]]:
    """A filled-in 办理单 among a reply's attachments, the other files to
    forward, and the names of those too large to forward."""
    found = _attachments(session, mail, read_forms=True)
    form_reply = next((reply for reply in found.form_replies if reply), "")
    return form_reply, found.files, found.held


@dataclass
class _Attachments:
    files: list[Attachment]  # decoded, and together small enough for one mail
    held: list[str]  # the names of the others
    form_replies: list[str]  # the unit's answers in filled-in 办理单


def _attachments(
    session: Session, mail: Inbound, *, read_forms: bool = False
) -> _Attachments:
    """The attachments of *mail* that fit in one outgoing mail, in order.

    Only those are decoded: a part over the size cap, or one that would take
    the sum past PASSED_ON_LIMIT, is held by its listed size. A big mail is
    read from disk, not memory. With *read_forms*, a .docx that is a
    filled-in 办理单 gives its answer instead of travelling.
    """
    found = _Attachments([], [], [])
    if not mail.attachments:
        return found
    total = 0
    with stored_mail(session, mail) as raw:
        for item in mail.attachments:
            name = item.get("filename") or f"附件{item['index']}"
            # A form is opened whatever its size: it may be the answer.
            form = read_forms and name.lower().endswith(".docx")
            listed = item.get("size") or 0
            if item.get("oversized") or (not form and total + listed > PASSED_ON_LIMIT):
                found.held.append(name)
                continue
            data = extract_attachment(raw, item["index"])
            filled = read_handling_form(data) if data is not None and form else None
            if filled is not None:
                found.form_replies.append(filled.unit_reply)
                continue
            if data is None or total + len(data) > PASSED_ON_LIMIT:
                found.held.append(name)
                continue
            total += len(data)
            found.files.append(Attachment(name, item.get("content_type") or "", data))
    return found


def _chinese_date(moment: datetime | None) -> str:
    if moment is None:
        return ""
    day = clock.local(moment).date()
    return f"{day.year}年{day.month}月{day.day}日"
