"""Life-circle coverage: walking access to community facilities for Chinese county and city plans.

The import package is ``coverage`` as the design card asks; it is unrelated to coverage.py,
which must never be installed in this project's environment.
"""

__version__ = "0.1.0"

#: The plan facility categories (keys used in configs, tables and profiles).
CATEGORIES = (
    "comprehensive",  # 综合服务站/社区服务中心/党群服务中心
    "elderly_care",   # 养老服务/日间照料中心
    "health",         # 社区卫生服务中心/站, 卫生院, 诊所
    "fitness",        # 体育健身站点, 社区多功能运动场
    "culture",        # 综合性文化服务中心, 图书馆
    "education",      # 社区教育, 学校
    "childcare",      # 托育, 幼儿园, 儿童之家
    "commerce",       # 便利店, 菜市场, 超市
)

CATEGORY_LABELS_ZH = {
    "comprehensive": "综合服务设施",
    "elderly_care": "养老服务设施",
    "health": "医疗卫生设施",
    "fitness": "体育健身设施",
    "culture": "文化设施",
    "education": "教育设施",
    "childcare": "托育/儿童设施",
    "commerce": "便民商业设施",
}
