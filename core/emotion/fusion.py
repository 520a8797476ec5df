"""Combine the sources of one step into (arousal, valence), then smooth within shots."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .config import AnalysisConfig

NEUTRAL = (0.5, 0.5)
CUTS_PER_S_AT_FULL = 1.0  # one cut per second is frantic editing: full cut activity
MAX_SMOOTHING = 0.95


def _point(sources: dict[str, float], prefix: str) -> tuple[float, float] | None:
    arousal = sources.get(f"{prefix}_arousal", math.nan)
    valence = sources.get(f"{prefix}_valence", math.nan)
    return None if math.isnan(arousal) or math.isnan(valence) else (arousal, valence)


def fuse_step(
    sources: dict[str, float], length_s: float, analysis: AnalysisConfig
) -> tuple[float, float]:
    """(arousal, valence) of one step from its per-source readings.

    Faces (Cloud Vision when it answered for this step, else the local model) and colour are
    mixed by ``face_weight``; without faces the colour value stands alone (the original rule);
    without either the point is neutral. Arousal is then a weighted mix of that picture
    arousal, motion and cut activity, as in affective film analysis (motion and cut rate drive
    arousal): ``motion_weight`` and ``cut_weight`` are their shares, the rest stays with the
    picture, so a step can only gain arousal from more motion or faster editing.
    """
    colour = _point(sources, "colour")
    faces = _point(sources, "cloud") or _point(sources, "face")
    if colour and faces:
        weight = min(1.0, max(0.0, analysis.face_weight))
        base = tuple((1 - weight) * c + weight * f for c, f in zip(colour, faces, strict=True))
    else:
        base = colour or faces or NEUTRAL
    arousal, valence = base
    motion = sources.get("motion", math.nan)
    cuts = sources.get("cuts", math.nan)
    motion_share = 0.0 if math.isnan(motion) else max(0.0, analysis.motion_weight)
    cut_share = 0.0 if math.isnan(cuts) or length_s <= 0 else max(0.0, analysis.cut_weight)
    total = motion_share + cut_share
    if total > 1.0:  # overflowing weights keep their ratio and leave nothing to the picture
        motion_share, cut_share, total = motion_share / total, cut_share / total, 1.0
    if total > 0:
        cut_activity = min(1.0, cuts / length_s / CUTS_PER_S_AT_FULL) if cut_share else 0.0
        arousal = (
            (1.0 - total) * arousal
            + (motion_share * motion if motion_share else 0.0)
            + cut_share * cut_activity
        )
    return float(np.clip(arousal, 0, 1)), float(np.clip(valence, 0, 1))


def _zero_phase_ema(values: NDArray[Any], strength: float) -> NDArray[Any]:
    """Exponential smoothing forwards then backwards, so the curve is not delayed."""
    out = values.astype(np.float64).copy()
    for indices in (range(1, len(out)), range(len(out) - 2, -1, -1)):
        step = 1 if indices.step == 1 else -1
        for i in indices:
            out[i] = strength * out[i - step] + (1 - strength) * out[i]
    return out


def smooth_within_shots(
    values: NDArray[Any], shot_starts: Sequence[int], strength: float
) -> NDArray[Any]:
    """Smooth per-step ``values`` inside each shot; a step in ``shot_starts`` begins a new one.

    Parameters
    ----------
    values
        One value per step.
    shot_starts
        Steps that contain a cut: no smoothing crosses into them, so the music may jump there.
    strength
        0 leaves the values as they are; larger values smooth more (capped below 1).
    """
    strength = min(MAX_SMOOTHING, max(0.0, strength))
    if strength == 0 or len(values) < 2:
        return np.asarray(values, np.float64)
    bounds = sorted({0, len(values), *(s for s in shot_starts if 0 < s < len(values))})
    return np.concatenate(
        [_zero_phase_ema(np.asarray(values[a:b]), strength) for a, b in itertools.pairwise(bounds)]
    )
