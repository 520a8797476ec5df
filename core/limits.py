"""The limits Moodscore enforces, with their reasons, and the range metadata of config fields.

Every number a user can give (a config key or a command-line option) carries its accepted
range on its dataclass field (:func:`ranged`); :mod:`core.config` checks the whole tree in one
place before any work starts.
"""

from __future__ import annotations

import dataclasses
import math
import reprlib
from typing import Any

#: Longest piece Moodscore scores or composes: 3 hours. A WAV's sizes are 32-bit (4 GiB):
#: 3 h of 16-bit stereo fits at up to 96 kHz (4.1 GB), and the float mix spooled beside the
#: output stays under 8.3 GB. Feature films run up to about 3 hours.
MAX_DURATION_S = 3 * 3600.0
#: Largest emotion file read: far above 3 h of steps (13 500 lines at 300 bpm, ~20 bytes
#: each), small enough to refuse a runaway file before reading it into memory.
MAX_EMOTION_FILE_BYTES = 4 * 1024 * 1024
#: Largest WAV the RIFF format can describe.
MAX_WAV_BYTES = 2**32 - 1
#: Largest hidden layer ``moodscore train`` builds: 4096 units over the shipped layout's
#: 11 008 visible units are 45 M weights (180 MB float32, several times that while training).
MAX_HIDDEN = 4096
#: Random seeds: numpy's generators take any non-negative integer; 32 bits keep the seed easy
#: to type and store everywhere (Blender's integer properties, JSON).
MAX_SEED = 2**32 - 1

#: Longest piece of a bad value quoted in an error: enough to recognise it, never a flood
#: (a 2 MB line, a 'billion laughs' list).
MAX_QUOTED_CHARS = 80
#: Largest config file read: real ones are a few KB.
MAX_CONFIG_FILE_BYTES = 1024 * 1024
#: Deepest nesting of a config file: real ones nest 3 levels (section, key, list); PyYAML
#: composes recursively, so 500 levels used to end in a RecursionError.
MAX_CONFIG_DEPTH = 20
#: Most values (mappings, lists and scalars) a config file may hold once its aliases are
#: expanded: real ones hold about 100; a 400-byte 'billion laughs' file expands to 10^9.
MAX_CONFIG_VALUES = 10_000
#: Longest text value of a config key: the longest path a system takes (PATH_MAX, 4096).
MAX_TEXT_CHARS = 4096

_QUOTE = reprlib.Repr()
_QUOTE.maxlevel = 3
_QUOTE.maxstring = _QUOTE.maxother = _QUOTE.maxlong = MAX_QUOTED_CHARS
for _name in ("maxlist", "maxtuple", "maxdict", "maxset", "maxfrozenset", "maxdeque"):
    setattr(_QUOTE, _name, 6)


def quoted(value: Any) -> str:
    """``repr(value)`` for an error message, at most :data:`MAX_QUOTED_CHARS` characters.

    Bounded however big or deeply nested ``value`` is (a plain ``repr`` of a shared nested
    list expands it in full).
    """
    text = _QUOTE.repr(value)
    if len(text) <= MAX_QUOTED_CHARS:
        return text
    return text[: MAX_QUOTED_CHARS - 1] + "…"


def ranged(default: Any, low: float, high: float, *, why: str = "") -> Any:
    """A dataclass field whose value must lie in ``[low, high]`` (``why`` explains a limit)."""
    return dataclasses.field(default=default, metadata={"range": (low, high), "why": why})


def range_error(label: str, value: Any, field: dataclasses.Field[Any]) -> str | None:
    """The sentence for a number outside its field's range (or not finite); ``None`` if fine."""
    low, high = field.metadata.get("range", (-math.inf, math.inf))
    return bounds_error(label, value, low, high, field.metadata.get("why", ""))


def bounds_error(label: str, value: Any, low: float, high: float, why: str = "") -> str | None:
    """The sentence for ``value`` outside ``[low, high]`` or not finite; ``None`` if fine."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"{label} must be a finite number, got {quoted(value)}."
    if not isinstance(value, int | float) or low <= value <= high:
        return None
    because = f" ({why})" if why else ""
    between = f"between {_number(low)} and {_number(high)}{because}"
    return f"{label} must be {between}, got {quoted(value)}."


def _number(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:g}"
