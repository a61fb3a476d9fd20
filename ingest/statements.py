"""What a student says about themselves in an appeal: name, class, numbers, wishes.

One small rule per field, each tried in order of trust; what no rule finds is None.
"""

import re
import unicodedata
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Statements:
    """The facts a student states about themselves; each may be missing."""

    name: str | None
    class_name: str | None
    student_id: str | None
    phone: str | None
    counselor: str | None
    college: str | None
    qq: str | None
    wants_confidential: bool


_CJK = "\u4e00-\u9fff"

# Roughly the 150 most common Chinese surnames as national rankings list
# them, plus those frequent in Guangxi (韦, 覃, 蒙, 莫, 农, 岑, 黎, 麦 …:
# Zhuang and Yao families) that a national list ranks low. A name found by a
# loose rule must begin with one of these; a labelled "姓名：" need not.
# TODO: a name not labelled "姓名：" is found only when its surname is on
# this list; rarer surnames (仝, 禤, 蒯 …) are missed unless labelled.
_SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘"
    "于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱"
    "江尹薛闫阎段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢"
    "安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰蓝焦俞左柳甘祝包宁尚符舒阮柯纪梅"
    "童凌毕单季裴霍涂成苗谷盛曲翁冉骆蒙农岑麦卓容植练滕凤谌黎巫邬佘游饶"
)
_COMPOUND_SURNAMES = (
    "欧阳",
    "司马",
    "上官",
    "诸葛",
    "东方",
    "皇甫",
    "尉迟",
    "公孙",
    "慕容",
    "长孙",
    "令狐",
    "夏侯",
    "司徒",
    "端木",
    "宇文",
    "南宫",
)

# Words that fit "surname + one to three characters" but are no one's name:
# greetings and closings of a letter, and how students refer to people.
_NOT_NAMES = frozenset(
    {
        "谢谢",
        "谢谢您",
        "谢谢你",
        "万分感谢",
        "祝好",
        "此致",
        "敬礼",
        "同学",
        "学生",
        "老师",
        "本人",
        "匿名",
        "保密",
        "高年级",
        "方便",
        "安全",
        "常常",
        "于是",
        "向您",
        "温馨",
        "程序",
        "申请",
        "成绩",
        "文明",
        "金额",
        "时间",
        "石头",
        "江湖",
        "关于",
        "黄金",
        "宁愿",
        "包括",
        "尚未",
        "童年",
        "毕业",
        "单位",
        "季度",
        "曲折",
        "麻烦",
        "周末",
        "周一",
        "周二",
        "周三",
        "周四",
        "周五",
        "周六",
        "周日",
        "马上",
        "任何",
        "任课",
        "陆续",
        "何时",
        "孙子",
        "林业",
        "钱包",
        "高三",
        "高二",
        "高一",
        "宿舍",
        "左右",
        "严重",
        "常规",
        "安排",
        "汤面",
        "舒服",
        "温度",
        "康复",
        "施工",
    }
)

# Endings that make a word a role or a unit, not a name.
_NOT_NAME_ENDINGS = re.compile(
    r"(?:老师|同学|学生|辅导员|学院|专业|班|级|系|处|部|中心|办|室|楼)$"
)

# Two-character words with these endings are nicknames ("叶子", "强哥",
# "贝儿"); in longer words they are ordinary given names ("韦小宝").
_NICKNAME_ENDINGS = frozenset("子儿仔宝酱哥姐妹弟总")
_ALL_CJK = re.compile(rf"[{_CJK}]+")

# After a name comes punctuation, a digit, the end, or a word that plainly
# starts something else ("张三同学", "李四，学号…", "我叫王五来自…").
_AFTER_NAME = (
    rf"(?=[^{_CJK}]|$|同学|是|的|今年|现在|目前|学号|班级|专业|电话|手机|联系|来自"
    r"|就读|在|想|要|反映|向|有|给|因为|请|，)"
)

# "姓名：李四", "名字：李四", "姓名 李四". With a colon the name is taken as
# written (rare surnames included); without one ("姓名不便透露") it must pass
# the surname rule.
_LABELLED_NAME = re.compile(
    rf"(?:姓\s*名|名\s*字(?=\s*[:：]))\s*(?P<colon>[:：])?\s*"
    rf"(?P<name>[{_CJK}]{{2,4}}?){_AFTER_NAME}"
)

# Words that refuse a name rather than give one: "姓名：保密", "不便透露".
_REFUSAL = re.compile(r"^(?:不|无|未|暂|略|保|匿|隐|没)")

# "我叫张三", "我的名字是张三", "本人王五", "本人是王五", "学生张三".
_SELF_NAMED = re.compile(
    rf"(?:我叫|我的名字(?:是|叫)|本人(?:姓名)?(?:是|叫)?|学生)\s*"
    rf"(?P<name>[{_CJK}]{{2,4}}?){_AFTER_NAME}"
)

# "我是土木工程学院土木2301班的张三": the name after "的" in a self-introduction.
_INTRODUCED = re.compile(
    rf"我是[^，。,.!！?？\n]{{0,30}}?的(?P<name>[{_CJK}]{{2,4}}?){_AFTER_NAME}"
)

# "我是张三，": only when the word is a name by the surname rule.
_I_AM = re.compile(rf"我是(?P<name>[{_CJK}]{{2,4}}?)(?=[，,。.\s!！]|同学|$)")

# "土木2301班张三", "汽修22-1班的李四": a class followed by a name.
_CLASS_THEN_NAME = re.compile(rf"班(?:的)?\s*(?P<name>[{_CJK}]{{2,4}}?){_AFTER_NAME}")

# Where a class name may start: after a non-Chinese character, the start,
# or a word that ends a college's name or a self-introduction.
_CLASS_START = (
    rf"(?:(?<=[^{_CJK}])|^|(?<=学院)|(?<=专业)|(?<=系)|(?<=是)|(?<=的)|(?<=在)"
    r"|(?<=读)|(?<=自))"
)

# "土木2301班", "汽修22-1班", "会计2班", "22级建筑工程技术3班": a programme's
# short name, a number, "班". The prefix may not run over "学院" or "的".
_CLASS = re.compile(
    _CLASS_START
    + rf"(?P<class>(?:\d{{2,4}}级)?(?:(?!学院|的|是|在|我)[{_CJK}]){{1,10}}?"
    r"\d{1,4}(?:[-－—]\d{1,2})?班)"
)

# "班级：汽修22-1班", "班级 土木2301": the labelled class, taken as written.
# Without a colon the value must hold a digit, or "班级群里说…" would count.
_LABELLED_CLASS = re.compile(
    r"班\s*级\s*(?P<colon>[:：])?\s*"
    r"(?P<class>[^\s,，。；;、:：]{2,20}?班|[^\s,，。；;、:：]{2,20}?)"
    r"(?=[\s,，。；;、]|姓名|学号|电话|手机|联系|辅导员|$)"
)
_DIGIT = re.compile(r"\d")
_NON_DIGITS = re.compile(r"\D")

# A signature line's class without "班": "土木2301", "汽修22-1".
_SIGNATURE_CLASS = re.compile(
    rf"^(?:\d{{2}}级)?[{_CJK}]{{2,6}}[1-9]\d{{1,3}}(?:-\d{{1,2}})?班?$"
)

# Places and numbers a bare "土木2301" is not: rooms, buildings, phones.
_NOT_CLASS_PREFIX = re.compile(r"宿舍|楼|室|栋|号|房|门|电话|手机|我")

# "学号：2022103215", "学号是 2022103215", "学号2022103215".
_LABELLED_STUDENT_ID = re.compile(
    r"学\s*号\s*(?:是|为|[:：])?\s*(?P<id>\d{8,12})(?!\d)"
)

# A bare run of 8–12 digits, not inside an address, a link or a longer number.
_DIGIT_RUN = re.compile(r"(?<![\d@./A-Za-z])(?P<id>\d{8,12})(?![\d@]|\.\w)")

# Labels under which a long number is not a student number.
_OTHER_NUMBER_LABEL = re.compile(
    r"(?:qq|QQ|扣扣|微信|电话|手机|联系|工号|订单|单号|账号|卡号|编号|身份证|金额|快递)"
    r"[^\d]{0,6}$"
)

# Mainland mobiles: 1[3-9] and nine more digits, with spaces or dashes as
# people write them ("138 7766 5544", "138-7766-5544"), maybe after +86.
_MOBILE = re.compile(
    r"(?<![\d])(?:\+?86[\s-]?)?(?P<phone>1[3-9]\d(?:[\s-]?\d){8})(?!\d)"
)

# Landlines such as 0776-5825962. Students quote the college's own numbers
# ("我打了教务处电话0776-5588285"), so a landline counts only after a label
# that makes it theirs.
_LANDLINE = re.compile(r"(?<!\d)(?P<phone>0\d{2,3})[\s\-－]?(?P<number>\d{7,8})(?!\d)")

# Labels that make the next number the student's own.
_PHONE_LABEL = re.compile(
    r"(?:联系电话|联系方式|手机号码?|电话号码|我的电话|我的手机|本人电话|本人手机)"
    r"\s*(?:是|为|[:：])?\s*$"
    r"|(?:电话|手机|Tel|TEL|tel)\s*[:：]\s*$"
)

# Numbers that belong to someone else: "辅导员刘老师电话138…".
_OTHERS_PHONE = re.compile(
    r"(?:老师|辅导员|处|中心|办公室|宿管|阿姨|师傅)[^。，,\n]{0,6}$"
)

# A number right after "学号" is the student number, even when it looks like
# a mobile.
_AFTER_STUDENT_ID_LABEL = re.compile(r"学\s*号\s*(?:是|为|[:：])?\s*$")

# "我的辅导员是刘老师", "辅导员：陈某某", "辅导员王芳说…", "辅导员老师姓黄".
_COUNSELOR = re.compile(
    rf"辅导员(?:老师)?\s*(?:是|为|叫|[:：])?\s*(?P<surname_only>姓)?"
    rf"(?P<name>[{_CJK}]{{1,4}}?)(?P<title>老师)?"
    rf"(?=[^{_CJK}]|$|说|也|都|一直|不|没|已|让|把|对|和|跟|在|的|他|她|电话|手机|反映|告诉)"
)

# "土木工程学院", "汽车与机电学院". The start rule keeps "我是…" and "来自…"
# out of the name.
_COLLEGE = re.compile(
    rf"(?:(?<=[^{_CJK}])|^|(?<=是)|(?<=在)|(?<=自)|(?<=于)|(?<=读)|(?<=的)|(?<=学院))"
    rf"(?P<college>(?:(?!是|的|在|我|们|来自|就读)[{_CJK}]){{2,8}}?学院)"
)

# Verbs and prepositions that may lead into a college's name after a comma:
# "，向土木工程学院反映过" names 土木工程学院.
_COLLEGE_LEAD = re.compile(r"^(?:向|给|找|到|去|和|跟|对|被|让|从|问|找过|去过)+")

# The college itself and words that say "a college" without naming one.
_NOT_COLLEGE = re.compile(
    r"职业学院$|^二级学院$|^本学院$|^该学院$|^各学院$|^各二级学院$"
)

# "QQ：123456789", "qq号 123456789", "扣扣 123456789", or a QQ Mail address.
_QQ = re.compile(
    r"(?:QQ|qq|Qq|扣扣)\s*(?:号码?|号)?\s*(?:是|为|[:：])?\s*(?P<qq>[1-9]\d{4,10})(?!\d)"
    r"|(?<![\w.])(?P<mail>[1-9]\d{4,10})@qq\.com",
)

# Wishes for confidentiality. The rules (保密制度) protect every student who
# asks, so these lean towards True: a needless secret costs little.
# TODO: a bare 保密 or 匿名 counts wherever it stands, so "教务处说成绩要保密"
# reads as a wish; telling whose secret is meant needs more than a pattern.
_CONFIDENTIAL = re.compile(
    r"保密|匿名"
    r"|(?:不(?:要|想|希望|愿意?|能)|请勿|切勿|勿|别)(?:让|被)?[^。！!？?\n]{0,8}"
    r"(?:透露|公开|告诉|知道|泄露)[^。！!？?\n]{0,8}(?:我|名字|姓名|身份)"
    r"|(?:隐去|隐藏|隐瞒)我的(?:名字|姓名|身份|信息)"
    r"|(?:怕|害怕|担心)(?:被)?(?:报复|穿小鞋|针对)"
)

# Negations that take the wish back: "不用保密", "可以公开我的名字".
_NOT_CONFIDENTIAL = re.compile(
    r"(?:不用|不需要|无需|不必|没必要|不要求)(?:为我|对我|帮我)?(?:保密|匿名)"
    r"|可以(?:公开|透露|告诉[^。！!？?\n]{0,6})(?:我的)?(?:名字|姓名|身份|信息)?"
    r"|(?:不介意|不怕|无所谓)[^。！!？?\n]{0,6}(?:公开|透露|知道)"
)

# How many lines from the end a signature block may take.
_SIGNATURE_LINES = 3
_SIGNATURE_WIDTH = 40
_SIGNATURE_SPLIT = re.compile(r"[\s,，、/|｜:：;；。.!！()（）\[\]【】—–\-]+")
# Labels whose value in a signature is someone else's: "辅导员：陈某某".
_OTHER_PERSON_LABELS = frozenset(
    {"辅导员", "辅导员老师", "班主任", "班导", "老师", "联系人"}
)

_SIGNATURE_AFFIXES = re.compile(
    r"^(?:你的学生|您的学生|学生|同学)|(?:同学|敬上|谨上|拜上|留)$"
)


def _normalise(text: str) -> str:
    """Return *text* with full-width digits, letters and colons made ASCII."""
    return unicodedata.normalize("NFKC", text)


def _has_surname(word: str) -> bool:
    """Return True when *word* begins with a common surname."""
    return word[:1] in _SURNAMES or word[:2] in _COMPOUND_SURNAMES


def _plausible_name(word: str, *, need_surname: bool = True) -> bool:
    """Return True when *word* can be a person's name, not a word or a role."""
    if not 2 <= len(word) <= 4 or not _ALL_CJK.fullmatch(word):
        return False
    if _REFUSAL.match(word):
        return False
    if word in _NOT_NAMES or _NOT_NAME_ENDINGS.search(word):
        return False
    if any(stop in word for stop in ("老师", "同学", "学生", "学院", "谢谢", "感谢")):
        return False
    # "乐乐", "贝贝": doubled characters are nicknames, as are "叶子", "强哥".
    if len(word) == 2 and (word[0] == word[1] or word[1] in _NICKNAME_ENDINGS):
        return False
    return _has_surname(word) or not need_surname


def _first_name(
    pattern: re.Pattern[str], text: str, *, need_surname: bool
) -> str | None:
    """Return the first match of *pattern*'s "name" group that can be a name."""
    for found in pattern.finditer(text):
        if _plausible_name(found.group("name"), need_surname=need_surname):
            return found.group("name")
    return None


def _signature(text: str) -> list[str]:
    """Return the short lines at the end of *text*, where students sign.

    The first line is never a signature: a one-line mail is all message.
    """
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    tail = lines[1:][-_SIGNATURE_LINES:]
    return [line for line in tail if len(line) <= _SIGNATURE_WIDTH]


def _signature_tokens(text: str) -> list[str]:
    """Return the words of the signature lines, affixes such as 同学 removed.

    A word after "辅导员" or "班主任" names that person, not the student.
    """
    tokens = []
    for line in _signature(text):
        previous = ""
        for word in _SIGNATURE_SPLIT.split(line):
            token = _SIGNATURE_AFFIXES.sub("", word)
            if token and previous not in _OTHER_PERSON_LABELS:
                tokens.append(token)
            previous = word or previous
    return tokens


def _labelled_name(text: str) -> str | None:
    """Return the name after "姓名"/"名字", trusting it only after a colon."""
    for found in _LABELLED_NAME.finditer(text):
        name = found.group("name")
        if _plausible_name(name, need_surname=found.group("colon") is None):
            return name
    return None


def _name(text: str, sender_name: str | None) -> str | None:
    """Find the student's name: labelled, self-introduced, signed, or sent as.

    TODO: an appeal written for several students ("我和李四、王五") yields
    the first name found only; the others are not reported, because a case
    has one student (one name, class and counselor). They stay in the text
    that staff and the unit read.
    """
    labelled = _labelled_name(text)
    if labelled is not None:
        return labelled

    for pattern in (_SELF_NAMED, _INTRODUCED, _I_AM, _CLASS_THEN_NAME):
        found = _first_name(pattern, text, need_surname=True)
        if found is not None:
            return found

    for token in _signature_tokens(text):
        if _plausible_name(token):
            return token

    # The From display name is often a nickname or pinyin ("小鱼儿",
    # "A-星辰", "Zhang San"): use it only when it reads as a Chinese name.
    if sender_name is not None:
        candidate = _normalise(sender_name).strip().strip("\"'")
        if _plausible_name(candidate):
            return candidate
    return None


def _class_name(text: str) -> str | None:
    """Find the class: labelled, written as "…班", or signed as "土木2301"."""
    for labelled in _LABELLED_CLASS.finditer(text):
        value = labelled.group("class")
        if labelled.group("colon") is not None or _DIGIT.search(value):
            return value

    found = _CLASS.search(text)
    if found is not None:
        return found.group("class")

    for token in _signature_tokens(text):
        if _SIGNATURE_CLASS.match(token) and not _NOT_CLASS_PREFIX.search(token):
            return token
    return None


def _is_date(digits: str) -> bool:
    """Return True when eight digits read as a date such as 20261203."""
    if len(digits) != 8:
        return False
    try:
        date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        return False
    return 1990 <= int(digits[:4]) <= 2100


def _student_id(text: str) -> str | None:
    """Find the student number: after "学号", else a bare run that fits none else."""
    labelled = _LABELLED_STUDENT_ID.search(text)
    if labelled is not None:
        return labelled.group("id")

    for found in _DIGIT_RUN.finditer(text):
        digits = found.group("id")
        before = text[max(0, found.start() - 12) : found.start()]
        if _OTHER_NUMBER_LABEL.search(before):
            continue
        # Phones, landlines (leading 0) and dates are not student numbers.
        if _MOBILE.fullmatch(digits) or digits.startswith("0") or _is_date(digits):
            continue
        return digits
    return None


def _phone(text: str) -> str | None:
    """Find the student's phone: a labelled one first, else an unlabelled mobile."""
    candidates: list[tuple[int, str]] = []  # (position, phone as we store it)
    for found in _MOBILE.finditer(text):
        candidates.append((found.start(), _NON_DIGITS.sub("", found.group("phone"))))
    for found in _LANDLINE.finditer(text):
        candidates.append(
            (found.start(), f"{found.group('phone')}-{found.group('number')}")
        )
    candidates.sort()

    def before(position: int) -> str:
        """Return the few characters in front of *position*, where labels sit."""
        return text[max(0, position - 16) : position]

    for position, phone in candidates:
        if _PHONE_LABEL.search(before(position)):
            return phone

    # Unlabelled: mobiles only, and not one that follows a teacher or an
    # office, nor the student number.
    for position, phone in candidates:
        near = before(position)
        if phone.startswith("0") or _OTHERS_PHONE.search(near):
            continue
        if _AFTER_STUDENT_ID_LABEL.search(near):
            continue
        return phone
    return None


def _counselor(text: str) -> str | None:
    """Find the counselor: "刘老师" kept whole, "王芳老师" as "王芳"."""
    for found in _COUNSELOR.finditer(text):
        name, title = found.group("name"), found.group("title")
        if not _has_surname(name) or name in _NOT_NAMES:
            continue
        if len(name) == 1 and (title is not None or found.group("surname_only")):
            return name + "老师"
        if 2 <= len(name) <= 4 and _plausible_name(name):
            return name
    return None


def _college(text: str) -> str | None:
    """Find the college (二级学院) the student names, not the college itself."""
    for found in _COLLEGE.finditer(text):
        college = found.group("college")
        lead = _COLLEGE_LEAD.match(college)
        if lead is not None and len(college) - lead.end() >= 4:
            college = college[lead.end() :]
        if not _NOT_COLLEGE.search(college):
            return college
    return None


def _qq(text: str) -> str | None:
    """Find the QQ number, labelled or as the local part of a QQ Mail address."""
    found = _QQ.search(text)
    if found is None:
        return None
    return found.group("qq") or found.group("mail")


def _wants_confidential(text: str) -> bool:
    """Return True when the student asks to keep their identity from others.

    A wish counts unless it lies inside a negation ("不用保密"); a student who
    says both "可以公开我的名字" and "别告诉辅导员是我" still wants it.
    """
    taken_back = [found.span() for found in _NOT_CONFIDENTIAL.finditer(text)]
    for found in _CONFIDENTIAL.finditer(text):
        start, end = found.span()
        if not any(low <= start and end <= high for low, high in taken_back):
            return True
    return False


def extract_statements(text: str, sender_name: str | None = None) -> Statements:
    """Read what the student says about themselves in *text*.

    *sender_name* is the From display name, used for the name only when the
    text gives none and it reads as a real Chinese name.
    """
    text = _normalise(text)
    return Statements(
        name=_name(text, sender_name),
        class_name=_class_name(text),
        student_id=_student_id(text),
        phone=_phone(text),
        counselor=_counselor(text),
        college=_college(text),
        qq=_qq(text),
        wants_confidential=_wants_confidential(text),
    )
