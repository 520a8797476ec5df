"""One configuration tree for every option, loadable from YAML.

Each section lives beside the code it configures; this module composes them and converts
between the tree and plain dictionaries (YAML, ``score.json``).
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .emotion.config import AnalysisConfig
from .errors import InputError
from .music.config import MusicConfig, RenderConfig
from .rbm.config import RbmConfig
from .video.config import VideoConfig


@dataclass
class Config:
    """Every Moodscore option. ``bpm`` and ``step_bars`` define the time grid."""

    bpm: float = 120.0
    step_bars: int = 1
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)
    music: MusicConfig = field(default_factory=MusicConfig)
    render: RenderConfig = field(default_factory=RenderConfig)
    video: VideoConfig = field(default_factory=VideoConfig)
    rbm: RbmConfig = field(default_factory=RbmConfig)


def _coerce(value: Any, annotation: Any, key: str) -> Any:
    origin = typing.get_origin(annotation)
    if dataclasses.is_dataclass(annotation):
        if not isinstance(value, dict):
            raise InputError(f"Config key '{key}' must be a mapping of options.")
        return _build(annotation, value, key + ".")
    if origin in (list, tuple):
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list | tuple):
            raise InputError(f"Config key '{key}' must be a list.")
        return list(value)
    if origin is dict:
        if not isinstance(value, dict):
            raise InputError(f"Config key '{key}' must be a mapping.")
        return dict(value)
    if annotation is bool:
        if not isinstance(value, bool):
            raise InputError(f"Config key '{key}' must be true or false.")
        return value
    if annotation in (int, float, str):
        try:
            if annotation is int and isinstance(value, float) and not value.is_integer():
                raise ValueError
            return annotation(value)
        except (TypeError, ValueError):
            raise InputError(
                f"Config key '{key}' must be of type {annotation.__name__}, got {value!r}."
            ) from None
    return value


def _build(cls: type, data: dict[str, Any], prefix: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise InputError(
            f"Unknown config key '{prefix}{unknown[0]}'; valid keys here are: "
            f"{', '.join(sorted(names))}."
        )
    kwargs = {name: _coerce(value, hints[name], prefix + name) for name, value in data.items()}
    return cls(**kwargs)


def config_from_dict(data: dict[str, Any] | None) -> Config:
    """Build a :class:`Config` from a nested dict, rejecting unknown keys by name."""
    return _build(Config, data or {})


def load_config(path: str | Path) -> Config:
    """Load a YAML configuration file (``yaml.safe_load``)."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"Config {path} is a directory; pass a YAML file with --config.")
    if not path.is_file():
        raise InputError(f"Config file {path} does not exist; check the --config path.")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InputError(f"Config file {path} is not valid YAML ({exc}); fix its syntax.") from None
    if data is not None and not isinstance(data, dict):
        raise InputError(f"Config file {path} must hold a mapping of options at the top level.")
    return config_from_dict(data)


def config_to_dict(config: Any) -> dict[str, Any]:
    """The configuration as plain data, with secrets left out (for ``score.json``)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(config):
        if f.metadata.get("secret"):
            continue
        value = getattr(config, f.name)
        out[f.name] = config_to_dict(value) if dataclasses.is_dataclass(value) else value
    return out


def dump_yaml(config: Config) -> str:
    """The configuration as YAML that :func:`load_config` reads back (secrets left out)."""
    return yaml.safe_dump(config_to_dict(config), sort_keys=False, allow_unicode=True)


def merge(config: Config, overrides: dict[str, Any]) -> Config:
    """Return ``config`` with dotted-key overrides applied, e.g. ``{"music.seed": 3}``."""
    data = config_to_dict(config)
    secrets = _secrets(config)
    for dotted, value in overrides.items():
        node = data
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    merged = config_from_dict(data)
    for path, value in secrets.items():
        if path not in overrides:
            _set(merged, path, value)
    return merged


def _secrets(config: Any, prefix: str = "") -> dict[str, Any]:
    found: dict[str, Any] = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if f.metadata.get("secret"):
            found[prefix + f.name] = value
        elif dataclasses.is_dataclass(value):
            found.update(_secrets(value, prefix + f.name + "."))
    return found


def _set(config: Any, dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = config
    for part in parents:
        node = getattr(node, part)
    setattr(node, leaf, value)
