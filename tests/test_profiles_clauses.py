"""Every quoted clause of every packaged profile is verbatim in its plan (../shared/seeds/), and
sits under the clause it cites.

How: the plan text and the quote are both normalised (Unicode NFKC, so full-width （，：％ and
half-width (,:% compare equal; every whitespace removed, so table cells, line breaks and the
spaces of "到 2020 年" do not matter; curly and straight quotation marks made one). A quote may
be cut with "……": each piece must occur. Then the place: the clause is parsed ("专栏1 第3项",
"三（二）2", "二（三）"; several joined by "；", paired with the quotes in order), and at one
occurrence of the quote the nearest headings above it (lines starting 专栏N, 三、, （二）, 2.)
must be the cited ones; a quote inside a box (专栏) must cite the box.

The seed plans are not shipped with the package: without ../shared/seeds the tests skip.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

from coverage.analysis.standards import QUOTE_CUT
from coverage.io.profiles import list_profiles, load_profile

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"
needs_seeds = pytest.mark.skipif(not SEEDS.is_dir(), reason=f"plan texts not available ({SEEDS} is absent: "
                                 "they live beside the repository, not in users' clones)")

_NUM = "一二三四五六七八九十"
_QUOTES = {ord(c): '"' for c in "“”„‟「」『』"} | {ord(c): "'" for c in "‘’"}


def norm(s: str) -> str:
    s = unicodedata.normalize("NFKC", s)
    return re.sub(r"\s+", "", s).translate(_QUOTES)


class Plan:
    """A plan's normalised text and the positions of its headings (at line starts)."""

    def __init__(self, raw: str):
        parts, starts, pos = [], [], 0
        for line in raw.splitlines():
            t = norm(line).lstrip("#")
            if t:
                starts.append(pos)
                parts.append(t)
                pos += len(t)
        self.text = "".join(parts)
        self.marks = {"box": [], "chapter": [], "section": [], "item": []}
        for p, t in zip(starts, parts):
            for kind, rx in (("box", r"专栏(\d+)"), ("chapter", rf"([{_NUM}]+)、"),
                             ("section", rf"\(([{_NUM}]+)\)"), ("item", r"(\d{1,2})(?:\.(?!\d)|、|(?=[^\d.%])|$)")):
                m = re.match(rx, t)
                if m:
                    self.marks[kind].append((p, m.group(1)))

    def last(self, kind, pos):
        """(position, label) of the last heading of this kind at or before pos."""
        best = (-1, None)
        for p, lab in self.marks[kind]:
            if p <= pos:
                best = (p, lab)
        return best

    def fits(self, clause: dict, pos: int) -> bool:
        box, sec, chap = self.last("box", pos), self.last("section", pos), self.last("chapter", pos)
        item = self.last("item", pos)
        heading = max(sec[0], chap[0])
        if "box" in clause:
            if box[1] != clause["box"] or box[0] < heading:
                return False
            start = box[0]
        else:
            if box[0] > heading:                       # inside a box the clause does not name
                return False
            if clause.get("chapter") and chap[1] != clause["chapter"]:
                return False
            if sec[1] != clause["section"] or sec[0] < chap[0]:
                return False
            start = sec[0]
        if clause.get("item"):
            return item[1] == clause["item"] and item[0] >= start
        return True

    def occurrences(self, piece: str):
        return [m.start() for m in re.finditer(re.escape(norm(piece)), self.text)]


def parse_clause(part: str) -> dict:
    s = norm(part)
    m = re.fullmatch(r"专栏(\d+)(?:第(\d+)项)?", s)
    if m:
        return {"box": m.group(1), "item": m.group(2)}
    m = re.fullmatch(rf"([{_NUM}]+)?\(([{_NUM}]+)\)(\d+)?", s)
    if m:
        return {"chapter": m.group(1), "section": m.group(2), "item": m.group(3)}
    raise ValueError(f"clause {part!r} is not of the form 专栏1 第3项 or 三（二）2")


def check(plan: Plan, clause: str, quotes) -> list[str]:
    """Problems of one indicator's clause and quotes (empty = fine)."""
    problems = []
    parts = [parse_clause(p) for p in clause.split("；")]
    for i, q in enumerate(quotes):
        pieces = [p for p in q.split(QUOTE_CUT) if p.strip()]
        missing = [p for p in pieces if not plan.occurrences(p)]
        if missing:
            problems.append(f"not in the plan text: {missing[0]!r}")
            continue
        cands = [parts[i]] if len(parts) == len(quotes) else parts
        if not any(plan.fits(c, pos) for c in cands for pos in plan.occurrences(pieces[0])):
            problems.append(f"{q[:30]!r} is not under {clause}")
    return problems


@pytest.fixture(scope="module")
def plans():
    return {f.name: Plan(f.read_text(encoding="utf-8")) for f in SEEDS.glob("*.txt")}


@needs_seeds
@pytest.mark.parametrize("pid", list_profiles())
def test_every_quote_is_verbatim_under_its_clause(pid, plans):
    prof = load_profile(pid)
    plan = plans[prof.source["seed_file"]]
    bad = {}
    for ind in prof.indicators:
        assert ind.quote, f"{ind.id}: quote the plan"
        problems = check(plan, ind.clause, ind.quote)
        if problems:
            bad[ind.id] = problems
    assert not bad, bad


@needs_seeds
def test_the_check_catches_wrong_clauses_and_words(plans):
    leshan = plans["001_df05663aa8b72ad5.txt"]
    home = "使“儿童之家”覆盖 90% 以上的城乡社区。"
    assert check(leshan, "专栏1 第3项", [home]) == []
    assert check(leshan, "三（二）3", [home])             # the old reference: it sits in 专栏1
    assert check(leshan, "专栏1 第4项", [home])
    assert check(leshan, "专栏1 第3项", ["使“儿童之家”覆盖 95% 以上的城乡社区。"])
    gd = plans["004_4295a8f28c0a05f0.txt"]
    assert check(gd, "三（五）1", ["社区公共服务用房配建标准不低于每百户30平方米"]) == []
    assert check(gd, "三（二）2", ["“儿童之家”覆盖90%以上的城乡社区"]) == []
    assert check(gd, "三（二）1", ["“儿童之家”覆盖90%以上的城乡社区"])
    # punctuation width and spaces do not matter; words do
    yn = plans["000_d95181b8bf85b736.txt"]
    assert check(yn, "四（四）", ["每个街道(乡镇)至少建有一个社区服务中心"]) == []
    assert check(yn, "四（四）", ["每个街道（乡镇）至少建一个社区服务中心"])
    with pytest.raises(ValueError):
        parse_clause("三 1.")


def test_tool_readings_are_notes_not_quotes():
    """The plan's own figure is in the quote, or a Chinese note says how the tool reads it."""
    for pid in list_profiles():
        prof = load_profile(pid)
        for ind in prof.indicators:
            quoted = "".join(norm(q) for q in ind.quote)
            assert "本工具" not in quoted and "按100%" not in quoted, ind.id
            fig = f"{ind.target:g}"
            assert fig in quoted or (ind.note_zh and "本工具" in ind.note_zh), (pid, ind.id)
            if ind.note_zh:
                assert re.search(r"[\u4e00-\u9fff]", ind.note_zh), (pid, ind.id)
