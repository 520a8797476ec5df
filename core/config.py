"""One configuration tree for every option, loadable from YAML.

Each section lives beside the code it configures; this module composes them and converts
between the tree and plain dictionaries (YAML, ``score.json``).
"""

from __future__ import annotations

import dataclasses
import types
import typing
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .edit.config import EditConfig
from .emotion.config import AnalysisConfig
from .errors import InputError
from .files import check_input_file
from .limits import range_error, ranged
from .music.config import MusicConfig, RenderConfig
from .rbm.config import RbmConfig
from .timeline import MAX_BPM, MIN_BPM
from .video.config import VideoConfig


@dataclass
class Config:
    """Every Moodscore option. ``bpm`` and ``step_bars`` define the time grid."""

    bpm: float = ranged(120.0, MIN_BPM, MAX_BPM, why="quarter notes per minute")
    step_bars: int = ranged(1, 1, 16, why="bars per emotion step")
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)
    music: MusicConfig = field(default_factory=MusicConfig)
    render: RenderConfig = field(default_factory=RenderConfig)
    video: VideoConfig = field(default_factory=VideoConfig)
    rbm: RbmConfig = field(default_factory=RbmConfig)
    edit: EditConfig = field(default_factory=EditConfig)


#: How a key is named in errors when the value came from a command-line option.
Labels = dict[str, str]


def _label(key: str, labels: Labels) -> str:
    return labels.get(key, f"Config key '{key}'")


def _coerce(
    value: Any, spec: dataclasses.Field[Any], annotation: Any, key: str, labels: Labels
) -> Any:
    """``value`` converted to the field's type and checked against its range."""
    label = _label(key, labels)
    origin = typing.get_origin(annotation)
    arguments = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType) and type(None) in arguments:
        if value is None:
            return None
        (inner,) = [argument for argument in arguments if argument is not type(None)]
        return _coerce(value, spec, inner, key, labels)
    if dataclasses.is_dataclass(annotation):
        if not isinstance(value, dict):
            raise InputError(f"{label} must be a mapping of options.")
        return _build(annotation, value, key + ".", labels)
    if origin in (list, tuple):
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list | tuple):
            raise InputError(f"{label} must be a list.")
        return list(value)
    if origin is dict:
        if not isinstance(value, dict):
            raise InputError(f"{label} must be a mapping.")
        return dict(value)
    if annotation is bool:
        if not isinstance(value, bool):
            raise InputError(f"{label} must be true or false.")
        return value
    if annotation in (int, float, str):
        # YAML's true/false are ints to Python; a switch given for a number is a mistake.
        if annotation is not str and isinstance(value, bool):
            raise InputError(f"{label} must be of type {annotation.__name__}, got {value!r}.")
        try:
            if annotation is int and isinstance(value, float) and not value.is_integer():
                raise ValueError
            if annotation is not str and isinstance(value, dict | list):
                raise TypeError
            converted = annotation(value)
        except (TypeError, ValueError, OverflowError):
            raise InputError(
                f"{label} must be of type {annotation.__name__}, got {value!r}."
            ) from None
        problem = range_error(label, converted, spec)
        if problem:
            raise InputError(problem)
        return converted
    return value


#: Keys of earlier versions, with what replaced them: an old config naming one is told so.
RETIRED_KEYS = {
    "render.peak_dbfs": "the WAV is now mastered to render.loudness_lufs with true peaks at "
    "most render.true_peak_dbtp, so write true_peak_dbtp instead",
}


def _build(cls: type, data: dict[str, Any], prefix: str = "", labels: Labels | None = None) -> Any:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    retired = [prefix + key for key in unknown if prefix + key in RETIRED_KEYS]
    if retired:
        raise InputError(
            f"Config key '{retired[0]}' is no longer used: {RETIRED_KEYS[retired[0]]}."
        )
    if unknown:
        raise InputError(
            f"Unknown config key '{prefix}{unknown[0]}'; valid keys here are: "
            f"{', '.join(sorted(fields))}."
        )
    kwargs = {
        name: _coerce(value, fields[name], hints[name], prefix + name, labels or {})
        for name, value in data.items()
    }
    return cls(**kwargs)


def config_from_dict(data: dict[str, Any] | None, labels: Labels | None = None) -> Config:
    """Build a :class:`Config` from a nested dict, checking every key's type and range.

    Parameters
    ----------
    data
        Nested options, e.g. ``{"music": {"seed": 3}}``.
    labels
        How to name a dotted key in errors, e.g. ``{"music.seed": "--seed"}`` for values that
        came from the command line (default: ``Config key 'music.seed'``).

    Raises
    ------
    InputError
        Naming the first unknown key, wrong type or out-of-range value.
    """
    return _build(Config, data or {}, labels=labels)


def load_config(path: str | Path) -> Config:
    """Load a YAML configuration file (``yaml.safe_load``)."""
    path = Path(path)
    check_input_file(path, "Config file", "pass a YAML file with --config")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except yaml.YAMLError as exc:
        raise InputError(
            f"Config file {path} is not valid YAML ({_yaml_problem(exc)}); fix it."
        ) from None
    except UnicodeDecodeError:
        raise InputError(f"Config file {path} is not UTF-8 text; save it as UTF-8 YAML.") from None
    if data is not None and not isinstance(data, dict):
        raise InputError(f"Config file {path} must hold a mapping of options at the top level.")
    return config_from_dict(data)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """PyYAML's multi-line report as one phrase: what and where."""
    problem = getattr(exc, "problem", None) or type(exc).__name__
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"{problem}{where}"


def config_to_dict(config: Any, *, public: bool = True) -> dict[str, Any]:
    """The configuration as plain data.

    With ``public`` (for ``score.json``, ``moodscore config``, logs) secrets are left out and
    credentials inside URLs (``?key=...``, ``user:password@``) are masked.
    """
    out: dict[str, Any] = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if public and f.metadata.get("secret"):
            continue
        if dataclasses.is_dataclass(value):
            value = config_to_dict(value, public=public)
        elif public and f.metadata.get("url"):
            value = redact_url(value)
        out[f.name] = value
    return out


def redact_url(url: str) -> str:
    """``url`` with every query value and any password replaced by ``REDACTED``."""
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.urlencode(
        [
            (name, "REDACTED")
            for name, _ in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
        ],
        safe="",
    )
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "REDACTED@" + netloc.rsplit("@", 1)[1]
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def dump_yaml(config: Config) -> str:
    """The configuration as YAML that :func:`load_config` reads back (secrets left out)."""
    return yaml.safe_dump(config_to_dict(config), sort_keys=False, allow_unicode=True)


def merge(config: Config, overrides: dict[str, Any], labels: Labels | None = None) -> Config:
    """Return ``config`` with dotted-key overrides applied, e.g. ``{"music.seed": 3}``.

    The result is checked like a loaded file; ``labels`` name the overridden keys in errors.
    """
    data = config_to_dict(config, public=False)
    for dotted, value in overrides.items():
        node = data
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return config_from_dict(data, labels)
