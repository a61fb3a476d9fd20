"""Remove personal data from a text that leaves the student's circle.

Used for a confidential case's 办理单 and for published cases: names we
know, phones, 学号, e-mail addresses, QQ numbers and ID-card numbers become
placeholders. The patterns over-match on purpose: a lost digit in a
published text costs nothing, a leaked phone number does.
"""

import re
from collections.abc import Iterable

MASK = "＊＊"

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
# Mainland ID cards: 17 digits and a digit or X (GB 11643).
_ID_CARD = re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)")
# Mobiles with optional separators, landlines with an area code.
_PHONE = re.compile(
    r"(?<!\d)(?:\+?86[\s\-]?)?1[3-9]\d(?:[\s\-]?\d){8}(?!\d)"
    r"|(?<!\d)0\d{2,3}[\s\-－]?\d{7,8}(?!\d)"
)
_QQ = re.compile(r"(?i)(?:qq|扣扣|企鹅)\s*(?:号|号码)?\s*[:：]?\s*\d{5,12}")
# 学号 and other long digit runs: 8 to 12 digits standing alone.
_LONG_NUMBER = re.compile(r"(?<!\d)\d{8,12}(?!\d)")


def scrub(text: str, names: Iterable[str | None] = ()) -> str:
    """Return *text* with personal data replaced by ``MASK``."""
    text = _EMAIL.sub(MASK, text)
    text = _ID_CARD.sub(MASK, text)
    text = _QQ.sub(MASK, text)
    text = _PHONE.sub(MASK, text)
    text = _LONG_NUMBER.sub(MASK, text)
    for name in sorted(
        {n.strip() for n in names if n and n.strip()}, key=len, reverse=True
    ):
        if len(name) >= 2:
            text = text.replace(name, MASK)
    return text
