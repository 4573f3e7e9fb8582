"""Life-circle coverage: walking access to community facilities for Chinese county and city plans.

The import package is ``coverage`` as the design card asks; it is unrelated to coverage.py,
which must never be installed in this project's environment.
"""

__version__ = "0.2.0"

from .errors import InputError  # noqa: E402
from .labels import CATEGORIES, CATEGORY_LABELS_EN, CATEGORY_LABELS_ZH  # noqa: E402

__all__ = ["CATEGORIES", "CATEGORY_LABELS_ZH", "CATEGORY_LABELS_EN", "InputError", "__version__"]
