"""The two install paths agree: environment.yml (conda-forge) and requirements.txt (pip) name the
same packages with the same lower bounds, neither brings in coverage.py or pytest-cov (they would
shadow or clash with this project's import package `coverage`), and CI runs the Makefile's
`test` target, which runs pytest."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]

# conda-forge name -> pip name, where the two differ (pyosmium is `osmium` on PyPI).
CONDA_TO_PIP = {"matplotlib-base": "matplotlib", "pytables": "tables", "pyosmium": "osmium"}
# Conda packages that are the interpreter / tooling, not Python dependencies.
CONDA_ONLY = {"python", "pip"}
FORBIDDEN = {"coverage", "pytest-cov"}


def normalise(name: str) -> str:
    """PEP 503 name: lower case, runs of -_. become one '-'."""
    return re.sub(r"[-_.]+", "-", name.strip()).lower()


_REQ = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(.*)$")


def parse_requirement(line: str):
    """(name, specifier) of one requirement line, or None for blank/comment/option lines.
    Environment markers and inline comments are dropped; the specifier has no spaces."""
    line = line.split(" #", 1)[0].split(";", 1)[0].strip()
    if not line or line.startswith(("#", "-")):
        return None
    m = _REQ.match(line)
    if not m:
        raise ValueError(f"cannot parse requirement line {line!r}")
    return normalise(m.group(1)), re.sub(r"\s+", "", m.group(2))


def parse_conda_spec(spec: str):
    """(pip-style name, specifier) of one conda match spec such as 'geopandas>=1.0' or
    'conda-forge::numpy >=1.26'; conda's single '=' (python=3.11) is kept as written."""
    spec = spec.split("::")[-1].strip()
    m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(.*)$", spec)
    if not m:
        raise ValueError(f"cannot parse conda spec {spec!r}")
    name = normalise(m.group(1))
    return CONDA_TO_PIP.get(name, name), re.sub(r"\s+", "", m.group(2))


def requirements(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        r = parse_requirement(line)
        if r:
            assert r[0] not in out, f"{path.name} lists {r[0]} twice"
            out[r[0]] = r[1]
    return out


def conda_environment(path: Path) -> tuple[dict, dict[str, str], list]:
    env = yaml.safe_load(path.read_text(encoding="utf-8"))
    deps, pip_section = {}, []
    for d in env.get("dependencies") or []:
        if isinstance(d, dict):
            pip_section.extend(d.get("pip") or [])
            continue
        name, spec = parse_conda_spec(str(d))
        assert name not in deps, f"{path.name} lists {name} twice"
        deps[name] = spec
    return env, deps, pip_section


# --------------------------------------------------------------------------- the parsers
@pytest.mark.parametrize("line, expected", [
    ("geopandas>=1.0", ("geopandas", ">=1.0")),
    ("PyYAML >= 6.0  # yaml", ("pyyaml", ">=6.0")),
    ("osmnx[extra]>=2.0; python_version>='3.10'", ("osmnx", ">=2.0")),
    ("Foo_Bar.baz", ("foo-bar-baz", "")),
    ("# comment", None),
    ("   ", None),
    ("-r requirements-test.txt", None),
])
def test_requirement_line_parser(line, expected):
    assert parse_requirement(line) == expected


@pytest.mark.parametrize("spec, expected", [
    ("python=3.11", ("python", "=3.11")),
    ("conda-forge::numpy >=1.26", ("numpy", ">=1.26")),
    ("matplotlib-base>=3.8", ("matplotlib", ">=3.8")),
    ("PyYAML", ("pyyaml", "")),
])
def test_conda_spec_parser(spec, expected):
    assert parse_conda_spec(spec) == expected


def test_parsers_see_a_mismatch(tmp_path):
    """The comparison below can fail: a package missing on one side is seen."""
    (tmp_path / "r.txt").write_text("numpy>=1.26\nscipy>=1.11\n", encoding="utf-8")
    (tmp_path / "e.yml").write_text("dependencies:\n  - python=3.11\n  - numpy>=1.26\n", encoding="utf-8")
    _, conda, _ = conda_environment(tmp_path / "e.yml")
    conda.pop("python")
    assert set(requirements(tmp_path / "r.txt")) - set(conda) == {"scipy"}


# --------------------------------------------------------------------------- the real files
def test_environment_yml_matches_requirements_txt():
    pip = requirements(ROOT / "requirements.txt")
    env, conda, pip_section = conda_environment(ROOT / "environment.yml")
    assert env.get("channels") == ["conda-forge"]
    assert conda.get("python") == "=3.11"
    assert pip_section == [], "environment.yml needs no pip section: every package is on conda-forge"
    conda = {k: v for k, v in conda.items() if k not in CONDA_ONLY}
    only_pip = sorted(set(pip) - set(conda))
    only_conda = sorted(set(conda) - set(pip))
    assert not only_pip and not only_conda, \
        f"only in requirements.txt: {only_pip}; only in environment.yml: {only_conda}"
    differ = {k: (pip[k], conda[k]) for k in pip if pip[k] != conda[k]}
    assert not differ, f"version bounds differ (requirements.txt, environment.yml): {differ}"


@pytest.mark.parametrize("path", ["requirements.txt", "requirements-test.txt", "environment.yml"])
def test_no_coverage_py_or_pytest_cov(path):
    p = ROOT / path
    names = set(conda_environment(p)[1]) if p.suffix == ".yml" else set(requirements(p))
    assert names, f"nothing parsed from {path}"
    assert not names & FORBIDDEN, f"{path} lists {sorted(names & FORBIDDEN)}"


# --------------------------------------------------------------------------- CI = make test
def make_targets(text: str) -> dict[str, tuple[list[str], list[str]]]:
    """target -> (prerequisites, recipe lines) of a simple Makefile (no includes/patterns)."""
    targets, current = {}, None
    for raw in text.splitlines():
        if raw.startswith("\t"):
            if current is not None:
                targets[current][1].append(raw.strip())
            continue
        line = raw.split("#", 1)[0].rstrip()
        m = re.match(r"^([^\s:=][^:=]*?)\s*:(?!=)\s*(.*)$", line)
        if m:
            current = m.group(1).strip()
            targets[current] = (m.group(2).split(), [])
        elif line.strip():
            current = None
    return targets


def make_calls(script: str) -> list[list[str]]:
    """The argument lists of the `make` commands a shell script runs (comments skipped)."""
    calls = []
    for raw in script.splitlines():
        line = raw.split("#", 1)[0].strip()
        for part in re.split(r"&&|\|\||;", line):
            words = shlex.split(part)
            if words and words[0] in ("make", "gmake"):
                calls.append(words[1:])
    return calls


def test_make_parsers_on_a_small_example():
    mk = "X := 1\n.PHONY: a\n\na: b  # c\n\techo hi\n\tpytest\nb:\n\ttrue\n"
    assert make_targets(mk)["a"] == (["b"], ["echo hi", "pytest"])
    assert make_calls("# make nope\ncd x && make -j2 test\nmake demo # x\n") == [["-j2", "test"], ["demo"]]


def test_ci_runs_the_makefile_test_target():
    calls = make_calls((ROOT / ".ci" / "run").read_text(encoding="utf-8"))
    goals = [[w for w in c if not w.startswith("-")] for c in calls]
    assert goals == [["test"]], f".ci/run should run exactly `make test`, runs make with {calls}"
    targets = make_targets((ROOT / "Makefile").read_text(encoding="utf-8"))
    assert "test" in targets, "the Makefile has no test target"
    assert "test" in targets.get(".PHONY", ([], []))[0]
    prereq, recipe = targets["test"]
    assert any(re.search(r"(^|\s|/)(python\s+-m\s+)?pytest(\s|$)", r) for r in recipe), \
        f"`make test` does not run pytest: {recipe}"
    # and `make test` installs requirements.txt first (through its prerequisites)
    seen, todo, installs = set(), list(prereq), []
    while todo:
        t = todo.pop()
        if t in seen or t not in targets:
            continue
        seen.add(t)
        todo.extend(targets[t][0])
        installs.extend(targets[t][1])
    assert any("requirements.txt" in r for r in installs), "`make test` does not install requirements.txt"
