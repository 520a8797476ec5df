"""Issue 19: the RBM's memory across bars, the constrained sampler and the arrangement
(numpy only, no TensorFlow)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.config import Config
from core.generators import get_composer
from core.music.midi import midi_bytes
from core.music.score import TICKS_PER_TIMESTEP
from core.rbm.arrange import _bass_faults, bass_part, chord_root, split_voices
from core.rbm.compose import (
    CLASH_ALLOWANCE,
    SamplerStats,
    cadence_chords,
    home_shift,
    roll_notes,
    sample_roll,
    window_flaws,
)
from core.rbm.model import RbmModel, load_model, run_chain, save_model
from core.rbm.roll import PLAY, Layout, bar_context, in_mode, notes_to_roll
from core.rbm.training.data import Piece, build_training_set
from core.timeline import EmotionTimeline
from tests.test_rbm import random_model

REPO = Path(__file__).resolve().parents[1]
MEMORY = Layout(lowest_pitch=48, pitch_count=24, window_steps=16, history_bars=2)


def rows_of(layout: Layout, pitch_class: int) -> np.ndarray:
    return np.flatnonzero((layout.lowest_pitch + np.arange(layout.pitch_count)) % 12 == pitch_class)


def chord_roll(layout: Layout, pitches: tuple[int, ...], steps: int = 16) -> np.ndarray:
    return notes_to_roll([(0, steps, p) for p in pitches], layout, steps)


def test_context_remembers_previous_windows_and_the_end() -> None:
    c_major = chord_roll(MEMORY, (60, 64, 67))
    context = bar_context([c_major, None], final=True, layout=MEMORY)
    assert context.shape == (MEMORY.context_units,) == (1 + 2 * 24,)
    assert context[0] == 1.0
    assert context[1 + 60 - 48] == 1.0 and context[1 + 64 - 48] == 1.0
    assert not context[1 + 24 :].any()  # the second window back is before the start
    assert bar_context([c_major], final=False, layout=Layout(48, 24, 16)).size == 0


def test_memory_is_presented_in_the_asked_mode() -> None:
    shares = np.zeros(24, np.float32)
    shares[[60 - 48, 64 - 48, 67 - 48]] = 1.0  # C major
    minor = in_mode(shares, 48, major=False)
    assert minor[63 - 48] == 1.0 and minor[64 - 48] == 0.0  # E -> E-flat
    np.testing.assert_array_equal(in_mode(shares, 48, major=True), shares)
    np.testing.assert_array_equal(in_mode(minor, 48, major=True), shares)


def test_training_contexts_follow_the_piece() -> None:
    bars = [(60, 64, 67), (62, 65, 69), (67, 71, 74)]
    roll = np.concatenate([chord_roll(MEMORY, chord) for chord in bars])
    emotions = np.tile([0.5, 0.9], (48, 1)).astype(np.float32)
    notes, _, contexts = build_training_set([Piece("p", roll, emotions)], MEMORY, 16)
    assert notes.shape[0] == contexts.shape[0] == 3
    assert not contexts[0].any()  # the first bar remembers nothing and is not the last
    assert contexts[1][1 + 60 - 48] == 1.0 and not contexts[1][1 + 24 :].any()
    assert contexts[2][0] == 1.0  # the last bar
    assert contexts[2][1 + 62 - 48] == 1.0 and contexts[2][1 + 24 + 60 - 48] == 1.0


def memory_model() -> RbmModel:
    """A model whose only path is the context: the previous window's C pulls C again."""
    model = random_model(MEMORY, hidden=4)
    model.weights[:] = 0.0
    model.visible_bias[:] = -4.0
    pull = np.zeros((MEMORY.context_units, MEMORY.pitch_count, 2), np.float32)
    for row in rows_of(MEMORY, 0):
        pull[1 + row, row, PLAY] = 8.0
    model.context_note_weights = pull.reshape(MEMORY.context_units, MEMORY.note_units)
    return model


def test_memory_model_round_trip_and_context_drives_the_notes(tmp_path: Path) -> None:
    model = memory_model()
    save_model(tmp_path / "m.npz", model)
    loaded = load_model(tmp_path / "m.npz")
    assert loaded.layout == MEMORY
    np.testing.assert_allclose(loaded.context_note_weights, model.context_note_weights)
    rng = np.random.default_rng(0)
    start = np.zeros((16, MEMORY.note_units), np.uint8)
    emotions = np.full((16, 2), 0.5, np.float32)
    remembered = bar_context([chord_roll(MEMORY, (60,))], False, MEMORY)
    _, with_memory = run_chain(model, start, emotions, 3, rng, context=remembered)
    _, without = run_chain(model, start, emotions, 3, rng)
    row = 60 - 48
    assert with_memory.reshape(16, 24, 2)[:, row, PLAY].min() > 0.9
    assert without.reshape(16, 24, 2)[:, row, PLAY].max() < 0.1


def stuck_model() -> RbmModel:
    """A model that plays one held C-G fifth whatever happens (a chain stuck on bare fifths)."""
    layout = Layout(48, 24, 16)
    model = random_model(layout, hidden=8, seed=3)
    model.weights[:] = 0.0
    model.visible_bias[:] = -30.0
    per_step = model.visible_bias.reshape(16, layout.units_per_step)
    for pitch in (60, 67):
        per_step[:, 2 * (pitch - 48) + PLAY] = 30.0
    return model


def test_flaws_name_repeats_and_bare_windows() -> None:
    layout = Layout(48, 24, 16)
    triad = chord_roll(layout, (48, 60, 64, 67))
    fifth = chord_roll(layout, (48, 55, 60))
    assert window_flaws(triad, None, 48) == 0
    assert window_flaws(triad, triad, 48) == 4  # a repeat
    assert window_flaws(fifth, None, 48) == 2 + 2  # two classes, bare on every beat
    assert window_flaws(triad, None, 48, major=True) == 0
    assert window_flaws(triad, None, 48, major=False) == 1  # C major where minor is asked
    c_minor = chord_roll(layout, (48, 60, 63, 67))
    assert window_flaws(c_minor, None, 48, major=False) == 0


def test_a_window_that_rubs_semitones_is_flawed_beyond_the_chorales_allowance() -> None:
    layout = Layout(48, 24, 16)
    # C major with a held B against the C: a semitone clash on every sounding 16th.
    rubbing = chord_roll(layout, (48, 60, 64, 67, 71))
    assert window_flaws(rubbing, None, 48) == pytest.approx(4 * (1 - CLASH_ALLOWANCE))
    # A passing clash on one 16th in sixteen stays within the allowance.
    passing = chord_roll(layout, (48, 60, 64, 67))
    passing[5, 71 - 48, PLAY] = 1
    assert window_flaws(passing, None, 48) == 0


def test_stuck_chains_are_redrawn_and_counted() -> None:
    model = stuck_model()
    emotions = np.full((64, 2), 0.5, np.float32)
    once, again = SamplerStats(), SamplerStats()
    sample_roll(model, emotions, 5, 0, feedback=True, candidates=1, stats=once)
    sample_roll(model, emotions, 5, 0, feedback=True, candidates=4, stats=again)
    assert once.windows == again.windows == 4
    assert once.flawed_first == 4 and once.redraws == 0
    assert again.redraws == 4 * 3  # never flawless here, so every window draws four times


def test_phrase_plan_targets_cadences_and_the_final_tonic() -> None:
    valence = np.full(8 * 16, 0.8)
    targets = cadence_chords(8 * 16, valence)
    # Bars 0-3 end on V (half cadence, last beat); bars 4-7 close: V in bar 6's second half,
    # I through bar 7.
    assert targets[0] == (4 * 16 - 4, 4 * 16, (7, 11, 2))
    assert targets[-2] == (6 * 16 + 8, 7 * 16, (7, 11, 2))
    assert targets[-1] == (7 * 16, 8 * 16, (0, 4, 7))
    assert cadence_chords(8 * 16, np.full(128, 0.2))[-1][2] == (0, 3, 7)


def test_register_window_and_final_tonic_hold_in_sampling() -> None:
    layout = Layout(24, 78, 16)
    model = random_model(layout, hidden=8)
    model.visible_bias[:] = -1.0
    emotions = np.full((8 * 16, 2), 0.8, np.float32)
    roll = sample_roll(model, emotions, 5, 1, feedback=False, cadences=True, register_span=24)
    played = np.flatnonzero(roll[..., PLAY].any(axis=0)) + 24
    assert played.max() - played.min() <= 24
    last = roll[7 * 16 :, :, PLAY]  # the final bar: pulled toward the tonic triad
    classes = (np.arange(78) + 24) % 12
    assert last.any()
    assert (
        last[:, np.isin(classes, (0, 4, 7))].sum() > 2 * last[:, ~np.isin(classes, (0, 4, 7))].sum()
    )


def test_keys_by_seed() -> None:
    shifts = {home_shift(seed) % 12 for seed in range(12)}
    assert len(shifts) == 12
    assert all(-5 <= home_shift(seed) <= 6 for seed in range(40))


def test_bass_follows_the_rbm_harmony_below_it() -> None:
    layout = Layout(24, 78, 16)
    bars = [(60, 64, 67), (65, 69, 72), (67, 71, 74), (60, 64, 67)]
    roll = np.concatenate([chord_roll(layout, chord) for chord in bars])
    arousal = np.full(64, 0.5)
    bass = bass_part(roll, 24, arousal, final_step=48, tonic=0)
    assert bass and all(n.pitch < 60 for n in bass)
    downbeats = {n.start // (16 * TICKS_PER_TIMESTEP): n.pitch % 12 for n in bass[::-1]}
    assert downbeats == {0: 0, 1: 5, 2: 7, 3: 0}  # each bar's root on its downbeat
    # The bar's figure (root, fifth, ...) stays inside each bar's triad.
    triads = [{p % 12 for p in chord} for chord in bars]
    assert all(n.pitch % 12 in triads[n.start // (16 * TICKS_PER_TIMESTEP)] for n in bass)
    assert bass[-1].end == 64 * TICKS_PER_TIMESTEP  # the tonic held to the end
    assert chord_root(np.bincount([9, 0, 4], minlength=12).astype(float)) == 9  # A minor


def test_bass_gives_way_to_a_rub_or_parallels() -> None:
    layout = Layout(24, 78, 16)
    # C major with a long F# on top: the figure's fifth (G) would rub against it.
    roll = notes_to_roll([(0, 16, 60), (0, 16, 64), (0, 16, 67), (0, 16, 78)], layout, 16)
    bass = bass_part(roll, 24, np.full(16, 0.5), final_step=16, tonic=0)
    assert bass and all((78 - n.pitch) % 12 not in (1, 11) for n in bass)
    # Root to root under a top voice moving the same way an octave apart: parallel octaves.
    assert _bass_faults(55, np.array([79]), 79, (48, 72)) == 1
    assert _bass_faults(50, np.array([79]), 79, (48, 72)) == 0  # the fifth of G instead


def test_voices_split_the_top_line_from_the_rest() -> None:
    layout = Layout(24, 78, 16)
    roll = chord_roll(layout, (60, 64, 67))
    notes = roll_notes(roll, np.full((16, 2), 0.5), 24, 16 * TICKS_PER_TIMESTEP)
    melody, harmony = split_voices(notes, roll, 24)
    assert [n.pitch for n in melody] == [67] and sorted(n.pitch for n in harmony) == [60, 64]


@pytest.mark.parametrize("generator", ["rbm-feedback", "rbm-sampling"])
def test_arrangement_adds_parts_and_keeps_the_model_notes(tmp_path: Path, generator: str) -> None:
    model = random_model(Layout(24, 78, 16), hidden=8)
    model.visible_bias[:] = -1.5
    save_model(tmp_path / "m.npz", model)
    config = Config()
    config.rbm.model = str(tmp_path / "m.npz")
    config.music.preset = "strings"
    timeline = EmotionTimeline.from_values([0.9] * 8, [0.8] * 8)
    compose = get_composer(generator)
    score = compose(timeline, config, 5)
    assert midi_bytes(score) == midi_bytes(compose(timeline, config, 5))
    names = [t.name for t in score.tracks]
    assert names[:3] == ["Melody", "Harmony", "Bass"] and "Percussion" in names
    assert score.tracks[0].program == 40 and score.tracks[1].program == 48
    own = sorted((n.start, n.pitch) for t in score.tracks[:2] for n in t.notes)
    config.rbm.arrangement = False
    plain = compose(timeline, config, 5)
    shift = home_shift(5)
    assert own == sorted((n.start, n.pitch + shift) for n in plain.tracks[0].notes)


def test_sampling_with_memory_imports_no_tensorflow() -> None:
    code = (
        "import sys, numpy as np;"
        "from core.rbm.compose import sample_roll;"
        "from tests.test_rbm_compose import memory_model;"
        "sample_roll(memory_model(), np.full((32, 2), 0.5), 3, 0, feedback=True, candidates=2,"
        " cadences=True, register_span=20);"
        "assert 'tensorflow' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)
