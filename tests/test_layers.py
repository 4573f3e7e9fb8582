"""The package's layers import one way (issue 10): ``report -> analysis -> core``, ``io`` feeds
``core``. Checked on the source of every module, function-level imports included (a lazy import
is still a dependency), so a shortcut from the core into the report or from the analysis into a
file reader fails here rather than in review."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "coverage"
#: what the layers join (the package's top-level modules: study, results, cli, batch ...)
TOP = {p.stem for p in PKG.glob("*.py")} - {"__init__", "__main__", "errors", "labels", "config",
                                            "config_fields", "config_parse", "steps"}
FORBIDDEN = {
    "core": {"io", "analysis", "report"} | TOP,
    "analysis": {"io", "report"} | TOP,
    "io": {"report"} | TOP,
    "report": {"io"} | TOP - {"results"},
}
#: the documented exceptions: (module, imported package.module) -> why
ALLOWED = {
    ("analysis/standards_kinds.py", "io.categories"):
        "profile validation checks sub-type names against the PACKAGED keyword table (a resource of "
        "the package, never a user's file); io/profiles.py is the only caller that reads files",
}


def _imports(path: Path):
    rel = path.relative_to(PKG).parts
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            mod = (node.module or "").split(".") if node.module else []
            if node.level:
                base = list(rel[:-1])[: max(len(rel) - 1 - (node.level - 1), 0)]
                target = base + mod
            elif mod and mod[0] == "coverage":
                target = mod[1:]
            else:
                continue
            if not target:                                   # from . import x
                target = [a.name for a in node.names][:1]
            yield node.lineno, target
        elif isinstance(node, ast.Import):
            for a in node.names:
                parts = a.name.split(".")
                if parts[0] == "coverage" and len(parts) > 1:
                    yield node.lineno, parts[1:]


def _violations():
    out = []
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG)
        if len(rel.parts) < 2 or rel.parts[0] not in FORBIDDEN:
            continue
        for line, target in _imports(path):
            if target[0] in FORBIDDEN[rel.parts[0]]:
                key = (rel.as_posix(), ".".join(target[:2]))
                if key not in ALLOWED:
                    out.append(f"{rel.as_posix()}:{line} imports coverage.{'.'.join(target)}")
    return out


def test_layers_import_one_way():
    assert _violations() == []


def test_the_check_sees_a_lazy_import_upwards(tmp_path, monkeypatch):
    """The checker is not vacuous: a function-level import from core into report is caught."""
    fake = tmp_path / "coverage"
    (fake / "core").mkdir(parents=True)
    (fake / "core" / "x.py").write_text("def f():\n    from ..report.tables import write_tables\n")
    monkeypatch.setattr(__import__(__name__), "PKG", fake)
    assert _violations() == ["core/x.py:2 imports coverage.report.tables"]


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_every_layer_exists(layer):
    assert (PKG / layer / "__init__.py").is_file()
