"""RBM-Feedback (generator 3): each bar's Gibbs chain continues from the previous bar's.

The model remembers the bar written before (a CRBM); the sampler re-draws stuck bars, steers
the phrase plan's cadences and arranges the notes. See :mod:`core.rbm.compose` for the shared
method and :mod:`core.rbm.arrange` for what is added around the model's notes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..rbm.compose import compose_rbm

if TYPE_CHECKING:
    from ..config import Config
    from ..music.score import Score
    from ..timeline import EmotionTimeline


def compose(timeline: EmotionTimeline, config: Config, seed: int) -> Score:
    """Compose with window-to-window feedback, emotion units clamped to ``timeline``."""
    return compose_rbm(timeline, config, seed, feedback=True)
