"""Spot wording that reads as self-harm, suicide or acute distress (心理危机).

A sign alerts the counselling centre at once, so a false alarm costs a phone
call and a miss may cost a life: when unsure, this module flags.
"""

import re

from routing.segment import normalize

# The signs, as regular expressions over normalized text. Each names a wish
# to die, a method, or a breaking point in the writer's own words; a bare 死
# is not here, because 笑死/热死/累死 are everyday exaggeration.
_SIGNS: tuple[str, ...] = (
    r"自杀",
    r"轻生",
    r"自尽",
    r"寻死",
    r"不想活",
    r"活不下去",
    r"没有活下去的",
    r"活着(?:真|好|太)?(?:没意思|没有意思|没意义|没有意义|好累|太累)",
    r"想(?:去)?死",
    r"死了算了",
    r"不如死了",
    r"一死了之",
    r"一了百了",
    r"割腕",
    r"自残",
    r"伤害自己",
    r"跳楼",
    r"跳下去",
    r"跳(?:河|江|海)",
    r"上吊",
    r"烧炭",
    r"结束(?:自己的)?生命",
    r"了结(?:自己|生命)",
    r"离开这个世界",
    r"安眠药",
    r"遗书",
    r"想(?:要)?解脱",
    r"想消失",
    r"(?:撑|熬|坚持|活)不下去",
    r"撑不住",
    r"崩溃",
    r"绝望",
)
_SIGN = re.compile("|".join(_SIGNS))

# Everyday phrases that contain a sign's characters but say nothing of the
# writer's life; they are blanked before the signs are sought.
_HARMLESS = re.compile(
    "|".join(
        (
            r"跳楼(?:机|价|大甩卖|甩卖)",  # a fairground ride, a clearance sale
            r"想死(?:你|我了|大家|他|她)",  # 想死你们了: "I miss you so"
            r"死磕|死心|死党",
            r"[笑热冷累困饿吵冻晒]得想死",  # hyperbole about the body
            # A machine that crashes is not a person breaking down; the
            # writer's own 我快崩溃了 in the next clause still counts.
            r"(?:系统|网站|网页|电脑|服务器|软件|页面|程序|网络|app|手机|平台|游戏)"
            r"(?:又|就|直接|总是|经常|老是|都)?崩溃",
        )
    )
)

# A negation just before a sign (不是想自杀, 没有想自杀的念头, 并不想死,
# 从没想过自杀) takes it back. It must sit right before the sign, with at most
# a verb of intent between: 我没钱交学费想死 is not negated by its 没.
# 没有人/没人 (nobody) is not a negation of the writer's wish.
_NEGATED = re.compile(
    r"(?:不是|并不|并没有?|没有(?!人)|没(?!人)|不会|从没有?|从未|从来没有?|从来不"
    r"|绝不|决不|绝对不|不至于|不可能|不再|不)"
    r"(?:想过|想要|想|要|会|打算|准备|是|是想|有过|有|曾经|曾|去)?过?$"
)

# A clause that talks about the subject rather than living it: a lecture on
# prevention, the news, a film, a joke. A student's own words in the next
# clause are judged on their own.
_DISCUSSION = re.compile(
    r"预防|防范|防止|讲座|新闻|报道|电影|电视剧|小说|宣传|案例|科普|主题班会"
    r"|开玩笑|玩笑|歌词"
)
# A general "what if someone…" question about policy, not about the writer.
# A first-person conditional (如果再这样我就不想活了) stays a sign.
_HYPOTHETICAL = re.compile(
    r"(?:如果|假如|万一|要是|假设)[^我]{0,4}(?:有人|同学|学生|别人|有学生|有同学)"
)
_CLAUSE_END = re.compile(r"[。！？!?；;，,\n…]")
# TODO: quoted speech and sarcasm are not told apart from the writer's own
# words, and a negation more than a verb away ("不是说我想自杀") is not seen,
# so such text is flagged; both need a person, which the alert brings.


def crisis_signs(text: str) -> tuple[str, ...]:
    """Return the phrases of *text* that read as a crisis, in order, once each.

    Someone else's crisis counts: a student writing that a roommate "不想活了"
    is reporting a person at risk, and the counselling centre must hear of it.
    """
    folded = normalize(text)
    blanked = _HARMLESS.sub(lambda m: "□" * len(m.group()), folded)

    found: list[str] = []
    for match in _SIGN.finditer(blanked):
        start = _clause_start(blanked, match.start())
        end = _clause_end(blanked, match.end())
        before = blanked[start : match.start()].replace(" ", "")
        clause = blanked[start:end]

        if _NEGATED.search(before):
            continue
        if _DISCUSSION.search(clause) or _HYPOTHETICAL.search(before):
            continue
        if match.group() not in found:
            found.append(match.group())
    return tuple(found)


def _clause_start(text: str, position: int) -> int:
    """Return where the clause holding *position* begins."""
    start = 0
    for mark in _CLAUSE_END.finditer(text, 0, position):
        start = mark.end()
    return start


def _clause_end(text: str, position: int) -> int:
    """Return where the clause holding *position* ends."""
    mark = _CLAUSE_END.search(text, position)
    return mark.start() if mark else len(text)
