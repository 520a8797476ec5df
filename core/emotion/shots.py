"""Hard cuts and motion energy, from a tiny YUV thumbnail of every frame.

A cut is a frame whose colour histogram differs from the previous frame's far more than the
recent frame-to-frame differences of the same shot (an adaptive threshold). Histograms use soft
(linearly interpolated) bins, so a fade or a pan, which shifts values a little per frame, moves
the histogram a little per frame instead of tipping whole regions across a bin edge at once.
Motion is the mean absolute luma difference between consecutive frames, excluding cuts.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

LUMA_BINS, CHROMA_BINS = 16, 8
REFERENCE_FPS = 30.0


def soft_histogram(values: NDArray[Any], bins: int) -> NDArray[Any]:
    """Histogram of uint8 ``values`` with each sample split between its two nearest bins."""
    position = values.astype(np.float32).ravel() * (bins / 256.0) - 0.5
    lower = np.floor(position)
    upper_weight = position - lower
    lower_index = np.clip(lower, 0, bins - 1).astype(np.intp)
    upper_index = np.clip(lower + 1, 0, bins - 1).astype(np.intp)
    histogram = np.bincount(lower_index, 1.0 - upper_weight, minlength=bins)
    histogram += np.bincount(upper_index, upper_weight, minlength=bins)
    return histogram / values.size


def frame_signature(thumb: NDArray[Any]) -> NDArray[Any]:
    """Concatenated soft histograms of Y, U and V of an ``(h, w, 3)`` YUV thumbnail."""
    return np.concatenate(
        [
            soft_histogram(thumb[..., 0], LUMA_BINS),
            soft_histogram(thumb[..., 1], CHROMA_BINS),
            soft_histogram(thumb[..., 2], CHROMA_BINS),
        ]
    )


def signature_distance(a: NDArray[Any], b: NDArray[Any]) -> float:
    """Histogram change between two frames in [0, 1]: luma weighs half, each chroma a quarter."""
    luma = np.abs(a[:LUMA_BINS] - b[:LUMA_BINS]).sum()
    chroma = np.abs(a[LUMA_BINS:] - b[LUMA_BINS:]).sum()
    return float(0.25 * luma + 0.125 * chroma)


@dataclass(frozen=True)
class CutSettings:
    """Adaptive threshold of the cut detector.

    A frame is a cut when its histogram distance exceeds ``min_distance``, ``sigmas`` standard
    deviations above the mean of the shot's recent distances, and ``ratio`` times that mean; and
    the shot before it lasted at least ``min_shot_s`` (a flash gives one cut, not two).
    """

    min_distance: float = 0.1
    sigmas: float = 5.0
    ratio: float = 4.0
    window: int = 30
    min_shot_s: float = 0.25


class ShotTracker:
    """Feed it every frame's thumbnail in order; it reports cuts and motion as it goes."""

    def __init__(self, settings: CutSettings | None = None) -> None:
        self.settings = settings or CutSettings()
        self._recent: deque[float] = deque(maxlen=self.settings.window)
        self._signature: NDArray[Any] | None = None
        self._luma: NDArray[Any] | None = None
        self._time_s: float | None = None
        self._shot_start_s = -math.inf

    def update(self, thumb: NDArray[Any], time_s: float) -> tuple[bool, float | None]:
        """Process the next frame.

        Returns
        -------
        is_cut, motion
            Whether this frame starts a new shot, and the mean absolute luma change from the
            previous frame in grey levels per 1/30 s (``None`` for the first frame and at cuts,
            where the difference measures the edit, not movement in the picture).
        """
        signature = frame_signature(thumb)
        luma = thumb[..., 0].astype(np.int16)
        previous_signature, previous_luma, previous_time = self._signature, self._luma, self._time_s
        self._signature, self._luma, self._time_s = signature, luma, time_s
        # The three are set together: all None before the first frame only.
        if (
            previous_signature is None
            or previous_luma is None
            or previous_time is None
            or previous_luma.shape != luma.shape
        ):
            return False, None
        distance = signature_distance(signature, previous_signature)
        if self._is_cut(distance, time_s):
            self._recent.clear()
            self._shot_start_s = time_s
            return True, None
        self._recent.append(distance)
        frame_gap = max(time_s - previous_time, 1e-3)
        change = float(np.abs(luma - previous_luma).mean())
        return False, change / (frame_gap * REFERENCE_FPS)

    def _is_cut(self, distance: float, time_s: float) -> bool:
        settings = self.settings
        if distance < settings.min_distance or time_s - self._shot_start_s < settings.min_shot_s:
            return False
        if len(self._recent) < 2:
            return True
        recent = np.fromiter(self._recent, np.float64)
        mean, spread = float(recent.mean()), float(recent.std())
        return distance > mean + settings.sigmas * spread and distance > settings.ratio * mean


def motion_level(change: float, scale: float) -> float:
    """Map mean luma change per 1/30 s onto 0..1 (``scale`` grey levels gives about 0.63)."""
    return 1.0 - math.exp(-change / scale)
