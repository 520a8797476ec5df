"""The craft of the Scales and Chords generators, judged by the independent music judge.

Every rule of ``docs/MUSIC.md`` that can be measured is measured here from the notes the
generators write (through a MIDI file, as ``benchmarks/music_judge.py`` reads it): phrases that
do not loop, outer voices without parallel fifths or octaves, no doubled pitches across parts,
a tune that is consonant on the beat, cadences that end on the tonic, cuts that land on the
beat with an accent, and layers that enter with arousal.
"""

from __future__ import annotations

import itertools
import math
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from core.config import Config
from core.generators import get_composer
from core.generators.accompaniment import HARMONY_RANGE
from core.generators.frame import TUNE_LED, registers
from core.generators.harmony import plan_harmony
from core.generators.texture import Accompaniment, LeadLine
from core.music.instruments import CRASH, KICK, SNARE, programs_for
from core.music.midi import midi_bytes
from core.music.score import TICKS_PER_BEAT, Note, Score
from core.timeline import EmotionTimeline, TimeGrid
from tests.helpers import BAR, GENERATORS, benchmark_module, compose, judged, track

judge = benchmark_module("music_judge")
random_arc = benchmark_module("random_arcs").random_arc
TWO_MINUTES = 120.0
#: Constant emotions: the corners of the arousal/valence square and the neutral middle.
EMOTIONS = [(0.2, 0.2), (0.2, 0.8), (0.8, 0.2), (0.8, 0.8), (0.5, 0.5)]


def timeline_of(arousal, valence, seconds=None, cuts=(), grid=None) -> EmotionTimeline:
    return EmotionTimeline.from_values(
        list(arousal), list(valence), grid or TimeGrid(), seconds, tuple(cuts)
    )


def constant(name: str, arousal: float, valence: float, seed: int = 0) -> Score:
    steps = TimeGrid().step_count(TWO_MINUTES)
    return compose(name, timeline_of([arousal] * steps, [valence] * steps, TWO_MINUTES), seed)


# --- the lead line's rules, on passages whose answer is known ---------------------------------


def test_the_lead_line_avoids_parallel_fifths_with_the_bass_when_it_can() -> None:
    # Bass C3 -> D3 under a top G4: moving the top to A4 would be parallel fifths.
    bass = [Note(0, BAR, 48, 80), Note(BAR, BAR, 50, 80)]
    line = LeadLine(Accompaniment(bass, 2 * BAR))
    line.place(0, BAR, [67], 90)
    assert line.place(BAR, BAR, [69, 71], 90) == 71
    parallels, moves = judge.outer_voice_parallels(
        judge.notes_from_tuples([(0, 4, 48, 0), (4, 4, 50, 0), (0, 4, 67, 1), (4, 4, 71, 1)])
    )
    assert (parallels, moves) == (0, 1)
    # The same passage with A4 is what the judge flags.
    bad = judge.notes_from_tuples([(0, 4, 48, 0), (4, 4, 50, 0), (0, 4, 67, 1), (4, 4, 69, 1)])
    assert judge.outer_voice_parallels(bad) == (1, 1)


def test_the_lead_line_stays_above_the_accompaniment_and_avoids_semitones() -> None:
    pad = [Note(0, BAR, p, 60) for p in (60, 64, 67)]  # C major up to G4
    line = LeadLine(Accompaniment(pad, BAR))
    assert line.place(0, TICKS_PER_BEAT, [67, 65, 72], 90) == 72  # 67 doubles, 65 clashes
    assert line.place(TICKS_PER_BEAT, TICKS_PER_BEAT, [77, 74], 90) == 74  # F rubs against E


# --- the generators' output, judged -----------------------------------------------------------


@pytest.mark.parametrize("name", GENERATORS)
@pytest.mark.parametrize(("arousal", "valence"), EMOTIONS)
def test_two_minutes_at_one_emotion_are_crafted_not_looped(
    name: str, arousal: float, valence: float
) -> None:
    craft = judge.craft(judged(constant(name, arousal, valence, seed=3)))
    assert craft["bar_repeat_share"] <= 0.40, craft
    assert craft["parallels_per_100_moves"] <= 1.0, craft
    assert craft["semitone_clash_share"] <= 0.12, craft
    assert craft["onbeat_nonchord_share"] <= 0.10, craft
    assert craft["ends_on_tonic"] == 1.0, craft


def test_the_tune_restates_its_motifs() -> None:
    # Motifs recur: the rhythm and up/down shape of some bar's tune comes back in later bars.
    score = constant("scales", 0.5, 0.7, seed=4)
    melody = track(score, "Melody").notes
    shapes = Counter()
    for bar in range(score.length_ticks // BAR - 1):
        notes = [n for n in melody if bar * BAR <= n.start < (bar + 1) * BAR]
        rhythm = tuple(n.start - bar * BAR for n in notes)
        contour = tuple(int(np.sign(b.pitch - a.pitch)) for a, b in itertools.pairwise(notes))
        shapes[rhythm, contour] += 1
    assert shapes.most_common(1)[0][1] >= 3, shapes.most_common(3)


@pytest.mark.parametrize("name", GENERATORS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_changing_arcs_keep_the_mode_and_the_density_following_the_emotion(
    name: str, seed: int
) -> None:
    arousal, valence, cuts = random_arc(1000 + seed, TWO_MINUTES)
    score = compose(name, timeline_of(arousal, valence, TWO_MINUTES, cuts), seed)
    piece = judged(score)
    bars = min(piece.bar_count, len(arousal))
    agreement, judged_bars = judge.mode_agreement(piece, valence[:bars])
    assert judged_bars >= 40
    assert agreement >= 0.95
    with_drums = judge.onsets_per_bar(piece)[:bars]
    pitched = judge.Piece(
        tuple(n for n in piece.notes if not n.drum), piece.ticks_per_quarter, piece.bar_ticks,
        piece.beat_ticks,
    )  # fmt: skip
    without_drums = judge.onsets_per_bar(pitched)[:bars]
    assert judge.spearman(arousal[:bars], with_drums) >= 0.8
    assert judge.spearman(arousal[:bars], without_drums) >= 0.8


@pytest.mark.parametrize("name", GENERATORS)
def test_no_pitch_sounds_in_two_parts_at_once(name: str) -> None:
    arousal, valence, cuts = random_arc(1000 + 5, TWO_MINUTES)
    score = compose(name, timeline_of(arousal, valence, TWO_MINUTES, cuts), 5)
    sounding: dict[int, set[tuple[int, str]]] = {}
    for part in score.tracks:
        if part.channel == 9:
            continue
        for note in part.notes:
            for step in range(note.start // 120, math.ceil(note.end / 120)):
                sounding.setdefault(step, set()).add((note.pitch, part.name))
    doubled = [step for step, pairs in sounding.items() if len({p for p, _ in pairs}) < len(pairs)]
    assert not doubled, doubled[:5]


@pytest.mark.parametrize("name", GENERATORS)
@pytest.mark.parametrize(
    ("seconds", "bpm", "valence"),
    [
        (30.0, 120.0, 0.8),
        (17.3, 97.0, 0.2),
        (7.9, 140.0, 0.4),
        (3.1, 120.0, 0.6),
        (61.0, 84.0, 0.1),
    ],
)
def test_the_piece_closes_with_an_authentic_cadence_held_to_the_last_tick(
    name: str, seconds: float, bpm: float, valence: float
) -> None:
    grid = TimeGrid(bpm=bpm)
    steps = grid.step_count(seconds)
    timeline = timeline_of([0.7] * steps, [valence] * steps, seconds, grid=grid)
    score = compose(name, timeline, seed=2)
    plan = plan_harmony(timeline, np.random.default_rng(2))
    tonic = plan.segments[-1].tonic
    assert score.length_ticks == grid.length_ticks(seconds)
    pitched = [n for t in score.tracks if t.channel != 9 for n in t.notes]
    last = [n for n in pitched if n.end == score.length_ticks]
    bass = min(last, key=lambda n: n.pitch)
    assert bass.pitch % 12 == tonic
    assert bass.start % BAR == 0  # the tonic arrives on a downbeat ...
    assert score.length_ticks - bass.start >= BAR // 2  # ... and rings
    assert {n.pitch % 12 for n in last} <= {tonic, (tonic + 3) % 12, (tonic + 4) % 12,
                                             (tonic + 7) % 12, (tonic + 2) % 12}  # fmt: skip
    # The chord before it is the dominant, with the leading tone even in minor.
    before = [n for n in pitched if n.start < bass.start < n.end + 1 and n.end <= bass.start]
    before_classes = {n.pitch % 12 for n in before if n.end == bass.start}
    if len(plan.segments) > 1:
        assert (tonic + 11) % 12 in before_classes, before_classes
        assert (tonic + 7) % 12 in before_classes


def test_minor_cadences_raise_the_leading_tone() -> None:
    steps = 16
    timeline = timeline_of([0.4] * steps, [0.25] * steps)  # aeolian: its 7th is a whole tone
    plan = plan_harmony(timeline, np.random.default_rng(0))
    tonic = plan.segments[0].tonic
    for seg in plan.segments:
        if seg.cadence_role == "dominant":
            assert (tonic + 11) % 12 in seg.chord.pitch_classes
            assert (tonic + 11) % 12 in seg.scale and (tonic + 10) % 12 not in seg.scale
    cadences = [s for s in plan.segments if s.cadence_role == "tonic"]
    assert len(cadences) >= 2  # every consequent phrase closes, not only the last


def test_a_big_valence_jump_moves_to_the_relative_key_and_the_last_phrase_comes_home() -> None:
    # Mostly bright: home is the major key; the dark middle moves to its relative minor; the
    # dark ending comes home to the parallel minor.
    timeline = timeline_of([0.5] * 16, [0.85] * 4 + [0.1] * 4 + [0.85] * 4 + [0.1] * 4)
    plan = plan_harmony(timeline, np.random.default_rng(1))

    def tonics(first_bar: int, last_bar: int) -> set[int]:
        # The last beat before a change of key already prepares the next key (its dominant or
        # a pivot chord: test_harmony_vocabulary).
        return {
            s.tonic
            for s in plan.segments
            if first_bar * BAR <= s.start < last_bar * BAR - TICKS_PER_BEAT
        }

    home = plan.segments[0].tonic
    assert tonics(4, 8) == {(home + 9) % 12}  # the relative minor
    assert next(s for s in plan.segments if s.start == 4 * BAR).chord.root == (home + 9) % 12
    assert tonics(8, 12) == {home}
    assert tonics(12, 16) == {home}  # home, in the parallel minor of the ending
    assert plan.segments[-1].chord.pitch_classes == (home, (home + 3) % 12, (home + 7) % 12)
    # Mostly dark: home is the minor key, and a bright opening is its relative major.
    dark = plan_harmony(timeline_of([0.5] * 12, [0.85] * 4 + [0.1] * 8), np.random.default_rng(1))
    opening = dark.segments[0].tonic
    assert {s.tonic for s in dark.segments if s.start >= 4 * BAR} == {(opening + 9) % 12}
    # A small swing across the middle changes the mode, not the key.
    small = plan_harmony(timeline_of([0.5] * 12, [0.55] * 4 + [0.45] * 8), np.random.default_rng(1))
    assert len({s.tonic for s in small.segments if s.start < 8 * BAR - TICKS_PER_BEAT}) == 1


@pytest.mark.parametrize("name", GENERATORS)
def test_cuts_land_on_the_beat_and_a_big_change_is_hit(name: str) -> None:
    grid = TimeGrid(bpm=110.0)
    bar_s = 16 * grid.timestep_s
    cut_mild, cut_big = 1.37 * bar_s, 4.0 * bar_s + 0.11  # inside a bar; just after a bar line
    arousal = [0.3, 0.3, 0.3, 0.3, 0.9, 0.9, 0.9, 0.9]
    valence = [0.7, 0.7, 0.7, 0.7, 0.15, 0.15, 0.15, 0.15]
    score = compose(name, timeline_of(arousal, valence, cuts=(cut_mild, cut_big), grid=grid), 6)
    harmony = track(score, "Harmony").notes
    for cut in (cut_mild, cut_big):
        beat = round(grid.ticks_at(cut) / TICKS_PER_BEAT) * TICKS_PER_BEAT
        assert any(n.start == beat for n in harmony)
    big = round(grid.ticks_at(cut_big) / TICKS_PER_BEAT) * TICKS_PER_BEAT
    drums = track(score, "Percussion").notes
    assert any(n.start == big and n.pitch == CRASH for n in drums)
    mild = round(grid.ticks_at(cut_mild) / TICKS_PER_BEAT) * TICKS_PER_BEAT
    assert not any(n.start == mild and n.pitch == CRASH for n in drums)
    forte = max(n.velocity for n in harmony if n.start == big)
    bar_before = [n.velocity for n in harmony if big - BAR <= n.start < big]
    assert forte > max(bar_before) + 10


@pytest.mark.parametrize("name", GENERATORS)
def test_layers_enter_with_arousal_and_drums_only_when_excited(name: str) -> None:
    def layers(arousal: float) -> dict[str, int]:
        score = compose(name, timeline_of([arousal] * 12, [0.7] * 12), seed=1)
        # Notes before the closing cadence (bars 0-8; the final tonic arrives on bar 10, a bar
        # before the fade, after its dominant in bar 9).
        body = [t for t in score.tracks]
        return {t.name: sum(n.start < 9 * BAR for n in t.notes) for t in body}

    calm, low, middle, high = layers(0.1), layers(0.3), layers(0.5), layers(0.9)
    assert calm.get("Bass", 0) == 0 and calm.get("Percussion", 0) == 0
    assert low["Bass"] > 0 and low.get("Percussion", 0) == 0
    assert middle["Harmony"] > 2 * low["Harmony"]  # the pad starts to pulse
    assert middle.get("Percussion", 0) == 0
    assert high["Percussion"] >= 10 * 8  # a groove in every bar
    score = compose(name, timeline_of([0.9] * 12, [0.7] * 12), seed=1)
    for bar in range(10):
        hits = {n.pitch for n in track(score, "Percussion").notes if n.start // BAR == bar}
        assert {KICK, SNARE} <= hits, bar


def test_each_phrase_swells_toward_its_climax() -> None:
    score = constant("chords", 0.5, 0.7, seed=2)
    figure = track(score, "Figuration").notes

    def loudness(bar: int) -> float:
        return float(np.mean([n.velocity for n in figure if n.start // BAR == bar]))

    for phrase_start in (0, 4, 8, 12):
        assert loudness(phrase_start + 2) > loudness(phrase_start) + 4


@pytest.mark.parametrize("name", GENERATORS)
def test_the_same_seed_gives_the_same_bytes_with_drums_and_hits(name: str) -> None:
    arousal, valence, cuts = random_arc(1000 + 7, TWO_MINUTES)
    timeline = timeline_of(arousal, valence, TWO_MINUTES, cuts)
    assert midi_bytes(compose(name, timeline, 9)) == midi_bytes(compose(name, timeline, 9))
    assert midi_bytes(compose(name, timeline, 9)) != midi_bytes(compose(name, timeline, 10))


@pytest.mark.parametrize("preset", ["piano", "strings"])
def test_pad_stays_in_its_register_above_the_bass(preset: str) -> None:
    config = Config()
    config.music.preset = preset
    timeline = timeline_of([0.5] * 16, [0.3] * 16)
    score = get_composer("scales")(timeline, config, 0)
    (low, high), (bass_low, _) = registers(TUNE_LED, programs_for(preset))
    pad = track(score, "Harmony").notes
    assert all(low <= n.pitch <= high for n in pad)
    assert low >= HARMONY_RANGE[0] and low >= bass_low + 12  # room for the bass below it
    assert all(n.pitch >= bass_low for n in track(score, "Bass").notes)


def test_time_grid_tick_arithmetic() -> None:
    grid = TimeGrid(bpm=90.0, step_bars=2)
    assert (grid.ticks_per_timestep, grid.ticks_per_beat, grid.ticks_per_bar) == (120, 480, 1920)
    assert grid.ticks_per_step == 3840
    assert grid.ticks_per_second == pytest.approx(720.0)
    assert grid.ticks_at(2.0) == pytest.approx(1440.0)
    assert grid.seconds_at(1440) == pytest.approx(2.0)
    assert grid.length_ticks(10.0) == 7200
    assert grid.timestep_count(1.0) == 6  # 1 s / (15/90 s)
    assert [grid.step_of_tick(t, 3) for t in (0, 3839, 3840, 99_999)] == [0, 0, 1, 2]


def test_the_rbm_composer_no_longer_imports_the_generators() -> None:
    code = (
        "import sys, core.rbm.compose;"
        "print(any(m.startswith('core.generators') for m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        cwd=Path(__file__).resolve().parents[1],
    )  # fmt: skip
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("valence", [0.8, 0.2])
def test_a_cut_during_the_final_tonic_recolours_it_without_leaving_it(valence: float) -> None:
    grid = TimeGrid()
    cuts = (10.55, 11.3)  # beats 21 and 23: inside the last bar (beats 20-24)
    timeline = timeline_of([0.5] * 6, [valence] * 6, cuts=cuts, grid=grid)
    # The final tonic arrives a bar before the 1.5 s fade begins: on bar 4, held through bar 5.
    fade = grid.length_ticks(Config().render.fade_s)
    plan = plan_harmony(timeline, np.random.default_rng(0), fade_ticks=fade)
    closing = [s for s in plan.segments if s.start >= 4 * BAR]
    assert [s.start for s in closing] == [4 * BAR, 21 * TICKS_PER_BEAT, 23 * TICKS_PER_BEAT]
    tonic = closing[0].tonic
    for seg in closing:
        assert seg.chord.root == tonic and seg.cadence_role == "tonic"
        classes = seg.chord.pitch_classes
        assert not any((a - b) % 12 in (1, 11) for a, b in itertools.combinations(classes, 2))
    assert closing[0].chord != closing[1].chord != closing[2].chord
    score = compose("scales", timeline)
    bass = [n for n in track(score, "Bass").notes if n.end == score.length_ticks]
    assert len(bass) == 1 and bass[0].pitch % 12 == tonic
    assert bass[0].start == 4 * BAR  # held from the downbeat through both cuts


def test_suspensions_are_prepared_held_over_the_change_and_resolve_down_by_step() -> None:
    suspensions = 0
    for (arousal, valence), seed in itertools.product([(0.2, 0.8), (0.5, 0.7), (0.3, 0.2)], [0, 2]):
        timeline = timeline_of([arousal] * 30, [valence] * 30)
        melody = track(compose("scales", timeline, seed), "Melody").notes
        segments = plan_harmony(timeline, np.random.default_rng(seed)).segments
        for note, after in itertools.pairwise(melody):
            change = next((s for s in segments if note.start < s.start < note.end), None)
            if change is None:
                continue  # not held over a chord change
            suspensions += 1
            before = next(s for s in segments if s.start <= note.start < s.end)
            assert note.pitch % 12 in before.chord.pitch_classes  # prepared
            assert note.pitch % 12 not in change.chord.pitch_classes  # suspended
            assert after.start == change.start + TICKS_PER_BEAT  # resolved on the next beat
            assert 1 <= note.pitch - after.pitch <= 2  # ... down by step
            assert after.pitch % 12 in change.chord.pitch_classes  # ... to a chord tone
    assert suspensions >= 5
