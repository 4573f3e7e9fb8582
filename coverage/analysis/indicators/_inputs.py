"""The inputs of an evaluation, checked and aligned once; which facilities an indicator counts."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from coverage.analysis.coverage import covered
from coverage.analysis.standards import DEFAULT_MODE, Indicator, packaged_subtypes
from coverage.errors import InputError

from ._text import (EMPTY, NM_DEMAND, NM_LEVEL, NM_SUBTYPE, T, join, nm_distances,
                    nm_mode_distances, status)

NO_TOWNSHIP = "(no township)"

_TOWNSHIP_WORDS = ("township", "street", "town", "街道", "乡镇", "镇", "乡", "苏木", "中心")
_COMMUNITY_WORDS = ("community", "village", "社区", "村", "居委", "嘎查", "站", "室")


def _need(df: pd.DataFrame, cols, what: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise InputError(f"{what} table lacks column(s) {', '.join(missing)}", file=what,
                         field=", ".join(missing),
                         fix=f"the pipeline must give {what} the columns {', '.join(cols)}")


def _ids(s: pd.Series) -> pd.Series:
    """Identifiers as text, NaN kept as NaN (so 12 and '12' match)."""
    v = s.to_numpy(object)
    out = [None if na else (str(int(x)) if isinstance(x, float) and x.is_integer() else str(x))
           for x, na in zip(v, pd.isna(v))]
    return pd.Series(out, index=s.index, dtype=None if out else object)


def norm_level(v) -> str | None:
    """A facility level value as "township", "community" or None (unknown).

    Accepts the classifier's values and the words a level column usually holds: township,
    街道, 乡镇, 镇, 乡, 乡镇（街道）级, 中心 -> township; community, 社区, 村, 村（社区）级, 站 ->
    community. A community word wins when both occur (村（社区）级); anything else is unknown."""
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    s = re.sub(r"\s+", "", str(v)).lower()
    if s in ("", "nan", "none", "null", "unknown", "未知"):
        return None
    if any(w in s for w in _COMMUNITY_WORDS):
        return "community"
    if any(w in s for w in _TOWNSHIP_WORDS):
        return "township"
    return None


class Inputs:
    """Communities, facilities, demand points and catchments, checked and aligned."""

    def __init__(self, communities, facilities, demand, catchments, speed, modes=None):
        if not (isinstance(speed, (int, float)) and speed > 0):
            raise InputError(f"walking speed must be a positive number, got {speed!r}",
                             field="speed_m_per_min", fix="e.g. 80 (metres per minute)")
        self.speed = float(speed)
        self.modes = modes or {}     # {name: ModeSpec}: labels of the study's own modes
        self._communities(communities)
        self._demand(demand, communities)
        self.com = self.com.sort_values("community_id", kind="stable").reset_index(drop=True)
        self.com = self.com.set_index("community_id", drop=False)
        self._facilities(facilities)
        self.catchments = catchments or {}
        self._selected = {}      # facilities_of by selection

    def _communities(self, communities):
        _need(communities, ["community_id", "type"], "communities")
        com = pd.DataFrame({"community_id": _ids(communities["community_id"])})
        if com["community_id"].isna().any():
            raise InputError("communities with an empty community_id", file="communities",
                             field="community_id", fix="give every community an id")
        dup = com["community_id"][com["community_id"].duplicated()]
        if len(dup):
            raise InputError(f"community_id repeated: {', '.join(sorted(set(dup)))[:200]}",
                             file="communities", field="community_id",
                             fix="every community needs its own id")
        com["name"] = (communities["name"].astype(object).where(communities["name"].notna(),
                       com["community_id"]).astype(str).to_numpy()
                       if "name" in communities else com["community_id"])
        twp = communities["township"] if "township" in communities else pd.Series(
            [None] * len(communities), index=communities.index)
        com["township"] = twp.astype(object).where(twp.notna(), NO_TOWNSHIP).astype(str).to_numpy()
        typ = communities["type"].astype(object).to_numpy()
        bad = ~np.isin(typ, ["urban", "rural"])
        if bad.any():
            raise InputError("community type must be 'urban' or 'rural'; wrong for "
                             + ", ".join(com["community_id"][bad].astype(str)[:10]),
                             file="communities", field="type",
                             fix="set communities.fields.type so each community maps to urban or rural")
        com["type"] = typ
        self.has_households = "households" in communities.columns
        hh = (pd.to_numeric(communities["households"], errors="coerce").to_numpy(float)
              if self.has_households else np.full(len(com), np.nan))
        if np.any(hh < 0):
            raise InputError("negative households", file="communities", field="households",
                             fix="households must be 0 or more")
        com["households"] = hh
        if "township_type" in communities.columns:
            tt = communities["township_type"].astype(object).to_numpy()
            if (~np.isin(tt, ["urban", "rural"])).any():
                raise InputError("township_type must be 'urban' or 'rural'", file="communities",
                                 field="township_type", fix="use urban (街道) or rural (乡镇)")
            com["township_type"] = tt
        else:
            urban_share = (com["type"] == "urban").groupby(com["township"]).mean()
            com["township_type"] = np.where(com["township"].map(urban_share) >= 0.5, "urban", "rural")
        self.township_type = com.groupby("township")["township_type"].first()
        self.com = com

    def _demand(self, demand, communities):
        """Population from the demand points (one source for numerators and denominators)."""
        com = self.com
        self.demand = None
        if demand is not None:
            _need(demand, ["community_id", "population"], "demand")
            dcid = _ids(demand["community_id"]).to_numpy(object)
            dpop = pd.to_numeric(demand["population"], errors="coerce").to_numpy(float)
            if np.isnan(dpop).any() or (dpop < 0).any():
                raise InputError("demand population must be a number >= 0", file="demand",
                                 field="population", fix="fill empty raster cells with 0")
            self.demand, self.d_cid, self.d_pop = demand, dcid, dpop
            self.d_in = pd.Series(dcid).isin(com["community_id"]).to_numpy()  # hashed, not np.isin
            pop = pd.Series(dpop[self.d_in]).groupby(dcid[self.d_in]).sum()
            com["population"] = com["community_id"].map(pop).fillna(0.0).to_numpy(float)
        else:
            if "population" not in communities.columns:
                raise InputError("no demand points and no community population", file="communities",
                                 field="population", fix="give demand points or communities.population")
            com["population"] = pd.to_numeric(communities["population"], errors="coerce").fillna(0.0).to_numpy(float)

    def _facilities(self, facilities):
        _need(facilities, ["facility_id", "category"], "facilities")
        fac = pd.DataFrame({"facility_id": _ids(facilities["facility_id"]).to_numpy(object),
                            "category": facilities["category"].astype(object).to_numpy()})
        n = len(fac)
        self.has_area = "area_m2" in facilities.columns
        self.has_site = "site_area_m2" in facilities.columns
        for col, has in (("area_m2", self.has_area), ("site_area_m2", self.has_site)):
            fac[col] = (pd.to_numeric(facilities[col], errors="coerce").to_numpy(float) if has
                        else np.full(n, np.nan))
        fcid = (_ids(facilities["community_id"]).to_numpy(object) if "community_id" in facilities
                else np.full(n, None, object))
        inside = pd.Series(fcid).isin(self.com.index).to_numpy()
        fac["community_id"] = np.where(inside, fcid, None)
        fac["ctype"] = np.where(inside, fac["community_id"].map(self.com["type"]), None)
        ftwp = (facilities["township"].astype(object).where(facilities["township"].notna(), None)
                .to_numpy(object) if "township" in facilities else np.full(n, None, object))
        ctwp = fac["community_id"].map(self.com["township"]).to_numpy(object)
        twp = np.where(pd.isna(ftwp), ctwp, ftwp)
        fac["township"] = [None if pd.isna(t) else str(t) for t in twp]
        fac["level"] = ([norm_level(v) for v in facilities["level"].to_numpy(object)]
                        if "level" in facilities.columns else None)
        fac["subtype"] = (facilities["subtype"].astype(object).where(facilities["subtype"].notna(), None)
                          .to_numpy(object) if "subtype" in facilities.columns else None)
        fac["row_in_category"] = fac.groupby("category").cumcount().to_numpy()
        self.fac = fac

    # -- helpers
    def communities_of(self, applies_to: str) -> pd.DataFrame:
        if applies_to in ("urban", "rural"):
            return self.com[self.com["type"] == applies_to]
        return self.com

    def facilities_of(self, ind: Indicator):
        """Facilities the indicator counts: its categories, sub-types and level.

        Returns (table, note T, status T or None). Level rules: ``township`` counts township-level
        facilities only (unknown level left out; not measurable when no candidate has a known
        level); ``community`` counts community level and unknown level (the name does not say),
        never township centres; ``any`` counts all. Worked out once per selection (indicators of a
        profile often count the same facilities); callers read the table, never change it."""
        key = (tuple(ind.categories), tuple(ind.subtypes or ()), tuple(ind.exclude_subtypes or ()),
               ind.facility_level)
        if key not in self._selected:
            self._selected[key] = self._select(ind)
        return self._selected[key]

    def _select(self, ind: Indicator):
        f = self.fac[self.fac["category"].isin(ind.categories)]
        notes = []
        if ind.subtypes:
            if len(f) and not f["subtype"].notna().any():
                return f.iloc[:0], EMPTY, status(NM_SUBTYPE)
            labels = {k: v for c in ind.categories for k, v in packaged_subtypes().get(c, {}).items()}
            keep = f["subtype"].isin(ind.subtypes).to_numpy()
            zh = "、".join(labels.get(s, s) for s in ind.subtypes)
            notes.append(T(f"仅计{zh}（{int(keep.sum())}处，另有{int((~keep).sum())}处同类设施不计）",
                           f"only {', '.join(ind.subtypes)} counted ({int(keep.sum())}; "
                           f"{int((~keep).sum())} other facilities of the categories not)"))
            f = f[keep]
        if ind.exclude_subtypes:
            out = f["subtype"].isin(ind.exclude_subtypes).to_numpy()
            if out.any():
                labels = {k: v for c in ind.categories for k, v in packaged_subtypes().get(c, {}).items()}
                zh = "、".join(labels.get(s, s) for s in ind.exclude_subtypes)
                notes.append(T(f"{int(out.sum())}处{zh}不计入", f"{int(out.sum())} {', '.join(ind.exclude_subtypes)} "
                               "not counted"))
            f = f[~out]
        if ind.facility_level != "any" and len(f):
            lev = f["level"]
            unknown, twp = lev.isna().to_numpy(), (lev == "township").to_numpy()
            nu, nt, nc = int(unknown.sum()), int(twp.sum()), int((lev == "community").sum())
            if ind.facility_level == "community":
                if nt:
                    notes.append(T(f"{nt}处街道（乡镇）级设施不计入社区",
                                   f"{nt} township-level facilities not counted for communities"))
                if nu:
                    notes.append(T(f"{nu}处设施名称未注明级别，按社区级计入",
                                   f"{nu} facilities of unknown level counted as community level"))
                f = f[~twp]
            else:
                if nu == len(f):
                    return f.iloc[:0], EMPTY, status(NM_LEVEL)
                if nc:
                    notes.append(T(f"{nc}处社区级设施不计入", f"{nc} community-level facilities not counted"))
                if nu:
                    notes.append(T(f"{nu}处设施级别未知，未计入", f"{nu} facilities of unknown level left out"))
                f = f[twp]
        return f, join(*notes), None

    def area_column(self, ind: Indicator) -> str:
        return "site_area_m2" if ind.area == "site" else "area_m2"

    def distance_columns(self, ind: Indicator) -> list[str]:
        """The demand columns an indicator reads, one per category.

        Minutes on foot: ``dist_{cat}`` (the walking cost, sloped when the study has a DEM);
        minutes by another mode: ``dist_{cat}_by_{mode}`` (its cost, in flat-walking metres); a
        network distance (threshold_m): ``dist_{cat}_flat`` when present (the flat network metres
        of a study with a DEM: slope changes time, not metres), else ``dist_{cat}``."""
        if ind.is_distance:
            cols = self.demand.columns if self.demand is not None else ()
            return [f"dist_{c}_flat" if f"dist_{c}_flat" in cols else f"dist_{c}"
                    for c in ind.categories]
        if ind.mode == DEFAULT_MODE:
            return [f"dist_{c}" for c in ind.categories]
        return [f"dist_{c}_by_{ind.mode}" for c in ind.categories]

    def covered(self, ind: Indicator):
        """Boolean array over demand points: within the threshold (any/all categories), on foot
        or by the indicator's mode (:meth:`distance_columns`)."""
        if self.demand is None:
            return None, status(NM_DEMAND)
        thr = ind.threshold_metres(self.speed)
        cols = self.distance_columns(ind)
        missing = [c for c in cols if c not in self.demand.columns]
        if missing:
            if ind.mode != DEFAULT_MODE and not ind.is_distance:
                return None, nm_mode_distances(ind.mode, missing, self.modes)
            return None, nm_distances(missing)
        d = np.column_stack([pd.to_numeric(self.demand[c], errors="coerce").to_numpy(float)
                             for c in cols])
        if np.isnan(d).any():
            col = cols[int(np.where(np.isnan(d).any(axis=0))[0][0])]
            what = "walking distance" if ind.mode == DEFAULT_MODE else f"travel cost by {ind.mode}"
            raise InputError(f"{what} is empty for some demand points", file="demand",
                             field=col, fix="unreachable points must carry inf, not an empty value")
        within = covered(d, thr)
        cov = within.all(axis=1) if ind.require == "all" else within.any(axis=1)
        return cov, None
