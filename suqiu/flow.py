"""What happens to each inbound mail: the handler the poller calls.

It decides nothing itself: ``ingest.classify`` says what the mail is and
who wrote it, ``routing`` reads ratings and commands, and the office's
actions (``suqiu.actions``) change the case and queue the mails that follow.
"""

import logging
from dataclasses import dataclass

from sqlalchemy.orm import Session

from ingest.classify import Directory, Verdict, classify
from ingest.mail import ParsedMail
from ingest.quotes import strip_reply
from notify import mails
from routing.commands import CommandProblem, Order, read_commands
from routing.rating import read_rating
from store import cases
from store.models import Case, CaseStatus, Inbound
from suqiu import clock
from suqiu.actions import AppealFacts, Office
from suqiu.config import Settings
from suqiu.errors import TransitionError

log = logging.getLogger(__name__)

NO_SUBJECT = "（无主题）"


@dataclass(frozen=True)
class CommandResult:
    """What became of one command line: carried out or not, and why."""

    line: str
    ok: bool
    result: str


class Flow:
    """Turns one stored inbound mail into its effects on cases and the outbox."""

    def __init__(self, settings: Settings, office: Office | None = None) -> None:
        self.settings = settings
        self.office = office or Office(settings)
        self.channels = {m.name: m.channel for m in settings.mailboxes}
        self.directory = Directory(
            own=settings.own_addresses(),
            admins=frozenset(settings.admins),
            units={addr: unit.name for unit in settings.units for addr in unit.emails},
            trusted_authservs=frozenset(settings.ingest.trusted_authservs),
        )

    def __call__(self, session: Session, row: Inbound, parsed: ParsedMail) -> None:
        verdict = classify(session, parsed, self.directory)
        row.kind = verdict.kind
        row.reason = verdict.reason
        row.case_id = verdict.case.id if verdict.case is not None else None

        if verdict.kind == "appeal":
            self.on_appeal(session, row, parsed)
            return

        # What follows may quote the mail's number (#id): give it one now.
        # An appeal gets it with its case, in the same flush.
        session.flush()
        if verdict.kind == "follow_up":
            # CONTRACT.md: a reply's text is the answer alone, without the
            # quoted history and signature under it.
            row.text = strip_reply(parsed.text, parsed.html)
            self.on_reply(session, row, parsed, verdict)
        elif verdict.kind == "bounce":
            self.on_bounce(session, row, verdict)
        elif verdict.kind == "unmatched" and verdict.role == "admin":
            self.on_stray_command(session, row, parsed)
        elif verdict.kind == "unmatched" and verdict.case is not None:
            cases.record(session, verdict.case, "reply_held", reason=verdict.reason)

    def on_appeal(self, session: Session, row: Inbound, parsed: ParsedMail) -> None:
        """受理: open a case, route it, acknowledge it."""
        facts = AppealFacts(
            channel=self.channels.get(row.mailbox, row.mailbox),
            subject=(parsed.subject.strip() or NO_SUBJECT)[:500],
            text=parsed.text,
            received_at=row.read_at,
            written_at=parsed.date,
            sender=row.from_addr,
            sender_name=parsed.sender.name if parsed.sender else None,
            reply_address=_reply_address(parsed),
            mail=row,
        )
        row.reason = "新的诉求"
        case = self.office.receive(session, facts)  # links the mail to its case
        self.office.acknowledge(session, case, facts)

    def on_reply(
        self, session: Session, row: Inbound, parsed: ParsedMail, verdict: Verdict
    ) -> None:
        """A mail in a case's thread: decided by who wrote it."""
        case = verdict.case
        assert case is not None
        actor = row.from_addr or cases.SYSTEM

        if verdict.role == "admin":
            orders = read_commands(row.text, today=clock.local(clock.now()).date())
            if orders:
                row.kind = "command"
                row.reason = f"管理员指令：{_summary([o.line for o in orders])}"
                self.run_commands(session, case, orders, row)
                return
            self._answer(session, case, row, parsed, actor)
        elif verdict.role == "unit":
            self._answer(session, case, row, parsed, actor)
        elif verdict.role == "student":
            rating = (
                read_rating(row.text) if case.status == CaseStatus.REPLIED else None
            )
            if rating is not None:
                row.kind = "rating"
                row.reason = f"学生评价：{rating}"
                self.office.rate(session, case, rating, row, actor=actor)
            else:
                row.reason = f"学生对诉求 {case.number} 的补充来信"
                self.office.follow_up(session, case, row)
        else:
            row.kind = "unmatched"
            row.reason = (
                f"{row.from_addr or '未知发件人'} 无权回复诉求 {case.number}，"
                "已保留待学生工作处查看"
            )
            cases.record(session, case, "reply_held", reason=row.reason)

    def _answer(
        self, session: Session, case: Case, row: Inbound, parsed: ParsedMail, actor: str
    ) -> None:
        row.kind = "unit_reply"
        row.reason = f"{case.unit or '学生工作处'}对诉求 {case.number} 的答复"
        self.office.answer(session, case, row, parsed, actor=actor)

    def run_commands(
        self, session: Session, case: Case, orders: list[Order], row: Inbound
    ) -> None:
        """Carry out staff commands from mail, in order, and answer once.

        Each is carried out or refused on its own: one that cannot be done
        does not undo or stop the others.
        """
        actor = row.from_addr or cases.SYSTEM
        results = [self._run_command(session, case, order, actor) for order in orders]
        self._answer_commands(session, case, actor, row, results)

    def _answer_commands(
        self,
        session: Session,
        case: Case | None,
        to: str,
        row: Inbound,
        results: list[CommandResult],
    ) -> None:
        """One mail to the staff member: what became of each command."""
        mails.queue(
            session,
            self.office.mail,
            case=case,
            kind="ack",
            template="staff_command_result",
            to=[to],
            answering=row,
            command_text=_summary([result.line for result in results]),
            results=results,
        )

    def _run_command(
        self, session: Session, case: Case, order: Order, actor: str
    ) -> CommandResult:
        command = order.command
        if isinstance(command, CommandProblem):
            ok, result = False, command.message
        else:
            try:
                with session.begin_nested():
                    ok, result = (
                        True,
                        self.office.apply(session, case, command, actor=actor),
                    )
            except TransitionError as exc:
                ok, result = False, str(exc)
        cases.record(
            session,
            case,
            "command" if ok else "command_refused",
            actor=actor,
            reason=f"{order.line}：{result}",
        )
        return CommandResult(order.line, ok, result)

    def on_stray_command(
        self, session: Session, row: Inbound, parsed: ParsedMail
    ) -> None:
        """A staff mail with a command but no case: say what is missing."""
        row.text = strip_reply(parsed.text, parsed.html)
        orders = read_commands(row.text, today=clock.local(clock.now()).date())
        if not orders or not row.from_addr:
            return
        row.kind = "command"
        row.reason = "管理员指令未注明诉求编号"
        no_case = (
            "找不到这条指令对应的诉求：请回复关于该诉求的邮件，"
            "或在主题中写明编号（如 SQ2026-0001）。"
        )
        results = [CommandResult(order.line, False, no_case) for order in orders]
        self._answer_commands(session, None, row.from_addr, row, results)

    def on_bounce(self, session: Session, row: Inbound, verdict: Verdict) -> None:
        """A bounce: note it on the mail of ours that bounced and on its case."""
        bounced = verdict.bounced
        if bounced is None:
            return
        row.outbox_id = bounced.id
        bounced.bounced_at = clock.now()
        bounced.bounce_reason = verdict.reason
        cases.record(
            session,
            bounced.case,
            "mail_bounced",
            reason=f"发往 {'、'.join(bounced.recipients)} 的邮件被退回："
            f"{verdict.reason}",
            data={"outbox_id": bounced.id, "inbound_id": row.id},
        )


def _summary(lines: list[str]) -> str:
    """Command lines for a subject or a log line: the first, and how many."""
    first = lines[0][:100]
    return first if len(lines) == 1 else f"{first} 等 {len(lines)} 条指令"


def _reply_address(parsed: ParsedMail) -> str | None:
    """Where the student wants answers: Reply-To when given, else From."""
    for address in parsed.reply_to:
        if address.addr and "@" in address.addr:
            return address.addr
    return None
