"""Configuration of composition and audio rendering."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class MusicConfig:
    """Which generator and instrument preset compose the score.

    ``programs`` overrides the preset's General MIDI program (0-127) per role, e.g.
    ``{"melody": 73}``; roles are melody, figure, harmony and bass.
    """

    generator: str = "chords"
    preset: str = "piano"
    seed: int = 0
    programs: dict[str, int] = field(default_factory=dict)


@dataclass
class RenderConfig:
    """How the score becomes a WAV file."""

    soundfont: str = ""
    sample_rate: int = 48000
    peak_dbfs: float = -1.0
    fade_s: float = 0.05
