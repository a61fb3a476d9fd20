"""Deliver the outbox by SMTP: claim rows, send each once, record the outcome.

A row is claimed (queued → sending) and committed before the SMTP
transaction starts, and marked sent right after the server accepts it. A
temporary refusal (4xx, no connection) puts it back with a growing delay; a
permanent one (5xx) fails it and tells staff on the case. When the server is
down, that is logged once per run, not once per mail.
"""

import contextlib
import logging
import smtplib
import ssl
import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from store import cases, outbox
from store.db import transaction
from store.models import Case, Outbox
from suqiu import clock
from suqiu.config import SmtpSettings
from suqiu.errors import NotifyError, PermanentSendError, TemporarySendError

log = logging.getLogger(__name__)

BACKOFF = (60, 120, 300, 600, 1800, 3600)
STALE_CLAIM = timedelta(minutes=15)
SERVER_RETRY = timedelta(minutes=1)  # while the server itself is unreachable

# What NetEase's (163/126) SMTP refusals mean, for the message staff see.
PROVIDER_CODES = {
    "DT:SPM": "网易判定邮件内容疑似垃圾邮件（DT:SPM），请调整内容或联系邮箱服务商",
    "MI:SFQ": "发信过快被网易限流（MI:SFQ），稍后会自动重试",
    "RP:TRC": "当日发信数量超出网易限额（RP:TRC），明天会自动重试",
    "MI:STC": "发信频率超出网易限制（MI:STC），稍后会自动重试",
}


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=BACKOFF[min(attempts, len(BACKOFF)) - 1])


def explain(code: int, text: str) -> str:
    """Say in Chinese what an SMTP refusal means."""
    for marker, meaning in PROVIDER_CODES.items():
        if marker in text:
            return f"{code} {text}：{meaning}"
    return f"{code} {text}"


@dataclass
class DeliveryReport:
    sent: int = 0
    deferred: int = 0  # temporary failures, to be retried
    failed: int = 0  # permanent failures
    uncertain: int = 0  # found left in "sending" by a dead sender
    error: str | None = None  # why the server could not be used at all


class SmtpConnection:
    """One SMTP session to the configured server, opened on first use."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self.smtp: smtplib.SMTP | None = None

    def _context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.settings.ca_file)
        if not self.settings.tls_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def open(self) -> smtplib.SMTP:
        if self.smtp is not None:
            return self.smtp
        s = self.settings
        try:
            if s.security == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    s.host, s.port, timeout=s.timeout, context=self._context()
                )
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
                if s.security == "starttls":
                    smtp.starttls(context=self._context())
            if s.username:
                smtp.login(s.username, s.password.value() or "")
        except UnicodeEncodeError as exc:
            # smtplib sends AUTH as ASCII; real 授权码 are ASCII letters.
            raise PermanentSendError(
                f"SMTP 密码（{s.password.env}）含有非 ASCII 字符，无法登录；"
                "请使用邮箱生成的客户端授权码。"
            ) from exc
        except smtplib.SMTPAuthenticationError as exc:
            raise PermanentSendError(
                f"SMTP 服务器 {s.host} 拒绝登录（{s.username}）："
                f"{exc.smtp_code} {_text(exc.smtp_error)}。"
                "网易和 QQ 邮箱需使用客户端授权码。"
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise TemporarySendError(
                f"无法连接 SMTP 服务器 {s.host}:{s.port}（{s.security}）：{exc}"
            ) from exc
        self.smtp = smtp
        return smtp

    def send(self, sender: str, recipients: list[str], raw: bytes) -> None:
        """Hand one mail to the server; raise Temporary/PermanentSendError."""
        smtp = self.open()
        try:
            refused = smtp.sendmail(sender, recipients, raw)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = {code for code, _ in exc.recipients.values()}
            detail = "; ".join(
                f"{rcpt}: {explain(code, _text(msg))}"
                for rcpt, (code, msg) in exc.recipients.items()
            )
            raise _by_code(min(codes), f"收件人被拒绝：{detail}") from exc
        except smtplib.SMTPSenderRefused as exc:
            raise _by_code(
                exc.smtp_code,
                f"发件人被拒绝：{explain(exc.smtp_code, _text(exc.smtp_error))}",
            ) from exc
        except smtplib.SMTPDataError as exc:
            raise _by_code(
                exc.smtp_code,
                f"邮件被拒收：{explain(exc.smtp_code, _text(exc.smtp_error))}",
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            raise TemporarySendError(f"发送中断：{exc}") from exc
        if refused:
            # Some recipients took it: the mail is out, and must not be sent
            # again to those who did; the refusals are noted on the row.
            log.warning("some recipients refused: %s", refused)

    def close(self) -> None:
        if self.smtp is None:
            return
        with contextlib.suppress(OSError, smtplib.SMTPException):
            self.smtp.quit()
        self.smtp = None


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _by_code(code: int, message: str) -> NotifyError:
    if 500 <= code < 600:
        return PermanentSendError(message)
    return TemporarySendError(message)


class Sender:
    """Delivers due outbox rows through one SMTP connection per run."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: SmtpSettings,
        owner: str,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.owner = owner

    def deliver(self, limit: int | None = None) -> DeliveryReport:
        """Send what is due now: everything, or up to *limit* mails."""
        report = DeliveryReport()
        with transaction(self.sessions) as session:
            stale = outbox.release_stale(session, self.owner, STALE_CLAIM)
            report.uncertain = len(stale)

        connection = SmtpConnection(self.settings)
        try:
            while report.error is None and (
                limit is None or report.sent + report.failed < limit
            ):
                claimed = self._claim(50 if limit is None else min(50, limit))
                if not claimed:
                    break
                self._deliver_batch(connection, claimed, report)
        finally:
            connection.close()
        return report

    def _claim(self, limit: int) -> list[int]:
        with transaction(self.sessions) as session:
            due = outbox.due_ids(session, clock.now(), limit)
            return [row for row in due if outbox.claim(session, row, self.owner)]

    def _deliver_batch(
        self, connection: SmtpConnection, claimed: list[int], report: DeliveryReport
    ) -> None:
        for index, row_id in enumerate(claimed):
            if report.error is not None:
                self._hand_back(row_id, report.error)
                continue
            try:
                connection.open()
            except NotifyError as exc:
                # The server, not this mail, is the problem: say so once and
                # keep every mail queued without spending its retries.
                log.error("SMTP server unavailable: %s", exc)
                report.error = str(exc)
                self._hand_back(row_id, report.error)
                continue
            if index and self.settings.pace_seconds:
                time.sleep(self.settings.pace_seconds)
            self._deliver_one(connection, row_id, report)

    def _deliver_one(
        self, connection: SmtpConnection, row_id: int, report: DeliveryReport
    ) -> None:
        with transaction(self.sessions) as session:
            row = session.get_one(Outbox, row_id)
            sender, recipients, raw = row.sender, list(row.recipients), row.raw
            message_id, kind = row.message_id, row.kind

        try:
            connection.send(sender, recipients, raw)
        except TemporarySendError as exc:
            if connection.smtp is None:
                log.error("SMTP connection lost: %s", exc)
                report.error = str(exc)
                self._hand_back(row_id, str(exc))
                return
            self._defer(row_id, str(exc))
            report.deferred += 1
            return
        except PermanentSendError as exc:
            self._fail(row_id, str(exc))
            report.failed += 1
            return

        with transaction(self.sessions) as session:
            row = session.get_one(Outbox, row_id)
            outbox.mark_sent(row)
            case_number = row.case.number if row.case is not None else "-"
        report.sent += 1
        log.info(
            "sent %s mail <%s> to %s (case %s)",
            kind,
            message_id,
            ", ".join(recipients),
            case_number,
        )

    def _hand_back(self, row_id: int, error: str) -> None:
        """Return a claimed row to the queue untried, due again in a minute."""
        with transaction(self.sessions) as session:
            row = session.get_one(Outbox, row_id)
            outbox.hand_back(row, error, SERVER_RETRY)

    def _defer(self, row_id: int, error: str) -> None:
        with transaction(self.sessions) as session:
            row = session.get_one(Outbox, row_id)
            if row.attempts + 1 >= self.settings.max_attempts:
                outbox.mark_failed(row, f"多次重试仍未送出：{error}")
                _tell_case(session, row, f"邮件多次重试仍未送出：{error}")
                log.error(
                    "outbox row %s <%s>: giving up: %s", row.id, row.message_id, error
                )
                return
            outbox.mark_retry(row, error, backoff(row.attempts + 1))
            log.warning(
                "outbox row %s <%s>: will retry at %s: %s",
                row.id,
                row.message_id,
                row.next_attempt_at,
                error,
            )

    def _fail(self, row_id: int, error: str) -> None:
        with transaction(self.sessions) as session:
            row = session.get_one(Outbox, row_id)
            outbox.mark_failed(row, error)
            _tell_case(session, row, f"邮件被服务器拒收：{error}")
            log.error(
                "outbox row %s <%s>: refused for good: %s",
                row.id,
                row.message_id,
                error,
            )


def _tell_case(session: Session, row: Outbox, reason: str) -> None:
    case = session.get(Case, row.case_id) if row.case_id is not None else None
    cases.record(
        session,
        case,
        "mail_failed",
        reason=reason,
        data={"outbox_id": row.id, "kind": row.kind, "to": row.recipients},
    )
