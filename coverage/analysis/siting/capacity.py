"""Floor-area capacity of chosen sites against the households they would serve."""

from __future__ import annotations

import numpy as np
import pandas as pd

from coverage.errors import InputError

from .inputs import _canonical, _check_weights, _segment_sums


def capacity_report(selected, cover, weights_households, area_m2_per_site,
                    target_m2_per_100hh=30.0) -> pd.DataFrame:
    """Per site: households in its catchment, households assigned to it (each household to its
    nearest selected site within the threshold, ties lowest index), households its floor area
    supports (area / target × 100) and whether it is oversubscribed (assigned > supported).

    ``households_in_catchment`` counts a household once per site that reaches it, so it can exceed
    the total; ``oversubscribed`` uses the assignment so that shared households count once.
    """
    indptr, indices, data, (n_c, n_d) = _canonical(cover, "cover")
    hh = _check_weights(weights_households, n_d, "weights_households")
    sel = np.asarray(selected, dtype=np.int64).reshape(-1)
    if sel.size and (sel.min() < 0 or sel.max() >= n_c):
        raise InputError("selected contains indices outside the candidate rows of cover",
                         field="selected", fix=f"use candidate indices 0..{n_c - 1}")
    if np.unique(sel).size != sel.size:
        raise InputError("selected lists a site twice", field="selected", fix="remove duplicates")
    area = np.broadcast_to(np.asarray(area_m2_per_site, dtype=np.float64), sel.shape).copy() \
        if np.ndim(area_m2_per_site) == 0 else np.asarray(area_m2_per_site, dtype=np.float64)
    if area.shape != sel.shape:
        raise InputError(f"area_m2_per_site has {area.size} values for {sel.size} sites",
                         field="area_m2_per_site", fix="pass one floor area per selected site")
    if not np.all(np.isfinite(area)) or (area.size and area.min() < 0):
        raise InputError("floor areas must be finite and ≥ 0", field="area_m2_per_site",
                         fix="fill unknown areas before the report, or leave those sites out")
    if not (np.isfinite(target_m2_per_100hh) and target_m2_per_100hh > 0):
        raise InputError("target_m2_per_100hh must be > 0", field="target_m2_per_100hh",
                         fix="the national plan uses 30 m² per 100 households")
    rows = np.repeat(np.arange(n_c, dtype=np.int64), np.diff(indptr))
    catch = _segment_sums(hh[indices], indptr)[sel] if sel.size else np.zeros(0)
    is_sel = np.zeros(n_c, dtype=bool)
    is_sel[sel] = True
    m = is_sel[rows]
    orow, ocol, odat = rows[m], indices[m], data[m]
    o = np.lexsort((orow, odat, ocol))
    first = np.ones(o.size, dtype=bool)
    first[1:] = ocol[o][1:] != ocol[o][:-1]
    a = o[first]
    assigned = np.bincount(orow[a], weights=hh[ocol[a]], minlength=n_c)[sel]
    supported = area / float(target_m2_per_100hh) * 100.0
    with np.errstate(divide="ignore", invalid="ignore"):
        util = np.where(supported > 0, assigned / supported, np.where(assigned > 0, np.inf, 0.0))
    return pd.DataFrame({
        "site": sel,
        "floor_area_m2": area,
        "households_in_catchment": catch,
        "households_assigned": assigned,
        "supported_households": supported,
        "utilisation": util,
        "oversubscribed": assigned > supported + 1e-9,
        "area_shortfall_m2": np.maximum(0.0, assigned * float(target_m2_per_100hh) / 100.0 - area),
    })
