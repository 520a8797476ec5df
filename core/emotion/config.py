"""Configuration of emotion analysis."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..limits import ranged

LOCAL_SOURCES = ("colour", "face", "motion")
ALL_SOURCES = (*LOCAL_SOURCES, "cloud")


@dataclass
class CloudConfig:
    """Optional Google Cloud Vision face backend (off unless ``cloud`` is among the sources).

    The API key is read from ``MOODSCORE_VISION_API_KEY`` or set here; it is never written
    to outputs, logs or manifests.
    """

    api_key: str = field(default="", repr=False, metadata={"secret": True})
    #: Marked as a URL: ``score.json`` masks a key passed in it (``?key=...``).
    endpoint: str = field(
        default="https://vision.googleapis.com/v1/images:annotate", metadata={"url": True}
    )
    timeout_s: float = ranged(10.0, 0.1, 300.0)
    max_retries: int = ranged(3, 0, 10)
    backoff_s: float = ranged(0.5, 0.0, 60.0)
    max_requests: int = ranged(200, 0, 100_000)


@dataclass
class AnalysisConfig:
    """How emotions are read from the video.

    ``sources`` picks from ``colour``, ``face``, ``motion`` (motion energy and hard cuts) and
    ``cloud`` (Google Cloud Vision faces, falling back to the local face model on failure).
    Per step, ``frames_per_step`` frames are clustered for colour at ``analysis_width`` pixels
    and ``face_frames_per_step`` frames are searched for faces at ``face_detect_width`` pixels,
    ignoring faces smaller than ``face_min_size`` of the frame height. With faces, a step's
    point is ``(1 - face_weight) * colour + face_weight * face`` (at 0.5, the original system's
    mean).
    Arousal mixes the picture's arousal with motion (mean luma change per 1/30 s,
    ``motion_scale`` grey levels ≈ 0.63) and cut rate (one cut per second = 1), which take
    ``motion_weight`` and ``cut_weight`` of it: more motion or faster cutting raises arousal.
    ``cut_min_distance`` is the smallest histogram change (0-1) that may be a cut.
    ``smoothing`` (0 = none, towards 1 = heavy) smooths steps within a shot, never across a cut.
    """

    sources: list[str] = field(default_factory=lambda: list(LOCAL_SOURCES))
    analysis_width: int = ranged(160, 16, 1920, why="wider only costs time")
    colour_clusters: int = ranged(8, 1, 32, why="more clusters than colours in a mood palette")
    frames_per_step: int = ranged(8, 1, 64)
    face_frames_per_step: int = ranged(2, 1, 32)
    face_detect_width: int = ranged(256, 64, 3840)
    face_min_size: float = ranged(0.15, 0.01, 1.0, why="a fraction of the frame height")
    face_weight: float = ranged(0.5, 0.0, 1.0)
    motion_weight: float = ranged(0.25, 0.0, 1.0)
    motion_scale: float = ranged(8.0, 0.1, 255.0, why="grey levels")
    cut_weight: float = ranged(0.15, 0.0, 1.0)
    cut_min_distance: float = ranged(0.1, 0.0, 1.0)
    smoothing: float = ranged(0.5, 0.0, 0.95, why="0 none, 0.95 heaviest")
    cloud: CloudConfig = field(default_factory=CloudConfig)
