"""Drama in the deterministic cues (issue 18): a riser or a fill leads into every jump of the
emotion and nothing into a small change; phrases at a constant emotion take different dynamic
shapes and fills; Chords has a slow counter-line in the middle; the ending broadens."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from core.config import Config
from core.generators import phrasing
from core.generators.frame import climax_bar
from core.generators.harmony import plan_harmony
from core.generators.phrasing import DISTINCT, SHAPES, phrase_shapes
from core.music.instruments import TIMPANI_KEYS, program_range, programs_for
from core.music.score import TICKS_PER_BEAT, Note, Score
from core.timeline import EmotionTimeline, TimeGrid
from tests.helpers import BAR, GENERATORS, compose, track

BEAT = TICKS_PER_BEAT
#: Calm 4 bars, a small change at a cut (bar 4), a big jump at a cut (bar 8), a big fall
#: without a cut (bar 12, a change of scene the edit does not mark), then calm to the end.
JUMPS_AROUSAL = [0.1] * 4 + [0.15] * 4 + [0.85] * 4 + [0.3] * 6
JUMPS_VALENCE = [0.3] * 4 + [0.35] * 4 + [0.8] * 4 + [0.2] * 6
SMALL_BAR, BIG_BARS = 4, (8, 12)
CUTS_S = (8.0, 16.0)  # bars 4 and 8 on the default grid (120 bpm, a bar per 2 s step)


def jumps(name: str, seed: int, preset: str) -> Score:
    timeline = EmotionTimeline.from_values(JUMPS_AROUSAL, JUMPS_VALENCE, TimeGrid(), cuts_s=CUTS_S)
    return compose(name, timeline, seed, preset)


def drums(score: Score) -> list[Note]:
    return next((t.notes for t in score.tracks if t.channel == 9), [])


def led_in(notes: list[Note], downbeat: int) -> str:
    """ "riser" (three or more strokes of one drum, each as loud or louder, the last louder
    than the first) or "fill" (toms or snare, two or more strokes) in the two beats before
    ``downbeat``; "" for nothing."""
    before = sorted(n for n in notes if downbeat - 2 * BEAT <= n.start < downbeat)
    for key in {n.pitch for n in before}:
        strokes = [n.velocity for n in before if n.pitch == key]
        if len(strokes) >= 3 and strokes == sorted(strokes) and strokes[-1] > strokes[0]:
            return "riser"
    toms_or_snare = {38, 40, 41, 43, 45, 47, 48, 50}
    if sum(n.pitch in toms_or_snare for n in before) >= 2:
        return "fill"
    return ""


@pytest.mark.parametrize("preset", ["piano", "orchestral", "electric"])
@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("name", GENERATORS)
def test_a_riser_or_fill_leads_into_every_jump_and_none_into_a_small_change(
    name: str, seed: int, preset: str
) -> None:
    notes = drums(jumps(name, seed, preset))
    for bar in BIG_BARS:
        assert led_in(notes, bar * BAR), (
            bar,
            sorted(n for n in notes if n.start // BAR == bar - 1),
        )
    # The calm bars play no groove: any stroke before the small change would be a lead-in.
    assert not [n for n in notes if SMALL_BAR * BAR - 2 * BEAT <= n.start < SMALL_BAR * BAR]


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_the_orchestral_riser_plays_only_keys_the_orchestra_kit_has(seed: int) -> None:
    keys = {n.pitch for n in drums(jumps("chords", seed, "orchestral"))}
    assert keys <= {36, 38, 57, *TIMPANI_KEYS}, keys


def test_risers_and_fills_vary_with_the_seed() -> None:
    kinds = set()
    for seed in range(1, 9):
        notes = drums(jumps("scales", seed, "piano"))
        before = sorted(n for n in notes if 8 * BAR - 2 * BEAT <= n.start < 8 * BAR)
        kinds.add(tuple((n.start, n.pitch) for n in before))
    assert len(kinds) >= 3, kinds


def constant(name: str, arousal: float, valence: float, seed: int, bars: int = 32) -> Score:
    timeline = EmotionTimeline.from_values([arousal] * bars, [valence] * bars, TimeGrid())
    return compose(name, timeline, seed)


def lead(score: Score, name: str) -> list[Note]:
    """The tune of Scales, the figuration of Chords (the top line of each)."""
    return track(score, "Melody" if name == "scales" else "Figuration").notes


def bar_shapes(notes: list[Note], phrases: range) -> list[tuple[float, ...]]:
    """Per four-bar phrase: the mean velocity of the notes struck on a beat in each bar,
    relative to its first bar (the dynamic shape a listener hears)."""
    shapes = []
    for first in phrases:
        means = []
        for bar in range(first, first + 4):
            struck = [n.velocity for n in notes if n.start // BAR == bar and n.start % BEAT == 0]
            means.append(sum(struck) / len(struck))
        shapes.append(tuple(m - means[0] for m in means))
    return shapes


@pytest.mark.parametrize(("arousal", "valence"), [(0.5, 0.5), (0.9, 0.9)])
@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("name", GENERATORS)
def test_phrases_take_different_dynamic_shapes_at_a_constant_emotion(
    name: str, seed: int, arousal: float, valence: float
) -> None:
    # Before: every phrase of Chords at (0.5, 0.5) had the same shape (+6, +8, +4).
    shapes = bar_shapes(lead(constant(name, arousal, valence, seed), name), range(0, 24, 4))
    same = [
        max(abs(x - y) for x, y in zip(a, b, strict=True)) <= 1.5
        for a, b in itertools.pairwise(shapes)
    ]
    assert sum(same) <= 1, shapes
    # ... and every phrase still grows from its opening toward its middle.
    assert all(shape[2] > 2 for shape in shapes), shapes


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_phrase_end_fills_change_from_phrase_to_phrase(seed: int) -> None:
    notes = drums(constant("scales", 0.9, 0.9, seed))
    fills = [
        frozenset((n.start % BEAT, n.pitch) for n in notes if end - BEAT <= n.start < end)
        for end in range(4 * BAR, 28 * BAR, 4 * BAR)
    ]
    assert all(a != b for a, b in itertools.pairwise(fills)), fills


#: A short thriller: calm dark, a ramp, a climax, a bright release.
THRILLER_AROUSAL = [0.1] * 6 + [0.2 + 0.7 * i / 7 for i in range(8)] + [0.95] * 4 + [0.4] * 6
THRILLER_VALENCE = [0.2] * 6 + [0.3] * 8 + [0.15] * 4 + [0.8] * 6


def thriller(name: str, seed: int, preset: str = "piano") -> Score:
    timeline = EmotionTimeline.from_values(THRILLER_AROUSAL, THRILLER_VALENCE, TimeGrid())
    return compose(name, timeline, seed, preset)


@pytest.mark.parametrize("preset", ["piano", "orchestral", "strings"])
@pytest.mark.parametrize("seed", [1, 2])
def test_chords_sings_a_slow_stepwise_counter_line_in_the_middle(seed: int, preset: str) -> None:
    score = thriller("chords", seed, preset)
    line = sorted(track(score, "Melody").notes)
    figure = track(score, "Figuration").notes
    bass = track(score, "Bass").notes
    assert line, "no counter-line"
    # It enters with the texture: nothing in the calm bars, most of the rest covered.
    assert all(n.start >= 6 * BAR for n in line)
    assert len({n.start // BAR for n in line}) >= 12
    # Slow: half notes or longer on average, far fewer onsets than the figuration.
    assert sum(n.duration for n in line) / len(line) >= 2 * BEAT
    assert len(line) * 5 <= len(figure)
    # Mostly by step (a held tone is tied, not struck again).
    moves = [abs(b.pitch - a.pitch) for a, b in itertools.pairwise(line) if b.start == a.end]
    assert moves and sum(m <= 2 for m in moves) >= 0.6 * len(moves), moves
    assert max(moves) <= 9, moves  # a sixth at most, where the texture closes in
    # In its instrument's range and the middle register.
    low, high = program_range(programs_for(preset)["melody"])
    assert all(max(low, 55) <= n.pitch <= min(high, 76) for n in line)
    # An inner voice: above the bass and below the figuration's top wherever it sounds.
    for note in line:
        under = [b.pitch for b in bass if b.start < note.end and note.start < b.end]
        over = [f.pitch for f in figure if f.start < note.end and note.start < f.end]
        assert all(p < note.pitch for p in under) and any(p > note.pitch for p in over), note


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_counter_line_makes_no_parallels_with_the_bass(seed: int) -> None:
    score = thriller("chords", seed)
    line = sorted(track(score, "Melody").notes)
    bass = track(score, "Bass").notes

    def lowest(tick: int) -> int | None:
        sounding = [b.pitch for b in bass if b.start <= tick < b.end]
        return min(sounding) if sounding else None

    for before, note in itertools.pairwise(line):
        if note.start != before.end:
            continue
        low_before, low_now = lowest(note.start - 1), lowest(note.start)
        if low_before is None or low_now is None or low_before == low_now:
            continue
        interval, previous = (note.pitch - low_now) % 12, (before.pitch - low_before) % 12
        same_way = (note.pitch > before.pitch) == (low_now > low_before)
        assert not (same_way and interval == previous and interval in (0, 7)), (before, note)


def test_scales_keeps_its_tune_without_a_counter_line() -> None:
    names = [t.name for t in thriller("scales", 1).tracks]
    assert names.count("Melody") == 1 and "Figuration" not in names


def onsets(score: Score, bar: int) -> int:
    """Pitched onsets in ``bar``."""
    return sum(1 for t in score.tracks if t.channel != 9 for n in t.notes if n.start // BAR == bar)


def ending(name: str, arousal: float, valence: float, seed: int) -> tuple[Score, int, float]:
    """A 16-bar piece at one emotion, the bar of its final tonic, and the pitched onsets of
    the two bars before that bar over those of the two bars before them."""
    score = constant(name, arousal, valence, seed, bars=16)
    fade = score.ticks(Config().render.fade_s)
    tonic = max(track(score, "Bass").notes, key=lambda n: n.start)
    final = tonic.start // BAR
    assert tonic.start % BAR == 0 and tonic.start <= score.length_ticks - fade - BAR
    assert tonic.end == score.length_ticks
    # The tonic is held on top to the end, and no note of any pitched part stops inside the
    # fade.
    top = track(score, "Melody" if name == "scales" else "Figuration").notes
    last = max(top, key=lambda n: (n.end, n.pitch))
    assert last.end == score.length_ticks
    if name == "scales":
        assert last.pitch % 12 == tonic.pitch % 12
    fading = [
        n
        for t in score.tracks
        if t.channel != 9
        for n in t.notes
        if score.length_ticks - fade < n.end < score.length_ticks
    ]
    assert not fading, fading[:3]
    before = onsets(score, final - 4) + onsets(score, final - 3)
    return score, final, (onsets(score, final - 2) + onsets(score, final - 1)) / before


@pytest.mark.parametrize(("arousal", "valence"), [(0.5, 0.5), (0.3, 0.2), (0.55, 0.8), (0.45, 0.1)])
@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("name", GENERATORS)
def test_a_calm_or_moderate_ending_broadens_into_a_held_tonic(
    name: str, seed: int, arousal: float, valence: float
) -> None:
    score, final, ratio = ending(name, arousal, valence, seed)
    # A written-out ritardando: the two bars before the final tonic strike at most 85% of the
    # notes of the two before them (the cadence's own chord changes included) ...
    assert ratio <= 0.85, ratio
    # ... and the tune arrives on the tonic with the bass, a bar or more before the fade.
    if name == "scales":
        last = max(track(score, "Melody").notes, key=lambda n: n.end)
        assert last.start == final * BAR


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("name", GENERATORS)
def test_an_action_ending_keeps_its_drive_to_the_held_tonic(name: str, seed: int) -> None:
    _, _, ratio = ending(name, 0.9, 0.9, seed)
    assert ratio > 0.85, ratio


def test_every_phrase_shape_grows_toward_its_middle_and_has_a_distinct_successor() -> None:
    for index, shape in enumerate(SHAPES):
        bars = [
            sum(shape.offset((4 * bar + k / 4) / 16) for k in range(16)) / 16 for bar in range(4)
        ]
        assert bars[2] > bars[0] + 5, (index, bars)
        assert DISTINCT[index] and index not in DISTINCT[index]


def test_the_phrase_after_the_climax_opens_subito_piano(monkeypatch: pytest.MonkeyPatch) -> None:
    # The climax is the whole piece at a constant emotion: its apex falls 60% of the way in.
    timeline = EmotionTimeline.from_values([0.5] * 32, [0.5] * 32, TimeGrid())
    fade = timeline.grid.length_ticks(Config().render.fade_s)
    segments = plan_harmony(timeline, np.random.default_rng(1), fade_ticks=fade).segments
    apex = climax_bar(segments)
    assert apex is not None
    shapes = phrase_shapes(segments, 1, apex)
    after = [index for index, shape in shapes.items() if shape.subito]
    assert after == [apex // 4 + 1], (apex, after)
    first = after[0] * 4

    def loudness(score: Score, bar: int) -> float:
        tune = track(score, "Melody").notes
        struck = [n.velocity for n in tune if n.start // BAR == bar and n.start % BEAT == 0]
        return sum(struck) / len(struck)

    subito = constant("scales", 0.5, 0.5, seed=1)
    monkeypatch.setattr(phrasing, "SUBITO_DROP", 0.0)
    plain = constant("scales", 0.5, 0.5, seed=1)
    # The phrase opens markedly softer than it would, and has recovered by its end.
    assert loudness(subito, first) <= loudness(plain, first) - 6
    assert loudness(subito, first + 3) == loudness(plain, first + 3)
