"""Decoding and colour in threads beside the analysis change nothing but the time it takes."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from core.config import Config
from core.emotion import analysis, analyze
from core.errors import Cancelled
from core.timeline import EmotionTimeline, format_emotion_text
from core.video import frames
from core.video.frames import iter_frames


def _decode_threads_alive() -> bool:
    return any(thread.name == "moodscore-decode" for thread in threading.enumerate())


def _fingerprints(path: Path, **options) -> list[tuple[int, float, bytes]]:
    return [
        (frame.index, frame.time_s, frame.thumb(4).tobytes())
        for frame in iter_frames(path, **options)
    ]


def _source_values(timeline: EmotionTimeline) -> np.ndarray:
    return np.array(
        [[step.sources[key] for key in sorted(step.sources)] for step in timeline.steps]
    )


def test_prefetched_frames_are_the_frames_decoded_in_the_caller(dark_bright_clip: Path) -> None:
    for options in ({}, {"start_s": 2.5, "end_s": 6.0}):
        direct = _fingerprints(dark_bright_clip, prefetch=0, **options)
        assert _fingerprints(dark_bright_clip, prefetch=3, **options) == direct
        times = [time_s for _, time_s, _ in direct]
        assert len(direct) > 80 and times == sorted(times)
        assert options.get("start_s", 0) <= times[0] and times[-1] < options.get("end_s", 8.0)
    assert not _decode_threads_alive()


def test_emotions_are_identical_with_and_without_the_threads(
    dark_bright_clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    overlapped = analyze(dark_bright_clip, Config())
    monkeypatch.setattr(frames, "PREFETCH_FRAMES", 0)
    monkeypatch.setattr(analysis, "SAMPLES_THREAD", False)
    direct = analyze(dark_bright_clip, Config())
    assert format_emotion_text(overlapped) == format_emotion_text(direct)
    assert overlapped.cuts_s == direct.cuts_s
    assert np.array_equal(_source_values(overlapped), _source_values(direct), equal_nan=True)


def test_stopping_early_ends_the_decode_thread(dark_bright_clip: Path) -> None:
    for frame in iter_frames(dark_bright_clip, prefetch=2):
        if frame.index == 10:
            break
    assert not _decode_threads_alive()

    cancel = threading.Event()
    with pytest.raises(Cancelled):
        for frame in iter_frames(dark_bright_clip, cancel=cancel, prefetch=2):
            if frame.index == 5:
                cancel.set()
    assert not _decode_threads_alive()


def test_a_decode_error_reaches_the_caller(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        list(iter_frames(tmp_path / "gone.mp4", prefetch=2))
    assert not _decode_threads_alive()


def test_face_readings_are_identical_with_and_without_the_threads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.photos import face_config, photo_clip

    clip = photo_clip(tmp_path / "faces.mp4", [("hopper", 180, 20, 320)], seconds=3.0)
    overlapped = analyze(clip, face_config(["colour", "face", "motion"]))
    monkeypatch.setattr(frames, "PREFETCH_FRAMES", 0)
    monkeypatch.setattr(analysis, "SAMPLES_THREAD", False)
    direct = analyze(clip, face_config(["colour", "face", "motion"]))
    assert all(step.sources["faces"] >= 1 for step in direct.steps)  # the faces were read
    assert np.array_equal(_source_values(overlapped), _source_values(direct), equal_nan=True)
    assert format_emotion_text(overlapped) == format_emotion_text(direct)
