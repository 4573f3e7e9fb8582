"""Province batch: ``python -m coverage batch --config province.yaml [--scheduler tcp://host:8786]
[--workers N] [--memory-limit 4GB] [--out DIR]``.

Each county is one task on Dask distributed: a ``LocalCluster`` of worker processes (one per
core, one thread each, a memory limit per worker) by default, or the scheduler a province's IT
already runs. A task runs one county inside its worker and writes ``OUT/<code>/`` itself; only a
small summary comes back (see :mod:`coverage.batch_county`). The client then writes the province
tables and map (:mod:`coverage.batch_report`).

The province YAML names the counties in one of two ways (paths relative to the YAML)::

    name: 示例省                        # title of the province map
    counties:                          # (a) one study YAML per county
      - counties/530102.yaml           #     code = file name, name = its study_area.name
      - {config: b.yaml, code: "530103", name: 五华区}
    # or
    template: county.yaml              # (b) one study YAML with {column} placeholders
    table: counties.csv                #     one row per county (or a section: path, sheet,
                                       #     encoding, code, name: the table's file and columns)
    map_category: comprehensive        # category whose rate colours the province map
    output: {folder: out/province, lang: zh, basemap: OpenStreetMap}
    dask: {scheduler: tcp://host:8786, workers: 2, memory_limit: 4GB}
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import time
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .batch_county import CountySpec, run_county
from .config import LANGS, _DuplicateKey, _SafeLoader, _UniqueKeyLoader
from .config_fields import _category, _Section
from .errors import InputError

PROVINCE_KEYS = ("name", "counties", "template", "table", "map_category", "output", "dask")
DEFAULT_OUT = "out/province"
_CODE_OK = re.compile(r"^[\w][\w.-]*$")
_PLACEHOLDER = re.compile(r"\{([^{}\s]+)\}")
_NUMBER = re.compile(r"^-?(0|[1-9]\d*)(\.\d+)?$")


@dataclass
class Province:
    file: str
    name: str = "province"
    counties: list = field(default_factory=list)
    out: Path = Path(DEFAULT_OUT)
    lang: str = "zh"
    basemap: str = "OpenStreetMap"
    map_category: str | None = None
    scheduler: str | None = None
    workers: int | None = None
    memory_limit: str = "auto"


# --------------------------------------------------------------------------- command line

def add_parser(sub) -> None:
    b = sub.add_parser("batch", help="run many counties (a province) as tasks on Dask distributed")
    b.add_argument("--config", required=True, help="the province YAML (county YAMLs, or a template and a table)")
    b.add_argument("--out", help="output folder (overrides output.folder); each county goes to OUT/<code>/")
    b.add_argument("--scheduler", help="address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786 "
                                       "(default: a LocalCluster on this machine)")
    b.add_argument("--workers", type=int, help="LocalCluster worker processes (default: one per core)")
    b.add_argument("--memory-limit", help="LocalCluster memory limit per worker, e.g. 4GB (default: auto, "
                                          "the machine's memory shared by the workers)")
    b.add_argument("--quiet", action="store_true", help="no progress lines")


def main(args) -> int:
    echo = (lambda m: None) if args.quiet else (lambda m: print(m, file=sys.stderr, flush=True))
    out = None
    try:
        prov = load_province(args.config, out=args.out, scheduler=args.scheduler, workers=args.workers,
                             memory_limit=args.memory_limit)
        from .cli import _prepare_out
        out = _prepare_out(prov.out, prov.file)
        t0 = time.perf_counter()
        results, info = run_batch(prov, echo=echo)
        from .batch_report import write_province
        files = write_province(prov, results, info, time.perf_counter() - t0)
    except InputError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("stopped (Ctrl+C)", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: one line, the traceback in OUT/batch.log
        where = Path(out or ".") / "batch.log"
        with contextlib.suppress(OSError):
            where.write_text(traceback.format_exc(), encoding="utf-8")
        print(f"internal error: {type(exc).__name__}: {exc}. This is a bug in the tool, not in your data: "
              f"please report it with the log at {where}", file=sys.stderr)
        return 1
    failed = [r for r in results if r["status"] != "ok"]
    print(f"{len(results) - len(failed)} of {len(results)} counties ok"
          + (f", {len(failed)} failed (see province_summary.csv):" if failed else ""))
    for r in failed:
        print(f"  {r['code']} {r['name']}: {r['error'].splitlines()[0]}")
    print("Files:")
    for k, f in files.items():
        print(f"  {k:<20} {f}")
    return 1 if failed else 0


# --------------------------------------------------------------------------- the province YAML

def _read_yaml(path: Path, what: str, fix: str):
    if path.is_dir() or not path.exists():
        raise InputError(f"{what} not found", file=str(path), fix=fix)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError("the YAML is not UTF-8 text", file=str(path), fix="save the file as UTF-8") from None
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)
    except _DuplicateKey as exc:
        raise InputError(f"the key {exc.key!r} is given twice in the same section (lines {exc.first} and "
                         f"{exc.second})", file=str(path), field=str(exc.key), fix="delete one of the two lines") from None
    except yaml.YAMLError as exc:
        raise InputError(f"the YAML cannot be read: {exc}", file=str(path),
                         fix="fix the YAML syntax at the line shown (indent with spaces, 'key: value'; "
                             "quote a value that starts with '{')") from None
    if raw is None:
        raise InputError("the YAML is empty", file=str(path), fix=fix)
    return raw


def load_province(path, *, out=None, scheduler=None, workers=None, memory_limit=None) -> Province:
    """Read and check a province YAML (command-line values override its keys)."""
    path = Path(path)
    raw = _read_yaml(path, "province YAML", "pass --config with the path of your province YAML "
                                             "(see `python -m coverage batch --help`)")
    file, base = str(path), path.resolve().parent
    top = _Section(raw, "", file, base, PROVINCE_KEYS)
    o = top.section("output", ("folder", "lang", "basemap"))
    folder = Path(out) if out else Path(o.text("folder", DEFAULT_OUT))
    prov = Province(file=file, name=top.text("name", "province"),
                    out=folder if (out or folder.is_absolute()) else base / folder,
                    lang=o.choice("lang", "zh", LANGS), basemap=o.text("basemap", "OpenStreetMap"))
    from .report.webmap import resolve_basemap
    try:
        resolve_basemap(prov.basemap)
    except InputError as exc:
        raise InputError(exc.problem, file=file, field="output.basemap", fix=exc.fix) from None
    if top.has("map_category"):
        prov.map_category = _category(top, "map_category", top.text("map_category"))
    d = top.section("dask", ("scheduler", "workers", "memory_limit"))
    prov.scheduler = scheduler or d.text("scheduler")
    if workers is not None and workers < 1:
        raise InputError(f"--workers must be 1 or more, got {workers}", file=file, field="--workers",
                         fix="give the number of worker processes, e.g. --workers 2")
    prov.workers = workers or d.number("workers", None, integer=True, positive=True, hi=4096)
    prov.memory_limit = str(memory_limit or d.text("memory_limit", "auto"))
    if prov.memory_limit != "auto":
        from dask.utils import parse_bytes
        try:
            parse_bytes(prov.memory_limit)
        except (ValueError, TypeError):
            raise InputError(f"memory limit {prov.memory_limit!r} is not a size", file=file,
                             field="dask.memory_limit / --memory-limit",
                             fix="write a size such as 4GB or 3500MB, or auto") from None

    if top.has("counties") == (top.has("template") or top.has("table")):
        raise InputError("give either 'counties' (one study YAML per county) or 'template' with 'table'",
                         file=file, field="counties / template", fix="keep one of the two forms (see "
                         "the README, Province batch on Dask)")
    specs = _county_list(top, prov) if top.has("counties") else _template_counties(top, prov)
    if not specs:
        raise InputError("no county to run", file=file, field="counties / table", fix="list at least one county")
    seen = {}
    for i, s in enumerate(specs):
        if not _CODE_OK.match(s.code):
            raise InputError(f"county code {s.code!r} cannot be a folder name", file=file, field=f"county {i + 1}: code",
                             fix="use letters, digits, '-', '_' or '.', e.g. the 6-digit division code 530102")
        if s.code in seen:
            raise InputError(f"county code {s.code!r} is given twice (counties {seen[s.code] + 1} and {i + 1})",
                             file=file, field="code", fix="give every county its own code (its output folder)")
        seen[s.code] = i
    prov.counties = specs
    return prov


def _county_list(top: _Section, prov: Province) -> list[CountySpec]:
    items = top.get("counties")
    if not isinstance(items, list):
        raise top.err("counties", "'counties' must be a list", "write one '- path/to/county.yaml' line per county")
    specs = []
    for i, item in enumerate(items):
        where = f"counties[{i + 1}]"
        if isinstance(item, (str, Path)):
            item = {"config": str(item)}
        sec = _Section(item, where, top.file, top.base, ("config", "code", "name"))
        p = sec.file_path("config", required=True, must_exist=False, what="county study YAML")
        code = sec.text("code") or p.stem
        name = sec.text("name") or _peek_name(p) or code
        specs.append(CountySpec(code=code, name=name, out_dir=str(prov.out / code), config_file=str(p)))
    return specs


def _peek_name(path: Path) -> str | None:
    """study_area.name of a county YAML, if it can be read (its errors are the county's, later)."""
    try:
        raw = yaml.load(path.read_text(encoding="utf-8-sig"), Loader=_SafeLoader)
        name = raw["study_area"]["name"]
        return str(name).strip() if name is not None else None
    except Exception:
        return None


def _template_counties(top: _Section, prov: Province) -> list[CountySpec]:
    tpl = top.file_path("template", required=True, what="template study YAML")
    if not top.has("table"):
        raise top.err("table", "missing key 'table'", "add 'table: counties.csv' (one row per county)")
    t = top.get("table")
    tsec = _Section({"path": t} if isinstance(t, str) else t, "table", top.file, top.base,
                    ("path", "sheet", "encoding", "code", "name"))
    table = _read_table(tsec)
    code_col, name_col = tsec.text("code", "code"), tsec.text("name", "name")
    for key, col in (("code", code_col), ("name", name_col)):
        if col not in table.columns:
            raise tsec.err(key, f"the county table has no column {col!r} (columns: {', '.join(map(str, table.columns))})",
                           f"name the county {key} column in 'table.{key}', or add a column '{col}'")
    raw = _read_yaml(tpl, "template study YAML", "give the path of a county study YAML with {column} placeholders")
    columns = [str(c) for c in table.columns]
    specs = []
    for i, row in enumerate(table.to_dict("records")):
        code = str(row[code_col]).strip()
        if not code:
            raise tsec.err("code", f"row {i + 2} of the county table has no code", "fill in every county's code")
        values = {c: str(row[c]).strip() for c in columns}
        county_raw = _fill(raw, values, tsec.get("path"), str(tpl), "")
        if isinstance(county_raw, dict):
            sa = county_raw.setdefault("study_area", {}) or {}
            if isinstance(sa, dict) and sa.get("name") is None:
                county_raw["study_area"] = {**sa, "name": values[name_col] or code}
        specs.append(CountySpec(code=code, name=values[name_col] or code, out_dir=str(prov.out / code),
                                raw=county_raw, base=str(tpl.resolve().parent),
                                file=f"{tpl} (county {code})"))
    return specs


def _read_table(tsec: _Section):
    import pandas as pd
    p = tsec.file_path("path", required=True, what="county table (CSV or Excel)")
    try:
        if p.suffix.lower() in (".xlsx", ".xlsm", ".xls"):
            sheet = tsec.get("sheet", 0)
            df = pd.read_excel(p, sheet_name=sheet, dtype=str, keep_default_na=False)
        else:
            enc = tsec.text("encoding")
            for e in ([enc] if enc else ["utf-8-sig", "gb18030"]):
                try:
                    df = pd.read_csv(p, dtype=str, keep_default_na=False, encoding=e)
                    break
                except UnicodeDecodeError:
                    if enc or e == "gb18030":
                        raise
    except (ValueError, UnicodeDecodeError, OSError, pd.errors.ParserError) as exc:
        raise tsec.err("path", f"the county table cannot be read ({exc})",
                       "save it as CSV (UTF-8 or GBK) or .xlsx with one header row; name the sheet in table.sheet") from None
    df.columns = [str(c).strip() for c in df.columns]
    return df


def _fill(node, values: dict, table_file, tpl_file: str, where: str):
    """The template with each ``{column}`` replaced by this county's cell. A value that is just one
    placeholder takes the cell's type (a number or true/false); an empty cell leaves the key unset."""
    if isinstance(node, dict):
        return {k: _fill(v, values, table_file, tpl_file, f"{where}.{k}" if where else str(k)) for k, v in node.items()}
    if isinstance(node, list):
        return [_fill(v, values, table_file, tpl_file, f"{where}[{i + 1}]") for i, v in enumerate(node)]
    if not isinstance(node, str):
        return node
    for name in _PLACEHOLDER.findall(node):
        if name not in values:
            raise InputError(f"placeholder {{{name}}} in '{where}' is not a column of the county table {table_file}",
                             file=tpl_file, field=where,
                             fix=f"add a column '{name}' to the table or correct the placeholder "
                                 f"(columns: {', '.join(values)})")
    whole = _PLACEHOLDER.fullmatch(node)
    if whole:
        cell = values[whole.group(1)]
        if cell == "":
            return None
        if _NUMBER.match(cell):
            return float(cell) if "." in cell else int(cell)
        if cell.lower() in ("true", "false"):
            return cell.lower() == "true"
        return cell
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], node)


# --------------------------------------------------------------------------- Dask

@contextlib.contextmanager
def _client(prov: Province, n_tasks: int):
    import dask
    from distributed import Client, LocalCluster
    if prov.scheduler:
        try:
            client = Client(prov.scheduler, timeout="10s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise InputError(f"cannot reach the Dask scheduler at {prov.scheduler} ({exc})", file=prov.file,
                             field="dask.scheduler / --scheduler",
                             fix="check the address (tcp://host:8786), that `dask scheduler` runs there and that "
                                 "this machine can reach its port") from None
        with client:
            yield client, {"scheduler": prov.scheduler, "local": False}
        return
    n = max(1, min(prov.workers or os.cpu_count() or 1, n_tasks))
    # a county that kills its worker (memory) is tried once more, not three times
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, memory_limit=prov.memory_limit,
                               dashboard_address=None, silence_logs=logging.ERROR)
    with cluster, Client(cluster) as client:
        yield client, {"scheduler": "LocalCluster", "local": True, "workers": n, "memory_limit": prov.memory_limit}


def _tool_version():
    from . import __version__
    return __version__


def _check_workers(client, prov: Province, echo) -> int:
    from . import __version__
    try:
        versions = client.run(_tool_version)
    except Exception as exc:
        raise InputError(f"the Dask workers cannot run this tool ({type(exc).__name__}: {exc})", file=prov.file,
                         field="dask.scheduler / --scheduler",
                         fix="install lifecircle-coverage (the same version) in the workers' Python environment") from None
    bad = {w: v for w, v in versions.items() if v != __version__}
    if bad:
        w, v = next(iter(bad.items()))
        raise InputError(f"worker {w} runs lifecircle-coverage {v}, this client {__version__}", file=prov.file,
                         field="dask.scheduler / --scheduler", fix="install the same version on every worker")
    if not versions:
        echo("warning: no Dask worker is connected yet; the counties wait until one joins")
    return len(versions)


def run_batch(prov: Province, *, echo=print) -> tuple[list[dict], dict]:
    """Run every county as a task; return their summaries (sorted by code) and the cluster info."""
    from distributed import as_completed
    try:
        from distributed.scheduler import KilledWorker
    except ImportError:  # pragma: no cover
        KilledWorker = ()
    t0 = time.perf_counter()
    results = []
    with _client(prov, len(prov.counties)) as (client, info):
        info["workers"] = _check_workers(client, prov, echo)
        echo(f"{len(prov.counties)} counties on {info['workers']} Dask workers ({info['scheduler']})")
        tag = uuid.uuid4().hex[:8]
        futures = {client.submit(run_county, s, key=f"county-{s.code}-{tag}", pure=False): s for s in prov.counties}
        for fut in as_completed(futures):
            s = futures[fut]
            try:
                r = fut.result()
            except KilledWorker:
                r = _failed(s, "the worker running this county died twice; most likely the county needs more "
                               f"memory than the worker limit ({prov.memory_limit}): run with fewer --workers or a "
                               "larger --memory-limit")
            except Exception as exc:
                r = _failed(s, f"the task failed on the cluster: {type(exc).__name__}: {exc}")
            finally:
                fut.release()
            results.append(r)
            state = ("skipped (unchanged)" if not r["ran"] else "ok") if r["status"] == "ok" \
                else f"FAILED: {r['error'].splitlines()[0]}"
            echo(f"[{time.perf_counter() - t0:6.1f}s] {r['code']} {r['name']}: {state} ({r['seconds']:.1f} s)")
    return sorted(results, key=lambda r: r["code"]), info


def _failed(spec: CountySpec, message: str) -> dict:
    return {"code": spec.code, "name": spec.name, "status": "failed", "error": message, "ran": True, "seconds": 0.0,
            "peak_rss_mb": None, "worker": "", "categories": [], "summary": [], "indicators": [], "outline": None}
