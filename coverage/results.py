"""What a study found: :class:`Results`, the lazy view a planner, a notebook or the report writers
read (each part is computed by its :class:`~coverage.study.Study` on first use)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from .study import Study


class Results:
    """What a study found, read lazily from its :class:`Study` (each part is computed on first use)."""

    def __init__(self, study: "Study"):
        object.__setattr__(self, "_over", {})
        self.study = study
        self.config = study.config

    def __getattribute__(self, name):
        over = object.__getattribute__(self, "_over")
        if name in over:
            return over[name]
        return object.__getattribute__(self, name)

    def __setattr__(self, name, value):
        """Setting a computed part (e.g. ``res.facilities = subset``) overrides it in this object
        only, for drawing what-if variants; the study is not changed."""
        if isinstance(getattr(type(self), name, None), property):
            self._over[name] = value
        else:
            object.__setattr__(self, name, value)

    def __copy__(self):
        other = Results(self.study)
        other._over.update(self._over)
        return other

    # settings
    @property
    def crs(self):
        return self.study.crs

    @property
    def title(self) -> str:
        return self.config.study_area.name

    @property
    def categories(self) -> list:
        return self.study.categories

    @property
    def thresholds(self) -> dict:
        return self.study.thresholds

    @property
    def breaks(self) -> tuple:
        return self.study.breaks

    @property
    def speed_m_per_min(self) -> float:
        return self.study.speed_m_per_min

    @property
    def main_threshold_min(self) -> dict:
        """Each category's plan threshold in minutes of walking (a distance threshold's equivalent)."""
        return {c: t.minutes_at(self.speed_m_per_min) for c, t in self.thresholds.items()}

    def threshold_label(self, cat, lang="zh") -> str:
        return self.thresholds[cat].label(lang)

    # layers and tables
    @property
    def communities(self):
        return self.study.communities

    @property
    def facilities(self):
        return self.study.facilities

    @property
    def demand(self):
        self.study._coverage()
        return self.study.demand

    demand_points = demand

    @property
    def network(self):
        return self.study.network

    @property
    def coverage_by_community(self) -> pd.DataFrame:
        return self.study._coverage()[0]

    by_community = coverage_by_community

    @property
    def coverage_summary(self) -> pd.DataFrame:
        return self.study._coverage()[1]

    summary = coverage_summary

    @property
    def circles(self):
        return self.study.life_circles()[0] if self.config.analysis.circles else None

    @property
    def facility_circles(self):
        return self.study.life_circles()[1] if self.config.analysis.circles else None

    @property
    def gaps(self):
        return self.study.gaps()

    @property
    def indicators(self) -> pd.DataFrame:
        return self.study.indicators()

    @property
    def profile(self):
        """The standards profile the indicators were measured against (with the config's
        ``profile_options``), read once by the study: the report takes its names and targets here
        rather than reading the file again."""
        prof = self.study.profile()
        opts = getattr(self.config, "profile_options", None)
        return prof.with_options(opts) if opts else prof

    @property
    def indicators_md(self) -> str:
        """The area-level indicator table in the report language (output.lang: zh or en)."""
        from .report.markdown import to_markdown
        return to_markdown(self.indicators, level="area", lang=self.config.output.lang)

    @property
    def sites(self):
        return self.study.siting()[0] if self.config.siting.enabled else None

    @property
    def siting_summary(self):
        return self.study.siting()[1] if self.config.siting.enabled else None

    @property
    def slope_effect(self):
        """Flat vs sloped coverage at the plan thresholds by community, township, urban/rural and
        area (``network.dem``; None without a DEM)."""
        return self.study.slope_effect()

    @property
    def travel_circles(self):
        """Coverage of the travel circles (``analysis.travel_circles``) over the communities each
        applies to, with the rate on foot at the same threshold (None when none is configured)."""
        return self.study.travel_circles()

    @property
    def modes(self) -> dict:
        """{name: ModeSpec} of the study's travel modes."""
        return self.study.modes

    def mode_label(self, mode: str = "walk", lang: str = "zh") -> str:
        """"步行" / "步行（按坡度）" (a DEM is given) / "电动自行车"; English with lang="en"."""
        return self.study.mode_label(mode, lang)

    @property
    def excluded(self) -> pd.DataFrame:
        return self.study.excluded().copy()   # the study keeps its own (computed once)

    @property
    def report(self) -> dict:
        return self.study.report()

    @property
    def warnings(self) -> list[str]:
        if not hasattr(self, "_warnings"):
            self._warnings = self.study.warning_lines()
        return self._warnings

    @property
    def timings(self) -> dict:
        return {k: v["seconds"] for k, v in self.study.timings.items()}

    def replace(self, **parts) -> "Results":
        """A copy with some parts replaced (e.g. ``coverage_summary=df``), for what-if drawings."""
        other = self.__copy__()
        for k, v in parts.items():
            setattr(other, k, v)
        return other

    def only(self, categories) -> "Results":
        """The same results shown for some categories only (a map per category)."""
        other = self.__copy__()
        other.categories = list(categories)
        return other

    # outputs
    def write(self, out_dir=None, map_path=None) -> dict:
        """Write every table, layer, map, figure and the report (what the command line writes)."""
        from .report.outputs import write_outputs
        out_dir = self.config.output.folder if out_dir is None else out_dir
        return write_outputs(self, out_dir, map_path or self.config.output.map)

    def explore(self, category=None):
        """The interactive map as a folium.Map (shows itself in a notebook)."""
        from .report.webmap import build_map
        res = self.only([category]) if category else self
        return build_map(res, lang=self.config.output.lang, basemap=self.config.output.basemap)
