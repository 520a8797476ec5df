"""WAV rendering with the real FluidSynth and the real General MIDI SoundFont."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from core.config import Config
from core.errors import Cancelled, InputError
from core.generators import get_composer
from core.music.config import RenderConfig
from core.music.render import RenderError, render_wav
from core.music.score import Score, Track
from core.music.soundfont import BUNDLED_SOUNDFONT, find_soundfont
from core.timeline import EmotionTimeline
from tests.helpers import read_pcm16

RATE = 48000


@pytest.fixture(scope="module")
def score() -> Score:
    # 4 bars at 120 bpm = 8 s of loud, busy music: the notes still sound at the cut-off.
    timeline = EmotionTimeline.from_values([0.9, 0.7, 0.8, 0.95], [0.8, 0.3, 0.6, 0.9])
    config = Config()
    config.music.preset = "strings"
    return get_composer("chords")(timeline, config, 1)


#: Quiet enough that the limiter never acts: the trimmed and the longer render then differ
#: only by one gain and the fade.
UNLIMITED = RenderConfig(loudness_lufs=-23.0)


@pytest.fixture(scope="module")
def trimmed(score: Score, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("render") / "trimmed.wav"
    result = render_wav(score, path, UNLIMITED, 5.3)  # cut mid-bar while notes sound
    assert result.limited_s == 0.0
    return path


def test_wav_format_and_exact_length(trimmed: Path) -> None:
    params, _ = read_pcm16(trimmed)
    assert (params.framerate, params.nchannels, params.sampwidth) == (RATE, 2, 2)
    assert params.nframes == round(5.3 * RATE)


def test_render_reports_what_it_wrote(score: Score, tmp_path: Path) -> None:
    path = tmp_path / "measured.wav"
    result = render_wav(score, path, RenderConfig(), 5.3)
    _, frames = read_pcm16(path)
    peak_dbfs = 20 * np.log10(np.abs(frames).max() / 32768)
    assert peak_dbfs <= result.true_peak_dbtp + 0.01 <= -0.99  # true peaks >= sample peaks
    assert result.loudness_lufs == pytest.approx(RenderConfig().loudness_lufs, abs=0.2)
    assert set(result.as_dict()) == {
        "loudness_lufs", "true_peak_dbtp", "dc_offset_dbfs", "gain_db", "limited_s"
    }  # fmt: skip


def test_end_fades_to_zero_without_a_click(score: Score, trimmed: Path, tmp_path: Path) -> None:
    # The same music rendered past the cut-off is the reference: up to the fade the trimmed
    # file must equal it (up to the normalisation gain), and in the fade it must only ever be
    # turned down, smoothly, to silence.
    longer = tmp_path / "longer.wav"
    render_wav(score, longer, UNLIMITED, 6.3)
    _, faded = read_pcm16(trimmed)
    _, reference = read_pcm16(longer)
    fade = round(UNLIMITED.fade_s * RATE)
    reference = reference[: len(faded)].astype(float)
    body = slice(0, len(faded) - fade)
    ratio = np.sum(faded[body] * reference[body]) / np.sum(reference[body] ** 2)
    expected = reference * ratio
    assert np.abs(faded[body] - expected[body]).max() <= 2
    window = 240  # 5 ms
    tail_faded = faded[-fade:].astype(float).reshape(-1, window, 2)
    tail_expected = expected[-fade:].reshape(-1, window, 2)
    envelope = np.sqrt((tail_faded**2).sum(axis=(1, 2)) / (tail_expected**2).sum(axis=(1, 2)))
    assert np.all(np.diff(envelope) <= 0.01)
    assert envelope[0] > 0.9 and envelope[-1] < 0.1
    assert np.abs(faded[-1]).max() <= 1


def test_padding_a_short_score_to_a_longer_duration(score: Score, tmp_path: Path) -> None:
    path = tmp_path / "padded.wav"
    render_wav(score, path, UNLIMITED, score.duration_s + 1.25)
    params, frames = read_pcm16(path)
    assert params.nframes == round((score.duration_s + 1.25) * RATE)
    assert np.abs(frames[-1]).max() <= 1


def test_progress_runs_to_one(score: Score, tmp_path: Path) -> None:
    seen: list[float] = []
    render_wav(score, tmp_path / "p.wav", RenderConfig(), 2.0, progress=seen.append)
    assert seen == sorted(seen)
    assert seen[-1] == pytest.approx(1.0)
    assert 0.0 <= seen[0] < 0.5


def test_cancel_raises_and_leaves_no_file(score: Score, tmp_path: Path) -> None:
    cancel = threading.Event()

    def cancel_halfway(fraction: float) -> None:
        if fraction > 0.3:
            cancel.set()

    with pytest.raises(Cancelled):
        render_wav(
            score, tmp_path / "c.wav", RenderConfig(), 8.0, progress=cancel_halfway, cancel=cancel
        )
    assert list(tmp_path.iterdir()) == []


def test_a_silent_render_is_an_error_and_leaves_no_file(tmp_path: Path) -> None:
    silent = Score(bpm=120.0, tracks=[Track("Empty", 0, 0, [])], length_ticks=1920)
    with pytest.raises(RenderError, match="silent"):
        render_wav(silent, tmp_path / "s.wav", RenderConfig(), 1.0)
    assert list(tmp_path.iterdir()) == []


def test_soundfont_resolution_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    explicit, configured, from_env, system = (tmp_path / f"{n}.sf2" for n in "abcd")
    for path in (explicit, configured, from_env, system):
        path.write_bytes(b"RIFF")
    monkeypatch.setenv("MOODSCORE_SOUNDFONT", str(from_env))
    paths = (tmp_path / "missing.sf2", system)
    assert find_soundfont(str(explicit), str(configured), search_paths=paths) == explicit
    assert find_soundfont(None, str(configured), search_paths=paths) == configured
    assert find_soundfont(None, "", search_paths=paths) == from_env
    monkeypatch.delenv("MOODSCORE_SOUNDFONT")
    assert find_soundfont(None, "", search_paths=paths) == system


def test_without_a_system_soundfont_the_bundled_one_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MOODSCORE_SOUNDFONT", raising=False)
    assert find_soundfont(None, "", search_paths=(tmp_path / "none.sf2",)) == BUNDLED_SOUNDFONT
    assert BUNDLED_SOUNDFONT.is_file()


def test_missing_soundfont_sentences(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MOODSCORE_SOUNDFONT", raising=False)
    with pytest.raises(InputError) as error:
        find_soundfont(str(tmp_path / "gone.sf2"), "")
    assert "gone.sf2 (from --soundfont) does not exist" in str(error.value)
    assert "apt-get" not in str(error.value)
    monkeypatch.setattr("core.music.soundfont.BUNDLED_SOUNDFONT", tmp_path / "lost.sf2")
    with pytest.raises(InputError, match=r"bundled SoundFont lost\.sf2 is missing; reinstall"):
        find_soundfont(None, "", search_paths=())


def test_system_soundfont_is_found() -> None:
    assert find_soundfont().suffix == ".sf2"
