"""One county of a province batch, run inside a Dask worker: the task, its input stamp and the
small summary it returns to the client.

A task reads only its own county (the worker holds one county's network, never the province),
writes the county's usual output folder itself, and returns a few kilobytes: the area-level
coverage rows at each category's plan threshold, the area-level indicators and the county
outline. It never raises: bad input (:class:`~coverage.errors.InputError`) and bugs alike come
back as ``status: failed`` with the message, so one county cannot stop the others.

Rerun: when a county finishes, ``OUT/<code>/batch_stamp.json`` records a hash of its config and
of its input files' bytes, the size of every file written and the summary. A later batch whose
hash matches, with every recorded file still present at its size, returns the stored summary
without running (``ran: False``). Input files are hashed by content (SHA-256); the stamp keeps
each file's size and mtime so an untouched file is not read again."""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import json
import os
import socket
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError

STAMP = "batch_stamp.json"
STAMP_VERSION = 1
#: tolerance (m) of the county outline drawn on the province map
OUTLINE_SIMPLIFY_M = 5.0
#: shapefile parts hashed with the .shp (they carry its attributes, CRS and encoding)
SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx")

# One county at a time per worker process, even on a worker started with several threads: the
# worker's memory limit is then one county's budget (and matplotlib is not thread-safe).
_ONE_COUNTY = threading.Lock()


@dataclass(frozen=True)
class CountySpec:
    """What a worker needs to run one county (small and picklable).

    Either ``config_file`` (a county study YAML) or ``raw`` (the template's keys with this
    county's values filled in; relative paths resolve against ``base``, messages name ``file``)."""

    code: str
    name: str
    out_dir: str
    config_file: str | None = None
    raw: dict | None = None
    base: str = "."
    file: str = "<template>"

    def config(self):
        from .config import StudyConfig, load_config
        if self.raw is not None:
            cfg = StudyConfig.from_dict(self.raw, base=self.base, file=self.file)
        else:
            cfg = load_config(self.config_file)
        out = Path(self.out_dir)
        return cfg.with_output(folder=out, map_path=out / "map.html")


# --------------------------------------------------------------------------- the task

def run_county(spec: CountySpec) -> dict:
    """Run one county (or skip it when its stamp matches); return its small summary."""
    with _ONE_COUNTY:
        t0 = time.perf_counter()
        out = Path(spec.out_dir)
        result = {"code": spec.code, "name": spec.name, "status": "failed", "error": "", "ran": True,
                  "seconds": 0.0, "peak_rss_mb": None, "worker": f"{socket.gethostname()}:{os.getpid()}",
                  "categories": [], "summary": [], "indicators": [], "outline": None}
        log = []
        try:
            cfg = spec.config()
            from .cli import _prepare_out
            _prepare_out(out, cfg.file)
            stamp, inputs = input_stamp(cfg, previous=_read_stamp(out).get("inputs"))
            done = complete_stamp(out, stamp)
            if done is not None:
                result = {**done["result"], "ran": False, "worker": result["worker"]}
                return result
            (out / STAMP).unlink(missing_ok=True)
            result.update(_run(cfg, out, log, t0))
            result["status"] = "ok"
            result["seconds"] = round(time.perf_counter() - t0, 3)
            _write_stamp(out, stamp, inputs, result)
        except InputError as exc:
            result["error"] = exc.message
            log.append(f"input error: {exc.message}")
        except Exception as exc:  # a bug (or out of memory): reported, the other counties go on
            result["error"] = (f"internal error: {type(exc).__name__}: {exc} (traceback in "
                               f"{out / 'run.log'})")
            log.append(traceback.format_exc())
        finally:
            result["seconds"] = round(time.perf_counter() - t0, 3)
            if result["ran"] and out.is_dir():
                try:
                    (out / "run.log").write_text("\n".join(log) + "\n", encoding="utf-8")
                except OSError:
                    pass
            _release_memory()
        return result


def _run(cfg, out: Path, log: list, t0: float) -> dict:
    import numpy as np
    import shapely

    from .cli import _write_run_json
    from .study import Study
    log.append(f"config {cfg.file}, output {out}")
    study = Study(config=cfg)
    res = study.run()
    res.write(out, cfg.output.map)
    log.extend(f"warning: {w}" for w in res.warnings)
    _write_run_json(out / "run.json", study, time.perf_counter() - t0)

    thr = study.thresholds
    s = res.coverage_summary
    s = s[s["level"] == "area"]
    plan = np.array([np.isclose(float(t), round(thr[c].metres, 1), atol=0.051) if c in thr else False
                     for c, t in zip(s["category"], s["threshold_m"])], dtype=bool)
    cols = ["category", "category_zh", "population_group", "threshold_min", "threshold_m", "population",
            "covered_pop", "coverage_rate"]
    summary = [_plain(r) for r in s.loc[plan, [c for c in cols if c in s.columns]].to_dict("records")]
    ind = res.indicators
    indicators = [] if ind is None else [_plain(r) for r in ind[ind["level"] == "area"].to_dict("records")]

    comm = study.communities
    outline = shapely.simplify(shapely.union_all(comm.geometry.values), OUTLINE_SIMPLIFY_M, preserve_topology=True)
    import geopandas as gpd
    wgs = gpd.GeoSeries([outline], crs=comm.crs).to_crs(4326).iloc[0]
    wgs = shapely.transform(wgs, lambda c: np.round(c, 6))
    peak = max((r["peak_rss_mb"] for r in study.timings.values()), default=None)
    return {"categories": list(study.categories), "summary": summary, "indicators": indicators,
            "outline": shapely.to_wkt(wgs, rounding_precision=6), "peak_rss_mb": peak}


def _plain(rec: dict) -> dict:
    """JSON-safe scalars (numpy numbers to Python, NaN kept as None)."""
    import math

    import pandas as pd
    out = {}
    for k, v in rec.items():
        if hasattr(v, "item"):
            v = v.item()
        if (isinstance(v, float) and not math.isfinite(v)) or (not isinstance(v, str) and pd.isna(v)):
            v = None
        out[str(k)] = v
    return out


def _release_memory():
    """Hand a finished county's memory back to the system, so the next county on this worker
    starts within the worker's limit (glibc keeps freed memory otherwise)."""
    gc.collect()
    try:
        import ctypes
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


# --------------------------------------------------------------------------- the stamp

def input_files(cfg) -> list[Path]:
    """Every file a county run reads: the configured layers (with a shapefile's parts), age-group
    rasters, keyword table, the DEM, siting layers and a custom profile."""
    paths = [cfg.communities.path, cfg.facilities.path, cfg.facilities.keywords, cfg.population.path,
             *cfg.population.groups.values(), cfg.network.path, getattr(cfg.network, "dem", None),
             cfg.siting.candidates, cfg.siting.exclude]
    prof = Path(str(cfg.profile))
    if prof.is_file():
        paths.append(prof)
    out = []
    for p in paths:
        if p is None:
            continue
        p = Path(p)
        if p.is_dir():                         # e.g. a file geodatabase folder
            out.extend(sorted(q for q in p.rglob("*") if q.is_file()))
        elif p.suffix.lower() == ".shp":
            out.extend(q for q in (p.with_suffix(s) for s in SHAPEFILE_PARTS) if q.is_file())
        else:
            out.append(p)
    return sorted(set(out))


def config_text(cfg) -> str:
    """The parsed config as canonical JSON, without where it lives and where it writes (the
    batch decides the output folder), with paths relative to the YAML's folder."""
    d = dataclasses.asdict(dataclasses.replace(cfg, file="", base=Path("."), output=dataclasses.replace(
        cfg.output, folder=Path("."), map=None)))

    def conv(o):
        if isinstance(o, Path):
            return cfg.relative(o)
        return repr(o)
    return json.dumps(d, sort_keys=True, ensure_ascii=False, default=conv)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def input_stamp(cfg, previous: dict | None = None) -> tuple[str, dict]:
    """(hash of the tool version, the config and every input file's bytes; per-file records).
    A file whose size and mtime equal the previous stamp's is not read again."""
    from . import __version__
    previous = previous or {}
    h = hashlib.sha256()
    h.update(f"lifecircle-coverage {__version__}\n{config_text(cfg)}\n".encode())
    inputs = {}
    for p in input_files(cfg):
        st = p.stat()
        key = cfg.relative(p)
        old = previous.get(key)
        if old and old[0] == st.st_size and old[1] == st.st_mtime_ns:
            digest = old[2]
        else:
            digest = _sha256(p)
        inputs[key] = [st.st_size, st.st_mtime_ns, digest]
        h.update(f"{key}\0{digest}\n".encode())
    return h.hexdigest(), inputs


def _read_stamp(out: Path) -> dict:
    try:
        return json.loads((out / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def complete_stamp(out: Path, stamp: str) -> dict | None:
    """The stored stamp when the county's outputs are complete for these inputs, else None."""
    st = _read_stamp(out)
    if st.get("version") != STAMP_VERSION or st.get("hash") != stamp or st.get("result", {}).get("status") != "ok":
        return None
    for name, size in st.get("files", {}).items():
        f = out / name
        if not f.is_file() or f.stat().st_size != size:
            return None
    return st


def _write_stamp(out: Path, stamp: str, inputs: dict, result: dict) -> None:
    files = {p.relative_to(out).as_posix(): p.stat().st_size for p in sorted(out.rglob("*"))
             if p.is_file() and p.name not in (STAMP, "run.log")}
    body = {"version": STAMP_VERSION, "hash": stamp, "inputs": inputs, "files": files,
            "result": {k: v for k, v in result.items() if k not in ("ran", "worker")}}
    tmp = out / (STAMP + ".tmp")
    tmp.write_text(json.dumps(body, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, out / STAMP)
