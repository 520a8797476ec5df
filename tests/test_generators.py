"""The Scales and Chords generators, judged from the notes they write."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from core.config import Config
from core.errors import InputError
from core.generators import get_composer
from core.generators.accompaniment import voice_lead
from core.generators.form import Phrase
from core.generators.harmony import Segment, plan_harmony, triad
from core.music.analysis import all_notes, bar_keys, harmonic_change_ticks, onset_density
from core.music.dynamics import velocity_for
from core.music.instruments import PRESETS, ROLE_CHANNELS, preset_programs
from core.music.midi import midi_bytes
from core.music.score import TICKS_PER_BEAT
from core.timeline import EmotionTimeline, TimeGrid
from tests.helpers import BAR, GENERATORS, compose_values, track


@pytest.mark.parametrize("name", GENERATORS)
def test_same_input_and_seed_give_identical_bytes_and_another_seed_differs(name: str) -> None:
    arousal, valence = [0.2, 0.5, 0.9, 0.4] * 3, [0.8, 0.3, 0.6, 0.1] * 3
    first = midi_bytes(compose_values(name, arousal, valence, seed=7, cuts_s=(3.1,)))
    again = midi_bytes(compose_values(name, arousal, valence, seed=7, cuts_s=(3.1,)))
    other = midi_bytes(compose_values(name, arousal, valence, seed=8, cuts_s=(3.1,)))
    assert first == again
    assert first != other


@pytest.mark.parametrize("name", GENERATORS)
@pytest.mark.parametrize("arousal", [0.1, 0.5, 0.9])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bright_bars_sound_major_and_dark_bars_minor(name: str, arousal: float, seed: int) -> None:
    # Eight bright bars, then eight dark ones, with a cut inside a dark bar; every bar is
    # judged alone by a Krumhansl-Kessler key estimate of all its pitched notes. A dark bar
    # holding a cadence's major dominant (the raised leading tone a V-i cadence needs) may
    # read as major on its own; at most one such bar is allowed to.
    valence = [0.9] * 4 + [0.65] * 4 + [0.3] * 4 + [0.05] * 4
    score = compose_values(name, [arousal] * 16, valence, seed=seed, cuts_s=(27.3,))
    pitched = [t.name for t in score.tracks if t.channel != 9]  # drums have no key
    modes = [key.mode for key in bar_keys(score, pitched)]
    timeline = EmotionTimeline.from_values([arousal] * 16, valence, cuts_s=(27.3,))
    fade = timeline.grid.length_ticks(Config().render.fade_s)
    plan = plan_harmony(timeline, np.random.default_rng(seed), fade_ticks=fade)
    with_dominant = {
        seg.start // BAR
        for seg in plan.segments
        if seg.valence < 0.5 and (seg.tonic + 11) % 12 in seg.chord.pitch_classes
    }
    expected = ["major"] * 8 + ["minor"] * 8
    wrong = [
        bar for bar, (mode, want) in enumerate(zip(modes, expected, strict=True)) if mode != want
    ]
    assert set(wrong) <= with_dominant, (wrong, modes)
    assert len(wrong) <= 1, (wrong, modes)


@pytest.mark.parametrize("name", GENERATORS)
def test_arousal_raises_note_density_and_velocity(name: str) -> None:
    score = compose_values(name, [0.1] * 6 + [0.9] * 6, [0.6] * 12, seed=3)
    notes = all_notes(score)
    half = 6 * BAR
    calm = [n for n in notes if n.start < half]
    excited = [n for n in notes if n.start >= half]
    assert onset_density(notes, half, 2 * half) >= 2 * onset_density(notes, 0, half)
    assert np.mean([n.velocity for n in excited]) > np.mean([n.velocity for n in calm]) + 20


@pytest.mark.parametrize("name", GENERATORS)
@pytest.mark.parametrize(("bpm", "step_bars"), [(120.0, 1), (97.0, 2)])
def test_a_harmonic_change_lands_on_the_beat_nearest_every_cut(
    name: str, bpm: float, step_bars: int
) -> None:
    grid = TimeGrid(bpm=bpm, step_bars=step_bars)
    bar_s = grid.timestep_s * 16
    # Cuts well inside bars (not on bar or half-bar lines), one close to a bar line, and two
    # in the same bar.
    cuts = (0.3 * bar_s, 1.62 * bar_s, 2.97 * bar_s, 4.2 * bar_s, 4.8 * bar_s, 6.41 * bar_s)
    steps = 8 // step_bars
    score = compose_values(
        name, [0.3, 0.8] * (steps // 2), [0.7, 0.2] * (steps // 2), grid=grid, cuts_s=cuts, seed=5
    )
    # The accompaniment: pad and bass (Chords' pad comps off the beat, so a change of chord
    # may first sound in the bass).
    accompaniment = track(score, "Harmony").notes + track(score, "Bass").notes
    changes = np.array(harmonic_change_ticks(accompaniment))
    for cut in cuts:
        cut_tick = score.ticks(cut)
        on_beat = round(cut_tick / TICKS_PER_BEAT) * TICKS_PER_BEAT
        assert on_beat in changes, (cut, cut_tick, changes)
    # No chord of the pad is shorter than a beat (the last may be cut short by the clip's end).
    pad_changes = harmonic_change_ticks(track(score, "Harmony").notes)
    assert all(b - a >= TICKS_PER_BEAT for a, b in itertools.pairwise(pad_changes))


@pytest.mark.parametrize(("name", "preset"), list(itertools.product(GENERATORS, sorted(PRESETS))))
def test_no_stuck_or_self_overlapping_notes_and_drums_only_on_channel_10(
    name: str, preset: str
) -> None:
    score = compose_values(
        name, [0.1, 0.5, 0.95, 0.3, 0.7], [0.9, 0.2, 0.5, 0.05, 0.7], preset=preset, cuts_s=(2.6,)
    )
    assert score.tracks
    for part in score.tracks:
        assert (part.channel == 9) == (part.name == "Percussion")
        assert (
            part.program
            == preset_programs(preset)[
                next(role for role, ch in ROLE_CHANNELS.items() if ch == part.channel)
            ]
        )
        assert part.notes
        by_pitch: dict[int, list] = {}
        for note in part.notes:
            assert note.duration > 0
            assert note.start >= 0
            assert note.end <= score.length_ticks
            assert 1 <= note.velocity <= 127
            by_pitch.setdefault(note.pitch, []).append(note)
        for notes in by_pitch.values():
            for earlier, later in itertools.pairwise(sorted(notes)):
                assert earlier.end <= later.start


@pytest.mark.parametrize("name", GENERATORS)
def test_score_covers_exactly_the_timeline_duration(name: str) -> None:
    grid = TimeGrid(bpm=93.0)
    duration_s = 3.5 * grid.step_s  # the last step is partial
    score = compose_values(name, [0.5] * 4, [0.5] * 4, grid=grid, duration_s=duration_s)
    assert score.bpm == 93.0
    assert abs(score.duration_s - duration_s) <= score.seconds(1)
    assert max(n.end for n in all_notes(score)) == score.length_ticks


def test_chord_voicings_move_smoothly() -> None:
    rng = np.random.default_rng(0)
    chords = [triad(0, "ionian", d) for d in (0, 3, 4, 0, 5, 1, 4, 0)] * 3
    phrase = Phrase(0, 0, len(chords) - 1, "authentic")
    segments = [
        Segment(i * BAR, (i + 1) * BAR, 0.5, 0.7, 0, (), c, phrase, (0, len(chords) * BAR))
        for i, c in enumerate(chords)
    ]
    voicings = voice_lead(segments, rng)
    moves = [
        np.mean([abs(a - b) for a, b in zip(x, y, strict=True)])
        for x, y in itertools.pairwise(voicings)
    ]
    assert np.mean(moves) <= 2.5
    assert max(moves) <= 5


def test_unknown_preset_names_the_valid_ones() -> None:
    with pytest.raises(InputError) as error:
        compose_values("chords", [0.5], [0.5], preset="banjo")
    message = str(error.value)
    assert "'banjo'" in message
    for name in PRESETS:
        assert name in message


def test_velocity_mapping_is_increasing_and_in_midi_range() -> None:
    velocities = [velocity_for(a) for a in np.linspace(0, 1, 21)]
    assert velocities == sorted(velocities)
    assert velocities[-1] - velocities[0] >= 50
    assert all(1 <= v <= 127 for v in velocities)
    assert velocity_for(-1.0) == velocity_for(0.0)


def test_empty_timeline_is_refused_with_a_sentence() -> None:
    timeline = EmotionTimeline(grid=TimeGrid(), duration_s=0.0, steps=())
    with pytest.raises(InputError, match="empty"):
        get_composer("scales")(timeline, Config(), 0)


def test_config_overrides_a_preset_program_per_role() -> None:
    from core.config import config_from_dict

    config = config_from_dict({"music": {"preset": "strings", "programs": {"melody": 73}}})
    timeline = EmotionTimeline.from_values([0.5, 0.5], [0.7, 0.7])
    score = get_composer("scales")(timeline, config, 0)
    assert track(score, "Melody").program == 73
    assert track(score, "Harmony").program == PRESETS["strings"]["harmony"]
    for bad, match in (({"lead": 1}, "Unknown role 'lead'"), ({"bass": 200}, "0-127")):
        config.music.programs = bad
        with pytest.raises(InputError, match=match):
            get_composer("scales")(timeline, config, 0)
