"""The two-level evaluation: five rating levels and the ten second-level reason options.

The seed rules (嘉政办发〔2021〕21号) ask for five first-level results, the last two of which are
差评, and "设置10个办理事项选项" as the second level.  The ten options below are built from the
national indicators (服务效率, 服务水平, 服务态度 for in-person service; 办事效率, 办事指南精确度,
办事便捷度, 平台操作性 online) plus the concerns the seed itself names for town halls (多次跑动,
材料要求, 环境设施) and its 协调整改 track (部门协同).  Each option is one row of ``REASONS``; every
channel and the triage step use these codes, so the table is the only place to change them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Rating(StrEnum):
    """First-level evaluation, ordered from best to worst."""

    VERY_SATISFIED = "very_satisfied"
    SATISFIED = "satisfied"
    BASIC = "basic"
    DISSATISFIED = "dissatisfied"
    VERY_DISSATISFIED = "very_dissatisfied"

    @property
    def label(self) -> str:
        """The Chinese wording shown to citizens and staff."""
        return RATING_LABELS[self]

    @property
    def is_bad(self) -> bool:
        """差评: the last two levels."""
        return self in (Rating.DISSATISFIED, Rating.VERY_DISSATISFIED)

    @property
    def is_good(self) -> bool:
        """Counts toward 好评率 (非常满意 + 满意 + 基本满意)."""
        return not self.is_bad

    @property
    def score(self) -> int:
        """5 for 非常满意 down to 1 for 非常不满意, for averages."""
        return 5 - list(Rating).index(self)

    @classmethod
    def parse(cls, value: str | Rating) -> Rating:
        """Accept a code (``satisfied``), the Chinese label (``满意``) or a score ``1``–``5``."""
        if isinstance(value, Rating):
            return value
        text = str(value).strip()
        for rating in cls:
            if text in (rating.value, rating.label, str(rating.score)):
                return rating
        raise ValueError(f"unknown rating {text!r}; expected one of {', '.join(r.label for r in cls)}")


RATING_LABELS: dict[Rating, str] = {
    Rating.VERY_SATISFIED: "非常满意",
    Rating.SATISFIED: "满意",
    Rating.BASIC: "基本满意",
    Rating.DISSATISFIED: "不满意",
    Rating.VERY_DISSATISFIED: "非常不满意",
}


@dataclass(frozen=True, slots=True)
class ReasonOption:
    """One second-level option a citizen may tick with a 差评."""

    code: str
    label: str
    description: str
    source: str


REASONS: tuple[ReasonOption, ...] = (
    ReasonOption("attitude", "服务态度不好", "冷漠、不耐烦、推脱、离岗、上班做私事", "国家指标·服务态度"),
    ReasonOption("competence", "业务不熟练", "解释不清、答复错误、业务能力不足", "国家指标·服务水平"),
    ReasonOption("efficiency", "办理时间长", "排队久、办理慢、超过承诺时限", "国家指标·服务效率/办事效率"),
    ReasonOption("guidance", "告知不清楚", "办事指南不准确、没有一次性告知", "国家指标·办事指南精确度"),
    ReasonOption("repeat_trips", "多次跑动", "一件事跑了多趟、来回跑", "嘉政办发〔2021〕21号·便民度"),
    ReasonOption("materials", "材料要求多", "要求规定以外的材料、重复提交材料", "嘉政办发〔2021〕21号·办事流程"),
    ReasonOption("convenience", "流程不便捷", "环节多、手续繁、预约或缴费不便", "国家指标·办事便捷度"),
    ReasonOption("environment", "环境设施差", "环境不舒适、座椅饮水停车等设施不到位", "嘉政办发〔2021〕21号·服务环境"),
    ReasonOption("platform", "系统设备难用", "网上平台、自助终端、叫号机难操作或故障", "国家指标·平台操作性"),
    ReasonOption("coordination", "部门推诿", "多部门互相推诿、环节衔接不顺", "嘉政办发〔2021〕21号·协调整改"),
)

REASON_CODES: frozenset[str] = frozenset(option.code for option in REASONS)
REASONS_BY_CODE: dict[str, ReasonOption] = {option.code: option for option in REASONS}
