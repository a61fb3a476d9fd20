"""Tell machine mail from people's: auto-replies, bounces and obvious spam.

Each check reads a ParsedMail only, and names in Chinese what decided, for staff.
"""

import re
from dataclasses import dataclass

from ingest.mail import ParsedMail

# How much of a body the content checks read: auto-replies and the human part
# of a bounce are short, and an appeal's later pages must not weigh in.
_HEAD_OF_BODY = 800
_HEAD_OF_BOUNCE = 4000

# A header value quoted in a reason is cut to this length.
_QUOTE_LIMIT = 60


def _shorten(value: str, limit: int = _QUOTE_LIMIT) -> str:
    """Return *value* on one line, cut to *limit* characters."""
    flat = " ".join(value.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _header(mail: ParsedMail, name: str) -> str | None:
    """Return the first value of header *name*, stripped, or None."""
    value = mail.header(name)
    return None if value is None else value.strip()


# ---------------------------------------------------------------------------
# Auto-replies
# ---------------------------------------------------------------------------

# Subjects that vacation responders write (QQ, 163 and Exmail: "自动回复:",
# Outlook zh-CN: "自动答复:", Outlook/Exchange in English: "Automatic reply:").
# The word must stand at the start and be followed by a separator, so that a
# student's "自动回复太慢了" is not taken for one.
_AUTO_SUBJECT = re.compile(
    r"^\s*[\[【(（]?\s*"
    r"(?P<word>自动回复|自动答复|自動回覆|auto[\s-]?reply|automatic\s+reply"
    r"|out\s+of\s+(?:the\s+)?office|不在办公室)"
    r"\s*(?:[\]】)）:：\-—,，.。!！\s]|$)",
    re.IGNORECASE,
)

# Subjects that only *look* automatic: people write "休假中" by hand too, and
# a student's subject may well begin with "外出实习…". The word must stand
# alone (or bracketed), and counts only with a second sign.
_VACATION_SUBJECT = re.compile(
    r"^\s*[\[【(（]?\s*(?:正在|我在)?(?P<word>休假|外出|出差|请假|放假)(?:中|期间)?"
    r"\s*(?:[\]】)）:：\-—,，.。!！\s]|$)"
    r"|[\[【(（](?P<inner>休假|外出|出差)中?[\]】)）]"
)

# Phrases of vacation replies. Students write them too ("我已收到您的邮件"),
# so a body phrase never decides alone.
_AUTO_BODY = re.compile(
    r"已收到(?:您|你)的(?:邮件|来信|来函)|(?:您|你)的(?:邮件|来信)已收到|来信已收到"
    r"|这是一封自动回复|此(?:邮件|信)?为自动回复|本邮件为(?:系统)?自动(?:回复|发送)"
    r"|(?:目前|现在|正在)(?:休假|外出|出差|不在办公室)|(?:休假|外出|出差)期间"
    r"|I\s*(?:am|'m|will\s+be)\s+(?:currently\s+)?(?:out\s+of\s+(?:the\s+)?office"
    r"|on\s+(?:annual\s+)?leave|on\s+vacation|away\s+from)"
    r"|this\s+is\s+an\s+auto(?:matic|mated)?[\s-]*reply",
    re.IGNORECASE,
)

# RFC 5321 §4.5.1: every domain has a postmaster, and MAILER-DAEMON is the
# customary sender of delivery reports; neither writes an appeal.
_SYSTEM_LOCAL_PART = re.compile(r"^(?:mailer[-_]?daemon|postmaster)$", re.IGNORECASE)

# Precedence is not standard (RFC 3834 §3.1.8 discourages it) but list
# servers and bulk senders still set it, and vacation programs honour it.
_PRECEDENCE_REASONS = {
    "auto_reply": "自动回复",
    "auto-reply": "自动回复",
    "bulk": "群发邮件",
    "junk": "群发邮件",
    "list": "邮件列表",
}

# Exchange stamps its own automatic mail with X-Auto-Response-Suppress, but
# other senders set it on ordinary mail to keep out-of-office replies away,
# so it only counts as a weak sign, and only with these values.
_SUPPRESS_VALUES = re.compile(r"\b(?:all|oof|autoreply)\b", re.IGNORECASE)


def _auto_submitted(mail: ParsedMail) -> str | None:
    """RFC 3834 §5: anything but "no" marks an automatic mail.

    TODO: a web form that relays a student's appeal (书记信箱 and 校长信箱 are
    reached through the college's website) may stamp "auto-generated" on it;
    such a relay needs an exception by sender address, which is configuration
    this pure check does not have.
    """
    value = _header(mail, "auto-submitted")
    if value is None:
        return None
    keyword = value.split(";", 1)[0].strip().lower()
    if keyword in ("", "no"):
        return None
    return f"自动回复：Auto-Submitted: {_shorten(value)}"


def _autoreply_headers(mail: ParsedMail) -> str | None:
    """X-Autoreply (vacation, Coremail) and X-Autorespond (cPanel, Exim)."""
    for name, label in (
        ("x-autoreply", "X-Autoreply"),
        ("x-autorespond", "X-Autorespond"),
    ):
        value = _header(mail, name)
        if value is not None and value.lower() not in ("no", "false", "0"):
            return f"自动回复：{label}: {_shorten(value) or '（空）'}"
    return None


def _precedence(mail: ParsedMail) -> str | None:
    """Precedence: auto_reply, bulk, junk or list."""
    value = _header(mail, "precedence")
    if value is None:
        return None
    kind = _PRECEDENCE_REASONS.get(value.lower())
    return None if kind is None else f"{kind}：Precedence: {_shorten(value)}"


def _list_headers(mail: ParsedMail) -> str | None:
    """RFC 2919 List-Id and RFC 2369 List-Unsubscribe: list or bulk mail."""
    list_id = _header(mail, "list-id")
    if list_id is not None:
        return f"邮件列表：List-Id: {_shorten(list_id)}"
    if _header(mail, "list-unsubscribe") is not None:
        return "群发邮件：带有 List-Unsubscribe（退订）头"
    return None


def _x_loop(mail: ParsedMail) -> str | None:
    """X-Loop is set by autoresponders and list servers to stop mail loops."""
    value = _header(mail, "x-loop")
    return None if value is None else f"自动邮件：X-Loop: {_shorten(value) or '（空）'}"


def _read_receipt(mail: ParsedMail) -> str | None:
    """RFC 8098 read receipts are multipart/report; disposition-notification."""
    if (mail.report_type or "").lower() == "disposition-notification":
        return "已读回执：report-type=disposition-notification"
    return None


def _null_return_path(mail: ParsedMail) -> str | None:
    """A null envelope sender (RFC 3834 §3.3) is used only by automatic mail."""
    values = mail.headers.get("return-path", [])
    # An empty header is malformed, not a null sender: only "<>" counts.
    if any("".join(value.split()) == "<>" for value in values):
        return "自动回复：Return-Path 为空（<>），表明是自动发出的邮件"
    return None


def _system_sender(mail: ParsedMail) -> str | None:
    """Mail from MAILER-DAEMON or postmaster is a system's, never a student's."""
    if mail.sender is None or "@" not in mail.sender.addr:
        return None
    local = mail.sender.addr.split("@", 1)[0]
    if _SYSTEM_LOCAL_PART.match(local):
        return f"系统邮件：发件人为 {mail.sender.addr}"
    return None


def _automatic_subject(mail: ParsedMail) -> str | None:
    """Subjects that vacation responders write, at the start of the subject."""
    found = _AUTO_SUBJECT.match(mail.subject)
    if found is None:
        return None
    return f"自动回复：主题以“{found.group('word')}”开头"


# Checks any one of which decides; the order only picks the reason shown.
_DECISIVE_CHECKS = (
    _auto_submitted,
    _autoreply_headers,
    _read_receipt,
    _precedence,
    _list_headers,
    _x_loop,
    _system_sender,
    _null_return_path,
    _automatic_subject,
)


def _weak_signs(mail: ParsedMail) -> list[str]:
    """Return the weak signs of an auto-reply found in *mail*, described."""
    signs = []

    suppress = _header(mail, "x-auto-response-suppress")
    if suppress is not None and _SUPPRESS_VALUES.search(suppress):
        signs.append(f"X-Auto-Response-Suppress: {_shorten(suppress)}")

    subject = _VACATION_SUBJECT.search(mail.subject)
    if subject is not None:
        signs.append(f"主题含“{subject.group('word') or subject.group('inner')}”")

    body = _AUTO_BODY.search(mail.text[:_HEAD_OF_BODY])
    if body is not None:
        signs.append(f"正文含“{_shorten(body.group(0), 20)}”")

    return signs


def auto_reply_reason(mail: ParsedMail) -> str | None:
    """Return why *mail* reads as an automatic reply or list mail, or None.

    Bounces are left to ``bounce_info``: for them this returns None, so the
    two never both claim one mail. Words in a body never decide alone.
    """
    if bounce_info(mail) is not None:
        return None

    for check in _DECISIVE_CHECKS:
        reason = check(mail)
        if reason is not None:
            return reason

    # A vacation subject with a vacation text, or Exchange's suppress header
    # with either, is a machine; any one of them alone may be a person.
    signs = _weak_signs(mail)
    if len(signs) >= 2:
        return "自动回复：" + "，".join(signs)
    return None


# ---------------------------------------------------------------------------
# Bounces
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Bounce:
    """What a delivery report says about one of our mails that did not arrive."""

    original_message_ids: tuple[str, ...]  # Message-IDs of the mail that bounced
    recipients: tuple[str, ...]  # the addresses it could not reach
    status: str | None  # RFC 3463 status, e.g. "5.1.1"
    diagnostic: str | None  # the remote server's words, trimmed
    permanent: bool  # False for delays and success notices
    reason: str  # short Simplified Chinese summary for staff


# Subjects of delivery reports: Postfix, Exim, qmail, Sendmail, Exchange,
# Gmail, Coremail (163/126: "系统退信"), Tencent ("退信"). People write "退信"
# too, so a subject only counts together with a system sign.
_BOUNCE_SUBJECT = re.compile(
    r"系统退信|退信|邮件投递失败|投递失败|无法投递|未能送达|发送失败"
    r"|undelivered\s+mail|undeliverable|undelivered|delivery\s+status\s+notification"
    r"|mail\s+delivery\s+failed|delivery\s+failure|failure\s+notice|returned\s+mail"
    r"|mail\s+system\s+error|delivery\s+has\s+failed|non-?delivery"
    r"|delayed\s+mail|delivery\s+delayed|could\s+not\s+send\s+message",
    re.IGNORECASE,
)

# What the human part of a delivery report says. Again people say "被退回"
# too, so this only counts together with a system sign.
_BOUNCE_BODY = re.compile(
    r"could\s*n[o']t\s+be\s+delivered|was\s+not\s+delivered|wasn't\s+delivered"
    r"|undeliverable|delivery\s+(?:has\s+)?failed|permanent\s+(?:fatal\s+)?error"
    r"|this\s+is\s+the\s+mail\s+system\s+at\s+host|qmail-send\s+program"
    r"|mail\s+delivery\s+software|following\s+address(?:\(es\)|es)?\s+failed"
    r"|wasn't\s+able\s+to\s+deliver|delivery\s+to\s+the\s+following\s+recipient"
    r"|not\s+yet\s+been\s+delivered|has\s+been\s+delayed"
    r"|被退回|退信原因|无法送达|未能送达|投递失败|发送失败|未能成功发送|没有发送成功"
    r"|无法投递|收件人不存在",
    re.IGNORECASE,
)

# Words of a delay notice rather than a final failure.
_DELAY_WORDS = re.compile(
    r"\bdelay(?:ed)?\b|will\s+(?:continue\s+to\s+)?(?:re)?try|not\s+yet\s+been\s+delivered"
    r"|still\s+trying|延迟|延时|仍在(?:尝试|重试)|继续尝试",
    re.IGNORECASE,
)

# An RFC 3463 status code standing alone: not part of an IP address or a
# version number ("Exim 4.92", "10.60.6.3").
_STATUS_CODE = re.compile(r"(?<![\w.])([245]\.\d{1,3}\.\d{1,3})(?!\.?\d)")

# A line carrying the server's refusal: the labels of Chinese bounces, an
# SMTP reply code (RFC 5321 §4.2), or qmail's "(#5.1.1)". No leading ".*":
# searched line by line, that would be quadratic on a long line.
_DIAGNOSTIC_LABEL = re.compile(
    r"(?:退信原因|失败原因|错误原因|错误信息|出错原因)\s*[:：]?"
)
_SMTP_REPLY = re.compile(r"\b[45]\d\d[\s-]")
_QMAIL_CODE = re.compile(r"\(#[45]\.\d+\.\d+\)")

# Where a text bounce starts quoting the original mail; addresses after it
# belong to that mail, not to the failure.
# qmail: "--- Below this line is a copy of the message."; Exim: "------ This
# is a copy of the message"; Sendmail, Exchange and others: a dashed line
# naming the original. Sendmail's "The original message was received at …"
# is no such marker: the failure is explained after it.
_COPY_BELOW = re.compile(r"below\s+this\s+line\s+is\s+a\s+copy", re.IGNORECASE)
_ORIGINAL_WORDS = re.compile(
    r"copy\s+of\s+the\s+message|original\s+message|returned\s+message"
    r"|message\s+headers|原邮件|原始邮件",
    re.IGNORECASE,
)

# The lookbehind makes a match start only where a run of address characters
# starts; without it a long run without "@" is rescanned from every position.
_ADDRESS = re.compile(r"(?<![\w.+'-])[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")
_MESSAGE_ID_LINE = re.compile(
    r"^\s*message-id\s*:\s*<?([^<>\s]+@[^<>\s]+)>?", re.I | re.M
)

# Why a mail did not arrive, by the status code's subject and detail (RFC 3463
# §3: the class digit says only permanent or transient). X.1.10 is left to the
# words: RFC 7505 means "null MX" by it, Exchange "recipient not found".
_CAUSE_BY_STATUS = {
    "1.1": "收件人地址不存在",
    "1.2": "收件人的域名不存在",
    "1.3": "收件人地址格式有误",
    "2.1": "收件人邮箱已停用或拒收",
    "2.2": "收件人邮箱已满",
    "3.4": "邮件太大，超出对方限制",
    "4.4": "无法连接对方邮件服务器",
    "4.7": "多次重试后仍未送达，已放弃",
}

# The same, read from the server's words when the status says too little.
_CAUSE_BY_WORDS = (
    (
        re.compile(
            r"user\s+unknown|unknown\s+user|does\s+not\s+exist|no\s+such\s+user"
            r"|user\s+not\s+(?:found|exist)|mailbox\s+not\s+found|invalid\s+recipient"
            r"|recipient\s+not\s+found|no\s+mailbox|用户不存在|收件人不存在|未开通",
            re.IGNORECASE,
        ),
        "收件人地址不存在",
    ),
    (
        re.compile(
            r"quota|mailbox\s+(?:is\s+)?full|insufficient\s+storage|空间不足|容量",
            re.IGNORECASE,
        ),
        "收件人邮箱已满",
    ),
    (
        re.compile(
            r"spam|content\s+reject|dt:spm|blacklist|blocked|垃圾|拦截",
            re.IGNORECASE,
        ),
        "被对方服务器当作垃圾邮件或按策略拒收",
    ),
    (
        re.compile(
            r"host\s+not\s+found|domain\s+not\s+found|couldn't\s+find|no\s+mx|null\s+mx"
            r"|域名不存在|域名解析",
            re.IGNORECASE,
        ),
        "收件人的域名不存在",
    ),
    (
        re.compile(r"too\s+large|size\s+limit|exceeds.*size|过大", re.IGNORECASE),
        "邮件太大，超出对方限制",
    ),
    (
        re.compile(
            r"timed?\s*out|connection\s+refused|unreachable|超时|无法连接",
            re.IGNORECASE,
        ),
        "无法连接对方邮件服务器",
    ),
)

_DIAGNOSTIC_LIMIT = 300

_BLANK_LINE = re.compile(r"\n[ \t]*\n")

# DSN actions (RFC 3464 §2.3.3) that report success, not failure.
_SUCCESS_ACTIONS = frozenset({"delivered", "relayed", "expanded"})


@dataclass(frozen=True)
class _Recipient:
    """One per-recipient block of a message/delivery-status part."""

    addresses: tuple[str, ...]  # Original-Recipient, then Final-Recipient
    action: str | None
    status: str | None
    diagnostic: str | None


def _dsn_address(value: str) -> str | None:
    """Return the address of an "rfc822; addr" field (RFC 3464 §2.3.1)."""
    address = value.split(";", 1)[-1].strip().strip("<>").strip().lower()
    return address or None


def _dsn_fields(block: str) -> list[tuple[str, str]]:
    """Return the (lower-cased name, value) fields of one DSN block, unfolded."""
    fields: list[tuple[str, str]] = []
    for line in block.splitlines():
        if line[:1] in (" ", "\t") and fields:
            name, value = fields[-1]
            fields[-1] = (name, value + " " + line.strip())
        elif ":" in line:
            name, value = line.split(":", 1)
            fields.append((name.strip().lower(), value.strip()))
    return fields


def _dsn_recipients(delivery_status: str) -> list[_Recipient]:
    """Return the per-recipient blocks of a delivery-status text.

    Blocks are separated by blank lines (RFC 3464 §2.1); some servers run
    several recipients together, so a repeated field also starts a new one.
    """
    groups: list[dict[str, str]] = []
    for block in _BLANK_LINE.split(delivery_status.replace("\r\n", "\n")):
        current: dict[str, str] = {}
        for name, value in _dsn_fields(block):
            if name in current and name in ("final-recipient", "original-recipient"):
                groups.append(current)
                current = {}
            current.setdefault(name, value)
        groups.append(current)

    recipients = []
    for group in groups:
        addresses = tuple(
            address
            for key in ("original-recipient", "final-recipient")
            if key in group and (address := _dsn_address(group[key])) is not None
        )
        if not addresses and "action" not in group:
            continue  # the per-message block: Reporting-MTA, Arrival-Date …
        status = _STATUS_CODE.search(group.get("status", ""))
        diagnostic = group.get("diagnostic-code")
        if diagnostic is not None:
            # "smtp; 550 5.1.1 …": the type before ";" says nothing to staff.
            diagnostic = diagnostic.split(";", 1)[-1].strip() or None
        recipients.append(
            _Recipient(
                addresses=addresses,
                action=(group.get("action") or "").strip().lower() or None,
                status=status.group(1) if status else None,
                diagnostic=diagnostic,
            )
        )
    return recipients


def _unique(values: list[str]) -> tuple[str, ...]:
    """Return *values* without repeats, in their first order."""
    return tuple(dict.fromkeys(value for value in values if value))


# Display names of bounce senders that do not use MAILER-DAEMON/postmaster.
# TODO: the Coremail (163) and Tencent (QQ) bounce wording here and in
# _BOUNCE_SUBJECT/_BOUNCE_BODY comes from their public help pages, not from
# captured bounces; check it against real ones from the production mailbox.
_DELIVERY_SYSTEM_NAME = re.compile(
    r"mail\s+delivery\s+(?:system|subsystem)|mail\s+administrator|系统退信|退信通知",
    re.IGNORECASE,
)


def _is_delivery_system_name(mail: ParsedMail) -> bool:
    """Return True when the From display name is a delivery system's."""
    name = mail.sender.name if mail.sender is not None else None
    return name is not None and _DELIVERY_SYSTEM_NAME.search(name) is not None


def _is_bounce(mail: ParsedMail) -> bool:
    """Return True when *mail* is a delivery report, standard or not."""
    if (mail.report_type or "").lower() == "delivery-status":
        return True
    if mail.delivery_status is not None:
        return True
    # Exim names the failed addresses in this header of every bounce.
    if _header(mail, "x-failed-recipients") is not None:
        return True

    subject = _BOUNCE_SUBJECT.search(mail.subject) is not None
    body = _BOUNCE_BODY.search(mail.text[:_HEAD_OF_BOUNCE]) is not None
    if _system_sender(mail) is not None or _is_delivery_system_name(mail):
        return subject or body

    # Non-standard bounces from odd senders: need the null sender or
    # Auto-Submitted, and both the subject and the text of a bounce.
    automatic = _null_return_path(mail) is not None or _auto_submitted(mail) is not None
    return automatic and subject and body


def _report_head(mail: ParsedMail) -> str:
    """Return the human part of a bounce, before any copy of the original."""
    text = mail.text[:_HEAD_OF_BOUNCE]
    head: list[str] = []
    for line in text.splitlines(keepends=True):
        dashed = line.lstrip()[:2] in ("--", "==")
        if _COPY_BELOW.search(line) or (dashed and _ORIGINAL_WORDS.search(line)):
            break
        head.append(line)
    return "".join(head)


def _text_recipients(mail: ParsedMail, text: str) -> list[str]:
    """Return the addresses named in a bounce's text that are not ours."""
    ours = {address.addr for address in (*mail.to, *mail.cc)}
    if mail.sender is not None:
        ours.add(mail.sender.addr)
    found = []
    for address in _ADDRESS.findall(text):
        address = address.lower().rstrip(".")
        local = address.split("@", 1)[0]
        if address in ours or _SYSTEM_LOCAL_PART.match(local):
            continue
        found.append(address)
    return found


def _text_diagnostic(text: str) -> str | None:
    """Return the words of a text bounce that hold the server's refusal."""
    lines = [line.strip() for line in text.splitlines()]
    for number, line in enumerate(lines):
        label = _DIAGNOSTIC_LABEL.search(line)
        if label is not None:
            # Coremail and Tencent put the cause after the label or under it,
            # sometimes over two lines: read on to the paragraph's end.
            paragraph = [line[label.end() :].strip()]
            for following in lines[number + 1 :]:
                if not following:
                    break
                paragraph.append(following)
            return " ".join(part for part in paragraph if part) or None

        reply = _SMTP_REPLY.search(line)
        if reply is not None:
            return line[reply.start() :].strip()
        if _QMAIL_CODE.search(line):
            return line
    return None


def _original_message_ids(mail: ParsedMail) -> tuple[str, ...]:
    """Return the Message-IDs of the bounced mail, from the best source."""
    attached = [
        headers["message-id"].strip().strip("<>")
        for headers in mail.attached_headers
        if headers.get("message-id")
    ]
    if attached:
        return _unique(attached)
    threaded = _unique([*mail.in_reply_to, *mail.references])
    if threaded:
        return threaded
    return _unique(_MESSAGE_ID_LINE.findall(mail.text))


def _cause(status: str | None, words: str) -> str | None:
    """Return why the mail failed, in Chinese, from the status or the words."""
    if status is not None:
        detail = status.split(".", 1)[1]
        if detail in _CAUSE_BY_STATUS:
            return _CAUSE_BY_STATUS[detail]
        if detail.startswith("7."):
            return "被对方服务器按安全或反垃圾策略拒收"
    for pattern, cause in _CAUSE_BY_WORDS:
        if pattern.search(words):
            return cause
    return None


def _whom(recipients: tuple[str, ...]) -> str:
    """Return the recipients as staff read them: at most three, then a count."""
    if not recipients:
        return "一封发出的邮件"
    shown = "、".join(recipients[:3])
    if len(recipients) > 3:
        return f"发往 {shown} 等 {len(recipients)} 个地址的邮件"
    return f"发往 {shown} 的邮件"


def bounce_info(mail: ParsedMail) -> Bounce | None:
    """Return what a delivery report says, or None when *mail* is not one.

    Reads RFC 3464 reports first; text bounces (qmail, Coremail's 系统退信,
    Tencent's 退信) are read for addresses, a status code and the refusal.
    """
    if not _is_bounce(mail):
        return None

    # Prefer what precedes the copy of the original mail: addresses and codes
    # after it belong to that mail. Coremail's 系统退信 puts "原邮件信息"
    # (with the recipient) first, so fall back to the whole text.
    head = _report_head(mail)
    whole = mail.text[:_HEAD_OF_BOUNCE]
    dsn = _dsn_recipients(mail.delivery_status or "")
    failed = [
        r for r in dsn if r.action == "failed" or (r.status or "").startswith("5")
    ]
    chosen: _Recipient | None = None
    if failed or dsn:
        chosen = (failed or dsn)[0]

    addresses = [address for r in dsn for address in r.addresses]
    if not addresses:
        failed_header = _header(mail, "x-failed-recipients") or ""
        addresses = [a.lower() for a in _ADDRESS.findall(failed_header)]
    if not addresses:
        addresses = _text_recipients(mail, head) or _text_recipients(mail, whole)
    recipients = _unique(addresses)

    status = chosen.status if chosen is not None else None
    if status is None:
        code = _STATUS_CODE.search(head) or _STATUS_CODE.search(whole)
        status = code.group(1) if code else None
    diagnostic = chosen.diagnostic if chosen is not None else None
    diagnostic = diagnostic or _text_diagnostic(head) or _text_diagnostic(whole)
    if diagnostic is not None:
        diagnostic = _shorten(diagnostic, _DIAGNOSTIC_LIMIT)

    actions = {r.action for r in dsn if r.action is not None}
    succeeded = bool(actions) and actions <= _SUCCESS_ACTIONS
    if failed:
        permanent = True
    elif succeeded:
        permanent = False
    elif actions or status is not None:
        # "Action: delayed", or a status code without an action.
        permanent = status is not None and status.startswith("5")
    else:
        # A text bounce with no code: final unless it speaks of a delay.
        permanent = _DELAY_WORDS.search(f"{mail.subject}\n{head}") is None

    whom = _whom(recipients)
    code_note = f"（{status}）" if status else ""
    if succeeded:
        reason = f"投递通知：{whom}已送达{code_note}"
    elif not permanent:
        reason = f"延迟通知：{whom}暂未送达，对方服务器仍在重试{code_note}"
    else:
        # Not the whole text: the copy of our own mail may hold any word.
        cause = _cause(status, f"{diagnostic or ''}\n{head}")
        reason = f"退信：{whom}无法送达，{cause or '原因请查看退信原文'}{code_note}"

    return Bounce(
        original_message_ids=_original_message_ids(mail),
        recipients=recipients,
        status=status,
        diagnostic=diagnostic,
        permanent=permanent,
        reason=reason,
    )


# ---------------------------------------------------------------------------
# Spam
# ---------------------------------------------------------------------------

# Deliberately not used, though they exist:
# - X-QQ-SPAM: Tencent's outbound servers stamp "X-QQ-SPAM: true" on ordinary
#   mail (it is visible on public mailing-list archives of patches sent from
#   exmail.qq.com), so it is no verdict, and students write from QQ Mail.
# - X-Coremail-Antispam: present on every mail Coremail (163) handles, as an
#   opaque encoded string with no readable verdict.
# TODO: 163 files the spam it detects into the 垃圾邮件 (\Junk) folder rather
# than marking a header; whether to poll that folder is the mailbox reader's
# decision, not this check's.

# Subject tags that filtering gateways add: SpamAssassin's rewrite_header
# default "*****SPAM*****", the common "[SPAM]", and Chinese gateways'
# "【垃圾邮件】". Only at the start, where gateways put them.
_SPAM_SUBJECT = re.compile(
    r"^\s*(?:(?:re|fw|fwd)\s*:\s*)*(?P<tag>\*{3,}\s*spam\s*\*{3,}|\[spam\]"
    r"|[\[【]\s*垃圾邮件\s*[\]】])",
    re.IGNORECASE,
)

# SpamAssassin writes "YES" or "Yes, score=7.2 …"; rspamd writes "Yes".
_SPAM_YES = re.compile(r"yes\b", re.IGNORECASE)

# Content markers: the staple trades of Chinese spam. Each is something no
# appeal asks for, and each counts only with a lure to contact the sender
# and with no word of the school in the text (see _SCHOOL_WORDS).
_SPAM_MARKERS = (
    # Invoice fraud: selling fake or "代开" tax invoices is a crime, and
    # the most common Chinese spam there is.
    re.compile(r"代开(?:各类|各种|正规|增值税)?(?:专用|普通)?发票"),
    # Gambling ads: gambling is illegal on the mainland; these words are its
    # advertising vocabulary.
    re.compile(r"博彩|百家乐|真人娱乐|体育投注|首存送|送彩金|澳门(?:葡京|赌场|新葡京)"),
    # Loan ads promising instant approval.
    re.compile(
        r"贷款秒批|秒批贷款|无抵押贷款|秒(?:下|到账)(?:款)?.{0,4}(?:贷款|借款|额度)"
    ),
)

# A lure: a link, or "add me on WeChat / QQ". Spam wants an answer elsewhere.
_SPAM_LURE = re.compile(
    r"https?://|www\.|加(?:微信|微|V|v|QQ|qq|扣扣)"
    r"|(?:微信|VX|vx|QQ|qq)\s*[:：]?\s*[A-Za-z0-9_-]{5,}"
)

# Words of a student writing about the school: a student who reports a
# gambling ad or a loan scam ("宿舍楼里有人发贷款秒批的传单") uses them, and
# a false hold is worse than a missed spam.
_SCHOOL_WORDS = re.compile(
    r"老师|同学|校|学院|辅导员|宿舍|寝室|食堂|上课|学号|班级|本人"
    r"|诉求|反映|举报|投诉|诈骗|被骗|骗子"
)


def _spam_headers(mail: ParsedMail) -> str | None:
    """Verdicts of SpamAssassin (X-Spam-Flag, X-Spam-Status) and rspamd (X-Spam)."""
    for name, label in (
        ("x-spam-flag", "X-Spam-Flag"),
        ("x-spam-status", "X-Spam-Status"),
        ("x-spam", "X-Spam"),
    ):
        value = _header(mail, name)
        if value is not None and _SPAM_YES.match(value):
            return f"垃圾邮件：{label}: {_shorten(value)}"
    return None


def spam_reason(mail: ParsedMail) -> str | None:
    """Return why *mail* is obvious spam, or None.

    Spam is held apart for staff, never dropped; this errs towards None.
    """
    reason = _spam_headers(mail)
    if reason is not None:
        return reason

    tag = _SPAM_SUBJECT.match(mail.subject)
    if tag is not None:
        return f"垃圾邮件：主题带有“{tag.group('tag')}”标记"

    text = f"{mail.subject}\n{mail.text}"
    if _SCHOOL_WORDS.search(text) or not _SPAM_LURE.search(text):
        return None
    for marker in _SPAM_MARKERS:
        found = marker.search(text)
        if found is not None:
            return f"疑似垃圾邮件：含“{found.group(0)}”并附有链接或联系方式"
    return None
