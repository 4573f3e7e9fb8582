"""Tests for coverage.categories: keyword table, name/type/OSM classification, precedence."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
import yaml

from coverage import CATEGORIES
from coverage.categories import (apply_categories, classify_names, classify_osm_tags,
                                 default_table_path, load_keyword_table)
from coverage.errors import InputError


@pytest.fixture(scope="module")
def table():
    return load_keyword_table()


EXAMPLES = {
    "health": ["卫生服务站", "卫生服务中心", "卫生院", "诊所", "社区医院", "桃源社区卫生服务站",
               "城关镇卫生院", "王氏诊所", "Riverside Clinic"],
    "elderly_care": ["日间照料中心", "养老院", "敬老院", "幸福院", "老年活动室",
                     "长青社区老年人日间照料中心", "Sunshine Nursing Home"],
    "comprehensive": ["党群服务中心", "便民服务中心", "社区服务站", "社区服务中心", "综合服务站",
                      "城东街道党群服务中心", "Harbour Community Centre"],
    "fitness": ["全民健身中心", "体育公园", "篮球场", "运动场", "社区多功能运动场", "City Gym"],
    "childcare": ["幼儿园", "托育中心", "儿童之家", "托儿所", "第二幼儿园", "Little Stars Kindergarten"],
    "commerce": ["菜市场", "超市", "便利店", "农贸市场", "华润万家超市", "City Supermarket"],
    "culture": ["文化站", "图书馆", "文化中心", "综合文化服务中心", "县图书馆", "Central Library"],
    "education": ["实验小学", "第一中学", "学校", "社区学校", "老年大学", "Hill Primary School"],
}


@pytest.mark.parametrize("category, name",
                         [(c, n) for c, names in EXAMPLES.items() for n in names])
def test_examples_classified(table, category, name):
    res = classify_names([name], table=table)
    assert res.loc[0, "category"] == category
    assert res.loc[0, "rule"] == "name"
    # the matched keyword really occurs in the (lower-cased) name
    assert res.loc[0, "matched_keyword"].lower() in name.lower()


@pytest.mark.parametrize("name, category, keyword", [
    # 服务中心-type names that are health, not comprehensive: the longest keyword wins
    ("社区卫生服务中心", "health", "社区卫生服务中心"),
    ("南湖街道社区卫生服务中心", "health", "社区卫生服务中心"),
    # 老年大学: education (4 characters) beats elderly_care's 老年 (2)
    ("县老年大学", "education", "老年大学"),
    ("老年活动中心", "elderly_care", "老年"),
    # 综合文化服务中心 is culture although it contains 综合 and 服务中心
    ("村综合文化服务中心", "culture", "综合文化服务中心"),
    # 养老综合服务 (6) beats 综合服务 (4)
    ("居家养老综合服务中心", "elderly_care", "养老综合服务"),
    # equal lengths (医院 / 学院): priority lists health before education
    ("医学院附属医院", "health", "医院"),
    # 幼儿园 (3) beats 学校 (2)
    ("实验学校附属幼儿园", "childcare", "幼儿园"),
    # English: preschool is longer than school
    ("Maple Preschool", "childcare", "preschool"),
])
def test_precedence(table, name, category, keyword):
    res = classify_names(pd.Series([name]), table=table)
    assert (res.loc[0, "category"], res.loc[0, "matched_keyword"]) == (category, keyword)


def test_priority_order_decides_ties_only(tmp_path):
    """Reversing the priority flips a tie (医学院附属医院) but not a longest match (老年大学)."""
    data = yaml.safe_load(default_table_path().read_text(encoding="utf-8"))
    data["priority"] = list(reversed(data["priority"]))
    p = tmp_path / "reversed.yaml"
    p.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    t = load_keyword_table(p)
    res = classify_names(["医学院附属医院", "县老年大学", "社区卫生服务中心"], table=t)
    assert res["category"].tolist() == ["education", "education", "health"]


def _brute_force(name: str, table) -> tuple[str | None, str | None]:
    """Independent reference: loop over keywords, keep the longest, then priority, then order."""
    import unicodedata
    text = " ".join(unicodedata.normalize("NFKC", name).lower().split())
    best = None
    for order, row in enumerate(table.keywords.itertuples()):
        k = " ".join(unicodedata.normalize("NFKC", row.keyword).lower().split())
        if k in text:
            key = (-len(k), row.rank, order)
            if best is None or key < best[0]:
                best = (key, row.category, row.keyword)
    return (None, None) if best is None else (best[1], best[2])


def test_vectorised_matches_brute_force_on_random_names(table):
    rng = np.random.default_rng(20240601)
    kws = table.keywords["keyword"].tolist()
    filler = ["阳光", "东", "社区", "中心", "服务", "老年", "村", "Road ", "新", "站", "大", "学"]
    pieces = np.array(kws + filler, dtype=object)
    names = ["".join(rng.choice(pieces, size=rng.integers(1, 5))) for _ in range(1500)]
    res = classify_names(names, table=table)
    expected = [_brute_force(n, table) for n in names]
    got = list(zip(res["category"], res["matched_keyword"]))
    assert got == expected
    # the random names exercise conflicts: several categories present in one name
    assert res["category"].notna().sum() > 1000


def test_unmatched_rows_are_listed_not_guessed(table):
    df = pd.DataFrame({"名称": ["阳光社区卫生服务中心", "某某有限公司", None, "   ", "便利店"],
                       "x": [1, 2, 3, 4, 5]}, index=[10, 11, 12, 13, 14])
    matched, unmatched = apply_categories(df, "名称", table=table)
    assert matched.index.tolist() == [10, 14]
    assert matched["category"].tolist() == ["health", "commerce"]
    assert matched["category_rule"].tolist() == ["name", "name"]
    assert unmatched.index.tolist() == [11, 12, 13]
    assert unmatched["x"].tolist() == [2, 3, 4]
    for reason in unmatched["reason"]:
        assert reason.startswith("no keyword matched; add a keyword to ")
        assert str(default_table_path()) in reason
        assert reason.endswith("or fill the category column")
    res = classify_names(df["名称"], table=table)
    assert res.loc[11, "category"] is None and res.loc[11, "rule"] == "none"


def test_type_used_only_when_name_does_not_match(table):
    names = ["华联", "阳光诊所", "某某", "某某"]
    types = ["购物服务;超级市场;超市", "购物服务;超级市场;超市", "科教文化服务;学校;小学", "公司企业"]
    res = classify_names(names, types, table=table)
    assert res["category"].tolist() == ["commerce", "health", "education", None]
    assert res["rule"].tolist() == ["type", "name", "type", "none"]
    assert res["matched_keyword"].tolist() == ["超市", "诊所", "小学", None]


def test_normalisation_full_width_and_case(table):
    res = classify_names(["ＣＬＩＮＩＣ", "community   HEALTH\tcentre", "（老年大学）"], table=table)
    assert res["category"].tolist() == ["health", "health", "education"]


def test_category_column_aliases_and_fallback(table):
    df = pd.DataFrame({
        "name": ["甲", "乙", "丙", "丁", "阳光诊所", "某某", "戊", "己"],
        "cat": ["养老服务设施", "health", "Elderly Care", "医疗卫生设施", None, "", "乱写", " 体育 "],
    })
    matched, unmatched = apply_categories(df, "name", category_col="cat", table=table)
    assert matched.index.tolist() == [0, 1, 2, 3, 4, 7]
    assert matched["category"].tolist() == ["elderly_care", "health", "elderly_care", "health",
                                            "health", "fitness"]
    assert matched["category_rule"].tolist() == ["column"] * 4 + ["name", "column"]
    assert unmatched.index.tolist() == [5, 6]
    assert unmatched.loc[5, "reason"].startswith("no keyword matched")
    r6 = unmatched.loc[6, "reason"]
    assert "'乱写'" in r6 and "'cat'" in r6 and "elderly_care" in r6 and str(default_table_path()) in r6


def test_every_category_key_and_label_is_an_alias(table):
    from coverage import CATEGORY_LABELS_ZH
    keys = table.category_of_label(list(CATEGORIES)).tolist()
    labels = table.category_of_label([CATEGORY_LABELS_ZH[c] for c in CATEGORIES]).tolist()
    assert keys == list(CATEGORIES) and labels == list(CATEGORIES)


def test_apply_partitions_input_with_duplicate_index_and_keeps_category_column(table):
    df = pd.DataFrame({"名称": ["诊所", "某某", "超市", "乙"],
                       "category": ["", "", "", "文化设施"]}, index=[1, 1, 2, 2])
    matched, unmatched = apply_categories(df, "名称", category_col="category", table=table)
    assert len(matched) + len(unmatched) == len(df)
    assert matched["category"].tolist() == ["health", "commerce", "culture"]
    assert matched["category_input"].tolist() == ["", "", "文化设施"]
    assert unmatched["名称"].tolist() == ["某某"]


def test_missing_column_is_an_input_error(table):
    df = pd.DataFrame({"名称": ["诊所"]})
    with pytest.raises(InputError) as exc:
        apply_categories(df, "name", table=table, source="facilities.csv")
    msg = str(exc.value)
    assert "facilities.csv" in msg and "name" in msg and "名称" in msg


# --- loading and validating tables ------------------------------------------------------

def test_packaged_table_covers_every_category(table):
    assert set(table.priority) == set(CATEGORIES)
    assert table.keywords.groupby("category").size().min() >= 5


def test_users_edited_copy(tmp_path, table):
    p = tmp_path / "my_keywords.yaml"
    shutil.copy(default_table_path(), p)
    assert classify_names(["翠湖邻里中心"], table=table).loc[0, "category"] is None
    text = p.read_text(encoding="utf-8").replace(
        "keywords_zh: [党群服务中心,", "keywords_zh: [邻里中心, 党群服务中心,")
    p.write_text(text, encoding="utf-8")
    mine = load_keyword_table(p)
    assert mine.source == str(p)
    res = classify_names(["翠湖邻里中心"], table=mine)
    assert (res.loc[0, "category"], res.loc[0, "matched_keyword"]) == ("comprehensive", "邻里中心")
    _, unmatched = apply_categories(pd.DataFrame({"n": ["某某"]}), "n", table=mine)
    assert str(p) in unmatched.loc[0, "reason"]


def _write(tmp_path, text, name="bad.yaml"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize("text, key", [
    ("categories:\n  health:\n    keywords_zh: [诊所, 卫生院\n", "YAML syntax"),
    ("categories:\n  health:\n    keywords_zh: [诊所]\n  health:\n    keywords_zh: [医院]\n",
     "health"),
    ("- just\n- a list\n", "top level"),
    ("categoris:\n  health: {keywords_zh: [诊所]}\n", "categoris"),
    ("categories:\n  hospital:\n    keywords_zh: [诊所]\n", "categories.hospital"),
    ("categories:\n  health:\n    keywords_zh: 诊所\n", "categories.health.keywords_zh"),
    ("categories:\n  health:\n    keywords_zh: [诊所, '']\n", "categories.health.keywords_zh[1]"),
    ("categories:\n  health:\n    keywords: [诊所]\n", "categories.health.keywords"),
    ("categories:\n  health: {keywords_zh: [中心]}\n  culture: {keywords_zh: [中心]}\n",
     "categories.culture.keywords_zh[0]"),
    ("categories:\n  health: {aliases: [综合]}\n  comprehensive: {aliases: [综合]}\n",
     "categories.comprehensive.aliases"),
    ("priority: [health]\ncategories:\n  health: {keywords_zh: [诊所]}\n"
     "  culture: {keywords_zh: [图书馆]}\n", "priority"),
    ("priority: [health, culture, fitness]\ncategories:\n  health: {keywords_zh: [诊所]}\n"
     "  culture: {keywords_zh: [图书馆]}\n", "priority[2]"),
    ("categories:\n  health: {keywords_zh: [诊所]}\nosm_tags:\n  amenity:\n    clinic: medic\n",
     "osm_tags.amenity.clinic"),
])
def test_malformed_table_names_file_and_key(tmp_path, text, key):
    p = _write(tmp_path, text)
    with pytest.raises(InputError) as exc:
        load_keyword_table(p)
    assert exc.value.file == str(p)
    assert key in exc.value.field
    assert str(p) in str(exc.value) and key in str(exc.value)


def test_yaml_syntax_error_and_duplicate_key_report_line(tmp_path):
    p = _write(tmp_path, "categories:\n  health:\n    keywords_zh: [诊所, 卫生院\n")
    with pytest.raises(InputError, match="line"):
        load_keyword_table(p)
    p = _write(tmp_path, "categories:\n  health: {keywords_zh: [诊所]}\n"
                         "  culture: {keywords_zh: [图书馆]}\n  health: {keywords_zh: [医院]}\n")
    with pytest.raises(InputError, match="line 4"):
        load_keyword_table(p)


def test_missing_file(tmp_path):
    with pytest.raises(InputError) as exc:
        load_keyword_table(tmp_path / "nope.yaml")
    assert "nope.yaml" in str(exc.value)


def test_minimal_table_defaults(tmp_path):
    p = _write(tmp_path, "categories:\n  culture: {keywords_zh: [图书馆]}\n"
                         "  health: {keywords_zh: [诊所]}\n")
    t = load_keyword_table(p)
    assert t.priority == ("culture", "health")
    assert t.categories["health"].label_zh == "医疗卫生设施"
    res = classify_names(["县图书馆", "诊所", "超市"], table=t)
    assert res["category"].tolist() == ["culture", "health", None]


# --- OSM tags -------------------------------------------------------------------------

OSM_RULES = [
    ("amenity", "community_centre", "comprehensive"), ("amenity", "townhall", "comprehensive"),
    ("amenity", "social_centre", "comprehensive"), ("amenity", "social_facility", "elderly_care"),
    ("amenity", "clinic", "health"), ("amenity", "doctors", "health"),
    ("amenity", "hospital", "health"), ("amenity", "dentist", "health"),
    ("leisure", "sports_centre", "fitness"), ("leisure", "fitness_centre", "fitness"),
    ("leisure", "fitness_station", "fitness"), ("leisure", "pitch", "fitness"),
    ("leisure", "sports_hall", "fitness"),
    ("amenity", "library", "culture"), ("amenity", "arts_centre", "culture"),
    ("amenity", "theatre", "culture"),
    ("amenity", "school", "education"), ("amenity", "college", "education"),
    ("amenity", "university", "education"),
    ("amenity", "kindergarten", "childcare"), ("amenity", "childcare", "childcare"),
    ("shop", "supermarket", "commerce"), ("shop", "convenience", "commerce"),
    ("shop", "greengrocer", "commerce"), ("amenity", "marketplace", "commerce"),
]


def test_osm_tag_mapping(table):
    df = pd.DataFrame({"amenity": [None] * len(OSM_RULES), "leisure": [None] * len(OSM_RULES),
                       "shop": [None] * len(OSM_RULES)}, dtype=object)
    for i, (k, v, _) in enumerate(OSM_RULES):
        df.loc[i, k] = v
    res = classify_osm_tags(df, table)
    assert res["category"].tolist() == [c for _, _, c in OSM_RULES]
    assert res["matched_tag"].tolist() == [f"{k}={v}" for k, v, _ in OSM_RULES]
    assert (res["rule"] == "osm").all()


def test_osm_unmatched_multivalue_and_conflicts(table):
    df = pd.DataFrame({
        "amenity": ["bench", None, "school;kindergarten", " Clinic ", "community_centre"],
        "leisure": [None, "park", None, None, "sports_centre"],
        "name": ["a", "b", "c", "d", "e"],
    }, index=[5, 6, 7, 8, 9])
    res = classify_osm_tags(df, table)
    assert res.index.tolist() == [5, 6, 7, 8, 9]
    assert res["category"].tolist() == [None, None, "childcare", "health", "fitness"]
    assert res["rule"].tolist() == ["none", "none", "osm", "osm", "osm"]
    # several rules: the category earlier in priority wins (childcare before education,
    # fitness before comprehensive)
    assert res.loc[7, "matched_tag"] == "amenity=kindergarten"
    assert res.loc[9, "matched_tag"] == "leisure=sports_centre"


def test_osm_without_tag_columns_is_an_input_error(table):
    with pytest.raises(InputError) as exc:
        classify_osm_tags(pd.DataFrame({"name": ["x"]}), table, source="city.osm.pbf")
    assert "city.osm.pbf" in str(exc.value) and "amenity" in str(exc.value)
