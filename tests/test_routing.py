"""Tests of routing/: rules, segmentation, decisions, crisis, deadlines, topics."""

import logging
import subprocess
import sys
import tomllib
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from routing import deadline, segment
from routing.crisis import crisis_signs
from routing.deadline import PUBLISHED, WorkCalendar, due_at, holidays_notice
from routing.decide import Decision, dispatcher_for, route
from routing.rules import CATEGORIES, COLLEGES, RuleSet, load_rules
from routing.similar import (
    DEFAULT_THRESHOLD,
    concentrated,
    similar_to,
    similarity,
    topic_terms,
    weight,
)
from suqiu.errors import RoutingError

ROOT = Path(__file__).resolve().parent.parent
APPEALS = Path(__file__).parent / "data" / "appeals.toml"
SHANGHAI = ZoneInfo("Asia/Shanghai")

# The units an appeal can be assigned to; the dispatching offices and the
# proposal committee dispatch, they are not routed to.
HANDLING_UNITS = (
    "大学生心理健康教育与咨询中心",
    "学生工作处",
    "保卫处",
    "教务处",
    "团委",
    "后勤管理中心",
    *COLLEGES,
)

MINIMAL = """
[settings]
threshold = 3.0
margin = 0.25
subject_weight = 2.0

[[rule]]
name = "canteen"
description = "食堂"
category = "教学管理服务"
unit = "后勤管理中心"
terms = { "食堂" = 3, "涨价" = 1 }

[[rule]]
name = "network"
description = "校园网"
category = "教学管理服务"
unit = "后勤管理中心"
terms = { "校园网" = 3 }

[[rule]]
name = "exams"
description = "考试"
category = "教学管理服务"
unit = "教务处"
terms = { "补考" = 3 }
"""


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    """The shipped rules, loaded once for the module."""
    return load_rules()


def write_rules(tmp_path: Path, text: str) -> Path:
    """Write a rules file and return its path."""
    path = tmp_path / "rules.toml"
    path.write_text(text, encoding="utf-8")
    return path


# ── loading and validation ────────────────────────────────────────────


def test_default_rules_load(rules: RuleSet) -> None:
    """The shipped rules file loads, with its settings, from the package."""
    assert len(rules.rules) >= 25
    assert rules.threshold == 3.0
    assert rules.source == "routing/rules.toml"
    assert all(rule.category in CATEGORIES for rule in rules.rules)


def test_default_rules_name_every_unit(rules: RuleSet) -> None:
    """Every unit that handles appeals has at least one rule naming it."""
    named = {unit for rule in rules.rules for unit in rule.units}
    assert set(HANDLING_UNITS) <= named


def test_default_rules_cover_every_category(rules: RuleSet) -> None:
    """Each of the five scope categories has at least one rule."""
    assert {rule.category for rule in rules.rules} == set(CATEGORIES)


def test_rules_from_a_path(tmp_path: Path) -> None:
    """A rules file given by path is read instead of the default."""
    ruleset = load_rules(write_rules(tmp_path, MINIMAL))
    assert [rule.name for rule in ruleset.rules] == ["canteen", "network", "exams"]
    assert ruleset.source == str(tmp_path / "rules.toml")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            (
                'category = "教学管理服务"\nunit = "教务处"',
                'category = "杂项"\nunit = "教务处"',
            ),
            "未知类别",
        ),
        (('unit = "教务处"', ""), "缺少责任单位"),
        (('unit = "教务处"', 'unit = "教务部"'), "未知单位"),
        (('unit = "教务处"', 'units = ["教务处"]'), "至少要列出两个"),
        (
            ('unit = "教务处"', 'unit = "教务处"\nunits = ["教务处", "团委"]'),
            "只能写一个",
        ),
        (('"补考" = 3', '"补考" = "三"'), "不是数字"),
        (('"补考" = 3', '"补考" = 0'), "无效"),
        (('"补考" = 3', '"补考" = 1000'), "无效"),
        (('"补考" = 3', '"补考" = true'), "不是数字"),
        (('"补考" = 3', '"补考" = nan'), "不是有限数"),
        (('"补考" = 3', '"补考" = -3'), "没有正权重"),
        (('terms = { "补考" = 3 }', 'term = { "补考" = 3 }'), "未知的键"),
        (('description = "考试"', 'description = ""'), "缺少 description"),
    ],
)
def test_bad_rule_names_rule_and_file(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    """A malformed rule raises RoutingError naming the rule, the file and the fault."""
    old, new = change
    assert old in MINIMAL
    path = write_rules(tmp_path, MINIMAL.replace(old, new))

    with pytest.raises(RoutingError) as caught:
        load_rules(path)

    text = str(caught.value)
    assert str(path) in text
    assert "exams" in text
    assert message in text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[rule]\nname=", "不是有效的 UTF-8 TOML"),
        ("[settings]\nthreshold = 3\n", "没有任何 [[rule]]"),
        (MINIMAL.replace("margin = 0.25", "margin = 1.5"), "margin"),
        (MINIMAL.replace("threshold = 3.0", "threshold = 0"), "threshold"),
        (MINIMAL + '\n[colleges]\n"化工学院" = ["化工"]\n', "不是二级学院"),
        (MINIMAL + '\n[colleges]\n"教育学院" = ["汽车与机电学院"]\n', "同时指向"),
        (MINIMAL.replace('name = "network"', 'name = "canteen"'), "重复定义"),
        (MINIMAL.replace('name = "network"', 'name = "Network!"'), "name 缺失或无效"),
    ],
)
def test_bad_file_is_refused(tmp_path: Path, text: str, message: str) -> None:
    """A broken rules file or setting raises RoutingError saying what is wrong."""
    path = write_rules(tmp_path, text)
    with pytest.raises(RoutingError) as caught:
        load_rules(path)
    assert str(path) in str(caught.value)
    assert message in str(caught.value)


def test_missing_rules_file(tmp_path: Path) -> None:
    """A rules path that does not exist raises RoutingError, keeping the cause."""
    with pytest.raises(RoutingError) as caught:
        load_rules(tmp_path / "absent.toml")
    assert isinstance(caught.value.__cause__, OSError)


# ── segmentation ──────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("sentence", "word"),
    [
        ("我们班的综合测评不公平", "综合测评"),
        ("国家助学金什么时候发", "助学金"),
        ("补考在哪里考", "补考"),
        ("宿舍校园网很卡", "校园网"),
        ("想预约心理咨询", "心理咨询"),
        ("辅导员不回消息", "辅导员"),
        ("请转大学生心理健康教育与咨询中心处理", "大学生心理健康教育与咨询中心"),
        ("铁道与航空学院的实训室", "铁道与航空学院"),
    ],
)
def test_campus_words_segment_whole(sentence: str, word: str) -> None:
    """Campus terms come out of the tokenizer as one word."""
    assert word in segment.words(sentence)


def test_words_fold_width_and_case() -> None:
    """Full-width and upper-case Latin letters are folded before segmentation."""
    assert "wifi" in segment.words("宿舍ＷｉＦｉ太差")
    assert "wifi" in segment.words("宿舍WIFI太差")


def test_words_drop_whitespace() -> None:
    """Spaces and line breaks never come back as words."""
    assert all(w.strip() for w in segment.words("食堂 太贵\n了\t吧"))


def test_search_words_find_words_inside_compounds() -> None:
    """search_words yields the dictionary words inside long ones (补考 in 补考时间)."""
    assert "补考时间" in segment.words("补考时间什么时候出")
    assert "补考" in segment.search_words("补考时间什么时候出")


def _python(code: str) -> subprocess.CompletedProcess[str]:
    """Run *code* in a fresh interpreter from the project root."""
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def test_jieba_is_quiet() -> None:
    """Loading jieba prints nothing on stderr when the application is not at DEBUG."""
    done = _python("from routing.segment import words; print(words('食堂太贵'))")
    assert done.stderr == ""
    assert "食堂" in done.stdout


def test_jieba_speaks_at_debug() -> None:
    """When the application logs DEBUG, jieba's loading messages reach its handlers."""
    done = _python(
        "import logging; logging.basicConfig(level=logging.DEBUG)\n"
        "from routing.segment import words; words('食堂太贵')"
    )
    assert "prefix dict" in done.stderr


def test_tokenizer_built_once_across_threads() -> None:
    """Threads racing to segment first share one tokenizer, built once."""
    done = _python(
        "import threading\n"
        "from routing import segment\n"
        "seen = []\n"
        "def work():\n"
        "    segment.words('综合测评加分不公平')\n"
        "    seen.append(id(segment._tokenizer))\n"
        "threads = [threading.Thread(target=work) for _ in range(8)]\n"
        "[t.start() for t in threads]; [t.join() for t in threads]\n"
        "print(len(seen), len(set(seen)))\n"
    )
    assert done.stdout.split() == ["8", "1"]


# ── decisions ─────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("subject", "text", "unit"),
    [
        ("饭太贵", "学校食堂的盖浇饭涨到十二块了，还越来越少。", "后勤管理中心"),
        ("热水器", "宿舍热水器坏了，洗澡一直是冷水。", "后勤管理中心"),
        ("网速", "校园网一到晚上就断网，网课都上不了。", "后勤管理中心"),
        ("重修", "重修报名的入口在哪里？选课系统里找不到。", "教务处"),
        ("综测", "班级综合测评的加分细则一直没有公示。", "学生工作处"),
        ("助学金", "国家助学金的名额是怎么分配到班级的？", "学生工作处"),
        (
            "心理",
            "最近很焦虑，晚上失眠，想找心理咨询老师。",
            "大学生心理健康教育与咨询中心",
        ),
        ("自行车", "停在教学楼下的自行车被偷了，想看监控。", "保卫处"),
        ("志愿", "参加志愿者活动的志愿时长一直没录入。", "团委"),
        ("实训室", "土木工程学院的实训室设备老化，希望学院更新。", "土木工程学院"),
        ("机房", "艺术设计学院机房电脑太慢，专业软件打不开。", "艺术设计学院"),
        ("实训", "经济管理学院的电商实训室一直不开放。", "经济管理学院"),
        ("实训", "铁道与航空学院的实训基地设备老旧。", "铁道与航空学院"),
        ("实训", "汽车与机电学院实训车间的设备要维护。", "汽车与机电学院"),
        ("训练", "国防科技学院周末也要队列训练，能否调整。", "国防科技学院"),
        ("琴房", "教育学院的琴房太少，练琴排不上。", "教育学院"),
    ],
)
def test_each_unit_is_reachable(
    rules: RuleSet, subject: str, text: str, unit: str
) -> None:
    """A plain appeal on each unit's own business is routed to that unit."""
    decision = route(subject, text, rules)
    assert decision.unit == unit, decision.explanation
    assert decision.confident
    assert decision.units == (unit,)


@pytest.mark.parametrize(
    ("text", "unit"),
    [
        ("经济管理学院的一位老师上课辱骂学生，说我们是废物。", "经济管理学院"),
        ("有个老师上课辱骂学生，说我们是废物。", "教务处"),
    ],
)
def test_teacher_conduct_goes_to_the_named_college(
    rules: RuleSet, text: str, unit: str
) -> None:
    """师德师风 goes to the teacher's college when named, else to 教务处."""
    decision = route("反映老师", text, rules)
    assert decision.category == "师德师风"
    assert decision.unit == unit, decision.explanation


def test_several_units_make_a_major_issue(rules: RuleSet) -> None:
    """A rule naming several units yields a confident major decision, no single unit."""
    decision = route(
        "外卖",
        "外卖不让进校，只能放在校门口地上，经常被拿错，希望建外卖柜。",
        rules,
    )
    assert decision.confident
    assert decision.major
    assert decision.unit is None
    assert set(decision.units) == {"保卫处", "后勤管理中心"}
    assert "重大问题" in decision.explanation


def test_explanation_names_rule_words_and_score(rules: RuleSet) -> None:
    """The explanation quotes the winning rule, the words that hit and the score."""
    decision = route("食堂涨价", "二食堂的饭菜又涨价了。", rules)
    assert decision.rule == "canteen"
    assert "canteen" in decision.explanation
    assert "“食堂”" in decision.explanation
    assert f"{decision.score:.1f}" in decision.explanation
    assert decision.explanation.endswith("。")


def test_hits_list_every_matching_rule_best_first(rules: RuleSet) -> None:
    """All matching rules are reported, ordered by score, the winner first."""
    decision = route("食堂", "食堂太贵，宿舍的空调也坏了。", rules)
    names = [hit.rule for hit in decision.hits]
    assert names[0] == "canteen" == decision.rule
    assert "dorm_repairs" in names
    scores = [hit.score for hit in decision.hits]
    assert scores == sorted(scores, reverse=True)


def test_subject_words_weigh_more(tmp_path: Path) -> None:
    """A term in the subject counts subject_weight times a term in the body."""
    ruleset = load_rules(write_rules(tmp_path, MINIMAL))
    assert route("食堂", "说一下", ruleset).score == 6.0
    assert route("说一下", "食堂", ruleset).score == 3.0


def test_below_threshold_stays_for_triage(tmp_path: Path) -> None:
    """A best score under the threshold leaves the unit to triage, naming the rule."""
    ruleset = load_rules(write_rules(tmp_path, MINIMAL))
    decision = route("问题", "最近涨价了", ruleset)

    assert not decision.confident
    assert decision.unit is None
    assert decision.units == ()
    assert decision.category is None
    assert decision.rule == "canteen"
    assert decision.hits[0].terms == ("涨价",)
    assert "canteen" in decision.explanation
    assert "低于阈值" in decision.explanation
    assert "学生工作处" in decision.explanation


def test_threshold_can_be_overridden(tmp_path: Path) -> None:
    """A lower threshold passed to route() makes the same appeal confident."""
    ruleset = load_rules(write_rules(tmp_path, MINIMAL))
    decision = route("问题", "最近涨价了", ruleset, threshold=1.0)
    assert decision.confident
    assert decision.unit == "后勤管理中心"


def test_close_rivals_stay_for_triage_with_category(tmp_path: Path) -> None:
    """Two units within the margin leave the unit open, yet keep a shared category."""
    ruleset = load_rules(write_rules(tmp_path, MINIMAL))
    decision = route("问题", "食堂和补考", ruleset)

    assert not decision.confident
    assert decision.unit is None
    assert decision.category == "教学管理服务"
    assert "canteen" in decision.explanation
    assert "exams" in decision.explanation
    assert "接近" in decision.explanation


def test_rules_of_one_unit_do_not_compete(tmp_path: Path) -> None:
    """Two close rules naming the same unit still decide that unit."""
    ruleset = load_rules(write_rules(tmp_path, MINIMAL))
    decision = route("问题", "食堂和校园网", ruleset)
    assert decision.confident
    assert decision.unit == "后勤管理中心"


def test_many_topics_stay_for_triage(rules: RuleSet) -> None:
    """A letter listing several unrelated complaints goes to a person to split."""
    decision = route(
        "几个问题",
        "一是食堂饭菜太贵；二是我们班奖学金评定不公平；三是补考时间没通知。",
        rules,
    )
    assert not decision.confident
    assert decision.unit is None
    assert "方面" in decision.explanation


def test_nothing_matches(rules: RuleSet) -> None:
    """An appeal no rule touches stays for triage with a plain explanation."""
    decision = route("（无主题）", "如题", rules)
    assert decision == Decision(
        category=None,
        unit=None,
        units=(),
        rule=None,
        score=0.0,
        confident=False,
        hits=(),
        explanation="未命中任何规则，留学生工作处分拣。",
    )


@pytest.mark.parametrize(
    ("channel", "dispatcher"),
    [
        ("书记信箱", "党委办公室"),
        ("校长信箱", "校长办公室"),
        ("提案", "提案委员会"),
        (" 书记信箱 ", "党委办公室"),
        ("gxgcxgc2017@163.com", "学生工作处"),
        ("处长接待日", "学生工作处"),
        ("意见箱", "学生工作处"),
        ("", "学生工作处"),
    ],
)
def test_dispatcher_for(channel: str, dispatcher: str) -> None:
    """Each channel is dispatched by the office the rules give it."""
    assert dispatcher_for(channel) == dispatcher


# ── accuracy on the labelled appeals ──────────────────────────────────


def _label(decision: Decision) -> str:
    """Return a decision as the data labels it: a unit, "major" or "triage"."""
    if decision.major:
        return "major"
    return decision.unit or "triage"


def _accuracy(rules: RuleSet, split: str) -> tuple[float, float]:
    """Return (unit, category) accuracy on *split*, printing every miss."""
    with APPEALS.open("rb") as handle:
        appeals = [a for a in tomllib.load(handle)["appeal"] if a["split"] == split]

    units = categories = labelled = 0
    for appeal in appeals:
        decision = route(appeal["subject"], appeal["text"], rules)
        unit_ok = _label(decision) == appeal["unit"]
        category_ok = not appeal["category"] or decision.category == appeal["category"]
        units += unit_ok
        labelled += bool(appeal["category"])
        categories += bool(appeal["category"]) and category_ok
        if not (unit_ok and category_ok):
            print(
                f"miss {split} {appeal['id']}: want {appeal['unit']}/"
                f"{appeal['category'] or '-'}, got {_label(decision)}/"
                f"{decision.category or '-'}: {decision.explanation}"
            )
    return units / len(appeals), categories / labelled


def test_labelled_appeals_are_well_formed() -> None:
    """The labelled set is big enough, split about evenly, and uses real labels."""
    with APPEALS.open("rb") as handle:
        appeals = tomllib.load(handle)["appeal"]
    assert len(appeals) >= 180
    assert len({a["id"] for a in appeals}) == len(appeals)
    dev = sum(a["split"] == "dev" for a in appeals)
    assert abs(dev - len(appeals) / 2) <= len(appeals) * 0.1
    for appeal in appeals:
        assert appeal["split"] in ("dev", "holdout")
        assert appeal["unit"] in (*HANDLING_UNITS, "triage", "major")
        assert appeal["category"] in (*CATEGORIES, "")


def test_accuracy_on_dev(rules: RuleSet) -> None:
    """The rules place the dev appeals they were tuned on (unit and category ≥ 95%)."""
    unit, category = _accuracy(rules, "dev")
    print(f"dev: unit {unit:.1%}, category {category:.1%}")
    assert unit >= 0.95
    assert category >= 0.95


def test_accuracy_on_holdout(rules: RuleSet) -> None:
    """The rules place unseen holdout appeals (unit and category ≥ 90%)."""
    unit, category = _accuracy(rules, "holdout")
    print(f"holdout: unit {unit:.1%}, category {category:.1%}")
    assert unit >= 0.90
    assert category >= 0.90


# ── crisis ────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("text", "signs"),
    [
        ("我不想活了", ("不想活",)),
        ("我真的撑不下去了，觉得活着没意思", ("撑不下去", "活着没意思")),
        ("有时候站在阳台上想跳下去算了", ("跳下去",)),
        ("我偷偷攒了一瓶安眠药", ("安眠药",)),
        ("最近总有结束生命的想法", ("结束生命",)),
        ("我没钱交学费，想死的心都有", ("想死",)),
        ("没有人理解我，我想死", ("想死",)),
        ("如果再这样下去，我就去跳楼", ("跳楼",)),
        ("室友昨晚跟我说她想自杀", ("自杀",)),
        ("选课系统又崩溃了，我也快崩溃了", ("崩溃",)),
        ("我割腕了好几次", ("割腕",)),
        ("我不是不想活，可是每天都好绝望", ("绝望",)),
    ],
)
def test_crisis_signs_found(text: str, signs: tuple[str, ...]) -> None:
    """First-person and reported distress is flagged with the phrases found."""
    assert crisis_signs(text) == signs


@pytest.mark.parametrize(
    "text",
    [
        "我不是想自杀，只是想换个宿舍",
        "我没有想自杀的念头，请放心",
        "我并不想死，只是压力大",
        "我从没想过自杀",
        "我不会轻生的",
        "宿舍楼跳楼机游戏太刺激了",
        "笑死了，食堂又涨价",
        "今天热死了，热得想死",
        "超市跳楼价大甩卖",
        "选课系统又崩溃了",
        "放假好久没见，想死你们了",
        "希望学校加强预防学生自杀的宣传教育",
        "如果有同学想轻生，学校有什么机制",
        "看了一部关于自杀的电影",
        "食堂饭菜太贵了",
    ],
)
def test_crisis_signs_not_found(text: str) -> None:
    """Negated, hypothetical, discussed and figurative wording is not a sign."""
    assert crisis_signs(text) == ()


# ── deadlines ─────────────────────────────────────────────────────────


def test_general_deadline_is_end_of_seventh_day() -> None:
    """A 办理单 sent on Monday morning is due at 23:59:59 the next Monday, local."""
    sent = datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)
    due = due_at(sent)
    assert due == datetime(2026, 3, 9, 23, 59, 59, tzinfo=SHANGHAI)
    assert due.tzinfo is SHANGHAI


def test_deadline_counts_from_the_local_date() -> None:
    """A UTC evening that is already the next morning in Shanghai counts from there."""
    sent = datetime(2026, 3, 1, 20, 0, tzinfo=UTC)  # 2026-03-02 04:00 in Shanghai
    assert due_at(sent) == datetime(2026, 3, 9, 23, 59, 59, tzinfo=SHANGHAI)


def test_naive_assignment_is_taken_as_utc() -> None:
    """A naive datetime is read as UTC, as suqiu.clock does."""
    naive = datetime(2026, 3, 1, 20, 0)  # noqa: DTZ001  (the case under test)
    assert due_at(naive) == due_at(naive.replace(tzinfo=UTC))


def test_deadline_in_another_zone() -> None:
    """The end of day is taken in the zone asked for."""
    zone = timezone(timedelta(hours=-5))
    sent = datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)  # 03-01 21:00 at -05:00
    assert due_at(sent, tz=zone) == datetime(2026, 3, 8, 23, 59, 59, tzinfo=zone)


def test_calendar_days_ignore_national_day() -> None:
    """Calendar days run straight through the National Day holiday."""
    sent = datetime(2026, 9, 30, 9, 0, tzinfo=SHANGHAI)
    assert due_at(sent) == datetime(2026, 10, 7, 23, 59, 59, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 9, 20), True),  # Sunday, 调休 for National Day
        (date(2026, 10, 10), True),  # Saturday, 调休 for National Day
        (date(2026, 10, 1), False),
        (date(2026, 10, 7), False),
        (date(2026, 10, 8), True),
        (date(2026, 10, 11), False),  # an ordinary Sunday
        (date(2026, 9, 25), False),  # Mid-Autumn Festival
    ],
)
def test_is_working_day_knows_2026(day: date, working: bool) -> None:
    """chinese_calendar's 2026 holidays and make-up days decide working days."""
    assert PUBLISHED.is_working_day(day) is working


def test_working_days_skip_national_day_and_count_makeup_saturday() -> None:
    """Seven working days from 29 Sep 2026 skip 1–7 Oct and count Saturday 10 Oct."""
    sent = datetime(2026, 9, 29, 10, 0, tzinfo=SHANGHAI)
    due = due_at(sent, working_days=True)
    # 9-30, 10-08, 10-09, 10-10 (调休), 10-12, 10-13, 10-14
    assert due == datetime(2026, 10, 14, 23, 59, 59, tzinfo=SHANGHAI)


def test_working_days_count_makeup_sunday() -> None:
    """Sunday 20 Sep 2026 (调休) counts as a working day; Mid-Autumn does not."""
    sent = datetime(2026, 9, 18, 16, 0, tzinfo=SHANGHAI)
    due = due_at(sent, working_days=True)
    # 9-20 (调休), 9-21, 9-22, 9-23, 9-24, 9-28, 9-29
    assert due == datetime(2026, 9, 29, 23, 59, 59, tzinfo=SHANGHAI)


def test_zero_and_negative_days() -> None:
    """Zero days is the end of the same day; negative days are refused."""
    sent = datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)
    assert due_at(sent, days=0) == datetime(2026, 3, 2, 23, 59, 59, tzinfo=SHANGHAI)
    with pytest.raises(ValueError, match="negative"):
        due_at(sent, days=-1)


def test_missing_year_falls_back_to_weekdays(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """For 2027, unknown to chinese_calendar 1.11, Monday–Friday work, warned once."""
    monkeypatch.setattr(deadline, "_warned_years", set())
    with caplog.at_level(logging.WARNING, logger="routing.deadline"):
        assert PUBLISHED.is_working_day(date(2027, 1, 4))  # Monday
        assert not PUBLISHED.is_working_day(date(2027, 1, 2))  # Saturday
        assert PUBLISHED.is_working_day(date(2027, 1, 5))

    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "2027" in warnings[0].getMessage()
    assert "upgrade" in warnings[0].getMessage()


def test_working_days_into_a_missing_year(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deadline crossing into 2027 uses the weekday fallback there and warns."""
    monkeypatch.setattr(deadline, "_warned_years", set())
    sent = datetime(2026, 12, 28, 10, 0, tzinfo=SHANGHAI)
    with caplog.at_level(logging.WARNING, logger="routing.deadline"):
        due = due_at(sent, working_days=True)
    # 12-29, 12-30, 12-31, then 2027 by weekday: 01-01 (Fri), 01-04, 01-05, 01-06
    assert due == datetime(2027, 1, 6, 23, 59, 59, tzinfo=SHANGHAI)
    assert any("2027" in r.getMessage() for r in caplog.records)


# An example of a year chinese_calendar 1.11 lacks, as [calendar] names it: a
# week off for the Spring Festival and a make-up Sunday (not the real 2027
# schedule, which the package will carry).
SPRING_2027 = WorkCalendar(
    days_off=frozenset(date(2027, 2, 5) + timedelta(days=n) for n in range(7)),
    workdays=frozenset({date(2027, 2, 14)}),
)


def test_configured_days_decide_a_missing_year_without_warning(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Days the configuration names win; the rest of that year is Monday to
    Friday, and no warning: the year is configured."""
    monkeypatch.setattr(deadline, "_warned_years", set())
    with caplog.at_level(logging.WARNING, logger="routing.deadline"):
        assert not SPRING_2027.is_working_day(date(2027, 2, 8))  # Monday, off
        assert SPRING_2027.is_working_day(date(2027, 2, 14))  # Sunday, worked
        assert SPRING_2027.is_working_day(date(2027, 3, 1))  # an ordinary Monday
        assert not SPRING_2027.is_working_day(date(2027, 3, 6))  # Saturday
    assert caplog.records == []
    assert SPRING_2027.knows(2027) and not PUBLISHED.knows(2027)
    assert PUBLISHED.knows(2026)


def test_configured_days_override_the_package() -> None:
    """A day the package has as a holiday can be configured worked, and the
    other way round (a college's own closure)."""
    own = WorkCalendar(
        days_off=frozenset({date(2026, 11, 18)}),  # a Wednesday
        workdays=frozenset({date(2026, 10, 8)}),  # package: 国庆节
    )
    assert not own.is_working_day(date(2026, 11, 18))
    assert own.is_working_day(date(2026, 10, 8))
    assert not own.is_working_day(date(2026, 10, 7))  # still the package's


def test_working_day_deadline_counts_configured_days() -> None:
    """Seven working days from Thursday 4 Feb 2027 skip the configured week
    off and count the make-up Sunday."""
    sent = datetime(2027, 2, 4, 10, 0, tzinfo=SHANGHAI)
    due = due_at(sent, working_days=True, calendar=SPRING_2027)
    # 02-05 to 02-11 off; 02-12 (Fri), 02-14 (Sun, worked), 02-15 … 02-19
    assert due == datetime(2027, 2, 19, 23, 59, 59, tzinfo=SHANGHAI)


def test_holidays_notice_from_november_and_for_an_unknown_year() -> None:
    """Next year's missing holidays are asked for from November; a current
    year nobody knows is said to be counted Monday to Friday."""
    only_2098 = WorkCalendar(days_off=frozenset({date(2098, 10, 1)}))
    assert holidays_notice(only_2098, date(2098, 10, 30)) is None
    assert "还没有 2099 年" in (holidays_notice(only_2098, date(2098, 11, 2)) or "")
    assert "周一至周五" in (holidays_notice(only_2098, date(2099, 1, 5)) or "")
    assert holidays_notice(PUBLISHED, date(2026, 6, 1)) is None
    assert holidays_notice(SPRING_2027, date(2027, 3, 1)) is None


def test_a_day_cannot_be_both_off_and_worked() -> None:
    with pytest.raises(ValueError, match="2027-02-14"):
        WorkCalendar(
            days_off=frozenset({date(2027, 2, 14)}),
            workdays=frozenset({date(2027, 2, 14)}),
        )


# ── topics and concentration ──────────────────────────────────────────

CANTEEN_PRICES = (
    ("食堂饭菜涨价", "二食堂的饭菜又涨价了，一份青菜从两块涨到三块五，吃不起了。"),
    ("饭堂太贵了", "饭堂的菜越来越贵 分量还少 能不能管管"),
    (
        "关于食堂价格的反映",
        "尊敬的领导您好！本学期食堂菜价普遍上涨，荤菜都要八块以上，"
        "学生生活费有限，希望学校调控食堂价格。谢谢！",
    ),
    ("吃不起饭了", "现在在食堂吃一顿饭要十几块，比外面快餐还贵，食堂是不是涨价了？"),
    ("食堂", "食堂涨价太离谱了"),
    ("伙食", "这学期伙食涨价太多了，一天三顿要花四五十，希望食堂降价。"),
)
OTHER_TOPICS = (
    ("食堂卫生", "今天在食堂吃出了头发，后厨卫生太差了，阿姨态度也不好。"),
    ("食堂排队", "食堂中午排队太久了，窗口开得太少。"),
    ("宿舍维修", "宿舍的水龙头坏了一直漏水，报修两周没人来修。"),
    ("热水", "宿舍没有热水，洗澡只能洗冷水。"),
    ("校园网太卡", "校园网晚上根本用不了，网速太慢了。"),
    ("奖学金", "我们班奖学金评定不公平，没有公示。"),
)


def test_topic_terms_keep_only_content() -> None:
    """Greetings, numbers, punctuation and function words are dropped."""
    terms = topic_terms("老师您好", "您好！宿舍的水龙头漏水3天了，谢谢老师！")
    assert terms == frozenset({"宿舍", "水龙头", "漏水"})


def test_topic_terms_fold_synonyms() -> None:
    """Different words for one thing (饭堂/食堂, 太贵/涨价) become one term."""
    assert topic_terms("饭堂太贵", "") == topic_terms("食堂涨价", "")


def test_same_topic_in_different_words_clusters() -> None:
    """Every canteen price complaint is similar to every other, however worded."""
    terms = [topic_terms(s, t) for s, t in CANTEEN_PRICES]
    for i, one in enumerate(terms):
        others = terms[:i] + terms[i + 1 :]
        assert similar_to(one, others) == list(range(len(others)))
        assert concentrated(one, others)


def test_other_topics_do_not_cluster() -> None:
    """A canteen price complaint is not similar to other canteen or dorm matters."""
    prices = [topic_terms(s, t) for s, t in CANTEEN_PRICES]
    others = [topic_terms(s, t) for s, t in OTHER_TOPICS]
    for one in prices:
        assert similar_to(one, others) == []
        assert max(similarity(one, o) for o in others) < DEFAULT_THRESHOLD


def test_concentration_needs_five_cases() -> None:
    """Four similar appeals are not yet a major issue; five are."""
    terms = [topic_terms(s, t) for s, t in CANTEEN_PRICES]
    assert not concentrated(terms[0], terms[1:4])
    assert concentrated(terms[0], terms[1:5])


def test_similarity_bounds() -> None:
    """Identical terms score 1, disjoint or empty ones 0, and order does not matter."""
    a = frozenset({"食堂", "价格", "饭菜"})
    b = frozenset({"宿舍", "漏水"})
    assert similarity(a, a) == 1.0
    assert similarity(a, b) == 0.0
    assert similarity(a, frozenset()) == 0.0
    assert similarity(a, a | b) == similarity(a | b, a)


_WORDS = ["食堂", "宿舍", "楼", "价格", "漏水", "网络", "学院"]  # places weigh half
_TERMS = st.frozensets(st.sampled_from(_WORDS))


@given(_TERMS, _TERMS)
def test_similarity_from_weights_is_exact(a: frozenset[str], b: frozenset[str]) -> None:
    """The union's weight taken as the two weights less the shared one (as
    topic clustering computes it, weighing each appeal once) is the union's
    own weight to the last bit: weights are sums of ones and halves."""
    assert weight(a) + weight(b) - weight(a & b) == weight(a | b)
    assert similarity(a, b) == similarity(b, a)


def test_letter_formulas_and_signatures_are_no_topic() -> None:
    """How a letter closes and who signs it say nothing of what it is about:
    they would top every month's hot words."""
    terms = topic_terms(
        "宿舍热水器坏了",
        "老师您好，我们宿舍的热水器坏了一个星期，晚上洗不了澡，恳请尽快维修。\n"
        "此致\n敬礼\n姓名：张三 学号：2023010101 电话：13800138000\n"
        "盼复\n\n发自我的iPhone",
    )
    assert {"宿舍", "热水器"} <= terms
    assert not terms & {"此致", "敬礼", "恳请", "尽快", "盼复", "学号", "电话", "发自"}
    assert not terms & {"iphone", "晚上", "姓名"}


def test_one_word_is_too_thin_to_cluster() -> None:
    """An appeal reduced to one place word does not join every appeal naming it."""
    thin = frozenset({"食堂"})
    assert similarity(thin, thin) < 1.0
    hygiene = topic_terms(*OTHER_TOPICS[0])
    assert similarity(thin, hygiene) < DEFAULT_THRESHOLD
