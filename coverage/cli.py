"""Command line: python -m coverage run --config STUDY.yaml [--out DIR]."""

from __future__ import annotations

import argparse
import sys
import time

from .errors import InputError


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m coverage",
                                description="15-minute life-circle coverage of community facilities")
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run a study area")
    r.add_argument("--config", required=True, help="the study YAML")
    r.add_argument("--out", help="output folder (overrides output.folder)")
    r.add_argument("--map", help="where to write the interactive map (default OUT/map.html)")
    r.add_argument("--quiet", action="store_true", help="no progress lines")
    sub.add_parser("profiles", help="list the packaged standards profiles")
    args = p.parse_args(argv)
    if args.cmd == "profiles":
        from .standards import list_profiles
        print("\n".join(list_profiles()))
        return 0
    try:
        from .config import load_config
        from .outputs import summary_text, write_outputs
        from .pipeline import run
        t0 = time.perf_counter()
        cfg = load_config(args.config)
        if args.out:
            cfg["output"]["folder"] = args.out
        res = run(cfg, echo=None if args.quiet else (lambda m: print(m, file=sys.stderr, flush=True)))
        files = write_outputs(res, cfg["output"]["folder"], args.map or cfg["output"]["map"])
    except InputError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    for w in res.warnings:
        print(f"warning: {w}", file=sys.stderr)
    print(summary_text(res))
    if res.indicators_md:
        print("\nPlan indicators (area) / 规划指标（全域）:\n" + res.indicators_md)
    if res.siting_summary is not None and len(res.siting_summary):
        print("\nSuggested sites / 建议选址:")
        print(res.siting_summary.to_string(index=False))
    print("\nFiles:")
    for k, f in files.items():
        print(f"  {k:<22} {f}")
    print(f"done in {time.perf_counter() - t0:.1f} s")
    return 0
