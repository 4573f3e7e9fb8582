"""The bad-input corpus table (issue 11): every case of tests/test_bad_inputs_corpus.py run once,
printed as a Markdown table (case, class, exit code, first line of the message) and summarised
by class.

    .venv/bin/python scripts/bad_input_table.py [--summary-only] [-k WORD]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import traceback
import warnings
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--summary-only", action="store_true")
    ap.add_argument("-k", default="", help="only cases whose name contains this")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    import test_bad_inputs_corpus as corpus
    rows, t0 = [], time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bad_input_table_") as tmp:
        for name in sorted(corpus.CASES):
            if args.k not in name:
                continue
            cls = corpus.CASES[name][0]
            try:
                _, outcome = corpus.run_case(name, Path(tmp) / name)
                line = outcome.first_line.replace(str(Path(tmp) / name) + "/", "").replace(str(ROOT) + "/", "")
                rows.append((name, cls, outcome.code, line, "ok"))
            except AssertionError as exc:
                rows.append((name, cls, "?", (str(exc).splitlines() or ["assertion failed"])[0][:200], "FAIL"))
                traceback.print_exc(file=sys.stderr)
            except Exception as exc:  # noqa: BLE001 - reported in the table
                rows.append((name, cls, "?", f"{type(exc).__name__}: {exc}"[:200], "ERROR"))
                traceback.print_exc(file=sys.stderr)
    if not args.summary_only:
        print("| case | class | exit | first line of the message | check |")
        print("|---|---|---:|---|---|")
        for name, cls, code, line, ok in sorted(rows, key=lambda r: (r[1], r[0])):
            line = line.replace("|", "\\|")
            print(f"| {name} | {cls} | {code} | {line[:160]} | {ok} |")
        print()
    by = defaultdict(lambda: defaultdict(int))
    for _, cls, code, _, ok in rows:
        by[cls][f"exit {code}"] += 1
        by[cls][ok] += 1
    print("| class | cases | exit 2 | exit 0 (warned / ran) | exit 1 | checks passed |")
    print("|---|---:|---:|---:|---:|---:|")
    for cls in sorted(by):
        d = by[cls]
        n = sum(v for k, v in d.items() if k.startswith("exit"))
        print(f"| {cls} | {n} | {d['exit 2']} | {d['exit 0']} | {d['exit 1']} | {d['ok']} |")
    total = len(rows)
    print(f"\n{total} cases, {sum(r[4] == 'ok' for r in rows)} passed, {time.perf_counter() - t0:.0f} s")
    return 0 if all(r[4] == "ok" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
