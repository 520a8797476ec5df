"""Configuration of the scored video."""

from __future__ import annotations

from dataclasses import dataclass

from ..limits import ranged


@dataclass
class VideoConfig:
    """How the scored MP4 is muxed."""

    keep_original_audio: bool = False
    audio_bitrate: int = ranged(192_000, 32_000, 512_000, why="bits per second of AAC")
