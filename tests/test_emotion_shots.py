"""Hard cuts and motion: found where they are, not where they are not."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from core.config import Config
from core.emotion import analyze
from core.emotion.shots import ShotTracker
from tests.clips import render_frames, write_clip

FPS = 25.0
WIDTH, HEIGHT = 320, 180


def textured_scene(seed: int, width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    """A smooth random landscape around one hue per seed (wider than the frame for pans)."""
    rng = np.random.default_rng(seed)
    cells = (6, max(2, width // 50))
    hsv = np.empty((*cells, 3), np.uint8)
    hsv[..., 0] = (seed * 47 + rng.integers(0, 25, cells)) % 180
    hsv[..., 1] = rng.integers(60, 230, cells)
    hsv[..., 2] = rng.integers(50, 250, cells)
    coarse = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    return cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)


def grey_texture(
    seed: int, width: int = WIDTH, height: int = HEIGHT, low: int = 40, high: int = 220
) -> np.ndarray:
    """Colourless texture: its colour arousal is low, so motion and cuts show clearly."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(low, high, (9, max(2, width // 20)), dtype=np.uint8)
    grey = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    return np.dstack([grey] * 3)


SCENES = [textured_scene(seed) for seed in (1, 2, 3, 4)]
GREYS = [grey_texture(1, low=20, high=130), grey_texture(2, low=110, high=240)]


def motion_config(**analysis) -> Config:
    config = Config(bpm=240.0)  # 1 s steps
    config.analysis.sources = ["colour", "motion"]
    for key, value in analysis.items():
        setattr(config.analysis, key, value)
    return config


def test_hard_cuts_are_found_within_one_frame(tmp_path):
    cut_frames = [23, 51, 88]  # not on step boundaries or frame-rate multiples

    def frame(index: int, _t: float) -> np.ndarray:
        scene = sum(index >= c for c in cut_frames)
        # Slight movement inside each shot, as in real footage.
        return np.roll(SCENES[scene], index, axis=1)

    clip = write_clip(tmp_path / "cuts.mp4", render_frames(frame, 4.6, FPS), fps=FPS)
    timeline = analyze(clip, motion_config())
    expected = [c / FPS for c in cut_frames]
    assert len(timeline.cuts_s) == len(expected), timeline.cuts_s
    for found, truth in zip(timeline.cuts_s, expected, strict=True):
        assert abs(found - truth) <= 1.0 / FPS + 1e-6
    per_step = [s.sources["cuts"] for s in timeline.steps]
    assert sum(per_step) == 3 and per_step[0] == 1 and per_step[2] == 1 and per_step[3] == 1


def test_slow_fade_and_cross_dissolve_are_not_cuts(tmp_path):
    def frame(_index: int, t: float) -> np.ndarray:
        if t < 1.5:  # fade out to black
            return (SCENES[0] * (1 - t / 1.5)).astype(np.uint8)
        if t < 3.0:  # fade in from black
            return (SCENES[1] * ((t - 1.5) / 1.5)).astype(np.uint8)
        mix = min(1.0, (t - 3.0) / 1.5)  # cross-dissolve to the next scene
        return cv2.addWeighted(SCENES[1], 1 - mix, SCENES[2], mix, 0)

    clip = write_clip(tmp_path / "fade.mp4", render_frames(frame, 4.6, FPS), fps=FPS)
    assert analyze(clip, motion_config()).cuts_s == ()


def test_pan_is_not_a_cut_and_moves_more_than_a_still(tmp_path):
    wide = grey_texture(7, width=WIDTH * 4)

    def pan(index: int, _t: float) -> np.ndarray:
        x = index * 8  # 200 px/s
        return np.ascontiguousarray(wide[:, x : x + WIDTH])

    def still(_index: int, _t: float) -> np.ndarray:
        return wide[:, :WIDTH]

    panned = analyze(
        write_clip(tmp_path / "pan.mp4", render_frames(pan, 3.0, FPS), fps=FPS), motion_config()
    )
    static = analyze(
        write_clip(tmp_path / "still.mp4", render_frames(still, 3.0, FPS), fps=FPS), motion_config()
    )
    assert panned.cuts_s == ()
    pan_motion = np.array([s.sources["motion"] for s in panned.steps])
    still_motion = np.array([s.sources["motion"] for s in static.steps])
    assert np.all(pan_motion > 0.2) and np.all(still_motion < 0.05)
    assert panned.arousal.mean() > static.arousal.mean() + 0.05


def test_motion_weight_controls_the_arousal_lift(tmp_path):
    def moving(index: int, _t: float) -> np.ndarray:
        return np.roll(grey_texture(3), index * 12, axis=1)

    clip = write_clip(tmp_path / "move.mp4", render_frames(moving, 2.0, FPS), fps=FPS)
    calm = analyze(clip, motion_config(motion_weight=0.0))
    lively = analyze(clip, motion_config(motion_weight=0.5))
    colour_only = np.array([s.sources["colour_arousal"] for s in calm.steps])
    np.testing.assert_allclose(calm.arousal, colour_only, atol=0.05)
    assert np.all(lively.arousal > calm.arousal + 0.05)


def test_cut_rate_raises_arousal(tmp_path):
    def frantic(index: int, _t: float) -> np.ndarray:
        return GREYS[(index // 8) % 2]  # a cut every 0.32 s

    def calm(_index: int, _t: float) -> np.ndarray:
        return GREYS[0]

    config = motion_config(motion_weight=0.0, cut_weight=0.4)
    cut_up = analyze(
        write_clip(tmp_path / "f.mp4", render_frames(frantic, 2.0, FPS), fps=FPS), config
    )
    steady = analyze(write_clip(tmp_path / "c.mp4", render_frames(calm, 2.0, FPS), fps=FPS), config)
    assert len(cut_up.cuts_s) >= 5
    lift = cut_up.arousal - np.array([s.sources["colour_arousal"] for s in cut_up.steps])
    assert np.all(lift > 0.1)
    assert steady.cuts_s == ()


def test_tracker_reports_a_flash_as_one_cut_at_most():
    tracker = ShotTracker()
    thumb = cv2.cvtColor(SCENES[0], cv2.COLOR_RGB2YUV)[::3, ::3]
    flash = np.full_like(thumb, 250)
    cuts = [
        tracker.update(t, i / FPS)[0] for i, t in enumerate([thumb] * 10 + [flash] + [thumb] * 10)
    ]
    assert sum(cuts) <= 1


@pytest.mark.parametrize("smoothing", [0.0, 0.8])
def test_values_jump_at_a_cut_even_when_smoothed(tmp_path, smoothing):
    dark = np.full((HEIGHT, WIDTH, 3), 30, np.uint8)
    hsv = np.empty((HEIGHT, WIDTH, 3), np.uint8)
    hsv[..., 0] = (np.arange(WIDTH) * 180 // WIDTH)[None, :]
    hsv[..., 1], hsv[..., 2] = 230, 240
    bright = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)

    def frame(index: int, t: float) -> np.ndarray:
        return dark if t < 3.0 else bright

    clip = write_clip(tmp_path / "jump.mp4", render_frames(frame, 6.0, FPS), fps=FPS)
    timeline = analyze(clip, motion_config(smoothing=smoothing))
    assert timeline.cuts_s and abs(timeline.cuts_s[0] - 3.0) <= 1 / FPS
    # The step holding the cut and the one after it are not dragged toward the dark shot.
    assert timeline.valence[3] > timeline.valence[2] + 0.3
    assert timeline.valence[4] == pytest.approx(timeline.valence[5], abs=0.05)
