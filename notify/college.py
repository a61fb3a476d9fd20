"""The college's published facts that our mails quote: phones, office hours.

From the rules (学生诉求办理实施办法, 二、（二）5): the hotline of each unit.
"""

COUNSELLING_CENTRE = "大学生心理健康教育与咨询中心"
STUDENT_AFFAIRS = "学生工作处"

UNIT_PHONES: dict[str, tuple[str, ...]] = {
    COUNSELLING_CENTRE: ("0776-5825962", "0776-5728266"),
    STUDENT_AFFAIRS: ("0776-5728366",),
    "保卫处": ("0776-5661055",),
    "教务处": ("0776-5588285", "0776-5588385"),
    "团委": ("0776-5727566",),
    "后勤管理中心": ("0776-5588156", "0776-5588778"),
    "土木工程学院": ("0776-5825291",),
    "艺术设计学院": ("0776-5825835",),
    "经济管理学院": ("0776-5825195",),
    "铁道与航空学院": ("0776-5980766",),
    "汽车与机电学院": ("0776-5930766",),
    "国防科技学院": ("0776-5780866",),
    "教育学院": ("0776-5825962",),
}

OFFICE_HOURS = "周一至周五 上午 8:00—11:30，下午 14:30—17:30"


def phones(unit: str) -> str:
    """Return a unit's published phones joined for a sentence, or ""."""
    return "、".join(UNIT_PHONES.get(unit, ()))
