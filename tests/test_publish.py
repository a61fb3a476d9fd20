"""Publication (定期公开): only closed, public, non-confidential cases of the
quarter, with every piece of planted personal data scrubbed from the page."""

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from notify.scrub import MASK
from store import roster
from store.cases import StudentFacts
from store.db import transaction
from suqiu import config
from suqiu.app import App
from suqiu.cli import main
from tests import casebook

STUDENT = StudentFacts(
    name="覃志强",
    class_name="土木2301班",
    student_id="2023010517",
    email="qinzhiqiang@qq.com",
    phone="13877665544",
    counselor="刘芳华",
)
# Everything a student or a unit may write that must not reach the page.
PLANTED = {
    "student name": "覃志强",
    "counselor": "刘芳华",
    "roster name": "黄丽娟",
    "roster counselor": "韦明辉",
    "class": "土木2301班",
    "mobile": "138 7766 5544",
    "landline": "0776-5661055",
    "学号": "2023010517",
    "email": "qinzhiqiang@qq.com",
    "QQ": "QQ：87654321",
    "ID card": "45020219990101123X",
}
APPEAL = "宿舍楼下电动车充电桩不够用（覃志强，学号2023010517，电话13877665544）"
ANSWER = (
    "覃志强同学您好：保卫处已在7栋楼下增设充电桩20个。如仍有问题，"
    "可联系辅导员刘芳华或值班室 0776-5661055，也可发邮件至 qinzhiqiang@qq.com "
    "回复我们。同宿舍的黄丽娟（班主任韦明辉）反映的情况也一并处理。\n"
    "登记信息：138 7766 5544，QQ：87654321，身份证 45020219990101123X。"
)


@pytest.fixture
def site(database_url: str, tmp_path: Path) -> Iterator[App]:
    """Cases closed in 2026Q4, some public, with personal data planted in
    subjects and answers; a roster that knows two more names."""
    path = casebook.write_config(
        tmp_path / "suqiu.toml",
        database_url,
        extra='\n[[units]]\nname = "保卫处"\nemails = ["bwc@example.edu.cn"]\n',
    )
    casebook.migrate(database_url)
    app = App(config.load(path), show_progress=False)
    office = app.office
    with transaction(app.sessions) as session:
        roster.import_rows(
            session,
            [
                {"学号": "2023010518", "姓名": "黄丽娟", "辅导员": "韦明辉"},
                {"学号": "2023010517", "姓名": "覃志强", "辅导员": "刘芳华"},
            ],
            "花名册.csv",
        )

        def closed(subject: str, *, public: bool, when: str, **flags: bool) -> None:
            case = casebook.receive(
                session, subject, when=f"{when} 09:00", student=STUDENT
            )
            for flag, value in flags.items():
                setattr(case, flag, value)
            casebook.assign(session, office, case, "保卫处", when=f"{when} 10:00")
            casebook.answer(session, case, ANSWER, when=f"{when} 16:00")
            casebook.rate(session, office, case, "满意", when=f"{when} 18:00")
            if public:
                office.mark(session, case, "public", True, actor="cli:test")

        closed(APPEAL, public=True, when="2026-11-02")
        closed("食堂窗口排队太久", public=True, when="2026-12-20")
        closed("不公开的诉求", public=False, when="2026-11-03")
        closed("保密的诉求", public=True, when="2026-11-04", confidential=True)
        closed("上个季度的诉求", public=True, when="2026-09-10")

        still_open = casebook.receive(
            session, "尚未办结的诉求", when="2026-11-05 09:00"
        )
        office.mark(session, still_open, "public", True, actor="cli:test")
        by_staff = casebook.receive(session, "当面解决的诉求", when="2026-11-06 09:00")
        with casebook.at("2026-11-06T15:00:00+08:00"):
            office.close(session, by_staff, "已当面解决", actor="cli:test")
        office.mark(session, by_staff, "public", True, actor="cli:test")
    yield app
    app.engine.dispose()


def publish(app: App, tmp_path: Path) -> tuple[str, str]:
    """Run `suqiu publish --quarter 2026Q4`; return its output and the page."""
    out = tmp_path / "public"
    done = CliRunner().invoke(
        main,
        [
            "--config",
            str(app.settings.path),
            "publish",
            "--quarter",
            "2026Q4",
            "--out",
            str(out),
        ],
    )
    assert done.exit_code == 0, done.output
    return done.output, (out / "2026Q4.html").read_text(encoding="utf-8")


def test_page_holds_only_the_quarters_closed_public_cases(
    site: App, tmp_path: Path
) -> None:
    """Only the public cases closed in the quarter with an answer appear,
    with subject, category, unit and the answer; the rest stay off."""
    output, page = publish(site, tmp_path)

    assert "食堂窗口排队太久" in page
    assert "宿舍楼下电动车充电桩不够用" in page
    assert "保卫处已在7栋楼下增设充电桩20个" in page
    assert "责任单位：保卫处" in page
    assert page.count("<article>") == 2
    for absent in ("不公开的诉求", "保密的诉求", "上个季度的诉求", "尚未办结的诉求"):
        assert absent not in page
    assert "当面解决的诉求" not in page
    assert "公开2026年第四季度办结的诉求 2 件" in output
    assert "没有书面答复" in output  # 当面解决的诉求, named by its number


def test_page_holds_none_of_the_planted_personal_data(
    site: App, tmp_path: Path
) -> None:
    """No name known to the case or the roster, phone, 学号, e-mail address,
    QQ number or ID-card number survives onto the page."""
    _, page = publish(site, tmp_path)

    for what, value in PLANTED.items():
        assert value not in page, what
    digits = re.sub(r"\D", "", page)
    for number in ("13877665544", "2023010517", "87654321", "450202199901011"):
        assert number not in digits
    assert "@" not in page.replace("gxgcxgc2017@163.com", "")
    assert MASK in page
    # Nothing outside is loaded: a page that can be put anywhere.
    assert not re.search(r"(src|href)=\"https?:", page)
