"""The study YAML (or dict) parsed into a :class:`~coverage.config.StudyConfig`, section by
section, every value checked before any work (see :mod:`coverage.config`)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from .config import (APPLIES_TO, DEFAULT_RURAL, DEFAULT_URBAN, LANGS, MAX_THRESHOLD_M, NETWORK_SOURCES,
                     SITING_METHODS, SLOPE_DIRECTIONS, WALK_SPEED_RANGE, Analysis, Communities, CommunityFields,
                     Facilities, FacilityFields, Network, Output, Population, Siting, StudyArea, StudyConfig,
                     Threshold, TravelCircle)
from .config_fields import (_Section, _basemap, _categories, _category, _crs, _encoding, _show,
                            _thresholds)
from .labels import CATEGORIES, DEFAULT_WALK_SPEED_KMH


def _parse(raw, base: Path, file: str, require_paths: bool) -> StudyConfig:
    top = _Section(raw, "", file, base, ("study_area", "communities", "facilities", "population", "network",
                                        "analysis", "profile", "profile_options", "siting", "output"))
    s = top.section("study_area", ("name", "crs"))
    study_area = StudyArea(name=s.text("name", "study area"), crs=_crs(s, "crs", "auto", study=True))

    c = top.section("communities", ("path", "layer", "encoding", "crs", "fields", "urban_values", "rural_values"))
    cf = c.section("fields", ("id", "name", "township", "type", "households", "population"))
    communities = Communities(
        path=c.file_path("path", required=require_paths, what="community boundary layer"),
        layer=c.text("layer"), encoding=_encoding(c, "encoding"), crs=_crs(c, "crs"),
        fields=CommunityFields(id=cf.text("id", required=require_paths), name=cf.text("name"),
                               township=cf.text("township"), type=cf.text("type"),
                               households=cf.text("households"), population=cf.text("population")),
        urban_values=c.strings("urban_values", DEFAULT_URBAN), rural_values=c.strings("rural_values", DEFAULT_RURAL))

    f = top.section("facilities", ("path", "layer", "sheet", "encoding", "crs", "x", "y", "coord_system", "fields",
                                   "category_map", "keywords"))
    ff = f.section("fields", ("id", "name", "category", "type", "area", "site_area", "level"))
    from .io.coords import SYSTEM_ALIASES
    cs = f.text("coord_system", "wgs84")
    if cs.lower() not in SYSTEM_ALIASES:
        raise f.err("coord_system", f"unknown coordinate system {cs!r}",
                    "use wgs84 (GPS, OSM, CGCS2000), gcj02 (Amap/Gaode, Tencent) or bd09 (Baidu)")
    cmap = {}
    keywords = f.file_path("keywords", what="keyword table")
    if f.mapping("category_map"):
        from .io.categories import resolve_category_label
        from .io.facilities import keyword_table
        table = keyword_table(keywords)
        for k, v in f.mapping("category_map").items():
            # a plan key, a Chinese label (医疗卫生设施) or an alias of the keyword table
            key = resolve_category_label(v, table) if isinstance(v, str) else None
            cmap[k] = key if key is not None else _category(f, f"category_map.{k}", v)
    sheet = f.get("sheet")
    if isinstance(sheet, bool) or (isinstance(sheet, (int, float)) and not (float(sheet).is_integer() and 0 <= sheet < 1000)):
        raise f.err("sheet", f"'facilities.sheet' must be a sheet name or its number (0 = the first sheet), got {_show(sheet)}",
                    "write the sheet's name as it shows on its tab (e.g. sheet: 设施清单) or 0 for the first sheet")
    if isinstance(sheet, float):
        sheet = int(sheet)
    facilities = Facilities(
        path=f.file_path("path", required=require_paths, what="facility table or layer"),
        layer=f.text("layer"), sheet=sheet if isinstance(sheet, int) and not isinstance(sheet, bool) else f.text("sheet"),
        encoding=_encoding(f, "encoding"), crs=_crs(f, "crs"), x=f.text("x", "lon"), y=f.text("y", "lat"),
        coord_system=cs.lower(),
        fields=FacilityFields(id=ff.text("id"), name=ff.text("name"), category=ff.text("category"),
                              type=ff.text("type"), area=ff.text("area"), site_area=ff.text("site_area"),
                              level=ff.text("level")),
        category_map=cmap, keywords=keywords)

    p = top.section("population", ("path", "groups", "group_for"))
    groups = {}
    for g, gp in p.mapping("groups").items():
        groups[str(g)] = p.section("groups", tuple(map(str, p.mapping("groups")))).file_path(
            g, required=True, what=f"age-group raster {g!r}")
    group_for = {}
    for cat, g in p.mapping("group_for").items():
        _category(p, f"group_for.{cat}", cat)
        if str(g) not in groups:
            raise p.err(f"group_for.{cat}", f"population group {g!r} is not defined",
                        f"define it under population.groups (have: {sorted(groups) or 'none'})")
        group_for[str(cat)] = str(g)
    population = Population(path=p.file_path("path", required=require_paths, what="population raster"),
                            groups=groups, group_for=group_for)

    n = top.section("network", ("source", "path", "max_snap_m", "crs", "encoding", "tolerance_m", "class_field",
                                "exclude_classes", "level_field", "name_field", "class_map", "dem"))
    src = n.choice("source", None, NETWORK_SOURCES)
    if src is None and require_paths:
        raise n.err("source", "missing key 'network.source'",
                    f"add network.source: one of {', '.join(NETWORK_SOURCES)} (pbf for an .osm.pbf extract)")
    lf = n.get("level_field")
    network = Network(
        source=src,
        path=n.file_path("path", required=require_paths and src not in (None, "download"), what="network file"),
        max_snap_m=n.number("max_snap_m", 300.0, positive=True, hi=5000.0),
        crs=_crs(n, "crs"), encoding=_encoding(n, "encoding"),
        tolerance_m=n.number("tolerance_m", 1.0, lo=0.0, hi=50.0), class_field=n.text("class_field"),
        exclude_classes=n.strings("exclude_classes"),
        level_field=n.strings("level_field") if isinstance(lf, list) else n.text("level_field"),
        name_field=n.text("name_field"), class_map=_class_map(n, src), dem=_dem(n))
    if network.source == "download" and network.path is not None:
        raise n.err("path", "network.path is given with source: download",
                    "remove network.path, or set network.source to the file's format")

    a = top.section("analysis", ("walk_speed_kmh", "breaks_min", "breaks_m", "thresholds_min", "thresholds_m",
                                 "categories", "circles", "facility_circles", "circle_buffer_m", "circle_cell_m",
                                 "slope", "modes", "travel_circles"))
    speed_kmh = a.number("walk_speed_kmh", DEFAULT_WALK_SPEED_KMH, lo=WALK_SPEED_RANGE[0], hi=WALK_SPEED_RANGE[1],
                         fix=f"give a speed between {WALK_SPEED_RANGE[0]} and {WALK_SPEED_RANGE[1]} km/h: 4.0 is usual "
                             "(15 min = 1000 m), about 3.0 for the elderly")
    breaks, thresholds = _thresholds(a, speed_kmh * 1000.0 / 60.0)
    analysis = Analysis(walk_speed_kmh=speed_kmh, breaks=breaks, thresholds=thresholds,
                        categories=_categories(a, "categories") or CATEGORIES,
                        circles=a.flag("circles", True), facility_circles=a.flag("facility_circles", True),
                        circle_buffer_m=a.number("circle_buffer_m", 30.0, positive=True, hi=500.0),
                        circle_cell_m=a.number("circle_cell_m", 10.0, positive=True, hi=100.0),
                        slope=a.choice("slope", "to_facility", SLOPE_DIRECTIONS))
    modes = _modes(a)
    analysis = replace(analysis, modes=modes,
                       travel_circles=_travel_circles(a, speed_kmh * 1000.0 / 60.0, modes))

    profile = top.text("profile", "national_14th")
    profile_options = {str(k): str(v) for k, v in top.mapping("profile_options").items()}
    from .io.profiles import resolve_profile
    profile = resolve_profile(profile, base=base, file=file, options=profile_options or None)

    si = top.section("siting", ("enabled", "categories", "k", "target_rate", "group_targets", "candidate_spacing_m",
                                "candidates", "exclude", "method", "time_limit_s", "site_area_m2",
                                "capacity_m2_per_100hh"))
    target = si.get("target_rate")
    if target is not None:
        if not isinstance(target, bool) and isinstance(target, (int, float)) and 1 < target <= 100:
            raise si.err("target_rate", f"'siting.target_rate' = {target} is more than 1",
                         f"write the rate as a fraction: {target / 100:g} for {target:g}%")
        target = si.number("target_rate", None, lo=0.0, hi=1.0, fix="a coverage rate between 0 and 1, e.g. 0.9")
        if target == 0:
            raise si.err("target_rate", "'siting.target_rate' = 0 asks for no coverage at all",
                         "give the rate to reach, e.g. 0.9, or delete the line to suggest siting.k sites")
    gt = si.get("group_targets")
    if gt is not None:
        gsec = si.section("group_targets", ("urban", "rural"))
        gt = {k: gsec.number(k, None, lo=0.0, hi=1.0, fix="a rate between 0 and 1, e.g. urban: 1.0") for k in gsec.raw}
    siting = Siting(
        enabled=si.flag("enabled", True), categories=_categories(si, "categories"),
        k=si.number("k", 5, integer=True, positive=True, hi=10_000,
                    fix="the number of new sites per category, a whole number such as 5"),
        target_rate=target, group_targets=gt,
        candidate_spacing_m=si.number("candidate_spacing_m", 100.0, positive=True, hi=10_000.0),
        candidates=si.file_path("candidates", what="candidate site layer"),
        exclude=si.file_path("exclude", what="exclusion polygon layer"),
        method=si.choice("method", "auto", SITING_METHODS),
        time_limit_s=si.number("time_limit_s", 60.0, positive=True, hi=86_400.0),
        site_area_m2=si.number("site_area_m2", 300.0, positive=True),
        capacity_m2_per_100hh=si.number("capacity_m2_per_100hh", 30.0, positive=True))

    notes = []
    if analysis.slope != "to_facility" and network.dem is None:
        notes.append(f"{file}: analysis.slope = {analysis.slope} is not used without network.dem: walks are "
                     "counted on flat ground (add network.dem, an elevation GeoTIFF, to count the slope)")
    if siting.enabled and (siting.target_rate is not None or siting.group_targets) and si.has("k"):
        goal = (f"siting.target_rate = {siting.target_rate:g}" if siting.target_rate is not None
                else f"siting.group_targets = {siting.group_targets}")
        notes.append(f"{file}: siting.k = {siting.k} is not used because {goal} is set: the fewest new sites "
                     "that reach the target are suggested (delete siting.k, or delete the target to get k sites)")

    o = top.section("output", ("folder", "map", "lang", "basemap", "category_maps"))
    folder = Path(o.text("folder", "out"))
    mp = o.text("map")
    if mp is not None and Path(mp).suffix.lower() not in (".html", ".htm"):
        raise o.err("map", f"'output.map' = {mp!r} is not an .html file name", "give a file name ending in .html, "
                    "e.g. output.map: maps/my_county.html (or delete the line for OUT/map.html)")
    output = Output(folder=folder if folder.is_absolute() else base / folder,
                    map=None if mp is None else (Path(mp) if Path(mp).is_absolute() else base / mp),
                    lang=o.choice("lang", "zh", LANGS), basemap=_basemap(o, "basemap"),
                    category_maps=o.flag("category_maps", False))
    return StudyConfig(file=file, base=base, study_area=study_area, communities=communities, facilities=facilities,
                       population=population, network=network, analysis=analysis, profile=profile,
                       profile_options=profile_options, siting=siting,
                       output=output, notes=tuple(notes))


# --------------------------------------------------------------------------- travel modes and slope

#: OSM highway classes a road class map may point to (and the walking network can hold)
OSM_CLASSES = ("motorway", "motorway_link", "trunk", "trunk_link", "primary", "primary_link", "secondary",
               "secondary_link", "tertiary", "tertiary_link", "unclassified", "residential", "living_street",
               "service", "track", "road", "busway", "path", "footway", "pedestrian", "steps", "cycleway",
               "bridleway", "corridor", "elevator", "sidewalk", "crossing")
#: the fastest speed a mode may be given (km/h): above it a value is a typo
MAX_MODE_KMH = 150.0
#: the longest travel-circle time (minutes)
MAX_CIRCLE_MIN = 240.0


def _class_map(n: _Section, source):
    """``network.class_map``: {your road layer's class value: OSM highway class} (source: roads)."""
    raw = n.mapping("class_map")
    if not raw:
        return None
    if source is not None and source != "roads":
        raise n.err("class_map", f"network.class_map is only used with network.source: roads (this network is "
                                 f"{source!r}, whose ways carry OSM highway classes already)",
                    "delete network.class_map, or set network.source: roads for a road centreline layer")
    if not n.has("class_field"):
        raise n.err("class_map", "network.class_map is given but not network.class_field (the column holding "
                                 "each road's class)", "add network.class_field: <the class column of the road layer>")
    from .core.modes import packaged_modes
    known = set(OSM_CLASSES)
    for spec in packaged_modes().values():
        known |= set(spec.speeds_kmh) | set(spec.walk_classes) | set(spec.exclude_classes)
    out = {}
    for k, v in raw.items():
        key = f"class_map.{k}"
        if v is None or isinstance(v, (dict, list, bool)) or not str(v).strip():
            raise n.err(key, f"'{n.path(key)}' must be an OSM highway class, got {_show(v)}",
                        "e.g. 县道: secondary (classes: " + ", ".join(OSM_CLASSES[:14]) + ", ...)")
        cls = str(v).strip().lower()
        if cls not in known:
            import difflib
            close = difflib.get_close_matches(cls, sorted(known), n=1, cutoff=0.6)
            raise n.err(key, f"'{n.path(key)}' = {v!r} is not an OSM highway class",
                        (f"did you mean '{close[0]}'? " if close else "") + "use one of: " + ", ".join(OSM_CLASSES))
        out[str(k).strip()] = cls
    return out


def _dem(n: _Section):
    """``network.dem``: an elevation GeoTIFF (must exist, open as a raster and have a CRS)."""
    path = n.file_path("dem", what="DEM (elevation GeoTIFF in metres)")
    if path is None:
        return None
    import rasterio
    try:
        with rasterio.open(path) as src:
            crs, bands = src.crs, src.count
    except Exception as exc:  # noqa: BLE001 - any reader error is the planner's file
        raise n.err("dem", f"the DEM cannot be read as a raster ({type(exc).__name__}: {exc}): {path}",
                    "give a GeoTIFF of elevations in metres (SRTM, ASTER GDEM, Copernicus DEM or a survey DEM)") from None
    if crs is None:
        raise n.err("dem", f"the DEM has no CRS: {path}",
                    "set it, e.g. gdal_edit.py -a_srs EPSG:4326 dem.tif (SRTM is EPSG:4326)")
    if bands < 1:
        raise n.err("dem", f"the DEM has no band: {path}", "give a single-band elevation GeoTIFF")
    return path


def _modes(a: _Section) -> dict:
    """The travel modes: the packaged ones (coverage/resources/modes.yaml) with the overrides and new
    modes of ``analysis.modes``. Returns {name: ModeSpec}."""
    from .core.modes import MODE_KEYS, MODE_NAME, RESERVED, SLOPE_MODELS, mode_from_dict, packaged_modes
    out = dict(packaged_modes())
    raw = a.mapping("modes")
    for name in raw:
        n = str(name).strip()
        if not MODE_NAME.match(n) or n in RESERVED:
            raise a.err(f"modes.{name}", f"{name!r} cannot be a travel mode name: use lower-case letters and "
                                         f"digits, starting with a letter, and not {', '.join(sorted(RESERVED))}",
                        "e.g. analysis.modes.tricycle (it becomes part of column names such as dist_health_by_tricycle)")
        body = raw[name]
        if not isinstance(body, dict):
            raise a.err(f"modes.{name}", f"'{a.path('modes.' + str(name))}' must be a section of the mode's keys, got "
                                         f"{_show(body)}", f"write e.g.\n    {n}:\n      default_kmh: 15 "
                                                           f"(keys: {', '.join(MODE_KEYS)})")
        m = _Section(body, a.path(f"modes.{n}"), a.file, a.base, MODE_KEYS)
        got = {}
        for k in ("label_zh", "label_en"):
            if m.has(k):
                got[k] = m.text(k)
        if n == "walk":
            extra = [k for k in MODE_KEYS if k not in ("label_zh", "label_en", "slope") and m.has(k)]
            if extra:
                raise m.err(extra[0], f"'{m.path(extra[0])}' cannot be set for walking",
                            "set the walking speed with analysis.walk_speed_kmh, and leave roads out of the walking "
                            "network with network.exclude_classes")
        if m.has("default_kmh") or (n not in out):
            got["default_kmh"] = m.number("default_kmh", None, positive=True, hi=MAX_MODE_KMH,
                                          fix=f"the mode's speed in km/h on roads not listed in speeds_kmh, e.g. 15 "
                                              f"(at most {MAX_MODE_KMH:g})")
            if got["default_kmh"] is None:
                raise m.err("default_kmh", f"missing key '{m.path('default_kmh')}' for the new mode {n!r}",
                            f"add {m.path('default_kmh')}: <speed in km/h>, e.g. 15")
        if m.has("speeds_kmh"):
            sp_raw = {str(k).strip().lower(): v for k, v in m.mapping("speeds_kmh").items()}
            sp = _Section(sp_raw, m.path("speeds_kmh"), a.file, a.base, tuple(sp_raw))
            got["speeds_kmh"] = {k: sp.number(k, None, positive=True, hi=MAX_MODE_KMH,
                                              fix=f"a speed in km/h greater than 0 (at most {MAX_MODE_KMH:g}), "
                                                  f"e.g. {k}: 20") for k in sp_raw}
        for k in ("walk_classes", "exclude_classes"):
            if m.has(k):
                got[k] = tuple(c.lower() for c in m.strings(k))
        both = set(got.get("walk_classes", ())) & set(got.get("exclude_classes", ()))
        if both:
            raise m.err("exclude_classes", f"road class {sorted(both)[0]!r} is both walked and closed for mode {n!r}",
                        "list it in walk_classes or in exclude_classes, not both")
        if m.has("slope"):
            got["slope"] = m.choice("slope", None, SLOPE_MODELS)
        out[n] = mode_from_dict(n, got, out.get(n))
    return out


def _travel_circles(a: _Section, speed: float, modes: dict) -> tuple:
    """``analysis.travel_circles``: a list of {category, minutes | metres, mode, applies_to, name}."""
    raw = a.get("travel_circles")
    if raw is None or raw == []:
        return ()
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        raise a.err("travel_circles", f"'{a.path('travel_circles')}' must be a list of circles, got {_show(raw)}",
                    "write e.g.\n    travel_circles:\n      - {category: comprehensive, minutes: 30, mode: ebike, "
                    "applies_to: rural}")
    out, seen = [], {}
    for i, item in enumerate(raw):
        where = f"travel_circles[{i}]"
        if not isinstance(item, dict):
            raise a.err(where, f"'{a.path(where)}' must be a mapping {{category, minutes or metres, mode, "
                               f"applies_to}}, got {_show(item)}",
                        "e.g. - {category: comprehensive, minutes: 30, mode: ebike, applies_to: rural}")
        s = _Section(item, a.path(where), a.file, a.base, ("category", "minutes", "metres", "mode", "applies_to",
                                                            "name"))
        if not s.has("category"):
            raise s.err("category", f"missing key '{s.path('category')}'",
                        f"add the facility category, one of: {', '.join(CATEGORIES)}")
        cat = _category(s, "category", s.text("category"))
        if s.has("minutes") == s.has("metres"):
            raise s.err("minutes", f"give '{s.path('minutes')}' (a travel time) or '{s.path('metres')}' (a distance "
                                   "along the roads), one of the two", "e.g. minutes: 30")
        if s.has("minutes"):
            v = s.number("minutes", None, positive=True, hi=MAX_CIRCLE_MIN,
                         fix=f"a travel time in minutes greater than 0 (at most {MAX_CIRCLE_MIN:g}), e.g. 30")
            thr = Threshold.of(v, "min", speed)
        else:
            v = s.number("metres", None, positive=True, hi=MAX_THRESHOLD_M,
                         fix=f"a distance along the roads in metres greater than 0 (at most {MAX_THRESHOLD_M:g}), "
                             "e.g. 5000 for 十里")
            thr = Threshold.of(v, "m", speed)
        mode = s.text("mode", "walk").lower()
        if mode not in modes:
            import difflib
            close = difflib.get_close_matches(mode, sorted(modes), n=1, cutoff=0.5)
            raise s.err("mode", f"unknown travel mode {s.get('mode')!r}",
                        (f"did you mean '{close[0]}'? " if close else "") + f"use one of: {', '.join(modes)} "
                        "(or define the mode under analysis.modes)")
        applies = s.choice("applies_to", "all", APPLIES_TO)
        tc = TravelCircle(category=cat, threshold=thr, mode=mode, applies_to=applies, name=s.text("name"))
        if tc.key in seen:
            raise s.err("category", f"'{a.path(where)}' repeats '{a.path(seen[tc.key])}' (same category, mode, "
                                    "threshold and communities)", "delete one of the two")
        seen[tc.key] = where
        out.append(tc)
    return tuple(out)
