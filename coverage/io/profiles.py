"""Reading standards profiles: the packaged plans (``coverage/profiles/*.yaml``) or a planner's copy."""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path

import yaml

from ..config import _SafeLoader   # libyaml's parser, ~10x the pure-Python one
from ..analysis.standards import DEFAULT_PROFILE, Profile, validate_profile
from ..errors import InputError

PROFILE_DIR = Path(__file__).resolve().parents[1] / "profiles"


def list_profiles() -> list[str]:
    """Ids of the profiles packaged with the toolkit (file stems in coverage/profiles)."""
    return sorted(p.stem for p in PROFILE_DIR.glob("*.yaml"))


def _resolve(name_or_path: str | Path) -> Path:
    s = str(name_or_path)
    p = Path(s).expanduser()
    looks_like_path = p.suffix.lower() in (".yaml", ".yml") or "/" in s or "\\" in s
    if looks_like_path:
        if not p.is_file():
            raise InputError(f"profile file not found: {s}", field="profile",
                             fix="give the path of your profile YAML relative to the study YAML, or one of the "
                                 "packaged ids: "
                                 + ", ".join(list_profiles()))
        return p
    packaged = PROFILE_DIR / f"{s}.yaml"
    if packaged.is_file():
        return packaged
    if p.is_file():
        return p
    raise InputError(f"unknown profile '{s}'", field="profile",
                     fix="use one of the packaged ids (" + ", ".join(list_profiles())
                         + ") or the path of your own profile YAML")


def load_profile(name_or_path: str | Path = DEFAULT_PROFILE, options: dict | None = None,
                 modes=None) -> Profile:
    """Load and validate a profile by packaged id or path; raises InputError on any mistake.

    ``options`` chooses the profile's options (e.g. ``{"region": "ewn"}`` for Guangdong's
    east/west/north figures); an option not chosen takes the default written in the profile.
    ``modes``: the study's own travel-mode names (analysis.modes) besides the packaged ones; given,
    an indicator naming another mode is an error; None, a well-formed unknown mode only warns."""
    path = _resolve(name_or_path)
    return validate_profile(_parsed(path), path, options, modes=modes)


_PARSED: dict = {}


def _parsed(path: Path):
    """The profile's YAML, parsed once per path and content (a study checks its profile when the
    config is read and loads it again for the indicators); a fresh deep copy on every call, so
    nothing a caller does to it reaches the next one."""
    data = path.read_bytes()
    key = (str(path), hashlib.sha256(data).digest())
    if key not in _PARSED:
        try:
            _PARSED[key] = yaml.load(data.decode("utf-8"), Loader=_SafeLoader)  # noqa: S506 - safe
        except yaml.YAMLError as exc:
            raise InputError(f"profile is not valid YAML: {exc}", file=path,
                             fix="fix the YAML syntax (indentation, colons, quotes)") from None
        except UnicodeDecodeError:
            raise InputError("profile is not UTF-8 text", file=path,
                             fix="save the file as UTF-8") from None
    return copy.deepcopy(_PARSED[key])


def resolve_profile(name_or_path, *, base=".", file=None, options=None, modes=None) -> str:
    """Check a profile setting before any work: a packaged id stays an id, a path becomes absolute
    (relative to the YAML's folder), and the profile is loaded once so that a mistake in it stops
    the run now (also a wrong ``options`` value). Returns the id or the absolute path."""
    s = str(name_or_path).strip()
    p = Path(s).expanduser()
    if (p.suffix.lower() in (".yaml", ".yml") or "/" in s or "\\" in s) and not p.is_absolute():
        p = Path(base) / p
        s = str(p)
    try:
        load_profile(s, options, modes=modes)
    except InputError as exc:
        chosen = ("is not one of" in exc.problem or "has no option" in exc.problem)
        if options and exc.field and exc.field.startswith("options") and chosen:
            # a wrong option value is the study YAML's mistake (profile_options), not the profile's
            exc = InputError(exc.problem, file=file, field="profile_" + exc.field, fix=exc.fix)
        elif exc.file is None:
            exc = InputError(exc.problem, file=file, field=exc.field or "profile", fix=exc.fix)
        raise exc
    return s
