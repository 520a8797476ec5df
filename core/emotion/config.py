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
    """How emotions are read from the video."""

    sources: list[str] = field(default_factory=lambda: list(LOCAL_SOURCES))
    analysis_width: int = 160
    colour_clusters: int = 8
    frames_per_step: int = 8
    face_weight: float = 0.5
    motion_weight: float = 0.25
    cut_weight: float = 0.15
    smoothing: float = 0.5
    cloud: CloudConfig = field(default_factory=CloudConfig)
