"""Configuration of emotion analysis."""

from __future__ import annotations

from dataclasses import dataclass, field

LOCAL_SOURCES = ("colour", "face", "motion")
ALL_SOURCES = (*LOCAL_SOURCES, "cloud")


@dataclass
class CloudConfig:
    """Optional Google Cloud Vision face backend (off unless ``cloud`` is among the sources).

    The API key is read from ``MOODSCORE_VISION_API_KEY`` or set here; it is never written
    to outputs, logs or manifests.
    """

    api_key: str = field(default="", repr=False, metadata={"secret": True})
    endpoint: str = "https://vision.googleapis.com/v1/images:annotate"
    timeout_s: float = 10.0
    max_retries: int = 3
    backoff_s: float = 0.5
    max_requests: int = 200


@dataclass
class AnalysisConfig:
    """How emotions are read from the video.

    ``sources`` picks from ``colour``, ``face``, ``motion`` (motion energy and hard cuts) and
    ``cloud`` (Google Cloud Vision faces, falling back to the local face model on failure).
    Per step, ``frames_per_step`` frames are clustered for colour at ``analysis_width`` pixels
    and ``face_frames_per_step`` frames are searched for faces at ``face_detect_width`` pixels,
    ignoring faces smaller than ``face_min_size`` of the frame height. With faces, a step's
    point is ``(1 - face_weight) * colour + face_weight * face`` (the seed's mean at 0.5).
    Arousal mixes the picture's arousal with motion (mean luma change per 1/30 s,
    ``motion_scale`` grey levels ≈ 0.63) and cut rate (one cut per second = 1), which take
    ``motion_weight`` and ``cut_weight`` of it: more motion or faster cutting raises arousal.
    ``cut_min_distance`` is the smallest histogram change (0-1) that may be a cut.
    ``smoothing`` (0 = none, towards 1 = heavy) smooths steps within a shot, never across a cut.
    """

    sources: list[str] = field(default_factory=lambda: list(LOCAL_SOURCES))
    analysis_width: int = 160
    colour_clusters: int = 8
    frames_per_step: int = 8
    face_frames_per_step: int = 2
    face_detect_width: int = 256
    face_min_size: float = 0.15
    face_weight: float = 0.5
    motion_weight: float = 0.25
    motion_scale: float = 8.0
    cut_weight: float = 0.15
    cut_min_distance: float = 0.1
    smoothing: float = 0.5
    cloud: CloudConfig = field(default_factory=CloudConfig)
