"""Life-circle coverage: walking access to community facilities for Chinese county and city plans.

The import package is ``coverage`` as the design card asks; it is unrelated to coverage.py,
which must never be installed in this project's environment.
"""

__version__ = "0.2.0"

from .errors import InputError  # noqa: E402

__all__ = ["CATEGORIES", "CATEGORY_LABELS_ZH", "CATEGORY_LABELS_EN", "InputError", "__version__",
           "Study", "Results", "StudyConfig", "load_config", "WalkNetwork", "from_edge_arrays", "from_networkx",
           "load_network"]

# The Python API and the labels (which import numpy), imported on first use so that `python -m
# coverage --help` and `profiles` stay quick.
_LAZY = {"CATEGORIES": "labels", "CATEGORY_LABELS_ZH": "labels", "CATEGORY_LABELS_EN": "labels",
         "Study": "study", "Results": "study", "StudyConfig": "config", "load_config": "config",
         "WalkNetwork": "core.network", "from_edge_arrays": "core.network", "from_networkx": "core.network",
         "load_network": "io.network"}


def __getattr__(name):
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'coverage' has no attribute {name!r}")
