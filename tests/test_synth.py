"""The bundled synthesizer (RustySynth through midirenderer) and the bundled SoundFont.

Everything here renders for real; FluidSynth is the reference where both are compared.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import numpy as np
import pytest

from core.config import Config
from core.errors import Cancelled, InputError
from core.generators import get_composer
from core.music import synth as synth_module
from core.music.instruments import preset_programs
from core.music.score import Note, Score, Track
from core.music.soundfont import BUNDLED_SOUNDFONT
from core.music.synth import choose_synth, synthesize
from core.timeline import EmotionTimeline

RATE = 48000


def render(score: Score, seconds: float, *, rate: int = RATE, synth: str = "rustysynth"):
    """The whole render as one float array ``(frames, 2)``."""
    blocks = synthesize(score, BUNDLED_SOUNDFONT, rate, round(seconds * rate), synth=synth)
    return np.concatenate([block.copy() for block in blocks])


def one_note(start_s: float, program: int = 0, channel: int = 0, pitch: int = 60) -> Score:
    score = Score(bpm=120.0, tracks=[], length_ticks=0)
    note = Note(score.ticks(start_s), score.ticks(0.5), pitch, 100)
    score.tracks.append(Track("solo", program, channel, [note]))
    score.length_ticks = note.end
    return score


def onset_s(audio: np.ndarray, rate: int = RATE) -> float:
    """Time of the first sample above a tenth of the peak."""
    level = np.abs(audio).max(axis=1)
    return float(np.argmax(level > 0.1 * level.max()) / rate)


@pytest.fixture(scope="module")
def piece() -> Score:
    """20 s of strings with drums, emotion changing every bar."""
    timeline = EmotionTimeline.from_values(
        [0.9, 0.2, 0.7, 0.95, 0.4, 0.8, 0.6, 0.9, 0.3, 0.85],
        [0.8, 0.2, 0.6, 0.9, 0.3, 0.7, 0.5, 0.1, 0.9, 0.6],
    )
    config = Config()
    config.music.preset = "strings"
    return get_composer("chords")(timeline, config, 3)


def test_windows_add_up_to_one_whole_render(piece: Score, monkeypatch: pytest.MonkeyPatch) -> None:
    whole_s = piece.duration_s + 2.0
    monkeypatch.setattr(synth_module, "CHUNK_S", 1000.0)  # one window: the whole file at once
    whole = render(piece, whole_s)
    monkeypatch.setattr(synth_module, "CHUNK_S", 3.0)  # seven windows, notes held across them
    windowed = render(piece, whole_s)
    assert windowed.shape == whole.shape == (round(whole_s * RATE), 2)
    # RustySynth starts a note on a 64-sample block (1.3 ms), and a window's blocks may sit one
    # block off the whole file's (its clock sums 64/48000 s steps in floating point). A voice
    # still ringing from the window before then meets a new one at another phase, so the two
    # renders agree as energy over time, not sample for sample.
    energy_db = 10 * np.log10(np.sum(windowed**2) / np.sum(whole**2))
    assert abs(energy_db) < 0.2
    windowed_db, whole_db = envelope_db(windowed, 0.5), envelope_db(whole, 0.5)
    audible = whole_db > whole_db.max() - 40.0
    assert np.abs(windowed_db - whole_db)[audible].max() < 2.0
    assert (windowed_db[~audible] < whole_db.max() - 35.0).all()  # no window added noise


def envelope_db(audio: np.ndarray, frame_s: float) -> np.ndarray:
    """Energy per ``frame_s`` in dB."""
    frames = len(audio) // round(frame_s * RATE)
    chunks = audio[: frames * round(frame_s * RATE)].reshape(frames, -1)
    return 10 * np.log10(np.mean(chunks**2, axis=1) + 1e-12)


def test_exact_length_padded_and_cut() -> None:
    score = one_note(0.2)
    assert render(score, 3.0).shape == (3 * RATE, 2)  # padded past the score's 0.7 s
    cut = render(score, 0.45)  # cut while the note sounds
    assert cut.shape == (round(0.45 * RATE), 2) and np.abs(cut[-100:]).max() > 0


@pytest.mark.parametrize("rate", [48000, 44100, 22050])
def test_onsets_land_on_their_time_at_every_rate(rate: int) -> None:
    attack_s = onset_s(render(one_note(0.0), 1.0, rate=rate), rate)  # the sample's own attack
    for start in (0.25, 1.5, 61.0):  # 61 s: in the second window
        audio = render(one_note(start), start + 1.0, rate=rate)
        assert len(audio) == round((start + 1.0) * rate)
        # Within RustySynth's 64-sample block (1.3 ms) and a sample of resampling.
        assert onset_s(audio, rate) - attack_s == pytest.approx(start, abs=64 / 48000 + 1 / rate)


def test_same_score_same_samples(piece: Score) -> None:
    assert np.array_equal(render(piece, 8.0), render(piece, 8.0))


@pytest.mark.parametrize("preset", ["piano", "strings", "orchestral", "ambient", "electric"])
def test_every_program_and_drum_kit_of_every_preset_sounds(preset: str) -> None:
    programs = preset_programs(preset)
    for role, program in programs.items():
        channel = 9 if role == "percussion" else 0
        pitch = 38 if channel == 9 else 60  # a snare on the drum channel
        audio = render(one_note(0.1, program, channel, pitch), 1.0)
        rms_db = 10 * np.log10(np.mean(audio**2) + 1e-30)
        assert rms_db > -60.0, f"{preset}/{role} (program {program}) is silent: {rms_db:.0f} dB"


def test_cancel_stops_rendering(piece: Score) -> None:
    cancel = threading.Event()
    cancel.set()
    blocks = synthesize(piece, BUNDLED_SOUNDFONT, RATE, 10 * RATE, cancel, synth="rustysynth")
    with pytest.raises(Cancelled):
        next(iter(blocks))


def test_unknown_synth_is_one_sentence() -> None:
    with pytest.raises(InputError, match=r"render\.synth must be one of auto, fluidsynth, rusty"):
        choose_synth("timidity")


@pytest.mark.parametrize(
    ("platform", "hint"),
    [
        ("win32", "FluidSynth's Windows build"),
        ("darwin", "brew install fluid-synth"),
        ("linux", "apt-get install libfluidsynth3"),
    ],
)
def test_missing_fluidsynth_names_the_fix_for_this_os(
    platform: str, hint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(synth_module, "fluidsynth_problem", lambda: "no library")
    monkeypatch.setattr(synth_module.sys, "platform", platform)
    assert choose_synth("auto") == "rustysynth"
    with pytest.raises(InputError) as error:
        choose_synth("fluidsynth")
    message = str(error.value)
    assert hint in message and "render.synth" in message
    assert ("apt-get" in message) == (platform == "linux")


def soundfont_presets(path) -> set[tuple[int, int]]:
    """``(bank, program)`` of every preset in an SF2's ``phdr`` chunk (38-byte records)."""
    data = path.read_bytes()
    at = data.index(b"phdr")
    size = int.from_bytes(data[at + 4 : at + 8], "little")
    records = [data[at + 8 + 38 * i : at + 8 + 38 * (i + 1)] for i in range(size // 38 - 1)]
    return {
        (int.from_bytes(r[22:24], "little"), int.from_bytes(r[20:22], "little")) for r in records
    }


def test_bundled_soundfont_has_every_general_midi_program_and_each_presets_kit() -> None:
    presets = soundfont_presets(BUNDLED_SOUNDFONT)
    assert {(0, program) for program in range(128)} <= presets
    kits = {programs["percussion"] for programs in map(preset_programs, ["piano", "strings",
            "orchestral", "ambient", "electric"])}  # fmt: skip
    assert {(128, kit) for kit in kits} <= presets


def test_loading_fluidsynth_keeps_stdout_clean_on_ci() -> None:
    """pyfluidsynth prints where it found its library when ``$CI`` is set; stdout is the answer."""
    probe = "from core.music.synth import fluidsynth_problem; fluidsynth_problem()"
    env = {**os.environ, "CI": "true"}
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout == ""
