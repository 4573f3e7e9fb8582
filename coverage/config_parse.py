"""The study YAML (or dict) parsed into a :class:`~coverage.config.StudyConfig`, section by
section, every value checked before any work (see :mod:`coverage.config`)."""

from __future__ import annotations

from pathlib import Path

from .config import (DEFAULT_RURAL, DEFAULT_URBAN, LANGS, NETWORK_SOURCES, SITING_METHODS, WALK_SPEED_RANGE,
                     Analysis, Communities, CommunityFields, Facilities, FacilityFields, Network, Output,
                     Population, Siting, StudyArea, StudyConfig)
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
                                "exclude_classes", "level_field", "name_field"))
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
        name_field=n.text("name_field"))
    if network.source == "download" and network.path is not None:
        raise n.err("path", "network.path is given with source: download",
                    "remove network.path, or set network.source to the file's format")

    a = top.section("analysis", ("walk_speed_kmh", "breaks_min", "breaks_m", "thresholds_min", "thresholds_m",
                                 "categories", "circles", "facility_circles", "circle_buffer_m", "circle_cell_m"))
    speed_kmh = a.number("walk_speed_kmh", DEFAULT_WALK_SPEED_KMH, lo=WALK_SPEED_RANGE[0], hi=WALK_SPEED_RANGE[1],
                         fix=f"give a speed between {WALK_SPEED_RANGE[0]} and {WALK_SPEED_RANGE[1]} km/h: 4.0 is usual "
                             "(15 min = 1000 m), about 3.0 for the elderly")
    breaks, thresholds = _thresholds(a, speed_kmh * 1000.0 / 60.0)
    analysis = Analysis(walk_speed_kmh=speed_kmh, breaks=breaks, thresholds=thresholds,
                        categories=_categories(a, "categories") or CATEGORIES,
                        circles=a.flag("circles", True), facility_circles=a.flag("facility_circles", True),
                        circle_buffer_m=a.number("circle_buffer_m", 30.0, positive=True, hi=500.0),
                        circle_cell_m=a.number("circle_cell_m", 10.0, positive=True, hi=100.0))

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
