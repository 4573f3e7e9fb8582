"""The manifest of an output folder: what this run wrote, and no stale files of an earlier run.

A second run into the same folder would otherwise leave files of the first beside the new ones
(suggested sites of a run that had siting on, maps and figures of categories no longer analysed),
and a planner cannot tell which belong to which run. :func:`record_run` removes every output file
of an earlier run that this run did not write: those listed in the earlier ``manifest.json``, and
files named like this toolkit's outputs (for folders written before manifests existed). Other
files in the folder are never touched. It then writes ``manifest.json`` listing this run's files
and what was removed, and adds a warning naming the removed files."""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path

MANIFEST_FILE = "manifest.json"
#: names of the files a run writes (relative to the output folder); only these, or files listed in
#: an earlier manifest, are ever removed
OUTPUT_PATTERNS = ("coverage_by_community.csv", "coverage_summary.csv", "excluded.csv", "indicators.csv",
                   "indicators.md", "gaps.csv", "suggested_sites.csv", "siting_summary.csv", "layers.gpkg",
                   "map.html", "map_*.html", "tables.xlsx", "tables.md", "columns.md", "tables/*.csv", "fig_*.png",
                   "report.html")
#: written by the command line around every run (never stale)
_KEEP = {MANIFEST_FILE, "run.log", "run.json"}


def _relative(path, root: Path):
    try:
        return Path(path).resolve().relative_to(root).as_posix()
    except (ValueError, OSError, TypeError):
        return None


def _previous(root: Path) -> list[str]:
    try:
        data = json.loads((root / MANIFEST_FILE).read_text(encoding="utf-8"))
        return [str(p) for p in data.get("written", [])]
    except (OSError, ValueError, AttributeError):
        return []


def _looks_like_output(rel: str) -> bool:
    return any(fnmatch.fnmatchcase(rel, pat) for pat in OUTPUT_PATTERNS)


def stale_files(out_dir, written) -> list[str]:
    """Files (relative to ``out_dir``) of an earlier run that this run (``written``) did not write."""
    root = Path(out_dir).resolve()
    written = set(written)
    found = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()} if root.is_dir() else set()
    earlier = {p for p in _previous(root) if p in found}
    earlier |= {p for p in found if _looks_like_output(p)}
    return sorted(earlier - written - _KEEP)


def record_run(res, out_dir, files: dict) -> Path:
    """Remove stale outputs of an earlier run, write ``manifest.json`` and return its path."""
    root = Path(out_dir).resolve()
    written = sorted({r for r in (_relative(v, root) for v in files.values() if isinstance(v, (str, Path)))
                      if r is not None})
    removed = []
    for rel in stale_files(root, written):
        try:
            (root / rel).unlink()
            removed.append(rel)
        except OSError:
            pass
    tables = root / "tables"
    if tables.is_dir() and not any(tables.iterdir()):
        tables.rmdir()
    path = root / MANIFEST_FILE
    info = {"config": getattr(getattr(res, "config", None), "file", None), "written": written,
            "removed_from_an_earlier_run": removed}
    path.write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if removed:
        shown = ", ".join(removed[:12]) + (f" and {len(removed) - 12} more" if len(removed) > 12 else "")
        try:
            res.warnings.append(f"the output folder {root} held {len(removed)} files of an earlier run that this run "
                                f"did not write; they were removed so that the folder holds one run only: {shown} "
                                f"(this run's files are listed in {MANIFEST_FILE})")
        except (AttributeError, TypeError):
            pass
    return path
