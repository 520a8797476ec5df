"""The emotion timeline: arousal and valence per step of the musical time grid.

The grid itself (timesteps, steps, ticks) is :mod:`core.grid`; each step of the timeline
carries one (arousal, valence) point, both in [0, 1].
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import InputError

# Re-exported: the grid stays part of this module's API (``from core.timeline import TimeGrid``).
from .grid import MAX_BPM as MAX_BPM
from .grid import MIN_BPM as MIN_BPM
from .grid import TIMESTEPS_PER_BAR as TIMESTEPS_PER_BAR
from .grid import TIMESTEPS_PER_BEAT as TIMESTEPS_PER_BEAT
from .grid import TimeGrid as TimeGrid
from .limits import quoted


@dataclass(frozen=True)
class EmotionStep:
    """One step of the timeline.

    ``sources`` holds each analysis source's own reading, e.g. ``{"colour_arousal": 0.4,
    "colour_valence": 0.6, "face_valence": nan, "motion": 0.1, "faces": 0}``; NaN means the
    source saw nothing in this step.
    """

    start_s: float
    end_s: float
    arousal: float
    valence: float
    sources: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class EmotionTimeline:
    """Arousal and valence over time, plus the hard cuts found in the video."""

    grid: TimeGrid
    duration_s: float
    steps: tuple[EmotionStep, ...]
    cuts_s: tuple[float, ...] = ()

    @property
    def arousal(self) -> NDArray[Any]:
        """Arousal per step, shape ``(n_steps,)``."""
        return np.array([s.arousal for s in self.steps], dtype=np.float64)

    @property
    def valence(self) -> NDArray[Any]:
        """Valence per step, shape ``(n_steps,)``."""
        return np.array([s.valence for s in self.steps], dtype=np.float64)

    def with_values(self, arousal: NDArray[Any], valence: NDArray[Any]) -> EmotionTimeline:
        """Return a copy with new per-step arousal and valence (e.g. edited curves)."""
        if len(arousal) != len(self.steps) or len(valence) != len(self.steps):
            raise ValueError("arousal and valence need one value per step")
        steps = tuple(
            replace(s, arousal=float(a), valence=float(v))
            for s, a, v in zip(self.steps, arousal, valence, strict=True)
        )
        return replace(self, steps=steps)

    def stretched(self, duration_s: float) -> EmotionTimeline:
        """The same arc played over ``duration_s`` instead of its own length, on the same grid.

        Each new step takes the value the old curves have at the matching moment, so the arc
        keeps its shape (e.g. 25 fps footage playing frame by frame in a 24 fps scene).
        """
        if duration_s <= 0:
            raise ValueError(f"cannot stretch a timeline to {duration_s} s; give a positive length")
        scale = self.duration_s / duration_s
        count = max(1, self.grid.step_count(duration_s))
        new_mids = np.minimum((np.arange(count) + 0.5) * self.grid.step_s, duration_s) * scale
        old_mids = np.array([(s.start_s + s.end_s) / 2 for s in self.steps])
        return EmotionTimeline.from_values(
            np.interp(new_mids, old_mids, self.arousal),
            np.interp(new_mids, old_mids, self.valence),
            grid=self.grid,
            duration_s=duration_s,
            cuts_s=tuple(cut / scale for cut in self.cuts_s),
        )

    @classmethod
    def from_values(
        cls,
        arousal: NDArray[Any] | list[float],
        valence: NDArray[Any] | list[float],
        grid: TimeGrid | None = None,
        duration_s: float | None = None,
        cuts_s: tuple[float, ...] = (),
    ) -> EmotionTimeline:
        """Build a timeline from per-step values on ``grid`` (no video needed)."""
        grid = grid or TimeGrid()
        n = len(arousal)
        if duration_s is None:
            duration_s = n * grid.step_s
        steps = tuple(
            EmotionStep(
                start_s=i * grid.step_s,
                end_s=min((i + 1) * grid.step_s, duration_s),
                arousal=float(a),
                valence=float(v),
            )
            for i, (a, v) in enumerate(zip(arousal, valence, strict=True))
        )
        return cls(grid=grid, duration_s=float(duration_s), steps=steps, cuts_s=tuple(cuts_s))


def format_emotion_text(timeline: EmotionTimeline) -> str:
    """The original system's emotion file: one ``arousal, valence`` line per step."""
    return "".join(f"{s.arousal:.6f}, {s.valence:.6f}\n" for s in timeline.steps)


def parse_emotion_text(text: str, source: str = "<text>") -> list[tuple[float, float]]:
    """Parse the original system's emotion format into ``(arousal, valence)`` pairs.

    Raises
    ------
    InputError
        On a malformed line or a value outside [0, 1], naming the line number.
    """
    values: list[tuple[float, float]] = []
    text = text.removeprefix("\ufeff")  # a byte-order mark, as Windows Notepad writes
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        parts = [p.strip() for p in stripped.replace(";", ",").split(",")]
        try:
            if len(parts) != 2:
                raise ValueError
            arousal, valence = float(parts[0]), float(parts[1])
        except ValueError:
            raise InputError(
                f"{source}, line {number}: expected 'arousal, valence' (two numbers), "
                f"got {quoted(stripped)}; fix that line."
            ) from None
        if not (0.0 <= arousal <= 1.0 and 0.0 <= valence <= 1.0) or math.isnan(arousal + valence):
            raise InputError(
                f"{source}, line {number}: values must lie in [0, 1], got {quoted(stripped)}; "
                "fix that line."
            )
        values.append((arousal, valence))
    if not values:
        raise InputError(f"{source} holds no 'arousal, valence' lines; give a non-empty file.")
    return values


def read_emotion_file(path: str | Path, grid: TimeGrid | None = None) -> EmotionTimeline:
    """Read an emotion file in the original system's format into a timeline on ``grid``.

    A UTF-8 byte-order mark (as Windows Notepad writes) is accepted. Files over
    :data:`~core.limits.MAX_EMOTION_FILE_BYTES` and timelines longer than
    :data:`~core.limits.MAX_DURATION_S` are refused before any work.
    """
    from .files import check_input_file
    from .limits import MAX_DURATION_S, MAX_EMOTION_FILE_BYTES

    path = Path(path)
    grid = grid or TimeGrid()
    check_input_file(path, "Emotion file", "pass an 'arousal, valence' text file")
    size = path.stat().st_size
    if size > MAX_EMOTION_FILE_BYTES:
        raise InputError(
            f"Emotion file {path} is {size / 2**20:.0f} MB, more than the "
            f"{MAX_EMOTION_FILE_BYTES // 2**20} MB an emotion file of up to "
            f"{MAX_DURATION_S / 3600:g} hours needs; pass the right file."
        )
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{path} is not a text file; pass a '.emotions.txt' file.") from None
    pairs = parse_emotion_text(text, source=str(path))
    duration_s = len(pairs) * grid.step_s
    if duration_s > MAX_DURATION_S:
        raise InputError(
            f"Emotion file {path} has {len(pairs)} steps, {duration_s / 3600:.1f} hours at "
            f"{grid.bpm:g} bpm; Moodscore composes at most {MAX_DURATION_S / 3600:g} hours, "
            "so split the file."
        )
    arousal, valence = zip(*pairs, strict=True)
    return EmotionTimeline.from_values(list(arousal), list(valence), grid=grid)
