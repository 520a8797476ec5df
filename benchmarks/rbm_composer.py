"""What a composer reads in a score, measured from the MIDI file alone (issue 19).

Every measure uses the independent judge (``music_judge.py``) or the notes of the file; none
reuses the generators' own analysis. Per piece:

- **full-triad share**: of the beats at which three or more distinct pitches sound, the share
  whose pitch classes contain a whole major, minor, diminished or augmented triad;
- **sound changes per bar**: beats (of four) whose set of sounding pitches differs from the
  beat before; compared per bar with the 5-95% range of the Bach chorales;
- **V-I at phrase ends**: at each authentic cadence of the 4-bar phrase plan (every second
  phrase and the last: V in the second half of the bar before the phrase's last, I at its
  last bar's downbeat), whether the best-fitting triad of the first half bar has its root on
  the piece's dominant and that of the second on its tonic;
- **longest run of identical bars**: consecutive bars whose pitched notes (position, length,
  pitch) are the same;
- **pitch classes per 8 bars**: the fewest distinct pitch classes in any 8-bar stretch;
- **mode lag**: after each jump of valence across 0.5, the bars until a bar's mode agrees
  (0 = the bar of the jump; a stretch that never agrees counts its length);
- **ends on tonic**: the judge's last-bass-note test;
- **RBM's own pitch range**: semitones spanned by the model's notes (the melody and harmony
  channels, or the single RBM track), not the derived bass.
"""

from __future__ import annotations

import math
from collections import defaultdict

import mido
import music_judge as judge
import numpy as np

PHRASE_BARS = 4
TRIAD_SHAPES = ((0, 4, 7), (0, 3, 7), (0, 3, 6), (0, 4, 8))
#: MIDI channels of the RBM's own notes (melody, harmony; a single RBM track uses 0).
OWN_CHANNELS = (0, 2)


def beat_sets(piece: judge.Piece) -> list[frozenset[int]]:
    """The set of sounding pitches at every beat's onset, from the first to the last."""
    grid = judge.sounding(piece)
    per_beat = piece.steps_per_beat
    return [frozenset(n.pitch for n in grid[s]) for s in range(0, len(grid), per_beat)]


def full_triad_share(piece: judge.Piece) -> float:
    """Share of beats sounding 3+ distinct pitches whose classes hold a whole triad."""
    judged = full = 0
    for pitches in beat_sets(piece):
        if len(pitches) < 3:
            continue
        judged += 1
        classes = {p % 12 for p in pitches}
        full += any(
            all((root + i) % 12 in classes for i in shape)
            for shape in TRIAD_SHAPES
            for root in range(12)
        )
    return full / judged if judged else math.nan


def sound_changes_per_bar(piece: judge.Piece) -> np.ndarray:
    """Beats per bar whose sounding pitches differ from the previous beat's."""
    sets = beat_sets(piece)
    beats = piece.steps_per_bar // piece.steps_per_beat
    bars = math.ceil(len(sets) / beats) if sets else 0
    changes = np.zeros(bars)
    for index in range(1, len(sets)):
        changes[index // beats] += sets[index] != sets[index - 1]
    return changes


def best_root(histogram: np.ndarray) -> int | None:
    """Root of the triad whose tones carry the most of ``histogram`` (missing tones cost)."""
    if not histogram.any():
        return None
    scores = {}
    for shape in TRIAD_SHAPES[:3]:
        for root in range(12):
            weights = histogram[[(root + i) % 12 for i in shape]]
            score = weights.sum() - 0.25 * histogram.sum() * np.count_nonzero(weights == 0)
            scores[root] = max(scores.get(root, -np.inf), score + 0.01 * weights[0])
    return max(scores, key=scores.get)


def cadence_points(bars: int) -> list[int]:
    """Authentic cadences of the 4-bar phrase plan (every second phrase and the last) as
    half-bar indices ``h``: V in half ``h`` (the second half of the bar before the phrase's
    last), I in half ``h + 1`` (the first half of its last bar)."""
    if bars < 2:
        return []
    starts = list(range(0, bars, PHRASE_BARS))
    if len(starts) > 1 and bars - starts[-1] < PHRASE_BARS - 1:
        starts.pop()
    points = []
    for index in range(len(starts)):
        last = starts[index + 1] - 1 if index + 1 < len(starts) else bars - 1
        if index % 2 or index == len(starts) - 1:
            points.append(2 * last - 1)
    return points


def v_to_i(piece: judge.Piece, bars: int) -> list[bool]:
    """For each authentic cadence of the plan, whether V then I sound in the piece's key."""
    key = judge.piece_key(piece)
    if key is None:
        return [False] * len(cadence_points(bars))
    tonic = key[0]
    half = piece.steps_per_bar // 2
    found = []
    for point in cadence_points(bars):
        first = best_root(judge.pitch_class_histogram(piece, point * half, (point + 1) * half))
        second = best_root(
            judge.pitch_class_histogram(piece, (point + 1) * half, (point + 2) * half)
        )
        found.append(first == (tonic + 7) % 12 and second == tonic)
    return found


def longest_identical_run(piece: judge.Piece) -> int:
    """Most consecutive bars with the same pitched notes (position, length, pitch)."""
    per_bar = piece.steps_per_bar
    content: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
    for note in piece.pitched:
        first, end = piece.span(note)
        content[first // per_bar].append((first % per_bar, end - first, note.pitch))
    best = run = 0
    previous = None
    for bar in range(piece.bar_count):
        notes = tuple(sorted(content.get(bar, [])))
        run = run + 1 if notes and notes == previous else 1
        best = max(best, run)
        previous = notes
    return best


def fewest_classes_per_8_bars(piece: judge.Piece, bars: int) -> int:
    """The fewest distinct pitch classes sounding in any 8-bar stretch (from bar 0, by 8)."""
    per_bar = piece.steps_per_bar
    counts = [
        int(np.count_nonzero(judge.pitch_class_histogram(piece, b * per_bar, (b + 8) * per_bar)))
        for b in range(0, max(1, bars - 7), 8)
    ]
    return min(counts) if counts else 0


def mode_lags(piece: judge.Piece, valence: np.ndarray) -> list[int]:
    """Bars from each valence jump across 0.5 until a bar's mode agrees."""
    modes = judge.bar_modes(piece) + [None] * len(valence)
    lags = []
    for bar in range(1, len(valence)):
        if (valence[bar] > 0.5) == (valence[bar - 1] > 0.5):
            continue
        wanted = "major" if valence[bar] > 0.5 else "minor"
        lag = 0
        while bar + lag < len(valence) and (valence[bar + lag] > 0.5) == (valence[bar] > 0.5):
            if modes[bar + lag] == wanted:
                break
            lag += 1
        lags.append(lag)
    return lags


def own_notes(piece: judge.Piece, midi: mido.MidiFile) -> list[judge.JudgedNote]:
    """The RBM's own notes: those of the parts on the melody and harmony channels."""
    parts: dict[tuple[int, int], int] = {}
    for index, track in enumerate(midi.tracks):
        for m in track:
            if m.type == "note_on" and m.velocity > 0:
                parts.setdefault((index, m.channel), len(parts))
    own = {part for (_, channel), part in parts.items() if channel in OWN_CHANNELS}
    return [n for n in piece.pitched if n.part in own]


def own_pitch_range(piece: judge.Piece, midi: mido.MidiFile) -> int:
    """Semitones spanned by the RBM's own notes (not the bass, not the drums)."""
    pitches = [n.pitch for n in own_notes(piece, midi)]
    return max(pitches) - min(pitches) if pitches else 0


def own_sixteenth_share(piece: judge.Piece, midi: mido.MidiFile) -> float:
    """Share of the RBM's own notes that last one 16th."""
    lengths = [end - start for start, end in map(piece.span, own_notes(piece, midi))]
    return float(np.mean(np.array(lengths) == 1)) if lengths else math.nan


def chorale_change_range(limit: int = 80) -> tuple[float, float]:
    """5-95% range of sound changes per bar over the first ``limit`` Bach chorales."""
    from music21 import corpus

    values = []
    for path in sorted(corpus.getComposer("bach"))[:limit]:
        try:
            piece = judge.piece_from_music21(corpus.parse(path))
        except Exception:  # an unreadable score is skipped, as the training reader does
            continue
        if piece.steps_per_bar == 16:
            values.extend(sound_changes_per_bar(piece)[1:-1])
    return float(np.percentile(values, 5)), float(np.percentile(values, 95))


def composer_measures(
    piece: judge.Piece, midi: mido.MidiFile, valence: np.ndarray
) -> dict[str, object]:
    """Every measure of the module doc for one piece of ``len(valence)`` bars."""
    bars = len(valence)
    return {
        "triads": full_triad_share(piece),
        "changes": sound_changes_per_bar(piece)[:bars],
        "v_i": v_to_i(piece, bars),
        "run": longest_identical_run(piece),
        "classes8": fewest_classes_per_8_bars(piece, bars),
        "lags": mode_lags(piece, valence),
        "tonic_end": judge.ends_on_tonic(piece),
        "key": (judge.piece_key(piece) or (None,))[0],
        "own_range": own_pitch_range(piece, midi),
        "sixteenths": own_sixteenth_share(piece, midi),
        "clash": judge.semitone_clash_share(piece),
        "parallels": judge.outer_voice_parallels(piece),
    }
