"""Training pieces: a folder of MIDI + emotion text pairs, or a music21 corpus with proxy labels.

**Proxy labels** (``--corpus``): a corpus has no video, so each bar's emotion is derived from the
music itself, as the well-established emotion -> music mappings suggest:

- *valence* from mode: the Krumhansl-Kessler key profiles (:mod:`core.music.analysis`) are
  correlated with the pitch-class durations of the four bars around the bar;
  ``valence = 0.5 + 0.5 tanh(6 (r_major - r_minor))`` with ``r_major``/``r_minor`` the best
  major/minor key correlation, so clearly major music is near 1 and clearly minor music near 0;
- *arousal* from note density and tempo: onsets per second (onsets per bar x tempo), expressed
  as its percentile among all bars of the corpus, so the corpus spans arousal 0-1.

These are proxies for what a video's emotion would ask of the music, not human annotations.

**Augmentation** (``augment=True``, a standard technique, documented as such): a chorale corpus is
mostly major and uniformly dense, so its labels hardly vary. Each score is therefore also used

- in its *parallel mode* (:func:`parallel_mode`: in a major piece scale degrees 3, 6 and 7 of
  the analysed key are lowered a semitone, giving natural minor; in a minor piece b3, b6 and b7
  are raised, giving major; harmonic minor, keeping the leading tone, was tried and gave a
  model with lower mode fidelity);
- with *rhythmic augmentation* (:func:`stretch`: every note twice as long, half the onsets) and
  *diminution* (:func:`restrike`: notes longer than an 8th re-struck as 8ths, more onsets);
- every derived version transposed by a fixed pseudo-random interval (-5..+6 semitones, from
  the piece's name) so mode is learnt independently of key.

**Key normalisation** (``key_normalized=True`` in :func:`build_windows`): every training window
is transposed so that its own key (Krumhansl-Schmuckler on the window) has tonic C, a
window-level version of the key normalisation many symbolic-music models use. Valence then
chooses between C major and C minor (parallel modes) instead of between any key's relative
major and minor, which a bar's pitch classes cannot tell apart; and the mode a window is
labelled with is the mode a per-bar key analysis hears in it.

**Bar alignment**: a score that starts with a pickup is padded with rests at the front so bar
lines fall on multiples of 16 timesteps, as the emotion lines (one per bar) assume.

Derived versions are labelled like every other piece, from what the transformed music actually
is: valence by key analysis of the transformed roll, arousal by its onset density.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from tqdm import tqdm

from ...errors import InputError
from ...music.analysis import key_correlations
from ...timeline import parse_emotion_text
from ..roll import (
    ARTICULATE,
    PLAY,
    STEPS_PER_EMOTION_LINE,
    Layout,
    bar_context,
    emotion_per_step,
    midi_to_roll,
    notes_to_roll,
    roll_to_notes,
    windows,
)

log = logging.getLogger(__name__)

MIDI_SUFFIXES = (".mid", ".midi")
EMOTION_SUFFIXES = (".txt", ".emotions.txt")
CORPUS_SUFFIXES = (".mxl", ".xml", ".musicxml", ".krn", ".mid", ".midi", ".abc")
DEFAULT_CORPUS_BPM = 100.0  # chorales rarely carry a metronome mark
MODE_SHARPNESS = 6.0


@dataclass
class Piece:
    """One training piece: its roll ``(steps, pitches, 2)`` and emotions ``(steps, 2)``.

    ``origin`` names the score an augmented version was derived from (empty for an original).
    """

    name: str
    roll: NDArray[np.uint8]
    emotions: NDArray[np.float32]
    origin: str = ""


@dataclass
class DataReport:
    """What happened to each input file."""

    used: int = 0
    skipped: Counter[str] = field(default_factory=Counter)

    def skip(self, name: str, reason: str, detail: str) -> None:
        """Count a skipped file and warn about it."""
        self.skipped[reason] += 1
        log.warning("Skipping %s: %s.", name, detail)

    def summary(self) -> str:
        """One line: used files and skip counts by reason."""
        parts = [f"{self.used} pieces used"]
        parts += [f"{count} skipped ({reason})" for reason, count in sorted(self.skipped.items())]
        return ", ".join(parts)


def _emotion_partner(midi: Path) -> Path | None:
    for suffix in EMOTION_SUFFIXES:
        candidate = midi.with_name(midi.stem + suffix)
        if candidate.is_file():
            return candidate
    return None


def load_folder(folder: str | Path, layout: Layout) -> tuple[list[Piece], DataReport]:
    """Pieces from MIDI files with same-stem emotion files (``song.mid`` + ``song.txt`` or
    ``song.emotions.txt``, one ``arousal, valence`` line per 16 timesteps; one line more or less
    than the MIDI needs is tolerated, as a trailing partial bar).

    Raises
    ------
    InputError
        If the folder is missing, holds no MIDI file, or no file forms a valid pair.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise InputError(
            f"Training data {folder} is a file; --data takes a folder of MIDI files with "
            "their emotion files."
        )
    if not folder.is_dir():
        raise InputError(f"Training data folder {folder} does not exist; check --data.")
    midis = sorted(p for p in folder.iterdir() if p.suffix.lower() in MIDI_SUFFIXES)
    if not midis:
        raise InputError(
            f"{folder} holds no MIDI files (.mid/.midi); add MIDI files with emotion text files."
        )
    pieces, report = [], DataReport()
    for midi in midis:
        partner = _emotion_partner(midi)
        if partner is None:
            report.skip(midi.name, "no emotion file", f"no {midi.stem}.txt beside it")
            continue
        try:
            roll = midi_to_roll(midi, layout)
        except InputError as exc:
            report.skip(midi.name, "unreadable MIDI", str(exc).rstrip("."))
            continue
        try:
            lines = parse_emotion_text(partner.read_text(encoding="utf-8"), str(partner))
        except (InputError, UnicodeDecodeError) as exc:
            report.skip(midi.name, "unreadable emotion file", str(exc).rstrip("."))
            continue
        needed = math.ceil(len(roll) / STEPS_PER_EMOTION_LINE)
        if len(roll) == 0 or abs(len(lines) - needed) > 1:
            report.skip(
                midi.name,
                "length mismatch",
                f"{partner.name} has {len(lines)} lines but the MIDI needs {needed}",
            )
            continue
        steps = min(len(roll), len(lines) * STEPS_PER_EMOTION_LINE)
        pieces.append(Piece(midi.stem, roll[:steps], emotion_per_step(np.array(lines), steps)))
        report.used += 1
    if not pieces:
        raise InputError(
            f"No valid MIDI + emotion pair in {folder} ({report.summary()}); give each MIDI "
            "a same-stem .txt with one 'arousal, valence' line per bar."
        )
    return pieces, report


def mode_valence(roll: NDArray[Any], context_bars: int = 4) -> NDArray[np.float64]:
    """Proxy valence per bar from key-profile mode of ``context_bars`` bars around it (1: the
    bar alone, as a per-bar judge hears it), shape (bars,)."""
    steps, pitches = roll.shape[:2]
    bars = math.ceil(steps / STEPS_PER_EMOTION_LINE)
    sounding = roll[..., PLAY].astype(np.float64)
    padded = np.zeros((bars * STEPS_PER_EMOTION_LINE, pitches))
    padded[:steps] = sounding
    per_bar = padded.reshape(bars, STEPS_PER_EMOTION_LINE, pitches).sum(axis=1)
    valence = np.full(bars, 0.5)
    for bar in range(bars):
        lo = max(0, bar - (context_bars - 1) // 2)
        weights = per_bar[lo : lo + context_bars].sum(axis=0)
        profile = np.zeros(12)
        np.add.at(profile, np.arange(pitches) % 12, weights)
        major_minor = key_correlations(profile)
        margin = major_minor[0].max() - major_minor[1].max()
        valence[bar] = 0.5 + 0.5 * math.tanh(MODE_SHARPNESS * margin)
    return valence


def onsets_per_second(roll: NDArray[Any], bpm: float) -> NDArray[np.float64]:
    """Note onsets per second in each bar, shape (bars,)."""
    steps = len(roll)
    bars = math.ceil(steps / STEPS_PER_EMOTION_LINE)
    onsets = np.zeros(bars * STEPS_PER_EMOTION_LINE)
    onsets[:steps] = roll[..., ARTICULATE].sum(axis=1)
    bar_seconds = STEPS_PER_EMOTION_LINE * 15.0 / bpm
    rate: NDArray[np.float64] = (
        onsets.reshape(bars, STEPS_PER_EMOTION_LINE).sum(axis=1) / bar_seconds
    )
    return rate


def roll_key(roll: NDArray[Any], lowest_pitch: int) -> tuple[int, str]:
    """Tonic pitch class and ``"major"``/``"minor"`` of a whole roll (Krumhansl-Schmuckler)."""
    durations = roll[..., PLAY].sum(axis=0).astype(np.float64)
    profile = np.zeros(12)
    np.add.at(profile, (lowest_pitch + np.arange(len(durations))) % 12, durations)
    correlations = key_correlations(profile)
    row, tonic = np.unravel_index(int(np.argmax(correlations)), correlations.shape)
    return int(tonic), "major" if row == 0 else "minor"


#: Semitone shift of each scale degree (relative to the tonic) to reach the parallel mode.
_TO_MINOR = {4: -1, 9: -1, 11: -1}  # major 3, 6, 7 -> natural minor b3, b6, b7
_TO_MAJOR = {3: +1, 8: +1, 10: +1}  # minor b3, b6, b7 -> major 3, 6, 7


def _renote(
    roll: NDArray[Any],
    layout: Layout,
    change: Callable[[int, int, int], list[tuple[int, int, int]]],
    length_steps: int,
) -> NDArray[np.uint8]:
    """Roll rebuilt from its notes ``(start, length, pitch)``, each passed through ``change``
    (which returns a list of ``(start, end, pitch)``)."""
    spans: list[tuple[int, int, int]] = []
    for note in roll_to_notes(roll, layout.lowest_pitch):
        spans += change(*note)
    return notes_to_roll(spans, layout, length_steps)


def parallel_mode(roll: NDArray[Any], layout: Layout) -> NDArray[np.uint8]:
    """The roll in its parallel mode: major -> natural minor, minor -> major (same tonic).

    The key is found on the whole roll; notes on scale degrees 3, 6, 7 (major) or b3, b6, b7
    (minor) move a semitone, everything else (rhythm, other pitches) is kept.
    """
    tonic, mode = roll_key(roll, layout.lowest_pitch)
    shifts = _TO_MINOR if mode == "major" else _TO_MAJOR

    def change(start: int, length: int, pitch: int) -> list[tuple[int, int, int]]:
        return [(start, start + length, pitch + shifts.get((pitch - tonic) % 12, 0))]

    return _renote(roll, layout, change, len(roll))


def stretch(roll: NDArray[Any], layout: Layout, factor: int = 2) -> NDArray[np.uint8]:
    """Rhythmic augmentation: every onset and duration times ``factor`` (1/factor the onsets)."""

    def change(start: int, length: int, pitch: int) -> list[tuple[int, int, int]]:
        return [(start * factor, (start + length) * factor, pitch)]

    return _renote(roll, layout, change, len(roll) * factor)


def restrike(roll: NDArray[Any], layout: Layout, every: int = 2) -> NDArray[np.uint8]:
    """Rhythmic diminution: notes longer than ``every`` steps are re-struck every ``every``
    steps (quarters and halves become 8ths), so the same harmony has more onsets."""

    def change(start: int, length: int, pitch: int) -> list[tuple[int, int, int]]:
        return [
            (s, min(s + every, start + length), pitch) for s in range(start, start + length, every)
        ]

    return _renote(roll, layout, change, len(roll))


def tonic_shift(tonic: int) -> int:
    """Semitones (-5..+6) that move pitch class ``tonic`` to C."""
    return (-tonic + 5) % 12 - 5


def shift_rows(roll: NDArray[Any], layout: Layout, semitones: int) -> NDArray[Any]:
    """A roll ``(steps, pitches, 2)`` moved by ``semitones``, rows leaving the range folded
    back by octaves (:func:`~core.rbm.roll.fold_pitch`); notes meeting on one row merge."""
    rows = np.arange(layout.pitch_count) + semitones
    top = layout.pitch_count - 1
    rows = np.where(rows < 0, rows + 12 * (-rows // 12 + 1), rows)
    rows = np.where(rows > top, rows - 12 * ((rows - top - 1) // 12 + 1), rows)
    moved = np.zeros_like(roll)
    # NumPy's stubs accept no tuple index for ufunc.at (NumPy itself does).
    np.maximum.at(moved, (slice(None), rows), roll)  # type: ignore[arg-type]
    return moved


def window_key_shifts(notes: NDArray[Any], layout: Layout) -> NDArray[np.int64]:
    """Semitones that move each window of ``notes`` ``(n, window_steps * note_units)`` to its
    own tonic C (0 for a silent window), shape ``(n,)``."""
    shape = (layout.window_steps, layout.pitch_count, 2)
    shifts = np.zeros(len(notes), dtype=np.int64)
    for i, flat in enumerate(notes):
        roll = flat.reshape(shape)
        if roll[..., PLAY].any():
            shifts[i] = tonic_shift(roll_key(roll, layout.lowest_pitch)[0])
    return shifts


def normalize_window_keys(
    notes: NDArray[np.uint8], layout: Layout, shifts: NDArray[np.integer[Any]] | None = None
) -> NDArray[np.uint8]:
    """Each window of ``notes`` ``(n, window_steps * note_units)`` moved by ``shifts``
    (default :func:`window_key_shifts`: each to its own tonic C)."""
    shape = (layout.window_steps, layout.pitch_count, 2)
    shifts = window_key_shifts(notes, layout) if shifts is None else shifts
    moved = notes.copy()
    for i, semitones in enumerate(shifts):
        if semitones:
            moved[i] = shift_rows(notes[i].reshape(shape), layout, int(semitones)).reshape(-1)
    return moved


def transpose(roll: NDArray[Any], layout: Layout, semitones: int) -> NDArray[np.uint8]:
    """The roll moved by ``semitones`` (pitches leaving the range fold back by octaves)."""

    def change(start: int, length: int, pitch: int) -> list[tuple[int, int, int]]:
        return [(start, start + length, pitch + semitones)]

    return _renote(roll, layout, change, len(roll))


def augmented_versions(
    name: str, roll: NDArray[np.uint8], layout: Layout
) -> list[tuple[str, NDArray[np.uint8]]]:
    """The original and its derived versions (see the module doc), each with a name."""
    digest = int(hashlib.sha1(name.encode("utf-8")).hexdigest(), 16)
    versions: list[tuple[str, NDArray[np.uint8]]] = []
    for mode_name, mode_roll in (("", roll), ("+parallel", parallel_mode(roll, layout))):
        rhythms = (
            ("", mode_roll),
            ("+x2", stretch(mode_roll, layout)),
            ("+8ths", restrike(mode_roll, layout)),
        )
        for rhythm_name, rhythm_roll in rhythms:
            suffix = mode_name + rhythm_name
            if not suffix:
                versions.append((name, roll))
                continue
            semitones = (digest >> (4 * len(versions))) % 12 - 5
            versions.append(
                (f"{name}{suffix}{semitones:+d}", transpose(rhythm_roll, layout, semitones))
            )
    return versions


def _parse_corpus_piece(path: Path, layout: Layout) -> tuple[NDArray[np.uint8], float]:
    from music21 import corpus, tempo

    score = corpus.parse(path).stripTies()
    marks = list(score.recurse().getElementsByClass(tempo.MetronomeMark))
    bpm = float(marks[0].getQuarterBPM() or DEFAULT_CORPUS_BPM) if marks else DEFAULT_CORPUS_BPM
    pickup = 0.0  # quarters missing from a first (pickup) bar: padded so bar lines align
    if score.parts:
        measures = score.parts[0].getElementsByClass("Measure")
        pickup = float(measures[0].paddingLeft or 0.0) if len(measures) else 0.0
    spans = []
    for element in score.flatten().notes:
        if element.duration.isGrace or element.quarterLength <= 0:
            continue
        start = round((float(element.offset) + pickup) * 4)
        end = round((float(element.offset + element.quarterLength) + pickup) * 4)
        spans += [(start, end, p.midi) for p in element.pitches]
    return notes_to_roll(spans, layout), bpm


def corpus_paths(name: str) -> list[Path]:
    """Score files of a music21 bundled corpus, by composer (``bach``) or search term."""
    from music21 import corpus

    paths = [Path(p) for p in corpus.getComposer(name)]
    if not paths:
        paths = [Path(r.sourcePath) for r in corpus.search(name)]
        root = Path(corpus.__file__).parent
        paths = [p if p.is_absolute() else root / p for p in paths]
    return sorted(p for p in paths if p.suffix.lower() in CORPUS_SUFFIXES)


def load_corpus(
    name: str,
    layout: Layout,
    limit: int | None = None,
    *,
    progress: bool = False,
    augment: bool = False,
    valence_context_bars: int = 4,
) -> tuple[list[Piece], DataReport]:
    """Pieces from a music21 bundled corpus with proxy emotion labels (see module doc).

    With ``augment`` every score also yields its derived versions (:func:`augmented_versions`),
    labelled from their own content; ``Piece.origin`` names the score they came from.
    ``valence_context_bars`` is passed to :func:`mode_valence`.

    Raises
    ------
    InputError
        If music21 is missing, or the corpus name matches nothing usable.
    """
    try:
        import music21  # noqa: F401
    except ImportError:
        raise InputError(
            "--corpus needs the music21 package; install Moodscore with the 'train' extra."
        ) from None
    with _own_music21_scratch():
        return _corpus_pieces(name, layout, limit, progress, augment, valence_context_bars)


@contextlib.contextmanager
def _own_music21_scratch() -> Iterator[None]:
    """Remove music21's scratch folder (``<temp>/music21``) afterwards if this run made it.

    music21 creates it while searching its corpus, also for a name it then does not find.
    """
    scratch = Path(tempfile.gettempdir()) / "music21"
    existed = scratch.exists()
    try:
        yield
    finally:
        if not existed:
            shutil.rmtree(scratch, ignore_errors=True)


def _corpus_pieces(
    name: str,
    layout: Layout,
    limit: int | None,
    progress: bool,
    augment: bool,
    valence_context_bars: int,
) -> tuple[list[Piece], DataReport]:
    paths = corpus_paths(name)[: limit or None]
    if not paths:
        raise InputError(f"music21's corpus has no scores for {name!r}; try --corpus bach.")
    report, parsed = DataReport(), []
    for path in tqdm(
        paths, desc=f"reading {name}", unit="score", leave=False, disable=not progress
    ):
        try:
            roll, bpm = _parse_corpus_piece(path, layout)
        except Exception as exc:
            report.skip(path.name, "unreadable score", f"music21 could not read it ({exc})")
            continue
        if roll[..., PLAY].sum() == 0:
            report.skip(path.name, "no notes", "it holds no pitched notes")
            continue
        report.used += 1
        if augment:
            parsed += [
                (version, roll, bpm, path.stem)
                for version, roll in augmented_versions(path.stem, roll, layout)
            ]
        else:
            parsed.append((path.stem, roll, bpm, ""))
    if not parsed:
        raise InputError(f"No score of the music21 corpus {name!r} could be read.")
    densities = [onsets_per_second(roll, bpm) for _, roll, bpm, _ in parsed]
    ranked = np.sort(np.concatenate(densities))
    pieces = []
    for (stem, roll, _, origin), density in zip(parsed, densities, strict=True):
        arousal = np.searchsorted(ranked, density, side="right") / len(ranked)
        lines = np.stack([arousal, mode_valence(roll, valence_context_bars)], axis=1)
        pieces.append(Piece(stem, roll, emotion_per_step(lines, len(roll)), origin))
    return pieces, report


def split_holdout(pieces: list[Piece], fraction: float) -> tuple[list[Piece], list[Piece]]:
    """Split off about ``fraction`` of the pieces for evaluation, chosen by a hash of the name
    (stable across runs, seeds and corpus order); augmented versions go with their origin."""

    def held(piece: Piece) -> bool:
        digest = hashlib.sha1((piece.origin or piece.name).encode("utf-8")).hexdigest()
        return int(digest, 16) % 1000 < fraction * 1000

    kept = [p for p in pieces if not held(p)]
    if not kept:
        raise InputError(f"--holdout {fraction:g} leaves no piece to train on; lower it.")
    return kept, [p for p in pieces if held(p)]


def build_windows(
    pieces: list[Piece], layout: Layout, hop: int, *, key_normalized: bool = False
) -> tuple[NDArray[np.uint8], NDArray[np.float32]]:
    """All training windows of ``pieces``: ``uint8`` notes and ``float32`` emotions; with
    ``key_normalized`` each window is moved to its own tonic C (:func:`normalize_window_keys`)."""
    notes, emotions, _ = build_training_set(pieces, layout, hop, key_normalized=key_normalized)
    return notes, emotions


def build_training_set(
    pieces: list[Piece], layout: Layout, hop: int, *, key_normalized: bool = False
) -> tuple[NDArray[np.uint8], NDArray[np.float32], NDArray[np.float32]]:
    """:func:`build_windows` plus each window's context vector ``(n, context_units)``.

    The context (:func:`~core.rbm.roll.bar_context`) remembers the ``history_bars`` windows
    that end where this one starts (rests before the piece's start) and flags the piece's last
    window. It is moved by the same semitones as its window, and presented in the mode of
    the window's valence label, as sampling presents it (so the memory teaches continuity of
    voices and harmony, while valence keeps the say over the mode).
    """
    size = layout.window_steps
    parts = [windows(p.roll, p.emotions, layout, hop) for p in pieces]
    notes = np.concatenate([n for n, _ in parts])
    emotions = np.concatenate([e for _, e in parts])
    shifts = window_key_shifts(notes, layout) if key_normalized else np.zeros(len(notes), int)
    if key_normalized:
        notes = normalize_window_keys(notes, layout, shifts)
    contexts = np.zeros((len(notes), layout.context_units), dtype=np.float32)
    if layout.context_units:
        index = 0
        for piece, (piece_notes, _) in zip(pieces, parts, strict=True):
            for count in range(len(piece_notes)):
                start = count * max(1, hop)
                previous = []
                for back in range(1, layout.history_bars + 1):
                    first = start - back * size
                    roll = piece.roll[first : first + size] if first >= 0 else None
                    if roll is not None and shifts[index]:
                        roll = shift_rows(roll, layout, int(shifts[index]))
                    previous.append(roll)
                final = start + size >= len(piece.roll)
                major = bool(emotions[index, :, 1].mean() > 0.5)
                contexts[index] = bar_context(previous, final, layout, major)
                index += 1
    return notes, emotions, contexts
