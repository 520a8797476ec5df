"""Configuration of composition and audio rendering."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class MusicConfig:
    """Which generator and instrument preset compose the score."""

    generator: str = "chords"
    preset: str = "piano"
    seed: int = 0


@dataclass
class RenderConfig:
    """How the score becomes a WAV file."""

    soundfont: str = ""
    sample_rate: int = 48000
    peak_dbfs: float = -1.0
    fade_s: float = 0.05
