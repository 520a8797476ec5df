"""Random changing arcs, the input of the music benchmark and of the composition tests.

A module of its own (numpy and ``core.timeline`` only) so ``benchmarks/`` never imports from
``tests/`` and the tests load it as they load :mod:`music_judge`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from core.timeline import TimeGrid


def random_arc(
    seed: int, seconds: float = 120.0
) -> tuple[NDArray[np.float64], NDArray[np.float64], list[float]]:
    """Per-step (per-bar on the default grid) arousal and valence over ``seconds``, jumping
    every 1–6 steps, and a cut at every jump."""
    grid = TimeGrid()
    rng = np.random.default_rng(seed)
    steps = grid.step_count(seconds)
    arousal, valence, cuts = np.empty(steps), np.empty(steps), []
    bar = 0
    while bar < steps:
        length = int(rng.integers(1, 7))
        arousal[bar : bar + length] = rng.uniform(0.05, 0.95)
        side = rng.choice((-1.0, 1.0))
        valence[bar : bar + length] = 0.5 + side * rng.uniform(0.15, 0.45)
        if bar:
            cuts.append(bar * grid.step_s)
        bar += length
    return arousal, valence, cuts
