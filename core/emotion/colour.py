"""Colour emotion, the original system's method: dominant HSV colours → (arousal, valence).

For each frame, k-means finds ``k`` dominant colours and their pixel shares. Valence of a colour
is ``mean(S, V) / 255``; the frame's arousal is its hue diversity, the sum of circular hue
distances (OpenCV hues cycle at 180) over all pairs of dominant colours, divided by that sum
for ``k`` equidistant hues. The frame's point starts at (0.5, 0.5) and moves toward each
colour's (arousal, valence) by that colour's share.
"""

from __future__ import annotations

import functools
import itertools
from typing import Any, cast

import cv2
import numpy as np
from numpy.typing import NDArray

HUE_CYCLE = 180
CENTRE = np.array([0.5, 0.5])
# k-means converges on a few thousand pixels as well as on all of them; fewer is faster.
MAX_CLUSTER_PIXELS = 4000
KMEANS_CRITERIA = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 10, 1.0)
KMEANS_SEED = 1234


def hue_distance(a: NDArray[Any] | float, b: NDArray[Any] | float) -> NDArray[Any]:
    """Shortest distance between hues on the 0-180 cycle (e.g. 20 and 170 are 30 apart)."""
    diff = np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)) % HUE_CYCLE
    return cast(NDArray[Any], np.minimum(diff, HUE_CYCLE - diff))


@functools.cache
def max_hue_spread(k: int) -> float:
    """Sum of pairwise hue distances for ``k`` equidistant hues (the normaliser)."""
    hues = np.arange(k) * (HUE_CYCLE / k)
    return float(sum(hue_distance(a, b) for a, b in itertools.combinations(hues, 2)))


def dominant_colours(rgb: NDArray[Any], k: int) -> tuple[NDArray[Any], NDArray[Any]]:
    """The ``k`` dominant colours of a picture.

    Parameters
    ----------
    rgb
        ``(h, w, 3)`` uint8 RGB picture (already downscaled).
    k
        Number of clusters.

    Returns
    -------
    centres, shares
        ``(k, 3)`` HSV centres (OpenCV ranges: H 0-180, S and V 0-255) and their pixel shares
        (summing to 1).
    """
    pixels = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV).reshape(-1, 3)
    step = max(1, int(np.ceil(len(pixels) / MAX_CLUSTER_PIXELS)))
    samples = np.ascontiguousarray(pixels[::step], dtype=np.float32)
    k = min(k, len(samples))
    # cv2.kmeans draws its seeds from OpenCV's global RNG: reseed it so that the same video
    # always gives the same timeline (and so the same music).
    cv2.setRNGSeed(KMEANS_SEED)
    # OpenCV's stubs require bestLabels, which cv2.kmeans takes as None (it makes the labels).
    _, labels, centres = cv2.kmeans(  # type: ignore[call-overload]
        samples, k, None, KMEANS_CRITERIA, 1, cv2.KMEANS_PP_CENTERS
    )
    shares = np.bincount(labels.ravel(), minlength=k).astype(np.float64) / len(labels)
    return centres.astype(np.float64), shares


def colour_point(centres: NDArray[Any], shares: NDArray[Any], k: int) -> tuple[float, float]:
    """The original system's (arousal, valence) of one frame from its dominant colours."""
    pairs = itertools.combinations(centres[:, 0], 2)
    spread = sum(float(hue_distance(a, b)) for a, b in pairs)
    arousal = min(1.0, spread / max_hue_spread(k))
    point = CENTRE.copy()
    for (_, saturation, value), share in zip(centres, shares, strict=True):
        colour = np.array([arousal, (saturation + value) / 2.0 / 255.0])
        point += share * (colour - CENTRE)
    return float(np.clip(point[0], 0.0, 1.0)), float(np.clip(point[1], 0.0, 1.0))


def colour_emotion(rgb: NDArray[Any], k: int = 8) -> tuple[float, float]:
    """(arousal, valence) of one RGB frame by the original system's colour method."""
    centres, shares = dominant_colours(rgb, k)
    return colour_point(centres, shares, k)
