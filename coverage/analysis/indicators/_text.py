"""The words of the indicator rows, in Chinese and English.

Every status and note is built once as a :class:`T` (Chinese, English); the row frame keeps
both (``status``/``status_zh``, ``note``/``note_zh``), so a report prints one language without
translating afterwards. ``status`` stays the machine code ("measured" or "not measurable: ...").
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class T:
    """A text in Chinese and English."""

    zh: str = ""
    en: str = ""

    def __bool__(self) -> bool:
        return bool(self.zh or self.en)


EMPTY = T()


def join(*parts) -> T:
    """The non-empty parts joined (；in Chinese, ; in English)."""
    ps = [p for p in parts if p]
    return T("；".join(p.zh for p in ps), "; ".join(p.en for p in ps))


# ------------------------------------------------------------------------------ status codes

MEASURED = "measured"
NM_HH = "not measurable: households (communities.fields.households)"
NM_NO_HH = "not measurable: no households"
NM_POP = "not measurable: population (no populated demand points)"
NM_AREA = "not measurable: area_m2 (facilities.fields.area)"
NM_SITE = "not measurable: site area (facilities.fields.site_area)"
NM_LEVEL = "not measurable: facility level (facilities.fields.level)"
NM_SUBTYPE = "not measurable: sub-type (no facility name of the categories gives one)"
NM_DEMAND = "not measurable: demand points (demand)"
NM_NO_COMMUNITY = "not measurable: no community measurable (see the community rows)"

_STATUS_ZH = {
    MEASURED: "已测算",
    NM_HH: "无法测算：缺少社区户数（communities.fields.households）",
    NM_NO_HH: "无法测算：户数为0",
    NM_POP: "无法测算：无人口（没有有人口的需求点）",
    NM_AREA: "无法测算：缺少设施建筑面积（facilities.fields.area）",
    NM_SITE: "无法测算：缺少场地面积（facilities.fields.site_area）",
    NM_LEVEL: "无法测算：设施级别未知（facilities.fields.level，或名称中的街道、乡镇、社区、村）",
    NM_SUBTYPE: "无法测算：设施名称未能识别细类",
    NM_DEMAND: "无法测算：缺少需求点",
    NM_NO_COMMUNITY: "无法测算：没有可测算的社区（见社区行）",
}


def status(code: str) -> T:
    return T(_STATUS_ZH[code], code)


OK = status(MEASURED)

#: the area a facility table column measures: floor area (area_m2) or site area (site_area_m2)
AREA_WORDS = {"floor": ("area_m2", "facilities.fields.area", "建筑面积"),
              "site": ("site_area_m2", "facilities.fields.site_area", "场地面积")}


def nm_area_of(u: int, area: str = "floor") -> T:
    col, key, zh = AREA_WORDS[area]
    label = "area_m2" if area == "floor" else "site area"
    return T(f"无法测算：{u}处设施{zh}未知（{key}）", f"not measurable: {label} of {u} facilities ({key})")


def nm_area(area: str = "floor") -> T:
    return status(NM_AREA if area == "floor" else NM_SITE)


def nm_distances(cols) -> T:
    c = ", ".join(cols)
    return T(f"无法测算：缺少步行距离 {c}", f"not measurable: {c} (demand)")


def nm_mode_distances(mode: str, cols, modes=None) -> T:
    """Not measurable: the demand table has no travel costs by ``mode``."""
    from coverage.core.modes import mode_label
    c = ", ".join(cols)
    return T(f"无法测算：缺少按{mode_label(mode, 'zh', modes)}计的出行距离（{c}）",
             f"not measurable: distances by {mode} ({c})")


def by_mode(ind, modes=None) -> T:
    """"按电动自行车30分钟计" / "30 minutes by e-bike": the mode of a timed indicator not on foot
    (EMPTY for walking and for a network distance, which is the same for every mode)."""
    from coverage.core.modes import mode_label
    if ind.mode == "walk" or ind.threshold_min is None:
        return EMPTY
    m = f"{ind.threshold_min:g}"
    return T(f"按{mode_label(ind.mode, 'zh', modes)}{m}分钟计",
             f"{m} minutes by {mode_label(ind.mode, 'en', modes)}")


def nm_catchments(cats) -> T:
    c = ", ".join(cats)
    return T(f"无法测算：缺少服务范围（catchments of {c}）", f"not measurable: catchments of {c}")


def nm_none(what: T) -> T:
    return T(f"无法测算：没有{what.zh}", f"not measurable: no {what.en}")


def nm_none_measurable(what: T) -> T:
    return T(f"无法测算：没有可测算的{what.zh}", f"not measurable: no measurable {what.en}")


# ------------------------------------------------------------------------------ units and words

#: gap_unit (machine) -> Chinese measure word
GAP_UNIT_ZH = {"communities": "个社区", "townships": "个街道（乡镇）", "streets": "个街道",
               "people": "人", "m2": "平方米", "facilities": "处设施"}


def communities_word(applies_to: str) -> T:
    return {"urban": T("城市社区", "urban communities"), "rural": T("农村社区", "rural communities")}.get(
        applies_to, T("社区", "communities"))


def townships_word(applies_to: str) -> T:
    return {"urban": T("街道", "streets"), "rural": T("乡镇", "townships")}.get(
        applies_to, T("街道（乡镇）", "townships and streets"))


def k_of_n(k: int, n: int, unit: T, verb: T) -> T:
    """"3个城市社区中2个建有" / "2 of 3 urban communities with one"."""
    return T(f"{n}个{unit.zh}中{k}个{verb.zh}", f"{k} of {n} {unit.en} {verb.en}".rstrip())


def left_out(n: int) -> T:
    return T(f"{n}个无法测算，未计入", f"{n} not measurable, left out") if n else EMPTY


def people_covered(c: float, p: float) -> T:
    return T(f"{p:,.0f}人中{c:,.0f}人在范围内", f"{c:,.0f} of {p:,.0f} people covered")


def outside(n: int, pop: float) -> T:
    return T(f"{n}个需求点（{pop:,.0f}人）不在任何社区内，未计入",
             f"{n} demand points ({pop:,.0f} people) outside every community not counted")


def fmt_g(x: float) -> str:
    return f"{x:g}"


UNIT_ZH = {"%": "%", "m2/100hh": "平方米/百户", "m2/person": "平方米/人", "count": "处", "m2": "平方米"}


def lower_bound(u: int, met_anyway: bool, known: float, unit: str, area: str = "floor") -> T:
    zh = AREA_WORDS[area][2]
    if met_anyway:
        return T(f"下限：{u}处{zh}未知的设施未计入", f"lower bound: {u} facilities with unknown area not counted")
    return T(f"已知{zh}的设施合计不低于{known:.1f}{UNIT_ZH.get(unit, unit)}；{u}处{zh}未知",
             f">= {known:.1f} {unit} from facilities with known area; {u} unknown")
