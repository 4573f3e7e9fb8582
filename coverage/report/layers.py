"""layers.gpkg: every layer of a study in one GeoPackage (communities with their rates, facilities,
demand points, life circles, per-facility circles, gaps, suggested sites), written by GDAL
(pyogrio), each layer with its spatial index.

On a county most of the time is the 196k demand points (GDAL takes one feature, and pyogrio
one value, at a time: ~5.5 s). So that the other layers need not wait for them, the file can be
written in two halves side by side (:func:`layer_parts`): the layers up to the demand points,
and the rest. The second half goes into the file itself when the first has ended; when it ends
first it goes into a second GeoPackage, whose tables are then copied into the file
(:func:`append_layers`: SQLite copies the rows, spatial indexes and GeoPackage metadata as they
are). Either way the layers read back exactly as if GDAL had written them one after the other.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd

#: the layer the file is split after (the first part ends with it)
SPLIT_AFTER = "demand_points"


def layer_frames(res) -> list:
    """[(layer name, GeoDataFrame)] in the file's order; each frame is made when the list is read
    (a part computes only its own layers)."""
    def communities():
        main = res.coverage_by_community
        key = {round(t.metres, 1): t.key for t in list(res.breaks) + list(res.thresholds.values())}
        wide = main.pivot_table(index="community_id", columns=["category", "threshold_m"], values="coverage_rate")
        wide.columns = [f"rate_{c}_{key.get(round(t, 1), f'{t:g}m')}" for c, t in wide.columns]
        comm = res.communities.join(wide, on="community_id")
        for name, col in _mode_rates(res).items():            # flat rates (network.dem), travel circles
            comm[name] = comm["community_id"].map(col).astype(float)
        return comm

    layers = [("communities", communities), ("facilities", lambda: res.facilities),
              ("demand_points", lambda: _inf_to_nan(res.demand))]
    if res.circles is not None:
        layers.append(("life_circles", lambda: res.circles))
    if getattr(res, "facility_circles", None) is not None and len(res.facility_circles):
        layers.append(("facility_circles", lambda: res.facility_circles))
    if res.gaps is not None and len(res.gaps):
        layers.append(("gaps", lambda: _inf_to_nan(res.gaps)))
    if res.sites is not None and len(res.sites):
        layers.append(("suggested_sites", lambda: res.sites))
    return layers


def write_frames(layers, path: Path, append=False) -> Path:
    """Write [(name, make frame)] into a new GeoPackage at ``path`` (replacing a file there), or
    add them to it (``append``)."""
    import pyogrio
    path = Path(path)
    if path.exists() and not append:
        path.unlink()
    for name, make in layers:
        pyogrio.write_dataframe(_plain_text(make()), path, layer=name, driver="GPKG", append=path.exists())
    return path


def _plain_text(gdf):
    """Text columns as numpy object arrays (missing: NaN), as pyogrio takes them without a mask:
    pandas' string dtype comes with a mask that pyogrio indexes value by value (0.45 of the
    demand points' 5.2 s). The same fields, values and empty cells are written."""
    text = [c for c in gdf.columns if isinstance(gdf[c].dtype, pd.StringDtype)]
    if not text:
        return gdf
    out = gdf.copy(deep=False)
    for c in text:
        out[c] = pd.Series(gdf[c].to_numpy(dtype=object, na_value=np.nan), index=gdf.index, dtype=object)
    return out


def write_layers(res, path: Path) -> Path:
    """Write every layer of ``res`` into the GeoPackage ``path``, in one go."""
    return write_frames(layer_frames(res), path)


def layer_parts(res, path: Path):
    """The two halves of :func:`write_layers`, to run side by side: ``(first, second, finish)``.
    ``first()`` writes the layers up to the demand points into ``path``. ``second()`` writes the
    rest into ``path`` itself when the first half has ended (a marker says so), else into a file
    beside it; then whichever of the two ends last copies that file's layers into ``path`` (the
    marker, made with O_EXCL, tells it that it is last). ``finish()``, once both have run, makes
    sure every layer is in (a half run again after the copy is written again) and removes the
    second file and the marker; ``finish(complete=False)`` only removes them (after a failure)."""
    path = Path(path)
    part = path.with_name(f".{path.stem}.part2.gpkg")
    mark = path.with_name(f".{path.stem}.part.done")
    for left in (part, mark):             # left by a run that was killed
        left.unlink(missing_ok=True)
    layers = layer_frames(res)
    k = [n for n, _ in layers].index(SPLIT_AFTER) + 1
    head, tail = layers[:k], layers[k:]

    def join():
        have = _tables(path)
        missing = [(n, make) for n, make in tail if n not in have]
        if missing and part.exists():
            append_layers(path, part, [n for n, _ in missing])
        elif missing:                     # the second half went into the file, which was written again
            write_frames(missing, path, append=True)

    def ended():
        try:
            os.close(os.open(mark, os.O_CREAT | os.O_EXCL | os.O_WRONLY))   # the first to end
        except FileExistsError:
            join()                                                          # the last: both written

    def first():
        write_frames(head, path)
        ended()
        return path

    def second():
        if mark.exists():                 # the first half has ended: nobody else writes the file
            join()
        else:
            write_frames(tail, part)
            ended()
        return path

    def finish(complete=True):
        try:
            if complete:
                join()
        finally:
            part.unlink(missing_ok=True)
            mark.unlink(missing_ok=True)
        return path
    return first, second, finish


def _tables(path: Path) -> set:
    con = sqlite3.connect(path)
    try:
        return {r[0] for r in con.execute("SELECT table_name FROM gpkg_contents")}
    finally:
        con.close()


def append_layers(dst: Path, src: Path, names) -> None:
    """Copy the feature tables ``names`` of the GeoPackage ``src`` into ``dst`` (which has none of
    them), as GDAL wrote them: the table, its spatial index (the R*Tree's own tables, so it is not
    rebuilt row by row), its triggers and its rows of the GeoPackage metadata tables."""
    if not names:
        return
    con = sqlite3.connect(dst)
    try:
        # as GDAL writes a GeoPackage: no waiting for the disk on each commit (an output file,
        # written again by the next run)
        con.execute("PRAGMA synchronous = OFF")
        con.execute("ATTACH DATABASE ? AS src", (str(src),))
        with con:
            con.execute("INSERT OR IGNORE INTO gpkg_spatial_ref_sys SELECT * FROM src.gpkg_spatial_ref_sys")
            for name in names:
                _copy_table(con, name)
        con.execute("DETACH DATABASE src")
    finally:
        con.close()


_META = ("gpkg_contents", "gpkg_geometry_columns", "gpkg_extensions", "gpkg_ogr_contents")


def _copy_table(con, name: str) -> None:
    schema = con.execute("SELECT type, name, tbl_name, sql FROM src.sqlite_master WHERE tbl_name = ? OR "
                         "tbl_name LIKE ? ESCAPE '\\' ORDER BY rowid",
                         (name, "rtree\\_" + name.replace("_", "\\_") + "\\_%")).fetchall()
    q = '"' + name.replace('"', '""') + '"'
    tables = [s for s in schema if s[0] == "table" and s[3] and s[2] == name]
    rtrees = [s for s in schema if s[0] == "table" and s[3] and s[3].upper().startswith("CREATE VIRTUAL TABLE")]
    assert len(tables) == 1, (name, schema)
    con.execute(tables[0][3])
    cols = [r[1] for r in con.execute(f"PRAGMA src.table_info({q})")]
    names = ", ".join('"' + c.replace('"', '""') + '"' for c in cols)
    con.execute(f"INSERT INTO main.{q} ({names}) SELECT {names} FROM src.{q}")
    for _, vname, _, sql in rtrees:
        con.execute(sql)                          # makes the R*Tree's tables, then filled as they are
        for suffix in ("node", "rowid", "parent"):
            t = '"' + f"{vname}_{suffix}".replace('"', '""') + '"'
            con.execute(f"DELETE FROM main.{t}")
            con.execute(f"INSERT INTO main.{t} SELECT * FROM src.{t}")
    for kind, iname, _, sql in schema:            # indexes and triggers, after the rows
        if kind in ("index", "trigger") and sql:
            con.execute(sql)
    for meta in _META:
        con.execute(f"INSERT INTO main.{meta} SELECT * FROM src.{meta} WHERE lower(table_name) = lower(?)", (name,))


def _mode_rates(res) -> dict:
    """{column: rate by community}: ``rate_<cat>_<threshold>_flat`` (the walk on flat ground, with
    network.dem) and ``rate_<circle>`` (each travel circle, for the communities it applies to)."""
    out = {}
    se = getattr(res, "slope_effect", None)
    if se is not None and len(se):
        c = se[(se.level == "community") & (se.population_group == "total")]
        for cat in res.categories:
            sub = c[c.category == cat].drop_duplicates("unit").set_index("unit")
            out[f"rate_{cat}_{res.thresholds[cat].key}_flat"] = sub["coverage_rate_flat"]
    tc = getattr(res, "travel_circles", None)
    if tc is not None and len(tc):
        c = tc[tc.level == "community"]
        for key in dict.fromkeys(c["circle"]):
            out[f"rate_{key}"] = c[c.circle == key].drop_duplicates("unit").set_index("unit")["coverage_rate"]
    return out


def _inf_to_nan(gdf):
    """``gdf.replace([np.inf], np.nan)`` on the float columns only (DataFrame.replace compared
    every geometry of the layer with inf: 3 s on a county's 196k demand points)."""
    out = gdf.copy()
    for c in out.columns:
        if pd.api.types.is_float_dtype(out[c]):
            v = out[c].to_numpy()
            if np.isposinf(v).any():
                out[c] = out[c].replace([np.inf], np.nan)
    return out
