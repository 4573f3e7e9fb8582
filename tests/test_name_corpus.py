"""Accuracy of the packaged keyword table on a corpus of real-style facility names.

tests/data/facility_names.csv holds names as a planner finds them in Amap/Baidu POI exports
and county facility registers, with the expected plan category (empty = must NOT count),
and where the name says so the expected level and sub-type. The names were written as found,
not generated from the keyword table, so a table change that breaks common names fails here.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from coverage import CATEGORIES
from coverage.io.categories import LEVELS, classify_names, load_keyword_table

CORPUS = Path(__file__).resolve().parent / "data" / "facility_names.csv"
MIN_ACCURACY = 0.97


@pytest.fixture(scope="module")
def corpus() -> pd.DataFrame:
    return pd.read_csv(CORPUS, dtype=str, keep_default_na=False, encoding="utf-8")


@pytest.fixture(scope="module")
def result(corpus) -> pd.DataFrame:
    return classify_names(corpus["name"], table=load_keyword_table())


def _misses(corpus, got, col) -> str:
    bad = corpus[corpus[col] != got]
    lines = [f"  {n!r}: expected {e or '(not counted)'!r}, got {g or '(not counted)'!r}"
             for n, e, g in zip(bad["name"], bad[col], got[bad.index])]
    return "\n".join(lines)


def test_corpus_is_well_formed(corpus):
    assert list(corpus.columns) == ["name", "expected_category", "expected_level",
                                    "expected_subtype", "note"]
    assert len(corpus) >= 300
    assert (corpus["expected_category"] == "").sum() >= 80
    assert not corpus["name"].duplicated().any()
    assert (corpus["name"].str.strip() != "").all()
    assert set(corpus["expected_category"]) - {""} <= set(CATEGORIES)
    assert set(corpus["expected_level"]) - {""} <= set(LEVELS)
    # every category is represented, with enough names
    counts = corpus["expected_category"].value_counts()
    assert all(counts.get(c, 0) >= 15 for c in CATEGORIES)
    # sub-types are ids of the category's sub-types in the table
    table = load_keyword_table()
    for cat, sub in zip(corpus["expected_category"], corpus["expected_subtype"]):
        if sub:
            assert table.subtype_label(cat, sub) is not None, (cat, sub)


def test_corpus_category_accuracy(corpus, result):
    got = result["category"].fillna("").astype(str)
    ok = got == corpus["expected_category"]
    acc = ok.mean()
    print(f"category accuracy on {len(corpus)} names: {acc:.4f}")
    assert acc >= MIN_ACCURACY, (f"accuracy {acc:.3f} < {MIN_ACCURACY}; misses:\n"
                                 + _misses(corpus, got, "expected_category"))


def test_corpus_names_that_must_not_count_are_unmatched(corpus, result):
    neg = corpus["expected_category"] == ""
    counted = neg & result["category"].notna()
    share = 1 - counted.sum() / neg.sum()
    assert share >= MIN_ACCURACY, "counted although they must not:\n" + "\n".join(
        f"  {n!r} -> {c} ({k})" for n, c, k in zip(corpus.loc[counted, "name"],
                                                 result.loc[counted, "category"],
                                                 result.loc[counted, "matched_keyword"]))


@pytest.mark.parametrize("col, exp", [("level", "expected_level"),
                                      ("subtype", "expected_subtype")])
def test_corpus_level_and_subtype_accuracy(corpus, result, col, exp):
    given = corpus[exp] != ""
    got = result[col].fillna("").astype(str)
    ok = (got == corpus[exp])[given]
    assert given.sum() >= 100
    assert ok.mean() >= 0.95, f"{col} accuracy {ok.mean():.3f}; misses:\n" + _misses(
        corpus[given], got, exp)
