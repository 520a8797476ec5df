"""RBM representation, data loading, exported model and generators (no TensorFlow needed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import mido
import numpy as np
import pytest

from core.config import Config
from core.errors import InputError
from core.generators import get_composer
from core.music.analysis import estimate_key, pitch_class_histogram
from core.music.midi import midi_bytes, write_midi
from core.music.score import TICKS_PER_TIMESTEP, Note, Score, Track
from core.rbm.compose import sample_roll
from core.rbm.model import (
    CHECKPOINT_DIR,
    FORMAT_VERSION,
    SHIPPED_MODEL,
    RbmModel,
    load_model,
    resolve_model,
    sample_window,
    save_model,
)
from core.rbm.roll import (
    ARTICULATE,
    Layout,
    assemble_visible,
    midi_to_roll,
    notes_to_roll,
    roll_to_notes,
)
from core.rbm.training.data import (
    augmented_versions,
    load_folder,
    mode_valence,
    normalize_window_keys,
    parallel_mode,
    restrike,
    roll_key,
    shift_rows,
    split_holdout,
    stretch,
    transpose,
)
from core.rbm.training.evaluate import score_frames
from core.timeline import EmotionTimeline

REPO = Path(__file__).resolve().parents[1]
#: A small layout keeps the tests fast: two octaves from C3, one-bar windows.
TINY = Layout(lowest_pitch=48, pitch_count=24, window_steps=16)
MAJOR_TRIADS = ((60, 64, 67), (65, 69, 72), (67, 71, 62), (60, 64, 67))
MINOR_TRIADS = ((60, 63, 67), (65, 68, 72), (67, 70, 62), (60, 63, 67))


def chord_piece(triads, note_steps: int, bars: int = 8) -> Score:
    """Block chords, one triad per bar, re-struck every ``note_steps`` 16ths."""
    notes = []
    for bar in range(bars):
        for start in range(bar * 16, bar * 16 + 16, note_steps):
            notes += [
                Note(start * TICKS_PER_TIMESTEP, note_steps * TICKS_PER_TIMESTEP, p, 80)
                for p in triads[bar % len(triads)]
            ]
    return Score(bpm=100, tracks=[Track("piano", 0, 0, notes)], length_ticks=bars * 16 * 120)


def write_synthetic_folder(folder: Path, copies: int = 3) -> Path:
    """MIDI + emotion pairs: major = high valence, minor = low; 16ths = high arousal."""
    folder.mkdir(parents=True, exist_ok=True)
    for copy in range(copies):
        for name, triads, valence in (("major", MAJOR_TRIADS, 0.9), ("minor", MINOR_TRIADS, 0.1)):
            for rate, arousal in ((8, 0.1), (2, 0.9)):
                stem = f"{name}_{rate}_{copy}"
                write_midi(
                    chord_piece(triads[copy % 2 :] + triads[: copy % 2], rate),
                    folder / f"{stem}.mid",
                )
                (folder / f"{stem}.txt").write_text(f"{arousal}, {valence}\n" * 8)
    return folder


def random_model(layout: Layout = TINY, hidden: int = 8, seed: int = 0) -> RbmModel:
    """An untrained model of the right shape (enough to exercise sampling)."""
    rng = np.random.default_rng(seed)
    visible = layout.visible_units
    return RbmModel(
        weights=rng.normal(0, 0.1, (visible, hidden)).astype(np.float32),
        visible_bias=np.full(visible, -2.0, np.float32),
        hidden_bias=np.zeros(hidden, np.float32),
        visible_mean=np.full(visible, 0.05, np.float32),
        layout=layout,
        info={"note": "random"},
    )


def test_roll_round_trip_and_rearticulation() -> None:
    notes = [(0, 4, 60), (4, 6, 60), (2, 3, 70), (8, 9, 50)]
    roll = notes_to_roll(notes, TINY, length_steps=12)
    assert roll.shape == (12, 24, 2)
    assert roll_to_notes(roll, TINY.lowest_pitch) == [
        (0, 4, 60),
        (2, 1, 70),
        (4, 2, 60),
        (8, 1, 50),
    ]


def test_out_of_range_pitches_fold_by_octaves() -> None:
    roll = notes_to_roll([(0, 1, 30), (0, 1, 100)], TINY)
    assert roll_to_notes(roll, TINY.lowest_pitch) == [(0, 1, 54), (0, 1, 64)]


def test_midi_quirks_tempo_tracks_drums_overlaps(tmp_path: Path) -> None:
    midi = mido.MidiFile(ticks_per_beat=96)
    conductor = mido.MidiTrack(
        [
            mido.MetaMessage("set_tempo", tempo=500000, time=0),
            mido.MetaMessage("set_tempo", tempo=300000, time=96),
        ]
    )
    melody = mido.MidiTrack(
        [
            mido.Message("note_on", note=60, velocity=80, time=0),
            mido.Message("note_on", note=60, velocity=80, time=48),  # overlapping re-strike
            mido.Message("note_off", note=60, velocity=0, time=48),
            mido.Message("note_on", note=64, velocity=80, time=0),
            mido.Message("note_on", note=64, velocity=0, time=24),  # note_on vel 0 = off
        ]
    )
    drums = mido.MidiTrack(
        [
            mido.Message("note_on", channel=9, note=36, velocity=100, time=0),
            mido.Message("note_off", channel=9, note=36, time=96),
        ]
    )
    midi.tracks += [conductor, melody, drums]
    path = tmp_path / "quirks.mid"
    midi.save(path)
    notes = roll_to_notes(midi_to_roll(path, TINY), TINY.lowest_pitch)
    # 96 ticks per beat = 24 ticks per 16th; the tempo change does not move notes off the grid.
    assert notes == [(0, 2, 60), (2, 2, 60), (4, 1, 64)]


def test_load_folder_skips_and_counts(tmp_path: Path, caplog) -> None:
    folder = write_synthetic_folder(tmp_path / "data", copies=1)
    (folder / "orphan.mid").write_bytes((folder / "major_8_0.mid").read_bytes())
    (folder / "broken.mid").write_bytes(b"MThd garbage")
    (folder / "broken.txt").write_text("0.5, 0.5\n")
    (folder / "short.mid").write_bytes((folder / "major_8_0.mid").read_bytes())
    (folder / "short.txt").write_text("0.5, 0.5\n" * 3)
    pieces, report = load_folder(folder, TINY)
    assert report.used == len(pieces) == 4
    assert report.skipped == {"no emotion file": 1, "unreadable MIDI": 1, "length mismatch": 1}
    assert "orphan.mid" in caplog.text
    assert pieces[0].emotions.shape == (len(pieces[0].roll), 2)


def test_load_folder_bad_input_is_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="holds no MIDI files"):
        load_folder(tmp_path, TINY)
    (tmp_path / "a.mid").write_bytes(b"not midi")
    with pytest.raises(InputError, match="No valid MIDI"):
        load_folder(tmp_path, TINY)


def test_proxy_valence_follows_mode() -> None:
    layout = Layout()

    def roll_of(triads):
        score = chord_piece(triads, 4)
        return notes_to_roll(
            [(n.start // 120, n.end // 120, n.pitch) for n in score.tracks[0].notes], layout
        )

    assert mode_valence(roll_of(MAJOR_TRIADS)).mean() > 0.7
    assert mode_valence(roll_of(MINOR_TRIADS)).mean() < 0.3


C_MAJOR_SCALE = (60, 62, 64, 65, 67, 69, 71, 72)


def scale_and_cadence_roll(layout: Layout) -> np.ndarray:
    """A C-major scale up and down in quarters, then a I-IV-V-I cadence in half notes."""
    melody = [*C_MAJOR_SCALE, *C_MAJOR_SCALE[::-1]]
    spans = [(4 * i, 4 * i + 4, p) for i, p in enumerate(melody)]
    start = 4 * len(melody)
    for chord in ((48, 60, 64, 67), (53, 60, 65, 69), (55, 59, 62, 67), (48, 60, 64, 67)):
        spans += [(start, start + 8, p) for p in chord]
        start += 8
    return notes_to_roll(spans, layout)


def roll_key_of(roll: np.ndarray, layout: Layout):
    """Key of a roll judged by ``core.music.analysis`` on its notes (independent of data.py)."""
    notes = [
        Note(s * TICKS_PER_TIMESTEP, n * TICKS_PER_TIMESTEP, p, 80)
        for s, n, p in roll_to_notes(roll, layout.lowest_pitch)
    ]
    return estimate_key(pitch_class_histogram(notes))


def test_parallel_mode_turns_major_into_minor_and_back() -> None:
    layout = Layout()
    major = scale_and_cadence_roll(layout)
    assert (roll_key_of(major, layout).tonic, roll_key_of(major, layout).mode) == (0, "major")
    minor = parallel_mode(major, layout)
    key = roll_key_of(minor, layout)
    assert (key.tonic, key.mode) == (0, "minor")
    pitches = {p % 12 for _, _, p in roll_to_notes(minor, layout.lowest_pitch)}
    assert pitches == {0, 2, 3, 5, 7, 8, 10}  # C natural minor
    np.testing.assert_array_equal(  # rhythm untouched
        minor[..., ARTICULATE].sum(axis=1), major[..., ARTICULATE].sum(axis=1)
    )
    back = roll_key_of(parallel_mode(minor, layout), layout)
    assert (back.tonic, back.mode) == (0, "major")
    assert mode_valence(minor).mean() < 0.3 < 0.7 < mode_valence(major).mean()


def test_rhythm_and_transposition_augmentation() -> None:
    layout = Layout()
    roll = scale_and_cadence_roll(layout)
    onsets = int(roll[..., ARTICULATE].sum())
    slow = stretch(roll, layout)
    assert len(slow) == 2 * len(roll) and int(slow[..., ARTICULATE].sum()) == onsets
    assert roll_to_notes(slow, 24)[:2] == [(0, 8, 60), (8, 8, 62)]
    fast = restrike(roll, layout)
    assert len(fast) == len(roll) and int(fast[..., ARTICULATE].sum()) > 1.9 * onsets
    np.testing.assert_array_equal(fast[..., 0], roll[..., 0])  # same pitches sound
    up = roll_key_of(transpose(roll, layout, 3), layout)
    assert (up.tonic, up.mode) == (3, "major")
    names = [name for name, _ in augmented_versions("piece", roll, layout)]
    assert names[0] == "piece" and len(names) == 6 and len(set(names)) == 6


def test_holdout_keeps_augmented_versions_with_their_origin() -> None:
    from core.rbm.training.data import Piece

    empty = np.zeros((16, 2), np.float32)
    pieces = [
        Piece(f"p{i}{suffix}", np.zeros((16, 78, 2), np.uint8), empty, f"p{i}" if suffix else "")
        for i in range(40)
        for suffix in ("", "+parallel+3")
    ]
    kept, held = split_holdout(pieces, 0.3)
    assert held and kept
    held_origins = {p.origin or p.name for p in held}
    assert not held_origins & {p.origin or p.name for p in kept}


def test_emotion_copies_layout_and_old_models_load(tmp_path: Path) -> None:
    layout = Layout(48, 24, 16, emotion_copies=3)
    assert layout.units_per_step == 48 + 6 and layout.visible_units == 16 * 54
    visible = assemble_visible(
        np.zeros((1, 16 * 48), np.uint8), np.tile([0.2, 0.7], (1, 16, 1)), layout
    )
    per_step = visible.reshape(16, 54)
    np.testing.assert_allclose(per_step[:, 48:], np.tile([0.2, 0.7, 0.2, 0.7, 0.2, 0.7], (16, 1)))
    model = random_model(layout)
    save_model(tmp_path / "k3.npz", model)
    assert load_model(tmp_path / "k3.npz").layout == layout
    # A model written before emotion copies existed stores a 3-value layout.
    old = random_model()
    save_model(tmp_path / "old.npz", old)
    with np.load(tmp_path / "old.npz") as data:
        arrays = dict(data)
    arrays["layout"] = arrays["layout"][:3]
    np.savez(tmp_path / "old3.npz", **arrays)
    assert load_model(tmp_path / "old3.npz").layout == TINY
    config = Config()
    config.rbm.model = str(tmp_path / "k3.npz")
    config.rbm.mean_field = False  # an untrained model has no note above probability 1/2
    timeline = EmotionTimeline.from_values([0.5] * 2, [0.2] * 2)
    score = get_composer("rbm-sampling")(timeline, config, 1)
    assert midi_bytes(score) == midi_bytes(get_composer("rbm-sampling")(timeline, config, 1))


def test_model_round_trip_and_damaged_files(tmp_path: Path) -> None:
    model = random_model()
    save_model(tmp_path / "m.npz", model)
    loaded = load_model(tmp_path / "m.npz")
    assert loaded.layout == TINY and loaded.info == {"note": "random"}
    np.testing.assert_allclose(loaded.weights, model.weights, atol=1e-3)
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(InputError, match="not a readable"):
        load_model(tmp_path / "bad.npz")
    np.savez(tmp_path / "other.npz", weights=np.zeros(3))
    with pytest.raises(InputError, match="not a Moodscore RBM model"):
        load_model(tmp_path / "other.npz")


def test_resolve_model_order(tmp_path: Path) -> None:
    config = Config()
    folder = tmp_path / CHECKPOINT_DIR
    folder.mkdir()
    save_model(folder / "epoch_5.npz", random_model(seed=5))
    save_model(folder / "epoch_10.npz", random_model(seed=10))
    assert resolve_model(config, cwd=tmp_path)[0].name == "epoch_10.npz"
    save_model(folder / "trained_system.npz", random_model(seed=1))
    path, digest = resolve_model(config, cwd=tmp_path)
    assert path.name == "trained_system.npz" and len(digest) == 64
    config.rbm.model = str(folder / "epoch_5.npz")
    assert resolve_model(config, cwd=tmp_path)[0].name == "epoch_5.npz"
    config.rbm.model = str(tmp_path / "missing.npz")
    with pytest.raises(InputError, match="does not exist"):
        resolve_model(config, cwd=tmp_path)
    if SHIPPED_MODEL.exists():
        assert resolve_model(Config(), cwd=tmp_path / "elsewhere")[0] == SHIPPED_MODEL


@pytest.mark.parametrize("generator", ["rbm-feedback", "rbm-sampling"])
def test_generators_are_seeded_and_tidy(tmp_path: Path, generator: str) -> None:
    save_model(tmp_path / "m.npz", random_model())
    config = Config()
    config.rbm.model = str(tmp_path / "m.npz")
    config.rbm.mean_field = False  # an untrained model has no note above probability 1/2
    config.music.preset = "strings"
    timeline = EmotionTimeline.from_values([0.1, 0.9, 0.5], [0.2, 0.8, 0.5], duration_s=5.3)
    compose = get_composer(generator)
    score = compose(timeline, config, 7)
    assert midi_bytes(score) == midi_bytes(compose(timeline, config, 7))
    assert midi_bytes(score) != midi_bytes(compose(timeline, config, 8))
    assert score.duration_s == pytest.approx(5.3, abs=1e-3)
    tracks = {t.name: t for t in score.tracks}
    # The model's voices on the strings preset's melody and harmony instruments.
    assert tracks["Melody"].program == 40 and tracks["Harmony"].program == 48
    notes = tracks["Melody"].notes + tracks["Harmony"].notes
    assert notes
    assert all(
        n.duration >= TICKS_PER_TIMESTEP and n.start % TICKS_PER_TIMESTEP == 0 for n in notes
    )
    assert all(n.end <= score.length_ticks and n.duration <= 64 * TICKS_PER_TIMESTEP for n in notes)
    quiet = [n.velocity for n in notes if n.start < 16 * 120 and n.start % 960]
    loud = [n.velocity for n in notes if 16 * 120 <= n.start < 32 * 120 and n.start % 960]
    assert max(quiet) < min(loud)  # velocity follows arousal (0.1 then 0.9)


def test_feedback_chains_windows_and_sampling_does_not(tmp_path: Path) -> None:
    save_model(tmp_path / "m.npz", random_model())
    config = Config()
    config.rbm.model = str(tmp_path / "m.npz")
    config.rbm.mean_field = False  # an untrained model has no note above probability 1/2
    timeline = EmotionTimeline.from_values([0.5] * 4, [0.5] * 4)
    feedback = get_composer("rbm-feedback")(timeline, config, 3)
    sampling = get_composer("rbm-sampling")(timeline, config, 3)
    assert feedback.tracks[0].notes[:3] == sampling.tracks[0].notes[:3]  # same first window
    assert midi_bytes(feedback) != midi_bytes(sampling)


def test_frame_scores() -> None:
    truth = np.array([[1, 1, 0, 0, 1, 0]])  # pitch 0 and 2 play
    perfect = score_frames(truth.astype(float), truth)
    assert perfect.accuracy == 1.0
    assert score_frames(np.array([[0.1, 0, 0.9, 0, 0.2, 0]]), truth).accuracy == pytest.approx(
        1 / 3
    )


def test_generators_import_without_training_code() -> None:
    code = (
        "import sys, core.generators.rbm_feedback, core.generators.rbm_sampling;"
        "assert not {'tensorflow', 'music21', 'core.rbm.training'} & set(sys.modules);"
        "import core.rbm.training.cli;"
        "assert 'tensorflow' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def conditioned_model(valence_pull: float, arousal_pull: float) -> RbmModel:
    """A tiny model whose only emotion path is the note-bias conditioning ``B``: valence
    raises E and lowers E-flat, arousal raises every articulation."""
    model = random_model(hidden=4)
    model.weights[:] = 0.0
    note_units = TINY.note_units
    shift = np.zeros((2, TINY.pitch_count, 2), np.float32)
    for row in range(TINY.pitch_count):
        pitch_class = (TINY.lowest_pitch + row) % 12
        shift[1, row, 0] = {4: valence_pull, 3: -valence_pull}.get(pitch_class, 0.0)
    shift[0, :, 1] = arousal_pull
    model.emotion_note_weights = shift.reshape(2, note_units)
    return model


def test_note_bias_conditioning_moves_pitch_classes_and_density() -> None:
    model = conditioned_model(valence_pull=6.0, arousal_pull=4.0)
    rng = np.random.default_rng(0)
    start = np.zeros((16, TINY.note_units), np.uint8)

    def sampled(arousal: float, valence: float) -> np.ndarray:
        emotions = np.tile([arousal, valence], (16, 1))
        notes = sample_window(model, start, emotions, 5, rng).reshape(16, TINY.pitch_count, 2)
        return notes

    def pitch_class_share(notes: np.ndarray, pitch_class: int) -> float:
        rows = (TINY.lowest_pitch + np.arange(TINY.pitch_count)) % 12 == pitch_class
        return float(notes[:, rows, 0].mean())

    sad, happy = sampled(0.5, 0.05), sampled(0.5, 0.95)
    assert pitch_class_share(happy, 4) > pitch_class_share(sad, 4)
    assert pitch_class_share(sad, 3) > pitch_class_share(happy, 3)
    calm, excited = sampled(0.05, 0.5), sampled(0.95, 0.5)
    assert excited[..., 1].sum() > 2 * calm[..., 1].sum()


def test_mean_field_last_step_keeps_only_likely_notes() -> None:
    model = conditioned_model(valence_pull=0.0, arousal_pull=0.0)
    model.visible_bias[:] = -0.5  # every note plays with probability 0.38
    start = np.zeros((16, TINY.note_units), np.uint8)
    emotions = np.full((16, 2), 0.5)
    rng = np.random.default_rng(1)
    assert sample_window(model, start, emotions, 3, rng).any()
    assert not sample_window(model, start, emotions, 3, rng, mean_field_last=True).any()
    model.visible_bias[:] = 0.5
    assert sample_window(model, start, emotions, 3, rng, mean_field_last=True).all()


def test_model_file_versions(tmp_path: Path) -> None:
    model = conditioned_model(valence_pull=2.0, arousal_pull=1.0)
    save_model(tmp_path / "cond.npz", model)
    loaded = load_model(tmp_path / "cond.npz")
    np.testing.assert_allclose(loaded.emotion_note_weights, model.emotion_note_weights)
    with np.load(tmp_path / "cond.npz") as data:
        arrays = dict(data)
    # A version-1 file (before the conditioning weights) loads as a model without them.
    old = {k: v for k, v in arrays.items() if k != "emotion_note_weights"}
    old["format_version"] = np.int64(1)
    np.savez(tmp_path / "v1.npz", **old)
    assert not load_model(tmp_path / "v1.npz").emotion_note_weights.any()
    newer = dict(arrays, format_version=np.int64(FORMAT_VERSION + 1))
    np.savez(tmp_path / "newer.npz", **newer)
    with pytest.raises(InputError, match="newer Moodscore; update Moodscore"):
        load_model(tmp_path / "newer.npz")
    wrong = dict(arrays, emotion_note_weights=np.zeros((2, 5), np.float32))
    np.savez(tmp_path / "wrong.npz", **wrong)
    with pytest.raises(InputError, match="emotion_note_weights has shape"):
        load_model(tmp_path / "wrong.npz")


def test_window_key_normalisation_moves_each_window_to_c() -> None:
    layout = Layout(lowest_pitch=48, pitch_count=36, window_steps=16)
    # One bar in E-flat major, one in A minor: each window lands on tonic C, mode kept.
    bars = [((63, 67, 70), (68, 72, 75), (70, 74, 65), (63, 67, 70)),
            ((57, 60, 64), (62, 65, 69), (64, 68, 71), (57, 60, 64))]  # fmt: skip
    spans = [
        (bar * 16 + beat * 4, bar * 16 + beat * 4 + 4, pitch)
        for bar, chords in enumerate(bars)
        for beat, chord in enumerate(chords)
        for pitch in chord
    ]
    roll = notes_to_roll(spans, layout, 32)
    notes = np.stack([roll[:16].reshape(-1), roll[16:].reshape(-1)])
    moved = normalize_window_keys(notes, layout)
    for window, mode in zip(moved, ("major", "minor"), strict=True):
        assert roll_key(window.reshape(16, 36, 2), 48) == (0, mode)
    assert moved[0].sum() == notes[0].sum()  # nothing lost (no row collisions here)
    up = shift_rows(roll, layout, 12)  # the top octave folds back onto itself and merges
    np.testing.assert_array_equal(up[:, 12:24], roll[:, :12])
    np.testing.assert_array_equal(up[:, 24:], roll[:, 12:24] | roll[:, 24:])


def test_arousal_gain_scales_the_clamped_arousal() -> None:
    model = conditioned_model(valence_pull=0.0, arousal_pull=4.0)
    calm, excited = np.tile([0.1, 0.5], (32, 1)), np.tile([0.9, 0.5], (32, 1))

    def onsets(emotions: np.ndarray, gain: float) -> int:
        roll = sample_roll(model, emotions, 5, 0, feedback=False, arousal_gain=gain)
        return int(roll[..., 1].sum())

    # Gain 0 clamps every arousal to 0.5: same seed, same notes.
    assert onsets(calm, 0.0) == onsets(excited, 0.0)
    assert onsets(excited, 2.0) - onsets(calm, 2.0) > onsets(excited, 1.0) - onsets(calm, 1.0) > 0
