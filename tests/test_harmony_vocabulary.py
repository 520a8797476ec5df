"""The harmony of the Scales and Chords generators, judged from the plan and the notes.

Issue 18's harmony: no authentic close while the tension builds, in any key the ear hears;
each rule is asserted on composed MIDI (through the independent judge) or on the harmonic plan.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from core.config import Config
from core.generators.chords import ARRANGEMENT as CHORDS_ARRANGEMENT
from core.generators.frame import TUNE_LED
from core.generators.harmony import (
    MODAL_TONIC_DOWNBEATS,
    HarmonicPlan,
    Segment,
    is_suspended,
    plan_harmony,
)
from core.generators.mapping import valence_band
from core.music.score import TICKS_PER_BEAT
from core.timeline import EmotionTimeline, TimeGrid, read_emotion_file
from tests.helpers import BAR, GENERATORS, REPO, benchmark_module, compose, judged

judge = benchmark_module("music_judge")
random_arc = benchmark_module("random_arcs").random_arc
SECONDS = 120.0
ARCS = REPO / "benchmarks" / "arcs"
CUE_ARCS = ("thriller", "romcom", "constant_mid", "constant_high")
ARRANGEMENTS = {"scales": TUNE_LED, "chords": CHORDS_ARRANGEMENT}


def random_timeline(seed: int) -> EmotionTimeline:
    """One of the benchmark's random changing arcs, with its cuts."""
    arousal, valence, cuts = random_arc(seed, SECONDS)
    return EmotionTimeline.from_values(arousal, valence, TimeGrid(), SECONDS, tuple(cuts))


def cue_timeline(arc: str) -> EmotionTimeline:
    """One of issue 18's cue arcs."""
    return read_emotion_file(ARCS / f"{arc}.emotions.txt")


def plan_of(generator: str, timeline: EmotionTimeline, seed: int) -> HarmonicPlan:
    """The harmonic plan ``generator`` composes over for ``seed`` (the plan draws first)."""
    arrangement = ARRANGEMENTS[generator]
    fade = timeline.grid.length_ticks(Config().render.fade_s)
    return plan_harmony(
        timeline,
        np.random.default_rng(seed),
        fade_ticks=fade,
        pace=arrangement.pace,
        progression_shift=arrangement.progression_shift,
    )


def bar_arousal(timeline: EmotionTimeline, bars: int) -> list[float]:
    """The arousal of each whole bar of the clip, as the judge reads the arc."""
    grid, count = timeline.grid, len(timeline.steps)
    bar_s = 4 * 60.0 / grid.bpm
    whole = min(bars, math.floor(timeline.duration_s / bar_s + 1e-9))
    return [
        timeline.steps[min(count - 1, int(b * bar_s / grid.step_s + 1e-9))].arousal
        for b in range(whole)
    ]


@pytest.mark.parametrize("generator", GENERATORS)
def test_no_authentic_close_inside_a_rising_section(generator: str) -> None:
    # The judge's authentic cadence (major chord on the last beat, the bass a fifth below on
    # the downbeat, in the key the two bars up to it are heard in) never falls on a bar where
    # arousal is still climbing: on random arcs whose seeds had such closes before the rule
    # (lydian's II over its pedal after V, V-I in passing), and on the cue arcs.
    cases = [(random_timeline(seed), seed) for seed in (0, 3, 9, 14)]
    cases += [(cue_timeline(arc), seed) for arc in ("romcom", "thriller") for seed in (1, 2)]
    for timeline, seed in cases:
        piece = judged(compose(generator, timeline, seed))
        rising = set(judge.rising_bars(bar_arousal(timeline, piece.bar_count)))
        closes = rising & set(judge.authentic_cadence_bars(piece))
        assert not closes, (seed, sorted(closes))


def changing_cases() -> list[tuple[EmotionTimeline, int]]:
    """Random arcs (a cut, often a hit, at every jump) and the two changing cue arcs."""
    cases = [(random_timeline(seed), seed) for seed in range(8)]
    return cases + [(cue_timeline(arc), seed) for arc in ("thriller", "romcom") for seed in (1, 2)]


@pytest.mark.parametrize("generator", GENERATORS)
def test_a_change_of_key_is_prepared_the_beat_before(generator: str) -> None:
    # Every change of key (the relative key on a valence jump, the return home for the last
    # phrase) is announced on the beat before the new key's first bar (the bar, where a
    # cadence's dominant turns to the new key's): by the new key's dominant or by a pivot
    # chord whose tones the old key has too.
    changes = 0
    for timeline, seed in changing_cases():
        segments = plan_of(generator, timeline, seed).segments
        for before, approach, after in zip(segments, segments[1:], segments[2:], strict=False):
            if approach.tonic == before.tonic:
                continue
            changes += 1
            chord = approach.chord
            assert approach.duration <= 4 * TICKS_PER_BEAT, approach
            assert after.tonic == approach.tonic and after.start % TICKS_PER_BEAT == 0
            new_dominant = chord.root == (approach.tonic + 7) % 12
            pivot = set(chord.pitch_classes) <= set(before.scale) | {before.tonic}
            assert new_dominant or pivot, (seed, approach.start, chord)
    assert changes >= 8


@pytest.mark.parametrize("generator", GENERATORS)
def test_a_hit_is_approached_by_a_suspended_chord(generator: str) -> None:
    # The beat (or half bar) before a hit (a cut across which the emotion jumps) holds a sus4
    # or sus2 chord whose suspended tone resolves by step onto the hit's chord (or is held
    # into it). An authentic cadence's dominant keeps its place (its tonic must follow), and
    # a sus that would tip its bar into the other mode is left out: at least 80% of the rest.
    hits = suspended_hits = 0
    for timeline, seed in changing_cases():
        segments = plan_of(generator, timeline, seed).segments
        for before, hit in itertools.pairwise(segments):
            if not hit.hit or (before.cadence_role, hit.cadence_role) == ("dominant", "tonic"):
                continue
            hits += 1
            if not is_suspended(before.chord):
                continue
            suspended_hits += 1
            assert before.duration <= 2 * TICKS_PER_BEAT
            tone = before.chord.third
            assert any((tone - pc) % 12 in (0, 1, 2) for pc in hit.chord.pitch_classes)
    assert hits >= 40 and suspended_hits >= 0.8 * hits, (suspended_hits, hits)


def modal_windows_on_tonic(generator: str, timeline: EmotionTimeline, seed: int) -> list[bool]:
    """For each 4-bar window of one key in one modal band (lydian, mixolydian, dorian,
    phrygian), whether the judge's Krumhansl-Kessler estimate names the plan's tonic."""
    plan = plan_of(generator, timeline, seed)
    piece = judged(compose(generator, timeline, seed))
    per_bar = piece.steps_per_bar
    bar_key = {}
    for seg in plan.segments:
        bar_key.setdefault(seg.start // BAR, (seg.tonic, valence_band(seg.valence).mode))
    found = []
    for first in range(plan.length_ticks // BAR - 3):
        keys = {bar_key.get(first + k) for k in range(4)}
        if len(keys) != 1 or None in keys:
            continue
        ((tonic, mode),) = keys
        if mode not in MODAL_TONIC_DOWNBEATS:
            continue
        histogram = judge.pitch_class_histogram(piece, first * per_bar, (first + 4) * per_bar)
        key = judge.estimate_key(histogram)
        found.append(key is not None and key[0] == tonic)
    return found


@pytest.mark.parametrize("generator", GENERATORS)
def test_a_modal_passage_reads_as_its_own_tonic(generator: str) -> None:
    # Two minutes of (0.5, 0.5) are mixolydian: with the tonic on the downbeats (bVII or I
    # on the half bar, never IV, whose key has the mode's notes) a key finder names the
    # mode's tonic, not the major key a fourth above (F mixolydian heard as B-flat major).
    for seed in (1, 2):
        found = modal_windows_on_tonic(generator, cue_timeline("constant_mid"), seed)
        assert len(found) >= 20 and sum(found) >= 0.9 * len(found), (seed, sum(found), len(found))


@pytest.mark.parametrize("generator", GENERATORS)
def test_modal_bars_that_move_twice_hold_the_tonic_on_the_downbeat(generator: str) -> None:
    # Plan rule: in a modal band, a bar inside a phrase whose harmony moves on the half bar
    # opens on the tonic; the half bar never holds the chord on the tonic of the major or
    # minor key with the mode's notes (lydian V, mixolydian IV, dorian v, phrygian iv).
    timeline = cue_timeline("constant_mid")
    segments = plan_of(generator, timeline, 1).segments
    checked = 0
    for seg in segments:
        bar, offset = divmod(seg.start, BAR)
        if seg.cadence_role or bar in (seg.phrase.first_bar, seg.phrase.last_bar):
            continue
        if bar == seg.phrase.last_bar - 1 or seg.hit or seg.at_cut:
            continue
        if offset == 0 and seg.duration == BAR // 2:
            checked += 1
            assert seg.chord.root == seg.tonic, seg
        if offset == BAR // 2:
            assert seg.chord.root != (seg.tonic + 5) % 12, seg  # mixolydian's IV
    assert checked >= 5


def constant_timeline(arousal: float, valence: float, seconds: float = 64.0) -> EmotionTimeline:
    """One emotion held for ``seconds``."""
    steps = round(seconds / TimeGrid().step_s)
    return EmotionTimeline.from_values([arousal] * steps, [valence] * steps, TimeGrid(), seconds)


def applied_dominants(plan: HarmonicPlan) -> list[tuple[Segment, Segment]]:
    """(V of V, the dominant after it) pairs of a major-key plan: a major triad on the second
    degree, whose third is the raised 4th, followed by the key's dominant."""
    return [
        (before, seg)
        for before, seg in itertools.pairwise(plan.segments)
        if valence_band(before.valence).mode == "ionian"
        and before.chord.root == (before.tonic + 2) % 12
        and before.chord.third == (before.tonic + 6) % 12
        and before.chord.fifth == (before.tonic + 9) % 12
        and seg.chord.root == (seg.tonic + 7) % 12
    ]


@pytest.mark.parametrize("generator", GENERATORS)
def test_a_major_key_half_cadence_may_go_through_v_of_v(generator: str) -> None:
    # At a moderate arousal (0.6) in a major key some half cadences go IV - V/V - V (F, D, G
    # in C; V of V for one beat): the tune takes the raised 4th under it, and no part sounds
    # the plain 4th against it. Its bar reads major and its phrase is heard in the tonic's
    # key by the judge's key finder (measured on three major arcs, seeds 1-6: bars 69 of 72
    # major, phrases 58 of 72 in the tonic, as many as half-cadence phrases before; held for
    # half a bar, II - V named the tonic in only 39 of 72). Calm music (0.3) keeps IV - V.
    found = major = in_key = 0
    for seed in (1, 2, 3, 4):
        timeline = constant_timeline(0.6, 0.7)
        plan = plan_of(generator, timeline, seed)
        pairs = applied_dominants(plan)
        found += len(pairs)
        score = compose(generator, timeline, seed)
        pitched = [n for t in score.tracks if t.channel != 9 for n in t.notes]
        piece = judged(score)
        modes, per_bar = judge.bar_modes(piece), piece.steps_per_bar
        for applied, dominant in pairs:
            assert dominant.cadence_role == "dominant" and dominant.start % BAR == BAR // 2
            assert applied.duration == TICKS_PER_BEAT
            raised, plain = (applied.tonic + 6) % 12, (applied.tonic + 5) % 12
            assert raised in applied.scale and plain not in applied.scale
            sounding = {
                n.pitch % 12
                for n in pitched
                if n.start < applied.end and n.start + n.duration > applied.start
            }
            assert plain not in sounding, (seed, applied.start)
            major += modes[applied.start // BAR] == "major"
            phrase = applied.phrase
            histogram = judge.pitch_class_histogram(
                piece, phrase.first_bar * per_bar, (phrase.last_bar + 1) * per_bar
            )
            key = judge.estimate_key(histogram)
            in_key += key is not None and key[0] == applied.tonic
        calm = plan_of(generator, constant_timeline(0.3, 0.7), seed)
        assert not applied_dominants(calm)
    assert found >= 4
    assert major >= 0.85 * found and in_key >= 0.7 * found, (major, in_key, found)


@pytest.mark.parametrize("generator", GENERATORS)
def test_driven_major_phrases_may_open_on_flat_six(generator: str) -> None:
    # At (0.85, 0.75) (a major key, driven) some phrases open on the chromatic mediant bVI
    # (A-flat major in C), which keeps the tonic's root and turns back to the tonic within
    # the bar; the tune leaves out the major 3rd and 6th against it. Not every phrase: the
    # seed's key picks one in three. The bar still reads major by the judge's key finder in
    # at least 75% of cases (measured over seeds 1-8 on three major arcs: Scales 58 of 66,
    # Chords 66 of 66; the rest tip to minor by the borrowed tones). Calm music and the
    # lydian band have none.
    lifts = phrases = major = 0
    for seed in (1, 2, 3, 4):
        timeline = constant_timeline(0.85, 0.75)
        plan = plan_of(generator, timeline, seed)
        modes = judge.bar_modes(judged(compose(generator, timeline, seed)))
        phrases += len({seg.phrase.index for seg in plan.segments})
        for lift, after in itertools.pairwise(plan.segments):
            tonic = lift.tonic
            if lift.chord.pitch_classes != ((tonic + 8) % 12, tonic, (tonic + 3) % 12):
                continue
            lifts += 1
            assert lift.start == lift.phrase.first_bar * BAR and lift.start > 0
            assert after.chord.root == tonic and after.start < lift.start + BAR // 2 + 1
            assert (tonic + 4) % 12 not in lift.scale and (tonic + 9) % 12 not in lift.scale
            major += modes[lift.start // BAR] == "major"
        for arousal, valence in ((0.5, 0.75), (0.85, 0.9)):
            plain = plan_of(generator, constant_timeline(arousal, valence), seed)
            assert not any(seg.chord.root == (seg.tonic + 8) % 12 for seg in plain.segments)
    assert 3 <= lifts <= phrases // 2, (lifts, phrases)
    assert major >= 0.75 * lifts, (major, lifts)
