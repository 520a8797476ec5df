"""An independent judge of music: reads a MIDI file (or a music21 score) and measures its craft.

It shares no code with the generators (nor with ``core.music.analysis``): it sees only what a
listener or an engraver would, the notes in the file. Everything is measured on a grid of 16th
notes: a note sounds from its onset, rounded to the nearest 16th, for its rounded length (at
least one 16th). Percussion (MIDI channel 10, index 9) counts for onsets and bar repeats and is
left out of every pitch measure.

Measures (see ``/work/shared/DESIGN.md``, "How the music is judged"):

* **Following**: the mode of each bar by the Krumhansl–Kessler key profiles, compared with
  valence above/below 0.5; onsets per bar compared with arousal by Spearman rank correlation.
* **Craft**: parallel fifths and octaves between the lowest and highest sounding pitches per
  100 moves in which both of them move; the share of sounding 16ths with a semitone clash (a
  minor 2nd, major 7th or minor 9th between any two sounding pitches); the share of on-beat
  melody notes (the highest voice, struck on the beat) whose pitch class is absent from the
  other parts sounding under them; the share of bars that literally repeat an earlier bar;
  whether the last bass note is the tonic of the piece's key.
* **Texture**, for comparison with real corpora: pitch-class entropy (bits), polyphony (mean
  sounding pitches), pitched onsets per beat, pitch range (semitones).
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import mido
import numpy as np

#: Krumhansl & Kessler (1982) probe-tone ratings, tonic first.
KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
DRUM_CHANNEL = 9
STEPS_PER_QUARTER = 4  # the analysis grid is the 16th note
PERFECT_CLASSES = (0, 7)  # unison/octave and fifth, modulo the octave
#: Chord shapes as pitch classes above the root: major, minor, diminished and augmented triads;
#: dominant, minor and half-diminished sevenths, diminished seventh. (The major seventh is left
#: out: it would make a semitone clash a chord.)
CHORD_SHAPES = (
    (0, 4, 7),
    (0, 3, 7),
    (0, 3, 6),
    (0, 4, 8),
    (0, 4, 7, 10),
    (0, 3, 7, 10),
    (0, 3, 6, 10),
    (0, 3, 6, 9),
)
CHORDS = tuple(
    frozenset((root + i) % 12 for i in shape) for shape in CHORD_SHAPES for root in range(12)
)


@dataclass(frozen=True)
class JudgedNote:
    """A note as the judge sees it: ticks, MIDI pitch, which part plays it, percussion or not."""

    start: int
    end: int
    pitch: int
    part: int
    drum: bool = False
    #: Key velocity (1-127) of the note-on; 64 for sources without one.
    velocity: int = 64


@dataclass(frozen=True)
class Piece:
    """Notes with the metre needed to find bars and beats (all lengths in ticks)."""

    notes: tuple[JudgedNote, ...]
    ticks_per_quarter: int
    bar_ticks: int
    beat_ticks: int
    seconds_per_tick: float = 0.5 / 480
    #: Per part (index = ``JudgedNote.part``): the MIDI track's name and its first program
    #: change (-1 when none), as a MIDI file tells them; empty for other sources.
    part_names: tuple[str, ...] = ()
    part_programs: tuple[int, ...] = ()

    @property
    def step_ticks(self) -> float:
        """Ticks per 16th note."""
        return self.ticks_per_quarter / STEPS_PER_QUARTER

    def step(self, tick: float) -> int:
        """The 16th-note step nearest to ``tick``."""
        return math.floor(tick / self.step_ticks + 0.5)

    @property
    def steps_per_bar(self) -> int:
        return max(1, round(self.bar_ticks / self.step_ticks))

    @property
    def steps_per_beat(self) -> int:
        return max(1, round(self.beat_ticks / self.step_ticks))

    @property
    def pitched(self) -> list[JudgedNote]:
        return [n for n in self.notes if not n.drum]

    def span(self, note: JudgedNote) -> tuple[int, int]:
        """First step and the step after the last in which ``note`` sounds."""
        first = self.step(note.start)
        return first, max(first + 1, self.step(note.end))

    @property
    def bar_count(self) -> int:
        if not self.notes:
            return 0
        last = max(self.span(n)[0] for n in self.notes)
        return last // self.steps_per_bar + 1


# --- reading ---------------------------------------------------------------------------------


def _metre(numerator: int, denominator: int, ticks_per_quarter: int) -> tuple[int, int]:
    """Bar and beat length in ticks; compound metres (6/8, 9/8, 12/8) beat in dotted quarters."""
    unit = ticks_per_quarter * 4 // denominator
    compound = denominator == 8 and numerator % 3 == 0 and numerator > 3
    return numerator * unit, unit * (3 if compound else 1)


def piece_from_midi(midi: mido.MidiFile | str | Path) -> Piece:
    """Read notes, metre and tempo from a standard MIDI file (the first tempo and time
    signature hold for the whole piece); each (track, channel) is one part."""
    if not isinstance(midi, mido.MidiFile):
        midi = mido.MidiFile(str(midi))
    tpq = midi.ticks_per_beat
    signature, tempo = (4, 4), 500_000
    parts: dict[tuple[int, int], int] = {}
    notes: list[JudgedNote] = []
    names: dict[int, str] = {}
    programs: dict[tuple[int, int], int] = {}
    signature_seen = tempo_seen = False
    for index, track in enumerate(midi.tracks):
        now = 0
        open_notes: dict[tuple[int, int], deque[tuple[int, int]]] = defaultdict(deque)
        for message in track:
            now += message.time
            if message.type == "time_signature" and not signature_seen:
                signature, signature_seen = (message.numerator, message.denominator), True
            elif message.type == "set_tempo" and not tempo_seen:
                tempo, tempo_seen = message.tempo, True
            elif message.type == "track_name":
                names.setdefault(index, message.name)
            elif message.type == "program_change":
                programs.setdefault((index, message.channel), message.program)
            elif message.type == "note_on" and message.velocity > 0:
                open_notes[(message.channel, message.note)].append((now, message.velocity))
            elif message.type in ("note_on", "note_off"):
                started = open_notes[(message.channel, message.note)]
                if started:
                    part = parts.setdefault((index, message.channel), len(parts))
                    onset, velocity = started.popleft()
                    notes.append(
                        JudgedNote(
                            onset,
                            now,
                            message.note,
                            part,
                            message.channel == DRUM_CHANNEL,
                            velocity,
                        )
                    )
    bar, beat = _metre(*signature, tpq)
    notes.sort(key=lambda n: (n.start, n.pitch, n.part))
    by_part = sorted(parts.items(), key=lambda item: item[1])
    return Piece(
        tuple(notes),
        tpq,
        bar,
        beat,
        tempo / 1e6 / tpq,
        tuple(names.get(track, "") for (track, _), _ in by_part),
        tuple(programs.get(key, -1) for key, _ in by_part),
    )


def piece_from_music21(score, ticks_per_quarter: int = 480) -> Piece:
    """A music21 score as a :class:`Piece` (ties merged, grace notes dropped, a pickup bar
    shifted so bar lines fall on multiples of the bar length)."""
    signatures = score.recurse().getElementsByClass("TimeSignature")
    first = signatures.first() if hasattr(signatures, "first") else next(iter(signatures), None)
    numerator, denominator = (first.numerator, first.denominator) if first else (4, 4)
    bar, beat = _metre(numerator, denominator, ticks_per_quarter)
    parts = list(score.parts) or [score]
    shift = 0.0
    measures = parts[0].getElementsByClass("Measure")
    if len(measures) and measures[0].paddingLeft:
        shift = float(measures[0].paddingLeft)
    notes = []
    for index, part in enumerate(parts):
        for element in part.stripTies().flatten().notes:
            length = float(element.quarterLength)
            if length <= 0:
                continue
            start = (float(element.offset) + shift) * ticks_per_quarter
            for pitch in element.pitches:
                notes.append(
                    JudgedNote(
                        round(start),
                        round(start + length * ticks_per_quarter),
                        int(pitch.midi),
                        index,
                    )
                )
    notes.sort(key=lambda n: (n.start, n.pitch, n.part))
    return Piece(tuple(notes), ticks_per_quarter, bar, beat)


# --- the grid --------------------------------------------------------------------------------


def sounding(piece: Piece) -> list[list[JudgedNote]]:
    """Pitched notes sounding in each 16th step, from step 0 to the last one that sounds."""
    pitched = piece.pitched
    if not pitched:
        return []
    spans = [piece.span(n) for n in pitched]
    grid: list[list[JudgedNote]] = [[] for _ in range(max(end for _, end in spans))]
    for note, (first, end) in zip(pitched, spans, strict=True):
        for step in range(first, end):
            grid[step].append(note)
    return grid


def pitch_class_histogram(piece: Piece, first_step: int = 0, end_step: int | None = None):
    """16ths each pitch class sounds within ``[first_step, end_step)``, counting each note."""
    histogram = np.zeros(12)
    for note in piece.pitched:
        first, end = piece.span(note)
        lo, hi = max(first, first_step), end if end_step is None else min(end, end_step)
        if hi > lo:
            histogram[note.pitch % 12] += hi - lo
    return histogram


def estimate_key(histogram: np.ndarray) -> tuple[int, str] | None:
    """(tonic pitch class, "major"/"minor") whose Krumhansl–Kessler profile correlates best
    with ``histogram``; None when the histogram has no shape (empty or flat)."""
    if not np.any(histogram) or np.all(histogram == histogram[0]):
        return None
    best = (-2.0, 0, "major")
    for mode, profile in (("major", KK_MAJOR), ("minor", KK_MINOR)):
        for tonic in range(12):
            r = float(np.corrcoef(histogram, np.roll(profile, tonic))[0, 1])
            if r > best[0]:
                best = (r, tonic, mode)
    return best[1], best[2]


# --- following -------------------------------------------------------------------------------


def bar_modes(piece: Piece) -> list[str | None]:
    """ "major"/"minor" of each bar by its own pitch content (None for a bar without pitches)."""
    per_bar = piece.steps_per_bar
    modes = []
    for bar in range(piece.bar_count):
        key = estimate_key(pitch_class_histogram(piece, bar * per_bar, (bar + 1) * per_bar))
        modes.append(None if key is None else key[1])
    return modes


def onsets_per_bar(piece: Piece) -> np.ndarray:
    """Note onsets (percussion included) in each bar."""
    counts = np.zeros(piece.bar_count, dtype=int)
    for note in piece.notes:
        counts[piece.span(note)[0] // piece.steps_per_bar] += 1
    return counts


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman rank correlation (ties share their mean rank); NaN if either side is constant."""
    rx, ry = _ranks(np.asarray(x, float)), _ranks(np.asarray(y, float))
    if len(rx) < 2 or np.ptp(rx) == 0 or np.ptp(ry) == 0:
        return math.nan
    return float(np.corrcoef(rx, ry)[0, 1])


def _ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(len(values), dtype=float)
    for value in np.unique(values):
        tied = values == value
        ranks[tied] = ranks[tied].mean()
    return ranks


def mode_agreement(
    piece: Piece, valence_per_bar: Sequence[float], margin: float = 0.1
) -> tuple[float, int]:
    """Share of bars whose mode matches valence (major above 0.5, minor below), over bars with
    pitches whose valence is at least ``margin`` from 0.5; and how many bars were judged."""
    judged = agreed = 0
    for mode, valence in zip(bar_modes(piece), valence_per_bar, strict=False):
        if mode is None or abs(valence - 0.5) < margin:
            continue
        judged += 1
        agreed += mode == ("major" if valence > 0.5 else "minor")
    return (agreed / judged if judged else math.nan), judged


# --- craft -----------------------------------------------------------------------------------


def outer_voice_parallels(piece: Piece) -> tuple[int, int]:
    """(parallel fifths/octaves, moves) between the lowest and highest sounding pitches.

    A move is a 16th at which both outer pitches differ from the previous 16th with at least
    two pitches sounding; it is parallel when both go the same way and both intervals are the
    same perfect class (fifth or unison/octave, compound intervals included). A 16th with
    fewer than two pitches breaks the line.
    """
    parallels = moves = 0
    previous: tuple[int, int] | None = None
    for notes in sounding(piece):
        pitches = {n.pitch for n in notes}
        if len(pitches) < 2:
            previous = None
            continue
        low, high = min(pitches), max(pitches)
        if previous is not None and low != previous[0] and high != previous[1]:
            moves += 1
            same_way = (low > previous[0]) == (high > previous[1])
            interval, before = (high - low) % 12, (previous[1] - previous[0]) % 12
            parallels += same_way and interval == before and interval in PERFECT_CLASSES
        previous = (low, high)
    return parallels, moves


def semitone_clash_share(piece: Piece) -> float:
    """Share of sounding 16ths in which two pitches are a semitone apart modulo the octave."""
    grid = [notes for notes in sounding(piece) if notes]
    if not grid:
        return math.nan
    clashing = 0
    for notes in grid:
        classes = {n.pitch % 12 for n in notes}
        clashing += any((pc + 1) % 12 in classes for pc in classes)
    return clashing / len(grid)


def onbeat_nonchord_share(piece: Piece) -> float:
    """Share of on-beat melody notes outside the harmony under them.

    The melody note of a beat is the highest pitch sounding there, counted when it is struck on
    that beat; the harmony is the pitch classes the other parts sound at that 16th. The note is
    a chord tone when its pitch class is in the harmony or the two together spell one triad or
    seventh chord (:data:`CHORDS`): in four-part writing the soprano is often the only voice
    with the fifth or third. Beats with no other part sounding are not judged (NaN when none
    are).
    """
    judged = outside = 0
    per_beat = piece.steps_per_beat
    for step, notes in enumerate(sounding(piece)):
        if step % per_beat or not notes:
            continue
        top = max(notes, key=lambda n: n.pitch)
        if piece.span(top)[0] != step:
            continue
        harmony = {n.pitch % 12 for n in notes if n.part != top.part}
        if not harmony:
            continue
        judged += 1
        outside += not is_chord_tone(top.pitch % 12, harmony)
    return outside / judged if judged else math.nan


def is_chord_tone(pitch_class: int, harmony: set[int]) -> bool:
    """Whether ``pitch_class`` belongs to ``harmony``: one of its classes, or with it a chord."""
    if pitch_class in harmony:
        return True
    together = harmony | {pitch_class}
    return any(together <= chord for chord in CHORDS)


def bar_repeat_share(piece: Piece) -> float:
    """Share of non-empty bars identical to an earlier bar in every note struck in them
    (position, length, pitch; percussion included; loudness ignored)."""
    per_bar = piece.steps_per_bar
    bars: dict[int, list[tuple[int, int, int, bool]]] = defaultdict(list)
    for note in piece.notes:
        first, end = piece.span(note)
        bars[first // per_bar].append((first % per_bar, end - first, note.pitch, note.drum))
    seen: set[tuple] = set()
    repeats = 0
    for bar in sorted(bars):
        content = tuple(sorted(bars[bar]))
        repeats += content in seen
        seen.add(content)
    return repeats / len(bars) if bars else math.nan


def piece_key(piece: Piece) -> tuple[int, str] | None:
    """Key of the whole piece by its duration-weighted pitch classes."""
    return estimate_key(pitch_class_histogram(piece))


def last_bass_pitch(piece: Piece) -> int | None:
    """The lowest pitch sounding in the last 16th that sounds."""
    grid = sounding(piece)
    return min(n.pitch for n in grid[-1]) if grid and grid[-1] else None


def ends_on_tonic(piece: Piece) -> bool:
    """Whether the last bass note is the tonic of the piece's key."""
    key, bass = piece_key(piece), last_bass_pitch(piece)
    return key is not None and bass is not None and bass % 12 == key[0]


# --- texture ---------------------------------------------------------------------------------


def pitch_class_entropy(piece: Piece) -> float:
    """Shannon entropy (bits) of the duration-weighted pitch-class distribution (max 3.58)."""
    histogram = pitch_class_histogram(piece)
    if not histogram.any():
        return math.nan
    p = histogram[histogram > 0] / histogram.sum()
    return float(-(p * np.log2(p)).sum())


def polyphony(piece: Piece) -> float:
    """Mean number of distinct pitches over the 16ths in which anything pitched sounds."""
    counts = [len({n.pitch for n in notes}) for notes in sounding(piece) if notes]
    return float(np.mean(counts)) if counts else math.nan


def onsets_per_beat(piece: Piece) -> float:
    """Pitched onsets per beat over the span from the start to the last pitched note's end."""
    pitched = piece.pitched
    if not pitched:
        return math.nan
    beats = max(piece.span(n)[1] for n in pitched) / piece.steps_per_beat
    return len(pitched) / beats


def pitch_range(piece: Piece) -> int:
    """Semitones from the lowest to the highest pitched note."""
    pitches = [n.pitch for n in piece.pitched]
    return max(pitches) - min(pitches) if pitches else 0


def craft(piece: Piece) -> dict[str, float]:
    """Every craft and texture measure of ``piece`` by name."""
    parallels, moves = outer_voice_parallels(piece)
    return {
        "parallels_per_100_moves": 100.0 * parallels / moves if moves else math.nan,
        "semitone_clash_share": semitone_clash_share(piece),
        "onbeat_nonchord_share": onbeat_nonchord_share(piece),
        "bar_repeat_share": bar_repeat_share(piece),
        "ends_on_tonic": float(ends_on_tonic(piece)),
        "pitch_class_entropy": pitch_class_entropy(piece),
        "polyphony": polyphony(piece),
        "onsets_per_beat": onsets_per_beat(piece),
        "pitch_range": float(pitch_range(piece)),
    }


# --- what a composer reads ------------------------------------------------------------------

#: Lowest pitch the lower note of two neighbouring voices may take, by their interval in
#: semitones (Piston's low-interval limits as the issue states them: no second below C3, no
#: third below about B-flat 2; fourths and tritones not below F2). Wider intervals are free.
LOW_INTERVAL_LIMITS = {1: 48, 2: 48, 3: 46, 4: 46, 5: 41, 6: 41}
#: Sounding ranges (MIDI, inclusive) by instrument, from orchestration texts (Adler, *The Study
#: of Orchestration*; practical, not extreme, upper limits), and the GM programs that play
#: them. A section (string ensemble, pizzicato) spans its lowest and highest member.
INSTRUMENT_RANGES: dict[str, tuple[int, int]] = {
    "piano": (21, 108),
    "electric piano": (28, 103),
    "vibraphone": (53, 89),
    "organ": (36, 96),
    "electric bass": (28, 67),
    "violin": (55, 100),
    "cello": (36, 76),
    "string section": (28, 100),
    "choir": (40, 81),
    "clarinet": (50, 94),
    "flute": (60, 96),
}
GM_INSTRUMENTS = {
    0: "piano", 4: "electric piano", 11: "vibraphone", 16: "organ", 33: "electric bass",
    40: "violin", 42: "cello", 45: "string section", 48: "string section", 53: "choir",
    71: "clarinet", 73: "flute",
}  # fmt: skip


def beat_chords(piece: Piece) -> list[frozenset[int]]:
    """The pitch classes sounding on each beat (percussion left out); empty where silent."""
    grid = sounding(piece)
    per_beat = piece.steps_per_beat
    return [frozenset(n.pitch % 12 for n in grid[s]) for s in range(0, len(grid), per_beat)]


def chord_label(classes: frozenset[int]) -> str:
    """A chord's name for counting: root and shape of the first triad or seventh chord
    (:data:`CHORDS`) that holds every sounding class, else the sorted classes themselves."""
    for chord, (shape, root) in zip(
        CHORDS, ((s, r) for s in CHORD_SHAPES for r in range(12)), strict=True
    ):
        if classes and classes <= chord:
            return f"{root}:{shape}"
    return "/".join(str(c) for c in sorted(classes))


def chord_vocabulary_entropy(piece: Piece) -> float:
    """Shannon entropy (bits) of the chord labels over the sounding beats, transposition
    kept: a piece that alternates two chords scores 1 bit, a varied one 3 or more."""
    labels = [chord_label(c) for c in beat_chords(piece) if c]
    if not labels:
        return math.nan
    _, counts = np.unique(labels, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


def harmonic_rhythm(piece: Piece) -> float:
    """Chord changes per bar: beats whose chord label differs from the beat before."""
    labels = [chord_label(c) for c in beat_chords(piece)]
    changes = sum(a != b for a, b in itertools.pairwise(labels) if a and b)
    bars = piece.bar_count
    return changes / bars if bars else math.nan


def polyphony_per_bar(piece: Piece) -> list[float]:
    """Median number of distinct pitches sounding per 16th in each bar (over the 16ths where
    anything pitched sounds; 0 for a silent bar)."""
    grid = sounding(piece)
    per_bar = piece.steps_per_bar
    result = []
    for bar in range(piece.bar_count):
        counts = [len({n.pitch for n in notes}) for notes in grid[bar * per_bar:(bar + 1) * per_bar]
                  if notes]  # fmt: skip
        result.append(float(np.median(counts)) if counts else 0.0)
    return result


def apex(piece: Piece) -> tuple[int, int, float]:
    """(pitch, bar, beats held) of the piece's highest note: where the top line peaks, and
    whether it stays there (a held apex) or flicks past in a run."""
    top = max(piece.pitched, key=lambda n: (n.pitch, n.end - n.start, -n.start))
    first, end = piece.span(top)
    return top.pitch, first // piece.steps_per_bar, (end - first) / piece.steps_per_beat


def spacing_violation_share(piece: Piece) -> float:
    """Share of sounding 16ths (two pitches or more) in which two neighbouring pitches lie
    closer than :data:`LOW_INTERVAL_LIMITS` allows at their height: a muddy low register."""
    judged = violating = 0
    for notes in sounding(piece):
        pitches = sorted({n.pitch for n in notes})
        if len(pitches) < 2:
            continue
        judged += 1
        violating += any(
            low < LOW_INTERVAL_LIMITS.get(high - low, 0)
            for low, high in itertools.pairwise(pitches)
        )
    return violating / judged if judged else math.nan


def out_of_range_notes(piece: Piece) -> dict[str, int]:
    """Notes outside their instrument's range (:data:`INSTRUMENT_RANGES`) per part name;
    parts whose program has no range listed are not judged."""
    counts: dict[str, int] = {}
    for part, program in enumerate(piece.part_programs):
        instrument = GM_INSTRUMENTS.get(program)
        if instrument is None:
            continue
        low, high = INSTRUMENT_RANGES[instrument]
        name = piece.part_names[part] or str(part)
        counts[name] = sum(not low <= n.pitch <= high for n in piece.pitched if n.part == part)
    return counts


def part_notes(piece: Piece, name: str) -> set[tuple[int, int]]:
    """(onset 16th, pitch) of every note of the parts called ``name``."""
    parts = {i for i, n in enumerate(piece.part_names) if n == name}
    return {(piece.span(n)[0], n.pitch) for n in piece.notes if n.part in parts}


def note_identity(a: set[tuple[int, int]], b: set[tuple[int, int]], shift: int = 0) -> float:
    """Share of the smaller set's (onset, pitch) notes found in the other, ``b`` moved by
    ``shift`` semitones: 1.0 when one part is the other note for note."""
    if not a or not b:
        return 0.0
    moved = {(onset, pitch + shift) for onset, pitch in b}
    return len(a & moved) / min(len(a), len(moved))


def transposed_identity(a: Piece, b: Piece) -> float:
    """The largest :func:`note_identity` of all pitched notes of two pieces over the
    transpositions that map one's key onto the other's: seeds that differ only in key score 1."""
    notes_a = {(a.span(n)[0], n.pitch) for n in a.pitched}
    notes_b = {(b.span(n)[0], n.pitch) for n in b.pitched}
    return max(note_identity(notes_a, notes_b, shift) for shift in range(-11, 12))


def authentic_cadence_bars(piece: Piece) -> list[int]:
    """Bars whose downbeat completes an authentic cadence: a major triad (or dominant
    seventh) on the bar's last beat resolving to a chord a fifth below on the downbeat, with
    both roots in the bass, in a key (the two bars up to it) whose tonic is that root."""
    grid = sounding(piece)
    per_bar, per_beat = piece.steps_per_bar, piece.steps_per_beat
    found = []
    for bar in range(1, piece.bar_count):
        step, before = bar * per_bar, bar * per_bar - per_beat
        if step >= len(grid) or not grid[step] or not grid[before]:
            continue
        bass_before = min(n.pitch for n in grid[before]) % 12
        bass_after = min(n.pitch for n in grid[step]) % 12
        dominant = frozenset(n.pitch % 12 for n in grid[before])
        root = bass_before
        is_dominant = (
            dominant <= frozenset({root, (root + 4) % 12, (root + 7) % 12, (root + 10) % 12})
            and (root + 4) % 12 in dominant
        )
        if not is_dominant or bass_after != (root + 5) % 12:
            continue
        key = estimate_key(
            pitch_class_histogram(piece, max(0, step - 2 * per_bar), step + per_beat)
        )
        if key is not None and key[0] == bass_after:
            found.append(bar)
    return found


def rising_bars(arousal: Sequence[float], reach: int = 2, rise: float = 0.05) -> list[int]:
    """Bars inside a rising section: arousal has risen into them and keeps rising by at least
    ``rise`` over the next ``reach`` bars (tension still building, no place to close). The
    last ``reach`` bars are the piece's ending, where the music must close, never inside."""
    return [
        bar
        for bar in range(1, len(arousal) - reach)
        if arousal[bar] > arousal[bar - 1] - 1e-9 and arousal[bar + reach] - arousal[bar] >= rise
    ]


def notes_from_tuples(
    rows: Iterable[tuple[float, float, int, int]]
    | Iterable[tuple[float, float, int, int, bool]]
    | Iterable[tuple[float, float, int, int, bool, int]],
    ticks_per_quarter: int = 480,
    beats_per_bar: int = 4,
) -> Piece:
    """A 4/4 :class:`Piece` from ``(start_beat, length_beats, pitch, part[, drum[,
    velocity]])`` rows."""
    notes = []
    for row in rows:
        start, length, pitch, part, *extra = row
        begin = round(start * ticks_per_quarter)
        notes.append(
            JudgedNote(
                begin,
                begin + round(length * ticks_per_quarter),
                pitch,
                part,
                bool(extra and extra[0]),
                int(extra[1]) if len(extra) > 1 else 64,
            )
        )
    notes.sort(key=lambda n: (n.start, n.pitch, n.part))
    return Piece(tuple(notes), ticks_per_quarter, beats_per_bar * ticks_per_quarter,
                 ticks_per_quarter)  # fmt: skip


# --- drama: transitions, phrase shapes, the ending --------------------------------------------

#: Suspended chords (no third): the fourth or the second in place of the third, above the root.
SUS_SHAPES = ((0, 5, 7), (0, 2, 7))


def _drum_hits(piece: Piece, first: int, end: int) -> list[tuple[int, int, int]]:
    """(step, key, velocity) of the percussion onsets in steps ``[first, end)``."""
    return sorted(
        (piece.span(n)[0], n.pitch, n.velocity)
        for n in piece.notes
        if n.drum and first <= piece.span(n)[0] < end
    )


def is_suspended(classes: frozenset[int]) -> bool:
    """Whether the pitch classes are a sus4 or sus2 chord (root, fourth or second, fifth)."""
    return len(classes) == 3 and any(
        classes == frozenset((root + i) % 12 for i in shape)
        for shape in SUS_SHAPES
        for root in range(12)
    )


def transition_before(piece: Piece, bar: int, beats: int = 2) -> str:
    """What leads into ``bar`` in its last ``beats`` beats before the downbeat, as a listener
    hears it: ``"riser"`` (three or more strokes of one drum growing louder), ``"fill"``
    (drums that the same beats of the bar before did not play, two or more strokes),
    ``"sus"`` (a suspended chord sounding on the last beat), or ``""`` for nothing."""
    per_bar, per_beat = piece.steps_per_bar, piece.steps_per_beat
    downbeat = bar * per_bar
    first = downbeat - beats * per_beat
    if first < per_bar:
        return ""
    hits = _drum_hits(piece, first, downbeat)
    for key in {k for _, k, _ in hits}:
        strokes = [v for _, k, v in hits if k == key]
        if len(strokes) >= 3 and strokes[-1] > strokes[0] and strokes == sorted(strokes):
            return "riser"
    groove = {(s + per_bar, k) for s, k, _ in _drum_hits(piece, first - per_bar, first)}
    if len(hits) >= 2 and {(s, k) for s, k, _ in hits} - groove:
        return "fill"
    grid = sounding(piece)
    last_beat = downbeat - per_beat
    if last_beat < len(grid) and is_suspended(frozenset(n.pitch % 12 for n in grid[last_beat])):
        return "sus"
    return ""


def jump_bars(arousal: Sequence[float], valence: Sequence[float], least: float) -> list[int]:
    """Bars where arousal or valence moves by at least ``least`` from the bar before."""
    return [
        bar
        for bar in range(1, min(len(arousal), len(valence)))
        if max(abs(arousal[bar] - arousal[bar - 1]), abs(valence[bar] - valence[bar - 1])) >= least
    ]


def phrase_velocity_shapes(piece: Piece, bars_per_group: int = 4) -> list[np.ndarray]:
    """Per group of ``bars_per_group`` bars (a phrase on the usual 4-bar grid): the mean
    velocity of the top part's onsets (the part with the highest mean pitch: the tune) on each
    beat, nan where it strikes nothing — the dynamic shape a player gives the phrase."""
    per_beat = piece.steps_per_beat
    heights: dict[int, list[int]] = defaultdict(list)
    for note in piece.pitched:
        heights[note.part].append(note.pitch)
    if not heights:
        return []
    top = max(heights, key=lambda part: float(np.mean(heights[part])))
    beats = bars_per_group * (piece.steps_per_bar // per_beat)
    groups = piece.bar_count // bars_per_group
    total, count = np.zeros(groups * beats), np.zeros(groups * beats)
    for note in piece.pitched:
        beat = piece.span(note)[0] // per_beat
        if note.part == top and beat < len(total):
            total[beat] += note.velocity
            count[beat] += 1
    with np.errstate(invalid="ignore"):
        means = total / count
    return list(means.reshape(groups, beats))


def shape_repeat_share(piece: Piece, bars_per_group: int = 4, alike: float = 0.8) -> float:
    """Share of phrases whose velocity shape (:func:`phrase_velocity_shapes`) correlates with
    the phrase before by at least ``alike`` (Pearson, over the beats both strike): the same
    swell phrase after phrase."""
    same = judged = 0
    for before, after in itertools.pairwise(phrase_velocity_shapes(piece, bars_per_group)):
        both = ~np.isnan(before) & ~np.isnan(after)
        if both.sum() < 4 or np.std(before[both]) == 0 or np.std(after[both]) == 0:
            continue
        judged += 1
        same += float(np.corrcoef(before[both], after[both])[0, 1]) >= alike
    return same / judged if judged else math.nan


def phrase_end_drums(piece: Piece, bars_per_group: int = 4) -> list[frozenset[tuple[int, int]]]:
    """Per group of bars: the drums, as (step in the beat, key), of the last beat of its last
    bar — where a drummer plays the fill into the next phrase."""
    per_bar, per_beat = piece.steps_per_bar, piece.steps_per_beat
    patterns = []
    for group in range(piece.bar_count // bars_per_group):
        last_beat = (group + 1) * bars_per_group * per_bar - per_beat
        patterns.append(
            frozenset(
                (s - last_beat, k) for s, k, _ in _drum_hits(piece, last_beat, last_beat + per_beat)
            )
        )
    return patterns


def repeat_share(items: Sequence[object]) -> float:
    """Share of neighbouring pairs that are equal, empty items left out (nan for fewer than
    two pairs)."""
    pairs = [(a, b) for a, b in itertools.pairwise(items) if a and b]
    return sum(a == b for a, b in pairs) / len(pairs) if pairs else math.nan


def ending_broadening(piece: Piece, last_bars: int = 2, before: int = 4) -> float:
    """Pitched onsets per bar in the last ``last_bars`` bars over those in the ``before``
    bars preceding them: below 1 when the ending broadens (a written-out ritardando)."""
    per_bar = piece.steps_per_bar
    counts = np.zeros(piece.bar_count)
    for note in piece.pitched:
        counts[piece.span(note)[0] // per_bar] += 1
    sounding_bars = np.flatnonzero(counts)
    if len(sounding_bars) < last_bars + before:
        return math.nan
    end = int(sounding_bars[-1]) + 1
    tail = counts[end - last_bars : end].mean()
    body = counts[end - last_bars - before : end - last_bars].mean()
    return float(tail / body) if body else math.nan
