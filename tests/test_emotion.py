"""Emotion analysis end to end on synthetic clips: colour, grid, errors, progress, export."""

from __future__ import annotations

import csv
import math
import threading

import numpy as np
import pytest

from core.config import Config
from core.emotion import analyze, validate_sources
from core.emotion.colour import colour_point, max_hue_spread
from core.emotion.export import plot_timeline, write_csv, write_cuts_csv
from core.emotion.fusion import smooth_within_shots
from core.errors import Cancelled, InputError
from core.timeline import EmotionTimeline
from tests.clips import dark_to_bright, render_frames, write_clip

FPS = 25.0


@pytest.fixture(scope="module")
def dark_bright_timeline(dark_bright_clip):
    """``dark_bright_clip`` (conftest): 8 s dark, grey, still, then bright, colourful, moving."""
    return analyze(dark_bright_clip, Config())


def test_bright_colourful_moving_half_is_happier_and_more_aroused(dark_bright_timeline):
    timeline = dark_bright_timeline
    assert len(timeline.steps) == 4  # 8 s of 2 s bars at 120 bpm
    assert timeline.valence[2:].min() > timeline.valence[:2].max() + 0.2
    assert timeline.arousal[2:].min() > timeline.arousal[:2].max() + 0.2
    assert np.all((timeline.arousal >= 0) & (timeline.arousal <= 1))
    assert np.all((timeline.valence >= 0) & (timeline.valence <= 1))


def test_steps_follow_the_grid_and_carry_every_source_key(dark_bright_timeline):
    timeline = dark_bright_timeline
    assert timeline.duration_s == pytest.approx(8.0)
    for i, step in enumerate(timeline.steps):
        assert step.start_s == pytest.approx(2.0 * i) and step.end_s == pytest.approx(2.0 * i + 2)
        assert set(step.sources) == {
            "colour_arousal",
            "colour_valence",
            "face_arousal",
            "face_valence",
            "faces",
            "motion",
            "cuts",
        }
        assert all(isinstance(v, float) for v in step.sources.values())
    # The still half has no motion, the striped half moves.
    assert timeline.steps[0].sources["motion"] < 0.05 < timeline.steps[3].sources["motion"]


def test_colour_point_follows_the_seed_formula():
    grey = np.array([[0.0, 0.0, 128.0]] * 8)
    assert colour_point(grey, np.full(8, 1 / 8), 8) == pytest.approx((0.0, 128 / 2 / 255))
    rainbow = np.array([[h * 22.5, 255.0, 255.0] for h in range(8)])
    arousal, valence = colour_point(rainbow, np.full(8, 1 / 8), 8)
    assert arousal == pytest.approx(1.0) and valence == pytest.approx(1.0)
    assert max_hue_spread(2) == pytest.approx(90.0)


def test_range_is_relative_to_start_and_last_step_may_be_partial(dark_bright_clip):
    config = Config(bpm=240.0)  # 1 s steps
    timeline = analyze(dark_bright_clip, config, start_s=3.0, end_s=5.5)
    assert timeline.duration_s == pytest.approx(2.5)
    assert [s.start_s for s in timeline.steps] == pytest.approx([0.0, 1.0, 2.0])
    assert timeline.steps[-1].end_s == pytest.approx(2.5)
    # 3-4 s is the dark half, 4-5.5 s the bright one.
    assert timeline.valence[1] > timeline.valence[0] + 0.2
    assert not math.isnan(timeline.steps[-1].sources["colour_valence"])


def test_clip_shorter_than_one_step_is_refused(tmp_path):
    clip = write_clip(tmp_path / "short.mp4", render_frames(dark_to_bright(), 1.5, FPS), fps=FPS)
    with pytest.raises(InputError, match=r"shorter than one step \(2\.0 s at 120 bpm\)"):
        analyze(clip, Config())
    assert len(analyze(clip, Config(bpm=240.0)).steps) == 2  # 1 s steps fit: 1 + a partial one


def test_unknown_source_is_refused_by_name(dark_bright_clip):
    config = Config()
    config.analysis.sources = ["colour", "smell"]
    with pytest.raises(InputError, match=r"'smell'.*colour, face, motion, cloud"):
        analyze(dark_bright_clip, config)
    assert validate_sources([" Colour", "motion", "colour"]) == ("colour", "motion")
    with pytest.raises(InputError, match="at least one"):
        validate_sources([])


def test_missing_video_and_bad_range_are_input_errors(tmp_path, dark_bright_clip):
    with pytest.raises(InputError, match="does not exist"):
        analyze(tmp_path / "nope.mp4", Config())
    with pytest.raises(InputError, match="empty or negative"):
        analyze(dark_bright_clip, Config(), start_s=4.0, end_s=3.0)


def test_progress_rises_to_one_and_cancel_stops(dark_bright_clip):
    seen: list[float] = []
    analyze(dark_bright_clip, Config(), progress=seen.append)
    assert seen == sorted(seen) and seen[-1] == 1.0 and 10 <= len(seen) <= 102
    cancel = threading.Event()

    def cancel_halfway(fraction: float) -> None:
        if fraction > 0.5:
            cancel.set()

    with pytest.raises(Cancelled):
        analyze(dark_bright_clip, Config(), progress=cancel_halfway, cancel=cancel)


def test_colour_only_matches_the_seed_fallback(dark_bright_clip):
    config = Config()
    config.analysis.sources = ["colour"]
    config.analysis.smoothing = 0.0
    timeline = analyze(dark_bright_clip, config)
    for step in timeline.steps:
        assert math.isnan(step.sources["motion"]) and math.isnan(step.sources["cuts"])
        assert step.arousal == pytest.approx(step.sources["colour_arousal"])
        assert step.valence == pytest.approx(step.sources["colour_valence"])
    assert timeline.cuts_s == ()


def test_smoothing_never_crosses_a_shot_start():
    values = np.array([0.0, 1.0, 0.0, 1.0, 1.0, 0.0])
    smoothed = smooth_within_shots(values, [3], 0.5)
    assert np.all(np.diff(smoothed[:3]) != 0) and smoothed[0] > 0.0  # mixed inside shot one
    np.testing.assert_allclose(smooth_within_shots(values, [3], 0.0), values)
    # Values of the second shot never leak into the first one.
    np.testing.assert_allclose(smoothed[:3], smooth_within_shots(values[:3], [], 0.5))


def test_csv_cuts_and_plot_exports(tmp_path, dark_bright_timeline):
    timeline = EmotionTimeline(
        grid=dark_bright_timeline.grid,
        duration_s=dark_bright_timeline.duration_s,
        steps=dark_bright_timeline.steps,
        cuts_s=(1.25, 5.5),
    )
    with write_csv(timeline, tmp_path / "e.csv").open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == [
        "start_s",
        "end_s",
        "arousal",
        "valence",
        "colour_arousal",
        "colour_valence",
        "face_arousal",
        "face_valence",
        "faces",
        "motion",
        "cuts",
    ]
    assert len(rows) == 1 + len(timeline.steps)
    assert float(rows[3][2]) == pytest.approx(timeline.steps[2].arousal, abs=1e-6)
    assert rows[1][6] == "nan"  # no face in this clip
    cuts = tmp_path / "c.csv"
    write_cuts_csv(timeline, cuts)
    assert cuts.read_text().splitlines() == ["time_s", "1.2500", "5.5000"]
    png = plot_timeline(timeline, tmp_path / "e.png", title="dark to bright")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.csv", "e.csv", "e.png"]


def test_rgb_coded_video_takes_the_conversion_path(tmp_path):
    """A PNG-coded (rgb24) clip has no YUV planes to read in place; it is converted per frame."""
    import av

    path = tmp_path / "rgb.mov"
    frame_of = dark_to_bright(160, 90)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("png", rate=10)
        stream.width, stream.height, stream.pix_fmt = 160, 90, "rgb24"
        for i in range(80):
            image = av.VideoFrame.from_ndarray(frame_of(i, i / 10, half=4.0), format="rgb24")
            container.mux(stream.encode(image))
        container.mux(stream.encode())
    timeline = analyze(path, Config())
    assert len(timeline.steps) == 4
    assert timeline.valence[3] > timeline.valence[0] + 0.2
