"""Configuration of composition and audio rendering."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..limits import MAX_SEED, ranged


@dataclass
class MusicConfig:
    """Which generator and instrument preset compose the score.

    ``programs`` overrides the preset's General MIDI program (0-127) per role, e.g.
    ``{"melody": 73}``; roles are melody, figure, harmony and bass.
    """

    generator: str = "chords"
    preset: str = "piano"
    seed: int = ranged(0, 0, MAX_SEED)
    programs: dict[str, int] = field(default_factory=dict)


@dataclass
class RenderConfig:
    """How the score becomes a WAV file."""

    soundfont: str = ""
    sample_rate: int = ranged(48000, 8000, 96000, why="Hz")
    peak_dbfs: float = ranged(-1.0, -60.0, 0.0, why="dBFS: 0 is full scale")
    fade_s: float = ranged(0.05, 0.0, 10.0, why="seconds")
