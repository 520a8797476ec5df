"""The emotion timeline type: the original system's text format and stretching to another length."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import InputError
from core.timeline import EmotionTimeline, TimeGrid, format_emotion_text, parse_emotion_text


def test_grid_follows_the_seed() -> None:
    grid = TimeGrid(bpm=120, step_bars=1)
    assert grid.timestep_s == pytest.approx(0.125)  # fps * 15 / bpm frames per timestep
    assert grid.timesteps_per_step == 16
    assert grid.step_count(8.0) == 4
    assert grid.step_count(8.1) == 5


def test_text_round_trip() -> None:
    timeline = EmotionTimeline.from_values([0.1, 0.9], [0.25, 0.75])
    assert parse_emotion_text(format_emotion_text(timeline)) == [(0.1, 0.25), (0.9, 0.75)]


def test_bpm_outside_range_is_refused() -> None:
    with pytest.raises(InputError, match="30-300"):
        TimeGrid(bpm=301)


def test_stretched_keeps_the_arc_and_moves_cuts() -> None:
    rising = EmotionTimeline.from_values(
        np.linspace(0, 1, 5), np.linspace(1, 0, 5), duration_s=10.0, cuts_s=(5.0,)
    )
    longer = rising.stretched(12.0)
    assert longer.duration_s == 12.0
    assert len(longer.steps) == 6
    assert np.all(np.diff(longer.arousal) > 0) and np.all(np.diff(longer.valence) < 0)
    assert longer.cuts_s == pytest.approx((6.0,))
    assert longer.arousal[0] >= rising.arousal[0] and longer.arousal[-1] <= rising.arousal[-1]
