"""Music generators: each turns an :class:`~core.timeline.EmotionTimeline` into a Score.

Every generator module exposes ``compose(timeline, config, seed) -> Score``. Modules are
imported on first use so the deterministic generators never pull in the RBM's dependencies.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from ..errors import InputError

if TYPE_CHECKING:
    from ..config import Config
    from ..music.score import Score
    from ..timeline import EmotionTimeline

#: A generator's ``compose(timeline, config, seed)``: ``timeline`` holds arousal and valence
#: per step plus the cut times, ``config.music.preset`` (and ``music.programs`` overrides)
#: picks the instruments, and ``seed`` varies the piece: same seed, same bytes.
Composer = Callable[["EmotionTimeline", "Config", int], "Score"]

#: Generator names in the original system's numbering (1-4).
GENERATORS: dict[str, str] = {
    "scales": "scales",
    "chords": "chords",
    "rbm-feedback": "rbm_feedback",
    "rbm-sampling": "rbm_sampling",
}
_NUMBERS = {str(i): name for i, name in enumerate(GENERATORS, start=1)}


def resolve_name(name_or_number: str | int) -> str:
    """Canonical generator name for a name or the original system's number
    (``2`` -> ``"chords"``)."""
    key = str(name_or_number).strip().lower().replace("_", "-")
    key = _NUMBERS.get(key, key)
    if key not in GENERATORS:
        choices = ", ".join(f"{n}={name}" for n, name in _NUMBERS.items())
        raise InputError(f"Unknown generator {name_or_number!r}; choose one of {choices}.")
    return key


def get_composer(name_or_number: str | int) -> Composer:
    """The ``compose`` function of a generator."""
    name = resolve_name(name_or_number)
    module = importlib.import_module(f"{__name__}.{GENERATORS[name]}")
    return cast(Composer, module.compose)  # importlib's module is Any
