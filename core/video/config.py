"""Configuration of the scored video."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class VideoConfig:
    """How the scored MP4 is muxed."""

    keep_original_audio: bool = False
    audio_bitrate: int = 192_000
