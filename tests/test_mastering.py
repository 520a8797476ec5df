"""Mastering: loudness (BS.1770-4), true peak (4× oversampled), DC, the ending, dynamics.

Renders are real FluidSynth renders with the system General MIDI SoundFont; loudness is checked
with pyloudnorm's own meter on the written file and the true peak with scipy's polyphase
resampler, both independent of the code under test.
"""

from __future__ import annotations

import json
import math
import sys
import wave
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest
from scipy import signal

from core.cli import main
from core.music import master
from core.music.config import RenderConfig
from core.music.render import render_wav
from core.music.score import Note, Score, Track
from tests.helpers import read_pcm16

RATE = 48000
SECONDS = 12.0


def read_wav(path: Path) -> np.ndarray:
    """Frames ``(n, 2)`` scaled to full scale 1.0, as audio tools read 16-bit PCM."""
    params, pcm = read_pcm16(path)
    assert (params.framerate, params.nchannels, params.sampwidth) == (RATE, 2, 2)
    return pcm / 32768.0


def loudness(frames: np.ndarray) -> float:
    return pyloudnorm.Meter(RATE).integrated_loudness(frames)


def oversampled_peak_db(frames: np.ndarray) -> float:
    return 20 * math.log10(np.abs(signal.resample_poly(frames, 4, 1, axis=0)).max())


def quiet_then_loud() -> Score:
    """Six quiet seconds of piano and strings, then four loud ones with drum hits (peaks the
    limiter must catch) and a final chord held to the end, so the fade has something to fade."""
    bpm, beat = 120.0, 480
    piano, strings, bass = Track("Piano", 0, 0), Track("Strings", 48, 1), Track("Bass", 32, 2)
    drums = Track("Drums", 0, 9)
    chords = [(60, 64, 67), (57, 60, 65), (55, 59, 62)] * 2  # 2 s bars
    for bar, chord in enumerate(chords[:-1]):
        loud = bar >= 3
        velocity = 120 if loud else 35
        start = bar * 4 * beat
        strings.notes += [Note(start, 4 * beat, p - 12, 60 if loud else 35) for p in chord]
        bass.notes.append(Note(start, 4 * beat, chord[0] - 24, 60 if loud else 35))
        for i in range(8):  # eighth-note broken chords, accented on the beat
            accent = 127 if loud and i % 2 == 0 else velocity
            piano.notes.append(Note(start + i * beat // 2, beat // 2, chord[i % 3] + 12, accent))
        if loud:  # kick and crash on the downbeat, snare on beats 2 and 4
            drums.notes += [Note(start, beat, 36, 127), Note(start, beat, 49, 127)]
            drums.notes += [Note(start + b * beat, beat // 2, 38, 127) for b in (1, 3)]
    start = (len(chords) - 1) * 4 * beat
    final = (48, 55, 60, 64, 67, 72)  # C major held to the last tick, as the composers end
    piano.notes += [Note(start, 4 * beat, p, 100) for p in final]
    strings.notes += [Note(start, 4 * beat, p, 90) for p in final[1:4]]
    tracks = [piano, strings, bass, drums]
    return Score(bpm=bpm, tracks=tracks, length_ticks=len(chords) * 4 * beat)


@pytest.fixture(scope="module")
def score() -> Score:
    return quiet_then_loud()


@pytest.fixture(scope="module")
def renders(score: Score, tmp_path_factory: pytest.TempPathFactory):
    """The piece mastered to -23, -16 and -14 LUFS: (result, frames) per target."""
    folder = tmp_path_factory.mktemp("mastering")
    done = {}
    for target in (-23.0, -16.0, -14.0):
        path = folder / f"{target:g}.wav"
        result = render_wav(score, path, RenderConfig(loudness_lufs=target), SECONDS)
        done[target] = (result, read_wav(path))
    return done


@pytest.mark.parametrize("target", [-23.0, -16.0, -14.0])
def test_integrated_loudness_reaches_the_target(renders, target: float) -> None:
    result, frames = renders[target]
    measured = loudness(frames)
    assert measured == pytest.approx(target, abs=0.5)
    # What render_wav reports is what pyloudnorm measures on the written file.
    assert result.loudness_lufs == pytest.approx(measured, abs=0.01)


def test_a_fixed_gain_is_used_as_given(renders, score: Score, tmp_path: Path) -> None:
    """A re-score keeps the previous version's gain: the same gain gives the same level."""
    earlier, earlier_frames = renders[-23.0]  # the quiet target: no limiting
    path = tmp_path / "fixed.wav"
    target_ignored = RenderConfig(loudness_lufs=-14.0, fixed_gain_db=earlier.gain_db)
    result = render_wav(score, path, target_ignored, SECONDS)
    assert result.gain_db == earlier.gain_db
    assert loudness(read_wav(path)) == pytest.approx(loudness(earlier_frames), abs=0.05)
    louder = render_wav(
        score, tmp_path / "louder.wav", RenderConfig(fixed_gain_db=earlier.gain_db + 12), SECONDS
    )
    assert louder.gain_db == earlier.gain_db + 12
    assert louder.true_peak_dbtp <= -1.0  # the limiter still holds the ceiling


@pytest.mark.parametrize("target", [-23.0, -16.0, -14.0])
def test_true_peak_stays_under_minus_one_dbtp(renders, target: float) -> None:
    result, frames = renders[target]
    assert oversampled_peak_db(frames) <= -1.0
    assert result.true_peak_dbtp <= -1.0
    assert result.true_peak_dbtp == pytest.approx(oversampled_peak_db(frames), abs=0.05)


def test_the_loud_targets_needed_the_limiter_and_the_quiet_one_did_not(renders) -> None:
    assert renders[-23.0][0].limited_s == 0.0
    assert renders[-14.0][0].limited_s > 0.0


def test_dc_offset_is_removed(renders) -> None:
    result, frames = renders[-16.0]
    dc_dbfs = 20 * math.log10(np.abs(frames.mean(axis=0)).max())
    assert dc_dbfs < -60.0
    assert result.dc_offset_dbfs < -60.0


def test_length_is_exact_and_the_end_is_a_fade_not_a_chop(renders) -> None:
    _, frames = renders[-16.0]
    assert len(frames) == round(SECONDS * RATE)
    assert np.abs(frames[-1]).max() <= 1 / 32768
    fade = round(RenderConfig().fade_s * RATE)
    assert fade >= RATE  # at least a second of fade-out
    # The second before the fade is loud (the last chord rings), and the fade turns it down
    # smoothly: short-time RMS never rises by more than a little within it.
    before = frames[-fade - RATE : -fade]
    assert 20 * math.log10(np.sqrt(np.mean(before**2))) > -30.0
    window = RATE // 50
    tail = frames[-fade:][: fade // window * window].reshape(-1, window, 2)
    rms = np.sqrt((tail**2).mean(axis=(1, 2)))
    assert rms[-1] < 0.05 * rms[0]
    assert np.all(np.diff(rms) <= 0.1 * rms[0])


def test_quiet_and_loud_sections_keep_their_difference(renders) -> None:
    half = round(SECONDS / 2 * RATE)

    def difference(frames: np.ndarray) -> float:
        # The loud half without its fade, against the quiet half.
        return loudness(frames[half : half + 3 * RATE]) - loudness(frames[:half])

    reference = difference(renders[-23.0][1])  # a single gain: the mix's own dynamics
    assert reference > 6.0
    for target in (-16.0, -14.0):
        assert difference(renders[target][1]) == pytest.approx(reference, abs=1.0)


def test_fade_length_follows_the_config(score: Score, tmp_path: Path) -> None:
    config = RenderConfig(loudness_lufs=-23.0, fade_s=0.0)
    render_wav(score, tmp_path / "chop.wav", config, SECONDS)
    chopped = read_wav(tmp_path / "chop.wav")
    config.fade_s = 0.5
    render_wav(score, tmp_path / "fade.wav", config, SECONDS)
    faded = read_wav(tmp_path / "fade.wav")
    assert np.abs(chopped[-1]).max() > 0.01  # no fade: the music is cut where it stands
    # Up to the fade the two are the same music at (nearly) the same gain.
    body = slice(0, len(faded) - round(0.5 * RATE))
    ratio = np.sum(faded[body] * chopped[body]) / np.sum(chopped[body] ** 2)
    assert np.abs(faded[body] - ratio * chopped[body]).max() < 3 / 32768
    assert np.abs(faded[-1]).max() <= 1 / 32768


# --- the building blocks, against references --------------------------------------------------


@pytest.mark.parametrize("rate", [44100, 48000])
def test_streaming_meter_equals_pyloudnorm(rate: int) -> None:
    rng = np.random.default_rng(rate)
    seconds = 7.37
    t = np.arange(round(seconds * rate)) / rate
    envelope = np.where(t < 3, 0.02, 0.3) * (1 + 0.5 * np.sin(2 * np.pi * 0.7 * t))
    audio = (rng.standard_normal((len(t), 2)) * envelope[:, None]).astype(np.float32)
    audio[: rate // 2] = 0.0  # silence at the start: the gates must drop it
    meter = master.LoudnessMeter(rate, 2)
    for start in range(0, len(audio), 10007):  # blocks that never line up with the hops
        meter.add(audio[start : start + 10007])
    expected = pyloudnorm.Meter(rate).integrated_loudness(audio.astype(np.float64))
    assert meter.integrated() == pytest.approx(expected, abs=1e-4)


def test_meter_replay_of_a_scaled_block_equals_measuring_it() -> None:
    rng = np.random.default_rng(1)
    audio = (rng.standard_normal((RATE * 3, 2)) * 0.1).astype(np.float32)
    unscaled, scaled, replayed = (master.LoudnessMeter(RATE, 2) for _ in range(3))
    for start in range(0, len(audio), 16384):
        block = audio[start : start + 16384]
        replayed.add_energy(unscaled.add(block) * 0.25, len(block))
        scaled.add(block * 0.5)
    assert replayed.integrated() == pytest.approx(scaled.integrated(), abs=1e-6)


def test_silence_measures_minus_infinity() -> None:
    meter = master.LoudnessMeter(RATE, 2)
    meter.add(np.zeros((RATE, 2), np.float32))
    assert meter.integrated() == -math.inf


def test_interval_peaks_match_a_polyphase_reference() -> None:
    rng = np.random.default_rng(2)
    frames = rng.standard_normal((500, 2)).astype(np.float32)
    peaks = master.interval_peaks(frames)
    # The same 49-tap interpolator applied with scipy's upfirdn: value m/4 frames in.
    taps = np.arange(-24, 25)
    kernel = np.sinc(taps / 4) * np.kaiser(len(taps), 8.0)
    up = signal.upfirdn(kernel, frames.astype(np.float64), up=4, axis=0)[24 : 24 + 4 * 500]
    reference = np.abs(up).max(axis=1).reshape(500, 4).max(axis=1)
    assert np.allclose(peaks, reference[5 : 500 - 6], atol=1e-5)


def test_true_peak_of_a_quarter_rate_sine_is_three_db_over_its_samples(tmp_path: Path) -> None:
    n = np.arange(RATE)
    sine = 0.5 * np.sin(2 * np.pi * n / 4 + np.pi / 4)  # samples at ±0.354, peaks at ±0.5
    ramp = np.minimum(1.0, np.minimum(n, n[::-1]) / 2400)  # no clicks at the ends to ring
    sine *= ramp
    pcm = np.round(np.stack([sine, sine], axis=1) * 32767).astype("<i2")
    path = tmp_path / "sine.wav"
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(pcm.tobytes())
    assert 20 * math.log10(master.true_peak(path)) == pytest.approx(20 * math.log10(0.5), abs=0.02)


def test_forward_max_matches_brute_force() -> None:
    values = np.random.default_rng(3).standard_normal(300)
    for width in (1, 2, 7, 8):
        expected = [values[j : j + width].max() for j in range(len(values) - width + 1)]
        assert np.array_equal(master._forward_max(values, width), expected)


def test_limiter_turns_down_only_the_peaks() -> None:
    rate = RATE
    t = np.arange(rate * 2) / rate
    quiet = 0.1 * np.sin(2 * np.pi * 220 * t)
    burst = np.where((t > 1.0) & (t < 1.05), 1.5 * np.sin(2 * np.pi * 3000 * t), 0.0)
    audio = np.stack([quiet + burst, quiet - burst], axis=1).astype(np.float32)

    def read(first: int, end: int) -> np.ndarray:
        out = np.zeros((end - first, 2), np.float32)
        lo, hi = max(0, first), min(len(audio), end)
        out[lo - first : hi - first] = audio[lo:hi]
        return out

    ceiling = 10 ** (-1 / 20)
    limiter = master.TruePeakLimiter(rate, 1.0, ceiling, master.chunk_peaks(audio))
    limited = np.concatenate([limiter.process(read, s, min(len(audio), s + 4096))
                              for s in range(0, len(audio), 4096)])  # fmt: skip
    assert np.abs(signal.resample_poly(limited, 4, 1, axis=0)).max() <= ceiling * 1.001
    untouched = (t < 0.9) | (t > 1.5)  # beyond the look-ahead and the release
    assert np.array_equal(limited[untouched], audio[untouched])
    assert 0.0 < limiter.limited_frames / rate < 0.5


# --- without scipy (Blender's Python ships numpy only) ----------------------------------------


@pytest.mark.parametrize("rate", [44100, 48000, 96000])
def test_numpy_filters_equal_scipy_and_pyloudnorm(rate: int) -> None:
    dc = master.butterworth_highpass(master.DC_CUTOFF_HZ, rate)
    assert np.allclose(dc, signal.butter(2, master.DC_CUTOFF_HZ, "highpass", fs=rate, output="sos"))
    cookbook = [master._rbj_section(*stage, rate) for stage in master.K_WEIGHTING_STAGES]
    assert np.allclose(cookbook, master.k_weighting(rate), rtol=1e-12, atol=0)
    sections = np.vstack([dc, master.k_weighting(rate)])
    audio = np.random.default_rng(rate).standard_normal((40000, 2)).astype(np.float32) + 0.2
    expected = signal.sosfilt(sections, audio, axis=0)
    state, cache = np.zeros((len(sections), 2, 2)), {}
    got = np.concatenate([master._sosfilt_numpy(sections, audio[s : s + 16384], state, cache)
                          for s in range(0, len(audio), 16384)])  # fmt: skip
    assert np.abs(got - expected).max() < 1e-8


def test_render_without_scipy_is_the_same(
    score: Score, renders, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setattr(master, "_scipy_signal", None)
    monkeypatch.setitem(sys.modules, "pyloudnorm", None)  # its import now fails
    result = render_wav(score, tmp_path / "numpy.wav", RenderConfig(loudness_lufs=-16.0), SECONDS)
    reference_result, reference = renders[-16.0]
    assert np.abs(read_wav(tmp_path / "numpy.wav") - reference).max() <= 1 / 32768
    assert result.loudness_lufs == pytest.approx(reference_result.loudness_lufs, abs=1e-3)


# --- the command line and score.json --------------------------------------------------------


def test_loudness_option_reaches_the_wav_and_score_json(tmp_path: Path, capsys) -> None:
    emotions = tmp_path / "arc.txt"
    emotions.write_text("0.2, 0.3\n0.5, 0.6\n0.9, 0.8\n0.6, 0.4\n")
    out = tmp_path / "out"
    assert main(["compose", str(emotions), "--out", str(out), "--loudness", "-23", "--quiet"]) == 0
    audio = json.loads((out / "score.json").read_text())["audio"]
    measured = loudness(read_wav(out / "arc.wav"))
    assert measured == pytest.approx(-23.0, abs=0.5)
    assert audio["loudness_lufs"] == pytest.approx(measured, abs=0.01)
    assert audio["true_peak_dbtp"] <= -1.0
    # Out of range: one sentence naming the option, exit 2, nothing written.
    code = main(["compose", str(emotions), "--out", str(tmp_path / "no"), "--loudness", "3",
                 "--quiet"])  # fmt: skip
    assert code == 2
    assert "--loudness must be between -50 and -10" in capsys.readouterr().err
    assert not (tmp_path / "no").exists()


def test_story_range_masters_a_calm_cue_lower_than_an_intense_one(tmp_path: Path) -> None:
    """With --story-range, --loudness is the level of full intensity; calmer cues sit lower."""
    levels = {}
    for name, peak_arousal in (("calm", 0.2), ("intense", 1.0)):
        emotions = tmp_path / f"{name}.txt"
        emotions.write_text(f"0.1, 0.5\n{peak_arousal}, 0.5\n0.1, 0.5\n")
        out = tmp_path / name
        argv = ["compose", str(emotions), "--out", str(out), "--story-range", "10", "--quiet"]
        assert main(argv) == 0
        levels[name] = loudness(read_wav(out / f"{name}.wav"))
        assert json.loads((out / "score.json").read_text())["audio"]["true_peak_dbtp"] <= -1.0
    assert levels["intense"] == pytest.approx(-16.0, abs=0.5)
    assert levels["calm"] == pytest.approx(-16.0 - 10.0 * (1.0 - 0.2), abs=0.5)


def test_an_old_config_with_peak_dbfs_is_told_what_replaced_it(tmp_path: Path, capsys) -> None:
    emotions = tmp_path / "arc.txt"
    emotions.write_text("0.5, 0.6\n")
    config = tmp_path / "old.yaml"
    config.write_text("render:\n  peak_dbfs: -1.0\n")
    out = tmp_path / "out"
    assert main(["compose", str(emotions), "--config", str(config), "--out", str(out),
                 "--quiet"]) == 2  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "'render.peak_dbfs' is no longer used" in err and "true_peak_dbtp" in err
    assert not out.exists()


def test_a_calm_cue_sits_under_an_intense_one_when_the_level_follows_the_story(
    score: Score, tmp_path: Path
) -> None:
    config = RenderConfig(loudness_lufs=-16.0, story_range_lu=10.0)
    calm = render_wav(score, tmp_path / "calm.wav", config, SECONDS, intensity=0.2)
    intense = render_wav(score, tmp_path / "intense.wav", config, SECONDS, intensity=1.0)
    assert loudness(read_wav(tmp_path / "calm.wav")) == pytest.approx(-24.0, abs=0.3)
    assert loudness(read_wav(tmp_path / "intense.wav")) == pytest.approx(-16.0, abs=0.3)
    assert max(calm.true_peak_dbtp, intense.true_peak_dbtp) <= -1.0
    # Without a story range --loudness is every cue's level, as before.
    plain = render_wav(score, tmp_path / "plain.wav", RenderConfig(), SECONDS, intensity=0.2)
    assert plain.loudness_lufs == pytest.approx(RenderConfig().loudness_lufs, abs=0.3)
