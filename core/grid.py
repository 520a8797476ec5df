"""The musical time grid: timesteps, emotion steps, beats, bars and MIDI ticks, in one place.

A *timestep* is a 16th note (``15 / bpm`` seconds, so ``fps * 15 / bpm`` frames, as in the
original system). A *step* is ``16 * step_bars`` timesteps (the original system's ``multiple``:
one 4/4 bar by default) and carries one emotion point. Both the analysis (:mod:`core.timeline`)
and the music (:mod:`core.music.score`) count time with this module's arithmetic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from .errors import InputError

#: MIDI ticks per quarter note (the resolution every Score and MIDI file uses).
TICKS_PER_BEAT = 480
#: Ticks per timestep, a 16th note.
TICKS_PER_TIMESTEP = TICKS_PER_BEAT // 4
TIMESTEPS_PER_BAR = 16
TIMESTEPS_PER_BEAT = 4
MIN_BPM, MAX_BPM = 30.0, 300.0


@dataclass(frozen=True)
class TimeGrid:
    """The musical grid shared by analysis and generation.

    Parameters
    ----------
    bpm
        Quarter notes per minute.
    step_bars
        Bars (of 16 timesteps) per emotion step.
    """

    bpm: float = 120.0
    step_bars: int = 1

    def __post_init__(self) -> None:
        if not MIN_BPM <= self.bpm <= MAX_BPM:
            raise InputError(
                f"Tempo {self.bpm:g} bpm is outside {MIN_BPM:g}-{MAX_BPM:g}; "
                "pass --bpm with a value in that range."
            )
        if self.step_bars < 1:
            raise InputError("--step-bars must be a whole number of at least 1.")

    @property
    def timestep_s(self) -> float:
        """Length of one 16th-note timestep in seconds."""
        return 15.0 / self.bpm

    @property
    def timesteps_per_step(self) -> int:
        """Timesteps per emotion step (the original system's ``multiple``)."""
        return TIMESTEPS_PER_BAR * self.step_bars

    @property
    def step_s(self) -> float:
        """Length of one emotion step in seconds."""
        return self.timestep_s * self.timesteps_per_step

    def step_count(self, duration_s: float) -> int:
        """Steps needed to cover ``duration_s`` (the last one may be partial)."""
        return max(0, math.ceil(duration_s / self.step_s - 1e-9))

    # --- tick arithmetic: MIDI ticks (TICKS_PER_BEAT to a quarter note) on this grid ---

    #: Ticks per 16th-note timestep.
    ticks_per_timestep: ClassVar[int] = TICKS_PER_TIMESTEP
    #: Ticks per beat (a quarter note).
    ticks_per_beat: ClassVar[int] = TICKS_PER_BEAT
    #: Ticks per 4/4 bar.
    ticks_per_bar: ClassVar[int] = TICKS_PER_TIMESTEP * TIMESTEPS_PER_BAR

    @property
    def ticks_per_step(self) -> int:
        """Ticks per emotion step."""
        return self.timesteps_per_step * TICKS_PER_TIMESTEP

    @property
    def ticks_per_second(self) -> float:
        """Ticks per second at this tempo."""
        return self.bpm * TICKS_PER_BEAT / 60.0

    def ticks_at(self, seconds: float) -> float:
        """The (fractional) tick at ``seconds``."""
        return seconds * self.ticks_per_second

    def seconds_at(self, ticks: float) -> float:
        """The time in seconds of ``ticks``."""
        return ticks / self.ticks_per_second

    def length_ticks(self, duration_s: float) -> int:
        """Whole ticks covering ``duration_s`` (rounded to the nearest tick)."""
        return round(self.ticks_at(duration_s))

    def timestep_count(self, duration_s: float) -> int:
        """16th-note timesteps needed to cover ``duration_s`` (the last one may be partial)."""
        return max(0, math.ceil(duration_s / self.timestep_s - 1e-9))

    def step_of_tick(self, tick: int, step_count: int) -> int:
        """Index of the emotion step sounding at ``tick``, clamped to ``[0, step_count)``."""
        return max(0, min(tick // self.ticks_per_step, step_count - 1))


def ticks_to_seconds(ticks: float, bpm: float, ticks_per_beat: int = TICKS_PER_BEAT) -> float:
    """Seconds of ``ticks`` at ``bpm`` (a Score's own conversion)."""
    return ticks * 60.0 / (bpm * ticks_per_beat)


def seconds_to_ticks(seconds: float, bpm: float, ticks_per_beat: int = TICKS_PER_BEAT) -> int:
    """Nearest tick to ``seconds`` at ``bpm`` (a Score's own conversion)."""
    return round(seconds * bpm * ticks_per_beat / 60.0)
