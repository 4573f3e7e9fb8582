"""Command line: ``python -m coverage run --config STUDY.yaml [--out DIR] [--map FILE] [--timings]``.

A planner never sees a traceback: bad input ends with the message naming the file, the key and
the fix (exit code 2); an unexpected error ends with one line and the traceback goes to
``OUT/run.log`` (exit code 1)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import traceback
import warnings
from pathlib import Path

from .errors import InputError

LOG_NAME = "run.log"


#: the batch command's line in ``--help``; its options are read from coverage.batch only when it runs
BATCH_HELP = "run many counties (a province) as tasks on Dask distributed"


def _parser(argv=None):
    p = argparse.ArgumentParser(prog="python -m coverage",
                                description="15-minute life-circle coverage of community facilities")
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run a study area")
    r.add_argument("--config", required=True, help="the study YAML")
    r.add_argument("--out", help="output folder (overrides output.folder)")
    r.add_argument("--map", help="where to write the interactive map (default OUT/map.html)")
    r.add_argument("--quiet", action="store_true", help="no progress lines")
    r.add_argument("--timings", action="store_true", help="print each step's time and peak memory at the end "
                                                          "(they are always written to OUT/run.json)")
    sub.add_parser("profiles", help="list the packaged standards profiles")
    if "batch" in (sys.argv[1:] if argv is None else argv):
        from .batch import add_parser          # with the province YAML reader (yaml, config)
        add_parser(sub)
    else:
        sub.add_parser("batch", help=BATCH_HELP)
    return p


def _prepare_out(folder: Path, config_file: str) -> Path:
    """Check, before any work, that the output folder can be created and written."""
    if folder.exists() and not folder.is_dir():
        raise InputError(f"the output folder is a file: {folder}", file=config_file, field="output.folder / --out",
                         fix="give a folder name (it is created if missing)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".write_test"
        probe.write_text("ok", encoding="utf-8")
        probe.unlink()
    except OSError as exc:
        raise InputError(f"cannot create or write the output folder {folder} ({exc.strerror or exc})",
                         file=config_file, field="output.folder / --out",
                         fix="choose a folder you can write to, e.g. --out out/my_county") from None
    return folder


def _check_map_path(path, config_file: str) -> None:
    """Check, before any work, that the map file can be written where asked (--map / output.map)."""
    if path is None:
        return
    path = Path(path)
    if path.is_dir():
        raise InputError(f"the map path is a folder: {path}", file=config_file, field="output.map / --map",
                         fix="give a file name ending in .html, e.g. --map maps/my_county.html")
    if path.suffix.lower() not in (".html", ".htm"):
        raise InputError(f"the map path {path} does not end in .html", file=config_file, field="output.map / --map",
                         fix="give a file name ending in .html, e.g. --map maps/my_county.html")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        probe = path.parent / ".write_test"
        probe.write_text("ok", encoding="utf-8")
        probe.unlink()
    except OSError as exc:
        raise InputError(f"cannot write the map into {path.parent} ({exc.strerror or exc})", file=config_file,
                         field="output.map / --map", fix="choose a folder you can write to for the map") from None


def _route_python_warnings(log):
    """Python warnings during a run: the toolkit's own are printed as 'warning: ...' lines, those of
    the libraries it uses (GDAL, pandas, ...) go to run.log only, never as source-code lines on the
    console."""
    def show(message, category, filename, lineno, file=None, line=None):
        text = str(message)
        log.info("python warning %s (%s:%s): %s", category.__name__, filename, lineno, text)
        where = str(filename).replace("\\", "/")
        if "/coverage/" in where and "site-packages" not in where and issubclass(category, UserWarning):
            print(f"warning: {text}", file=sys.stderr)
    warnings.showwarning = show


def main(argv=None) -> int:
    args = _parser(argv).parse_args(argv)
    if args.cmd == "profiles":
        from .io.profiles import list_profiles
        print("\n".join(list_profiles()))
        return 0
    if args.cmd == "batch":
        from .batch import main as batch_main
        return batch_main(args)
    out_dir = Path(args.out) if args.out else None
    log = logging.getLogger("coverage.run")
    _stop_log(log)                  # no handler left from an earlier run in this process
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            _route_python_warnings(log)
            from .config import load_config
            cfg = load_config(args.config)
            cfg = cfg.with_output(folder=out_dir, map_path=args.map)
            out_dir = _prepare_out(Path(cfg.output.folder), cfg.file)
            _check_map_path(cfg.output.map, cfg.file)
            _start_log(out_dir / LOG_NAME)
            log.info("config %s, output %s", cfg.file, out_dir)
            return _run(cfg, args, out_dir, t0)
    except InputError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        log.info("input error: %s", exc.message)
        return 2
    except KeyboardInterrupt:
        print("stopped (Ctrl+C)", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: one clear line for the planner, the traceback in the log
        where = _log_exception(out_dir)
        text = " ".join(str(exc).split())[:300]
        print(f"internal error: {type(exc).__name__}: {text}. This is a bug in the tool, not in your data: "
              f"please report it with the log at {where}", file=sys.stderr)
        return 1


def _run(cfg, args, out_dir: Path, t0: float) -> int:
    from .report.outputs import summary_text
    from .study import Study
    echo = None if args.quiet else (lambda m: print(m, file=sys.stderr, flush=True))
    study = Study(config=cfg, echo=echo)
    res = study.run()
    files = res.write(out_dir, cfg.output.map)
    for w in res.warnings:
        print(f"warning: {w}", file=sys.stderr)
        logging.getLogger("coverage.run").info("warning: %s", w)
    print(summary_text(res))
    md = res.indicators_md
    if md:
        print("\nPlan indicators (area) / 规划指标（研究范围）:\n" + md)
    ss = res.siting_summary
    if ss is not None and len(ss):
        print("\nSuggested sites / 建议选址:")
        print(ss.to_string(index=False))
    print("\nFiles:")
    for k, f in files.items():
        print(f"  {k:<22} {f}")
    total = time.perf_counter() - t0
    _write_run_json(out_dir / "run.json", study, total)
    if args.timings:
        print("\nStep timings / 各步骤耗时:")
        for name, rec in study.timings.items():
            print(f"  {name:<58} {rec['seconds']:8.2f} s  peak {rec['peak_rss_mb']:8.0f} MB")
    print(f"done in {total:.1f} s")
    return 0


def _write_run_json(path: Path, study, total: float) -> None:
    from . import __version__
    info = {"version": __version__, "config": study.config.file, "total_seconds": round(total, 3),
            "steps": study.timings}
    path.write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _stop_log(log) -> None:
    for h in list(log.handlers):
        log.removeHandler(h)
        h.close()


def _start_log(path: Path) -> None:
    log = logging.getLogger("coverage.run")
    log.setLevel(logging.INFO)
    _stop_log(log)
    h = logging.FileHandler(path, mode="w", encoding="utf-8")
    h.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(h)
    log.propagate = False


def _log_exception(out_dir) -> Path:
    """Write the traceback to OUT/run.log (or a log in the current folder when there is no OUT yet)."""
    path = (Path(out_dir) / LOG_NAME) if out_dir is not None and Path(out_dir).is_dir() else Path(LOG_NAME).resolve()
    try:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(traceback.format_exc())
    except OSError:
        import tempfile
        path = Path(tempfile.gettempdir()) / LOG_NAME
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(traceback.format_exc())
    return path
