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
from .limits import (
    MAX_CONFIG_DEPTH,
    MAX_CONFIG_FILE_BYTES,
    MAX_CONFIG_VALUES,
    MAX_TEXT_CHARS,
    quoted,
    range_error,
    ranged,
)
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
        return _build(typing.cast(type, annotation), value, key + ".", labels)
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
            raise InputError(f"{label} must be of type {annotation.__name__}, got {quoted(value)}.")
        try:
            if annotation is int and isinstance(value, float) and not value.is_integer():
                raise ValueError
            if annotation is not str and isinstance(value, dict | list):
                raise TypeError
            converted = annotation(value)
        except (TypeError, ValueError, OverflowError):
            raise InputError(
                f"{label} must be of type {annotation.__name__}, got {quoted(value)}."
            ) from None
        if isinstance(converted, str) and len(converted) > MAX_TEXT_CHARS:
            raise InputError(
                f"{label} is {len(converted)} characters long, more than the {MAX_TEXT_CHARS} "
                f"of the longest path; got {quoted(converted)}."
            )
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
    return typing.cast(Config, _build(Config, data or {}, labels=labels))


def load_config(path: str | Path) -> Config:
    """Load a YAML configuration file (``yaml.safe_load``)."""
    path = Path(path)
    check_input_file(path, "Config file", "pass a YAML file with --config")
    size = path.stat().st_size
    if size > MAX_CONFIG_FILE_BYTES:
        raise InputError(
            f"Config file {path} is {size / 2**20:.1f} MB, more than the "
            f"{MAX_CONFIG_FILE_BYTES // 2**20} MB a config file may be; pass the right file."
        )
    try:
        data = _load_bounded(path.read_text(encoding="utf-8-sig"), path)
    except yaml.YAMLError as exc:
        raise InputError(
            f"Config file {path} is not valid YAML ({_yaml_problem(exc)}); fix it."
        ) from None
    except UnicodeDecodeError:
        raise InputError(f"Config file {path} is not UTF-8 text; save it as UTF-8 YAML.") from None
    if data is not None and not isinstance(data, dict):
        raise InputError(f"Config file {path} must hold a mapping of options at the top level.")
    return config_from_dict(data)


class _BoundedLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses nesting deeper than :data:`MAX_CONFIG_DEPTH`.

    PyYAML composes nested collections recursively: without a limit, a few hundred levels of
    ``[[[…]]]`` end in a ``RecursionError``.
    """

    def __init__(self, stream: str, path: Path) -> None:
        super().__init__(stream)
        self.path = path
        self.depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        self.depth += 1
        try:
            if self.depth > MAX_CONFIG_DEPTH:
                # types-PyYAML leaves Parser.peek_event unannotated (it returns an Event).
                line = self.peek_event().start_mark.line + 1  # type: ignore[no-untyped-call]
                raise InputError(
                    f"Config file {self.path} nests deeper than {MAX_CONFIG_DEPTH} levels "
                    f"(at line {line}); a config nests 3 (section, key, list), so fix it."
                )
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _load_bounded(text: str, path: Path) -> Any:
    """``yaml.safe_load(text)``, refusing bombs before any value is built.

    The node graph is composed first (aliases are shared nodes there, so it is as small as the
    text); its expanded size is counted against :data:`MAX_CONFIG_VALUES` with a walk that
    stops at the budget, so a 'billion laughs' file or an alias cycle costs at most that many
    steps. Only then are Python values constructed.
    """
    loader = _BoundedLoader(text, path)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expansion(node, path)
        try:
            return loader.construct_document(node)
        except ValueError:
            # Python refuses integers of more than 4300 digits (a denial-of-service guard).
            raise InputError(
                f"Config file {path} holds a number too long to read; fix the value."
            ) from None
    finally:
        loader.dispose()


def _check_expansion(root: yaml.Node, path: Path) -> None:
    pending = [root]
    for _ in range(MAX_CONFIG_VALUES):
        if not pending:
            return
        node = pending.pop()
        if isinstance(node, yaml.SequenceNode):
            pending.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            pending.extend(item for pair in node.value for item in pair)
    if pending:
        raise InputError(
            f"Config file {path} expands to more than {MAX_CONFIG_VALUES} values through its "
            "aliases (*name); a config holds about 100, so write the values out."
        )


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
