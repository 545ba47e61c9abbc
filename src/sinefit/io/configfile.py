"""Config files: TOML (or JSON) holding FitConfig's settings, data only.

Keys are FitConfig's field names, with dashes or underscores
(``log-every`` or ``log_every``); a saved run's ``config.toml`` is one.
"""

from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path
from typing import Any

from ..config import FitConfig
from ..errors import InputError
from .safefile import read_bounded

MAX_BYTES = 1 << 20
META_KEYS = {"sinefit_version"}  # written into saved configs for people; not a setting


class ConfigFileError(InputError):
    """A config file sinefit will not read; the message names the file."""


def read(path: str | Path) -> dict[str, Any]:
    """The settings in a .toml or .json file, as a dict of FitConfig field names."""
    path = Path(path)
    raw = read_bounded(path, MAX_BYTES, "a config file", ConfigFileError)
    kind = "JSON" if path.suffix.lower() == ".json" else "TOML"
    if raw.startswith(b"\xef\xbb\xbf"):  # a byte-order mark (Windows editors): UTF-8 all the same
        raw = raw[3:]
    elif raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ConfigFileError(f"{path}: is UTF-16 text; sinefit reads {kind} in UTF-8 (save it as UTF-8)")
    if _nesting(raw) > MAX_NESTING:
        raise ConfigFileError(f"{path}: not valid {kind}: nested more than {MAX_NESTING} levels deep")
    try:
        text = raw.decode("utf-8")
        if kind == "JSON":
            doc = json.loads(text, parse_constant=_no_constants, object_pairs_hook=_no_duplicates)
        else:
            doc = tomllib.loads(text)
    except _Duplicate as e:
        raise ConfigFileError(f"{path}: setting {e.key!r} is given twice") from None
    except (UnicodeDecodeError, ValueError) as e:  # JSONDecodeError and TOMLDecodeError are ValueErrors
        raise ConfigFileError(f"{path}: not valid {kind}: {e}") from None
    except RecursionError:
        raise ConfigFileError(f"{path}: not valid {kind}: nested too deeply") from None
    if not isinstance(doc, dict):
        raise ConfigFileError(f"{path}: expected a table of settings")
    known = FitConfig.__dataclass_fields__
    settings: dict[str, Any] = {}
    spelled: dict[str, str] = {}
    for key, value in doc.items():
        name = key.replace("-", "_")
        if name in META_KEYS:
            continue
        if name in spelled:
            raise ConfigFileError(f"{path}: {spelled[name]!r} and {key!r} are the same setting; give it once")
        spelled[name] = key
        if name not in known:
            raise ConfigFileError(f"{path}: unknown setting {key!r} (known: {', '.join(sorted(known))})")
        if isinstance(value, (dict, list)) and name not in ("domain", "init"):
            raise ConfigFileError(f"{path}: {key} must be a single value, got {type(value).__name__}")
        settings[name] = value
    if isinstance(settings.get("domain"), list):
        settings["domain"] = tuple(settings["domain"])
    return settings


MAX_NESTING = 32  # settings are flat (a domain or an init is one list): anything deeper is not a config


def _nesting(raw: bytes) -> int:
    """An upper bound of the bracket depth (brackets inside strings count too: a bound is enough)."""
    depth = deepest = 0
    for c in raw.translate(None, delete=bytes(b for b in range(256) if b not in b"[]{}")):
        if c in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth = max(depth - 1, 0)
    return deepest


class _Duplicate(ValueError):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for key, value in pairs:
        if key in doc:
            raise _Duplicate(key)
        doc[key] = value
    return doc


def to_toml(settings: dict[str, Any]) -> str:
    """Flat settings as TOML; None values are left out (they mean 'the default')."""
    lines = []
    for key, value in settings.items():
        if value is None:
            continue
        lines.append(f"{key} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)  # repr round-trips exactly and is valid TOML (1e-06, 0.5, 3.0)
    if isinstance(value, str):
        # A TOML basic string: JSON's escapes are TOML's; DEL must be escaped in TOML, not in JSON.
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")
