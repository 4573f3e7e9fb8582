"""Tests for coverage.io.categories: keyword table, name/type/OSM classification, precedence."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
import yaml

from coverage import CATEGORIES
from coverage.io.categories import (EXCLUDED_PREFIX, apply_categories, classify_names,
                                 classify_osm_tags, default_table_path, load_keyword_table,
                                 resolve_category_label, top_unmatched)
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


def _norm(s: str) -> str:
    import unicodedata
    return " ".join(unicodedata.normalize("NFKC", s).lower().split())


def _strip_branch(text: str) -> str:
    """Drop a trailing '(…店)' branch qualifier (loop reference of the vectorised rule)."""
    if text.endswith("店)") and "(" in text:
        start = text.rindex("(")
        if ")" not in text[start:-1]:
            return text[:start].rstrip()
    return text


def _brute_force_reference(table):
    """Independent reference: loop over keywords, keep the longest, then priority, then order;
    then drop the match if an exclusion applies (global, or of the winning category, and not
    part of the winning keyword)."""
    positives = [(_norm(r.keyword), r.keyword, r.category, r.rank)
                 for r in table.keywords.itertuples()]
    exclusions = [(_norm(r.keyword), r.scope) for r in table.exclusion_keywords.itertuples()]

    def classify(name: str) -> tuple[str | None, str | None]:
        text = _norm(name)
        ptext = _strip_branch(text)
        best = None
        for order, (k, keyword, category, rank) in enumerate(positives):
            if k in ptext:
                key = (-len(k), rank, order)
                if best is None or key < best[0]:
                    best = (key, category, keyword, k)
        cat, kw, knorm = (None, None, None) if best is None else best[1:]
        for e, scope in exclusions:
            if e in text and scope in ("*", cat) and not (knorm is not None and e in knorm):
                return None, None
        return cat, kw

    return classify


def test_vectorised_matches_brute_force_on_random_names(table):
    rng = np.random.default_rng(20240601)
    kws = table.keywords["keyword"].tolist()
    filler = ["阳光", "东", "社区", "中心", "服务", "老年", "村", "Road ", "新", "站", "大", "学"]
    pieces = np.array(kws + filler, dtype=object)
    names = ["".join(rng.choice(pieces, size=rng.integers(1, 5))) for _ in range(1500)]
    # names that also carry exclusion keywords (global and per category)
    excl = np.array(table.exclusion_keywords["keyword"].tolist(), dtype=object)
    names += ["".join(rng.choice(pieces, size=rng.integers(1, 4))) + rng.choice(excl)
              + "".join(rng.choice(pieces, size=rng.integers(0, 2))) for _ in range(700)]
    # branch qualifiers: (…店) at the end is ignored by the positive keywords
    names += ["".join(rng.choice(pieces, size=rng.integers(1, 3))) + "("
              + "".join(rng.choice(pieces, size=rng.integers(1, 3))) + "店)" for _ in range(300)]
    res = classify_names(names, table=table)
    reference = _brute_force_reference(table)
    expected = [reference(n) for n in names]
    got = list(zip(res["category"], res["matched_keyword"]))
    assert got == expected
    # the random names exercise conflicts: several categories present in one name
    assert res["category"].iloc[:1500].notna().sum() > 1000
    # ... and exclusions, both applying and not applying (another category's exclusion)
    assert (res["rule"] == "excluded").sum() > 300
    assert res["category"].iloc[1500:2200].notna().sum() > 50
    assert ((res["rule"] == "excluded") == res["excluded_by"].notna()).all()


def _last_word_reference(text: str, words: dict):
    """Value of the word ending last in text, ties to the longer word (loop reference)."""
    best = None
    for w, v in words.items():
        start = text.find(w)
        while start != -1:
            key = (start + len(w), len(w))
            if best is None or key > best[0]:
                best = (key, v)
            start = text.find(w, start + 1)
    return None if best is None else best[1]


def test_level_and_subtype_match_loop_reference_on_random_names(table):
    rng = np.random.default_rng(7)
    level_words = {_norm(w): (None if lvl == "no_level" else lvl)
                   for lvl, ws in table.levels.items() for w in ws}
    sub_words = {c: {_norm(w): st.key for st in r.subtypes for w in st.keywords}
                 for c, r in table.categories.items()}
    pieces = np.array(sorted(level_words) + [w for d in sub_words.values() for w in d]
                      + table.keywords["keyword"].tolist()
                      + ["阳光", "东", "中心", "站", "(南海店)", "大"], dtype=object)
    names = ["".join(rng.choice(pieces, size=rng.integers(1, 6))) for _ in range(2000)]
    res = classify_names(names, table=table)
    exp_level = [_last_word_reference(_norm(n), level_words) for n in names]
    exp_sub = [_last_word_reference(_strip_branch(_norm(n)), sub_words[c]) if c is not None else None
               for n, c in zip(names, res["category"])]
    assert res["level"].tolist() == exp_level
    assert res["subtype"].tolist() == exp_sub
    assert {"township", "community", None} <= set(exp_level)
    assert sum(x is not None for x in exp_sub) > 500


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


# --- exclusions -------------------------------------------------------------------------

@pytest.mark.parametrize("name, exclusion", [
    # the examples: a short positive keyword would catch them
    ("快递末端综合服务站", "快递"),
    ("农村金融综合服务站", "金融"),
    ("供销综合服务社", "供销"),
    ("残疾人综合服务中心", "残疾人"),
    ("县政务服务中心", "县政务"),
    ("宠物医院", "宠物"),
    ("体育彩票销售点", "彩票"),
    ("体育用品店", "用品"),
    ("养老保险服务中心", "保险"),
    # the same classes, as found in POI exports
    ("瑞鹏宠物诊所(南海店)", "宠物"),
    ("安安动物医院", "动物医院"),
    ("东湖汽车美容养护中心", "汽车美容"),
    ("途虎养车汽车综合服务中心", "汽车综合服务"),
    ("中国农业银行(集里支行)", "银行"),
    ("中国平安保险(英德支公司)", "保险"),
    ("华泰证券(浏阳营业部)", "证券"),
    ("中国福利彩票(东湖投注站)", "投注站"),
    ("李宁体育专卖店", "专卖"),
    ("康达健身器材店", "器材店"),
    ("仁寿县殡葬综合服务站", "殡葬"),
    ("阳光养老公寓售楼处", "售楼"),
    ("碧桂园房地产营销中心", "营销中心"),
    ("佛山市南海区政务服务中心", "区政务"),
    ("罗政村邮政便民服务站", "邮政"),
    ("足力健老人鞋(文林店)", "老人鞋"),
    ("益丰大药房(人民医院对面)", "药房"),
    ("老百姓大药房人民医院店", "医院店"),
    ("监利市人民医院（东门）", "门)"),
])
def test_exclusions_make_names_unmatched(table, name, exclusion):
    res = classify_names([name], table=table)
    assert res.loc[0, "category"] is None
    assert res.loc[0, "matched_keyword"] is None
    assert res.loc[0, "rule"] == "excluded"
    assert res.loc[0, "excluded_by"] == exclusion
    _, unmatched = apply_categories(pd.DataFrame({"名称": [name]}), "名称", table=table)
    reason = unmatched.loc[0, "reason"]
    assert reason.startswith(EXCLUDED_PREFIX) and f"'{exclusion}'" in reason
    assert str(default_table_path()) in reason


@pytest.mark.parametrize("name, category", [
    # exclusions of one category do not touch the others
    ("惠民生鲜超市旗舰店", "commerce"),        # 旗舰店 is a fitness exclusion
    ("东关社区老年食堂", "elderly_care"),      # 食堂 is an education exclusion
    ("美宜佳(人民医院店)", "commerce"),        # 医院店 is a health exclusion
    # an exclusion inside the winning keyword does not count: 社区政务服务 contains 区政务
    ("宝安区新安街道海华社区政务服务站", "comprehensive"),
    ("天河区石牌街道政务服务中心", "comprehensive"),
    ("翠湖花园室外健身器材", "fitness"),        # installed equipment, not a 器材店
])
def test_exclusions_are_scoped(table, name, category):
    res = classify_names([name], table=table)
    assert res.loc[0, "category"] == category and res.loc[0, "excluded_by"] is None


@pytest.mark.parametrize("name, category, subtype, level", [
    # a trailing (…店) names a place nearby: the category keywords and sub-types ignore it
    ("美宜佳(人民医院店)", "commerce", None, None),
    ("罗森(地铁人民广场站店)", "commerce", None, None),
    ("锦江之星(人民医院店)", None, None, None),
    ("万家福超市(城西菜市场店)", "commerce", None, None),
    ("红黄蓝幼儿园(金沙社区店)", "childcare", "kindergarten", "community"),   # level sees it
    # only a trailing qualifier ending in 店
    ("人民医院(东湖院区)", "health", "hospital", None),
    ("东湖(城西菜市场店)便利店", "commerce", "market", None),
])
def test_branch_qualifier_is_ignored_by_category_keywords(table, name, category, subtype, level):
    res = classify_names([name], table=table)
    assert (res.loc[0, "category"], res.loc[0, "subtype"], res.loc[0, "level"]) == (
        category, subtype, level)
    assert res.loc[0, "excluded_by"] is None


def test_exclusion_in_type_text_and_category_column_wins(table):
    res = classify_names(["阳光", "阳光宠物"], ["医疗保健服务;诊所", "医疗保健服务;宠物诊所"],
                         table=table)
    assert res["category"].tolist() == ["health", None]
    assert res["rule"].tolist() == ["type", "excluded"]
    df = pd.DataFrame({"名称": ["某某宠物医院", "某某宠物医院"], "类别": ["医疗卫生设施", ""]})
    matched, unmatched = apply_categories(df, "名称", category_col="类别", table=table)
    assert matched.index.tolist() == [0] and matched.loc[0, "category"] == "health"
    assert unmatched.loc[1, "reason"].startswith("excluded: the name contains '宠物'")
    _, unmatched = apply_categories(pd.DataFrame({"n": ["阳光"], "t": ["宠物诊所"]}), "n", "t",
                                    table=table)
    assert "the type contains '宠物'" in unmatched.loc[0, "reason"]


def test_users_exclusion_in_edited_copy(tmp_path, table):
    p = tmp_path / "mine.yaml"
    text = default_table_path().read_text(encoding="utf-8").replace(
        "    宠物, 动物医院,", "    驾驶培训, 宠物, 动物医院,")
    p.write_text(text, encoding="utf-8")
    mine = load_keyword_table(p)
    assert classify_names(["城东驾驶培训中心"], table=table).loc[0, "category"] is None
    res = classify_names(["城东驾驶培训体育中心"], table=mine)
    assert res.loc[0, "excluded_by"] == "驾驶培训"
    assert classify_names(["城东驾驶培训体育中心"], table=table).loc[0, "category"] == "fitness"


# --- level and sub-type ---------------------------------------------------------------

@pytest.mark.parametrize("name, level", [
    ("英德市英城街道党群服务中心", "township"),
    ("英城街道和平社区党群服务中心", "community"),
    ("仁寿县文林镇党群服务中心", "township"),
    ("固始县陈淋子镇大埠口村党群服务中心", "community"),
    ("北流市民乐镇罗政村便民服务站", "community"),
    ("湄潭县湄江街道社区服务中心", "township"),
    ("阳光社区服务中心", "community"),
    ("寿光市洛城街道东关社区服务站", "community"),
    ("固始县陈淋子镇大埠口村卫生室", "community"),
    ("清城区石角镇塘头村卫生站", "community"),
    ("仁寿县珠嘉乡卫生院", "township"),
    ("英德市英城街道社区卫生服务中心", "township"),
    ("浏阳市集里街道社区卫生服务中心金沙社区卫生服务站", "community"),
    ("于都县贡江镇综合文化站", "township"),
    ("桂城街道夏西社区综合性文化服务中心", "community"),
    ("于都县贡江镇中心敬老院", "township"),
    ("于都县贡江镇新时代文明实践所", "township"),
    ("英城街道和平社区新时代文明实践站", "community"),
    ("安吉县新时代文明实践中心", None),
    ("正定县人民医院", None),
    ("碧桂园小区篮球场", None),
    ("镇江市第一人民医院", None),
    ("监利市红城乡敬老院", "township"),
])
def test_level_from_name(table, name, level):
    assert classify_names([name], table=table).loc[0, "level"] == level


@pytest.mark.parametrize("name, category, subtype", [
    ("大埠口村儿童之家", "childcare", "children_home"),
    ("罗政村妇女儿童之家", "childcare", "children_home"),
    ("红黄蓝幼儿园(金沙店)", "childcare", "kindergarten"),     # a kindergarten is no 儿童之家
    ("小白鲸托育中心", "childcare", "nursery"),
    ("金宝贝早教中心", "childcare", None),
    ("大埠口村文化广场", "fitness", "plaza"),
    ("集里街道金沙社区健身广场", "fitness", "plaza"),
    ("英城街道和平社区室外活动广场", "fitness", "plaza"),
    ("碧桂园小区篮球场", "fitness", "sports_ground"),
    ("东湖公园健身路径", "fitness", "sports_ground"),
    ("夏西社区笼式足球场", "fitness", "sports_ground"),
    ("仁寿县体育馆", "fitness", "sports_centre"),
    ("英德市英城街道社工站", "comprehensive", "social_work"),
    ("于都县贡江镇社会工作服务站", "comprehensive", "social_work"),
    ("英德市英城街道党群服务中心", "comprehensive", "party_mass"),
    ("大埠口村综合性文化服务中心", "culture", "cultural_centre"),
    ("罗政村综合文化服务中心", "culture", "cultural_centre"),
    ("于都县贡江镇综合文化站", "culture", "cultural_station"),
    ("长青社区老年人日间照料中心", "elderly_care", "day_care"),
    ("天河区石牌街道石牌东社区长者饭堂", "elderly_care", "meal_service"),
    ("仁寿县文林镇敬老院", "elderly_care", "nursing_home"),
    ("大埠口村卫生室", "health", "clinic_room"),
    ("塘头村卫生站", "health", "clinic_room"),
    ("夏西社区卫生服务站", "health", "health_station"),
    ("湄潭县兴隆镇中心卫生院", "health", "health_centre"),
    ("浏阳市人民医院", "health", "hospital"),
    ("固始县陈淋子镇农贸市场", "commerce", "market"),
    ("美宜佳便利店(集里店)", "commerce", None),
])
def test_subtype_from_name(table, name, category, subtype):
    res = classify_names([name], table=table)
    assert (res.loc[0, "category"], res.loc[0, "subtype"]) == (category, subtype)


def test_subtype_labels_and_ids(table):
    assert table.subtype_label("childcare", "children_home") == "儿童之家"
    assert table.subtype_label("fitness", "plaza") == "广场"
    assert table.subtype_label("fitness", "nope") is None
    for rules in table.categories.values():
        for st in rules.subtypes:
            assert st.key.isascii() and st.key == st.key.lower() and st.label_zh


def test_apply_carries_level_and_subtype_also_for_column_categories(table):
    df = pd.DataFrame({
        "名称": ["大埠口村儿童之家", "英城街道社区卫生服务中心", "某某文化广场", "某某", "幸福村活动室"],
        "类别": ["", "", "体育健身设施", "养老服务设施", "托育/儿童设施"],
        "level": ["x", "y", "z", "w", "v"],
    })
    matched, unmatched = apply_categories(df, "名称", category_col="类别", table=table)
    assert matched["category"].tolist() == ["childcare", "health", "fitness", "elderly_care",
                                            "childcare"]
    assert matched["level"].tolist() == ["community", "township", None, None, "community"]
    assert matched["subtype"].tolist() == ["children_home", "health_centre", "plaza", None, None]
    assert matched["level_input"].tolist() == ["x", "y", "z", "w", "v"]
    assert unmatched.empty
    # a sub-type belongs to its category: a 文化广场 given as culture gets no fitness sub-type
    m2, _ = apply_categories(pd.DataFrame({"n": ["某某文化广场"], "c": ["文化设施"]}), "n",
                             category_col="c", table=table)
    assert m2.loc[0, "category"] == "culture" and m2.loc[0, "subtype"] is None


# --- labels, column_label and top_unmatched ----------------------------------------------

@pytest.mark.parametrize("value, key", [
    ("医疗卫生设施", "health"), ("health", "health"), (" Elderly Care ", "elderly_care"),
    ("托育/儿童设施", "childcare"), ("体育", "fitness"), ("便民商业", "commerce"),
    ("综合服务设施", "comprehensive"), ("文化设施", "culture"), ("教育设施", "education"),
    ("卫生室", None), ("乱写", None), ("", None), (None, None), (float("nan"), None),
])
def test_resolve_category_label(table, value, key):
    assert resolve_category_label(value, table) == key


def test_resolve_category_label_default_table():
    assert resolve_category_label("养老服务设施") == "elderly_care"


def test_category_map_with_chinese_targets(table):
    """The config layer resolves category_map targets, then maps the column values."""
    category_map = {"卫生室": "医疗卫生设施", "老年活动室": "elderly_care", "文体": "体育健身设施"}
    resolved = {k: resolve_category_label(v, table) for k, v in category_map.items()}
    assert resolved == {"卫生室": "health", "老年活动室": "elderly_care", "文体": "fitness"}
    df = pd.DataFrame({"n": ["甲", "乙", "丙"], "类别": ["卫生室", "文体", "老年活动室"]})
    df["_cat"] = df["类别"].map(lambda v: resolved.get(v, v))
    matched, _ = apply_categories(df, "n", category_col="_cat", table=table)
    assert matched["category"].tolist() == ["health", "fitness", "elderly_care"]


def test_column_label_names_planners_column_in_reason(table):
    df = pd.DataFrame({"n": ["甲"], "_cat": ["乱写"]})
    _, unmatched = apply_categories(df, "n", category_col="_cat", table=table, column_label="类别")
    reason = unmatched.loc[0, "reason"]
    assert "column '类别'" in reason and "_cat" not in reason
    _, unmatched = apply_categories(df, "n", category_col="_cat", table=table)
    assert "column '_cat'" in unmatched.loc[0, "reason"]


def test_top_unmatched_order_and_counts(table):
    names = (["某某公司"] * 3 + ["乙厂"] * 2 + ["甲厂"] * 2 + ["丙"] + [" 丙 ", None, "", "宠物医院"] * 1
             + ["宠物医院"] * 5)
    df = pd.DataFrame({"名称": names})
    _, unmatched = apply_categories(df, "名称", table=table)
    assert top_unmatched(unmatched, "名称") == [("某某公司", 3), ("丙", 2), ("乙厂", 2),
                                                ("甲厂", 2)]
    assert top_unmatched(unmatched, "名称", n=2) == [("某某公司", 3), ("丙", 2)]
    assert top_unmatched(unmatched, "名称", skip_excluded=False)[0] == ("宠物医院", 6)
    assert top_unmatched(unmatched.iloc[:0], "名称") == []
    # deterministic whatever the row order
    shuffled = unmatched.sample(frac=1, random_state=3)
    assert top_unmatched(shuffled, "名称") == top_unmatched(unmatched, "名称")
    with pytest.raises(KeyError):
        top_unmatched(unmatched, "name")


# --- malformed new sections -----------------------------------------------------------------

@pytest.mark.parametrize("text, key", [
    ("exclusions: [宠物]\ncategories:\n  health: {keywords_zh: [诊所]}\n", "exclusions"),
    ("exclusions: {words: [宠物]}\ncategories:\n  health: {keywords_zh: [诊所]}\n",
     "exclusions.words"),
    ("exclusions: {keywords_zh: [诊所]}\ncategories:\n  health: {keywords_zh: [诊所]}\n",
     "exclusions.keywords_zh[0]"),
    ("categories:\n  health: {keywords_zh: [诊所], exclude_zh: [宠物, 诊所]}\n",
     "categories.health.exclude_zh[1]"),
    ("categories:\n  health: {keywords_zh: [诊所], exclude_zh: 宠物}\n",
     "categories.health.exclude_zh"),
    ("categories:\n  health:\n    keywords_zh: [诊所]\n    subtypes: [a]\n",
     "categories.health.subtypes"),
    ("categories:\n  health:\n    keywords_zh: [诊所]\n    subtypes:\n      卫生室: {keywords_zh: [卫生室]}\n",
     "categories.health.subtypes.卫生室"),
    ("categories:\n  health:\n    keywords_zh: [诊所]\n    subtypes:\n      room: {keywords_zh: [卫生室]}\n",
     "categories.health.subtypes.room.label_zh"),
    ("categories:\n  health:\n    keywords_zh: [诊所]\n    subtypes:\n      room: {label_zh: 室}\n",
     "categories.health.subtypes.room.keywords_zh"),
    ("categories:\n  health:\n    keywords_zh: [诊所]\n    subtypes:\n"
     "      a: {label_zh: 甲, keywords_zh: [室]}\n      b: {label_zh: 乙, keywords_zh: [室]}\n",
     "categories.health.subtypes.b.keywords_zh[0]"),
    ("levels: {county: {keywords_zh: [县]}}\ncategories:\n  health: {keywords_zh: [诊所]}\n",
     "levels.county"),
    ("levels: {township: {keywords_zh: [镇]}, community: {keywords_zh: [镇]}}\n"
     "categories:\n  health: {keywords_zh: [诊所]}\n", "levels.community.keywords_zh[0]"),
])
def test_malformed_new_sections_name_file_and_key(tmp_path, text, key):
    p = _write(tmp_path, text)
    with pytest.raises(InputError) as exc:
        load_keyword_table(p)
    assert exc.value.file == str(p)
    assert key in exc.value.field, exc.value.field


def test_table_without_new_sections_still_works(tmp_path):
    p = _write(tmp_path, "categories:\n  health: {keywords_zh: [医院]}\n")
    res = classify_names(["宠物医院"], table=load_keyword_table(p))
    assert res.loc[0, "category"] == "health"
    assert res.loc[0, "level"] is None and res.loc[0, "subtype"] is None
