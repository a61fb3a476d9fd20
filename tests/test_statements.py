"""Tests for ingest.statements: what students say about themselves, as they write it."""

from dataclasses import dataclass, replace

import pytest

from ingest.statements import Statements, extract_statements

NOTHING = Statements(
    name=None,
    class_name=None,
    student_id=None,
    phone=None,
    counselor=None,
    college=None,
    qq=None,
    wants_confidential=False,
)


@dataclass(frozen=True)
class Case:
    """One realistic student text, the From display name, and what it states."""

    label: str
    text: str
    expected: Statements
    sender_name: str | None = None


def said(**fields: object) -> Statements:
    """Return the Statements with *fields* set and every other field empty."""
    return replace(NOTHING, **fields)  # type: ignore[arg-type]


CASES = [
    Case(
        "self-introduction with college, class and student number",
        "老师您好，我是土木工程学院土木2301班的张三，学号2023101234，"
        "想反映一下7栋宿舍热水的问题，已经停了一个星期了。",
        said(
            name="张三",
            class_name="土木2301班",
            student_id="2023101234",
            college="土木工程学院",
        ),
    ),
    Case(
        "labelled fields on one line",
        "姓名：李四 班级：汽修22-1班 学号：2022103215\n"
        "反映内容：食堂二楼的饭菜价格上涨太多，希望学校核查。",
        said(name="李四", class_name="汽修22-1班", student_id="2022103215"),
    ),
    Case(
        "masked student number and a spaced phone",
        "本人王五，学号2023xxxx，联系电话 138 7766 5544。宿舍空调坏了两周没人修。",
        said(name="王五", phone="13877665544"),
    ),
    Case(
        "counselor named as 刘老师",
        "我的辅导员是刘老师，他说这件事要找教务处，可是教务处让我找学院。",
        said(counselor="刘老师"),
    ),
    Case(
        "labelled counselor is not the student",
        "辅导员：陈某某\n诉求：班级综合测评加分没有按规定公示，请学校核查。",
        said(counselor="陈某某"),
    ),
    Case(
        "signature block with class, name and phone",
        "宿舍楼的热水经常停，晚上十点以后基本没有热水，希望后勤尽快解决。\n"
        "谢谢！\n"
        "土木2301 张三 13877665544",
        said(name="张三", class_name="土木2301", phone="13877665544"),
    ),
    Case(
        "unnamed signature and a nickname as sender",
        "图书馆自习室晚上十点就关门，考试周能不能延长开放时间？\n一名大二学生",
        NOTHING,
        sender_name="小鱼儿",
    ),
    Case(
        "sender display name that is a real name",
        "空调坏了一周没人修，报修了三次。",
        said(name="欧阳娜娜"),
        sender_name="欧阳娜娜",
    ),
    Case(
        "sender display name that is a pinyin",
        "空调坏了一周没人修，报修了三次。",
        NOTHING,
        sender_name="Zhang San",
    ),
    Case(
        "sender display name that is a handle",
        "空调坏了一周没人修，报修了三次。",
        NOTHING,
        sender_name="A-星辰",
    ),
    Case(
        "the text wins over the sender's name",
        "我叫黄志强，是汽车与机电学院的学生。实训楼的设备老化严重。",
        said(name="黄志强", college="汽车与机电学院"),
        sender_name="李明",
    ),
    Case(
        "grade-first class and no name",
        "我是22级建筑工程技术3班的学生，我们班的课表一学期变了五次。",
        said(class_name="22级建筑工程技术3班"),
    ),
    Case(
        "Guangxi surname and a request for confidentiality",
        "我是会计2班的覃小凤，请为我保密，我怕被辅导员知道。",
        said(name="覃小凤", class_name="会计2班", wants_confidential=True),
    ),
    Case(
        "QQ number labelled with a full-width colon",
        "我叫蒙丽娟，QQ：2839475610，电话不方便接，请用QQ联系我。",
        said(name="蒙丽娟", qq="2839475610"),
    ),
    Case(
        "QQ Mail address in the text",
        "有问题可以发邮件到 1234567890@qq.com 找我。\n韦小宝 会计2班",
        said(name="韦小宝", class_name="会计2班", qq="1234567890"),
    ),
    Case(
        "asks not to be named to the counselor",
        "我的名字不想公开，请不要告诉辅导员是我反映的。班级评优有内定的情况。",
        said(wants_confidential=True),
    ),
    Case(
        "waives confidentiality",
        "不用保密，可以公开我的名字。我是经济管理学院的韦明。",
        said(name="韦明", college="经济管理学院"),
    ),
    Case(
        "college's own landline is not the student's phone",
        "我打了教务处电话0776-5588285没人接，我的手机是13977001122，麻烦回电。",
        said(phone="13977001122"),
    ),
    Case(
        "student's own landline after a label",
        "家里有事，请联系我家长。联系电话：0776-5825962",
        said(phone="0776-5825962"),
    ),
    Case(
        "the counselor's mobile is skipped for the labelled one",
        "辅导员刘老师电话13800001111一直打不通。本人电话：13977001122",
        said(phone="13977001122", counselor="刘老师"),
    ),
    Case(
        "college named before another college mentioned",
        "我是铁道与航空学院的学生，之前向土木工程学院反映过宿舍的事。",
        said(college="铁道与航空学院"),
    ),
    Case(
        "name refused after the label",
        "姓名：不便透露\n食堂卫生状况很差，有同学吃出了虫子。",
        NOTHING,
    ),
    Case(
        "refusal and a class chat mentioned, no colon",
        "姓名不便透露，班级群里说老师不管这件事。",
        NOTHING,
    ),
    Case(
        "compound surname after the college's full name",
        "广西工程职业学院艺术设计学院 视觉传达2201班 司马相如\n画室的灯坏了一半。",
        said(
            name="司马相如",
            class_name="视觉传达2201班",
            college="艺术设计学院",
        ),
    ),
    Case(
        "counselor given only by surname",
        "我们辅导员老师姓黄，人很好，但是宿舍的事情她也解决不了。",
        said(counselor="黄老师"),
    ),
    Case(
        "order number is not a student number",
        "食堂充值订单号20231203456一直没到账，钱被扣了。",
        NOTHING,
    ),
    Case(
        "letter closing and a teacher's name as sender",
        "请学校重视学生的意见。\n谢谢！\n此致\n敬礼",
        NOTHING,
        sender_name="王老师",
    ),
    Case(
        "class followed directly by the name",
        "你们好，我是汽修22-1班李想，学号2022103215，电话：138-7766-5544。",
        said(
            name="李想",
            class_name="汽修22-1班",
            student_id="2022103215",
            phone="13877665544",
        ),
    ),
    Case(
        "labelled form pasted from the 交报单 with full-width digits",
        "姓名：梁晓雯\n班级：电子商务２３０２班\n学号：２０２３２０５１１８\n"
        "手机：１５９７７８８６６３３\n诉求内容：助学金评定名单没有公示。",
        said(
            name="梁晓雯",
            class_name="电子商务2302班",
            student_id="2023205118",
            phone="15977886633",
        ),
    ),
    Case(
        "anonymous appeal",
        "匿名反映：某老师上课经常迟到早退，还在课堂上抽烟。",
        said(wants_confidential=True),
    ),
    Case(
        "fear of retaliation",
        "我担心被报复，所以没有写名字。期末考试有老师泄题。",
        said(wants_confidential=True),
    ),
    Case(
        "bare student number in a signature",
        "寝室门锁坏了，晚上不安全，请尽快派人维修。\n莫文静 2022108823",
        said(name="莫文静", student_id="2022108823"),
    ),
    Case(
        "mobile with +86 and the counselor as a full name",
        "辅导员是王芳老师。我的电话是 +86 188-7700-1122，我叫卢俊杰。",
        said(name="卢俊杰", phone="18877001122", counselor="王芳"),
    ),
    Case(
        "name stated with 我的名字是",
        "我的名字是潘雨涵，国防科技学院的，想问一下征兵入伍学费补偿什么时候发。",
        said(name="潘雨涵", college="国防科技学院"),
    ),
    Case(
        "class with a Chinese numeral-free short name",
        "我们建工2班的教室投影仪坏了一个月了。\n——建工2班 全体同学",
        said(class_name="建工2班"),
    ),
    Case(
        "a student signing with 同学",
        "学校的快递点太远了，能不能在宿舍区设一个？\n张晓明同学",
        said(name="张晓明"),
    ),
    Case(
        "a student asking to keep identity and then allowing the name",
        "可以公开我的名字，但是请不要告诉班主任是我说的。我是陆海峰。",
        said(name="陆海峰", wants_confidential=True),
    ),
    Case(
        "QQ labelled with 号",
        "qq号 987654321 微信同号。我是凌志远，铁道与航空学院的。",
        said(name="凌志远", college="铁道与航空学院", qq="987654321"),
    ),
    Case(
        "date written as eight digits is not a student number",
        "20261203 晚上宿舍停电，到现在还没恢复。",
        NOTHING,
    ),
    Case(
        "long English-free complaint with no self-description",
        "学校的热水供应时间太短了，每天只有晚上两个小时，冬天根本不够用。"
        "希望后勤管理中心能延长供应时间，或者至少在周末全天供应。",
        NOTHING,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.label for case in CASES])
def test_realistic_texts(case: Case) -> None:
    """Each realistic appeal yields exactly the statements it makes, and no others."""
    assert extract_statements(case.text, case.sender_name) == case.expected


def test_at_least_thirty_realistic_texts() -> None:
    """The table above keeps at least thirty varied student texts."""
    assert len(CASES) >= 30


@pytest.mark.parametrize(
    "word", ["老师", "同学", "学生", "辅导员", "学生工作处", "教务处"]
)
def test_roles_and_units_are_not_names(word: str) -> None:
    """Roles and unit names given as a display name are never taken for names."""
    assert extract_statements("宿舍没有热水。", sender_name=word).name is None


@pytest.mark.parametrize("nickname", ["乐乐", "叶子", "小鱼儿", "胖虎", "Amy", "阿杰"])
def test_nicknames_as_sender_are_not_names(nickname: str) -> None:
    """Nicknames in the From header are not taken for the student's name."""
    assert extract_statements("宿舍没有热水。", sender_name=nickname).name is None


def test_sender_name_used_only_as_fallback() -> None:
    """A labelled name in the text beats a plausible display name."""
    found = extract_statements("姓名：赵敏\n食堂太贵。", sender_name="周芷若")
    assert found.name == "赵敏"


def test_labelled_name_with_rare_surname_is_kept() -> None:
    """After "姓名：" a name with an uncommon surname is taken as written."""
    assert extract_statements("姓名：仝晓东\n反映实训课安排。").name == "仝晓东"


def test_self_introduction_without_surname_is_ignored() -> None:
    """ "本人是一名大二学生" gives no name."""
    assert extract_statements("本人是一名大二学生，想反映食堂问题。").name is None


@pytest.mark.parametrize(
    "text",
    [
        "不需要保密，我的名字可以写上。",
        "无需匿名，我实名反映。",
        "可以透露我的名字，没关系。",
        "我不介意被知道是我反映的。",
    ],
)
def test_negated_confidentiality(text: str) -> None:
    """Taking the wish back ("不需要保密", "可以透露我的名字") means no secret."""
    assert extract_statements(text).wants_confidential is False


@pytest.mark.parametrize(
    "text",
    [
        "希望对我的身份保密。",
        "请不要透露我的名字。",
        "请不要告诉老师是我反映的。",
        "不想让辅导员知道是我。",
        "请隐去我的姓名后再转给学院。",
        "请匿名处理。",
        "请勿公开我的姓名。",
        "别告诉辅导员是我反映的。",
    ],
)
def test_confidentiality_wishes(text: str) -> None:
    """Each usual wording of a wish for confidentiality is recognised."""
    assert extract_statements(text).wants_confidential is True


def test_landline_without_label_is_not_taken() -> None:
    """An unlabelled landline is some office's number, not the student's."""
    assert extract_statements("保卫处0776-5661055晚上打不通。").phone is None


def test_student_number_not_taken_from_phone() -> None:
    """An eleven-digit mobile is a phone, never a student number."""
    found = extract_statements("有事打我电话13877665544。")
    assert found.student_id is None
    assert found.phone == "13877665544"
