"""Piano roll on the 16th-note grid and the RBM's visible-unit layout.

Per timestep the roll holds, for each of ``pitch_count`` pitches from ``lowest_pitch``, two binary
states as in the seed: *play* (the pitch sounds) and *articulate* (it is struck at this step).
The RBM sees ``window_steps`` timesteps at once; each timestep contributes the ``2 * pitch_count``
note units followed by the emotion units (arousal, valence), so the seed's layout of 78 pitches
and 64 steps is ``64 * (156 + 2) = 10,112`` visible units. ``emotion_copies = K`` repeats the
(arousal, valence) pair K times per timestep (``156 + 2K`` units), all clamped alike, to give
the emotions more weight in the hidden layer (the seed's layout is ``K = 1``).

**Memory across bars** (``history_bars = H``): a window is also conditioned on a *context* vector
(:func:`bar_context`) that is not part of the visible layer: one flag for "this is the last bar
of the piece", then, for each of the ``H`` previous windows, the share of the window's timesteps
in which each pitch sounds (``pitch_count`` values). The model (Taylor & Hinton's conditional RBM
with autoregressive inputs) turns it into hidden and note biases.

MIDI is read in musical time (ticks -> 16ths via ``ticks_per_beat``), so tempo changes do not
move notes off the grid; drums (channel 10) are skipped; pitches outside the range are folded by
octaves into it so harmony survives.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import InputError

DRUM_CHANNEL = 9  # MIDI channel 10, zero-based
PLAY, ARTICULATE = 0, 1
EMOTION_UNITS = 2  # arousal, valence
STEPS_PER_EMOTION_LINE = 16  # the seed's ``multiple``: one emotion line per 4/4 bar
MAX_HISTORY_BARS = 4
#: Scale degrees (semitones above the tonic) that tell major from natural minor, and where
#: each goes in the other mode.
MAJOR_TO_MINOR = {4: 3, 9: 8, 11: 10}
MINOR_TO_MAJOR = {v: k for k, v in MAJOR_TO_MINOR.items()}
#: Krumhansl-Kessler profiles with tonic C (as in :mod:`core.music.analysis`, kept here so
#: sampling needs nothing beyond this package and numpy).
_KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


@dataclass(frozen=True)
class Layout:
    """Shape of the RBM's visible layer.

    Parameters
    ----------
    lowest_pitch
        MIDI pitch of the lowest roll row (seed: 24).
    pitch_count
        Number of pitches (seed: 78, i.e. MIDI 24-101).
    window_steps
        Timesteps per visible vector (seed: 64, four 4/4 bars).
    emotion_copies
        Copies of the (arousal, valence) pair per timestep (seed: 1). Every copy is clamped to the
        same value at generation, so ``K`` copies give the emotions ``K`` times the say in the
        hidden layer's input; the note units and their order are unchanged.
    """

    lowest_pitch: int = 24
    pitch_count: int = 78
    window_steps: int = 64
    emotion_copies: int = 1
    history_bars: int = 0

    def __post_init__(self) -> None:
        top = self.lowest_pitch + self.pitch_count - 1
        if self.lowest_pitch < 0 or top > 127 or self.pitch_count < 12:
            raise InputError(
                f"Note range {self.lowest_pitch}-{top} must lie within MIDI 0-127 and span "
                "at least an octave; change --lowest-pitch or --pitch-count."
            )
        if self.window_steps < 1:
            raise InputError("--window must be at least one timestep.")
        if self.emotion_copies < 1:
            raise InputError("--emotion-copies must be at least 1.")
        if not 0 <= self.history_bars <= MAX_HISTORY_BARS:
            raise InputError(f"--history must be 0-{MAX_HISTORY_BARS} windows.")

    @property
    def note_units(self) -> int:
        """Note units per timestep (two states per pitch)."""
        return 2 * self.pitch_count

    @property
    def emotion_units(self) -> int:
        """Emotion units per timestep (all copies of arousal, valence)."""
        return EMOTION_UNITS * self.emotion_copies

    @property
    def units_per_step(self) -> int:
        """Visible units per timestep, emotion units included."""
        return self.note_units + self.emotion_units

    @property
    def context_units(self) -> int:
        """Length of the context vector of :func:`bar_context` (0 without memory)."""
        return 1 + self.history_bars * self.pitch_count if self.history_bars else 0

    @property
    def visible_units(self) -> int:
        """Length of one visible vector."""
        return self.window_steps * self.units_per_step

    def describe(self) -> str:
        """Human-readable shape, used in error messages."""
        top = self.lowest_pitch + self.pitch_count - 1
        copies = f", {self.emotion_copies} emotion copies" if self.emotion_copies > 1 else ""
        memory = f", {self.history_bars} windows of memory" if self.history_bars else ""
        return f"MIDI {self.lowest_pitch}-{top}, {self.window_steps}-step window{copies}{memory}"

    def as_array(self) -> NDArray[np.int64]:
        """The layout as stored in a model file."""
        return np.array(
            [
                self.lowest_pitch,
                self.pitch_count,
                self.window_steps,
                self.emotion_copies,
                self.history_bars,
            ],
            dtype=np.int64,
        )


def tile_emotions(emotions: NDArray[Any], layout: Layout) -> NDArray[np.float32]:
    """Emotion units of every timestep, ``(..., 2)`` -> ``(..., 2 * emotion_copies)``.

    The copies follow each other: arousal, valence, arousal, valence, ...
    """
    reps = (1,) * (np.ndim(emotions) - 1) + (layout.emotion_copies,)
    return np.tile(np.asarray(emotions, dtype=np.float32), reps)


def fold_pitch(pitch: int, layout: Layout) -> int:
    """Move ``pitch`` by whole octaves into the layout's range."""
    top = layout.lowest_pitch + layout.pitch_count - 1
    while pitch < layout.lowest_pitch:
        pitch += 12
    while pitch > top:
        pitch -= 12
    return pitch


def notes_to_roll(
    notes: Iterable[tuple[int, int, int]], layout: Layout, length_steps: int | None = None
) -> NDArray[np.uint8]:
    """Piano roll from ``(start_step, end_step, pitch)`` triples.

    A note shorter than one step still lasts one step; a note struck while the same pitch sounds
    re-articulates it.

    Returns
    -------
    numpy.ndarray
        ``uint8`` array of shape ``(steps, pitch_count, 2)``.
    """
    notes = [(int(s), max(int(e), int(s) + 1), int(p)) for s, e, p in notes]
    steps = length_steps if length_steps is not None else max((e for _, e, _ in notes), default=0)
    roll = np.zeros((steps, layout.pitch_count, 2), dtype=np.uint8)
    for start, end, pitch in notes:
        if start >= steps or start < 0:
            continue
        row = fold_pitch(pitch, layout) - layout.lowest_pitch
        roll[start:end, row, PLAY] = 1
        roll[start, row, ARTICULATE] = 1
    return roll


def roll_to_notes(roll: NDArray[Any], lowest_pitch: int) -> list[tuple[int, int, int]]:
    """Decode a roll into ``(start_step, length_steps, pitch)`` notes.

    A note begins where a pitch starts playing or is re-articulated while playing, and lasts
    while it keeps playing without a new articulation. Articulation without play is ignored.
    """
    play = roll[..., PLAY].astype(bool)
    articulate = roll[..., ARTICULATE].astype(bool) & play
    steps = play.shape[0]
    previous = np.vstack([np.zeros((1, play.shape[1]), bool), play[:-1]])
    onset = play & (articulate | ~previous)
    notes = []
    for row in range(play.shape[1]):
        starts = np.flatnonzero(onset[:, row])
        for i, start in enumerate(starts):
            limit = starts[i + 1] if i + 1 < len(starts) else steps
            silent = np.flatnonzero(~play[start:limit, row])
            length = int(silent[0]) if len(silent) else int(limit - start)
            notes.append((int(start), length, lowest_pitch + row))
    notes.sort()
    return notes


def midi_note_spans(path: Path) -> tuple[list[tuple[int, int, int]], int]:
    """Read a MIDI file into ``(start_tick, end_tick, pitch)`` spans, drums skipped.

    Returns the spans and the file's ticks per beat. Overlapping notes of the same pitch and
    channel end the earlier note where the later one starts.

    Raises
    ------
    InputError
        If the file cannot be parsed as MIDI.
    """
    import mido

    try:
        midi = mido.MidiFile(str(path))
    except (OSError, EOFError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise InputError(f"{path} is not a readable MIDI file ({exc}).") from None
    if midi.ticks_per_beat <= 0:
        raise InputError(f"{path} is not a readable MIDI file (ticks per beat is 0).")
    spans: list[tuple[int, int, int]] = []
    for track in midi.tracks:
        tick = 0
        sounding: dict[tuple[int, int], int] = {}
        for message in track:
            tick += message.time
            if message.type not in ("note_on", "note_off") or message.channel == DRUM_CHANNEL:
                continue
            key = (message.channel, message.note)
            if key in sounding:
                spans.append((sounding.pop(key), tick, message.note))
            if message.type == "note_on" and message.velocity > 0:
                sounding[key] = tick
        spans.extend((start, tick, pitch) for (_, pitch), start in sounding.items())
    return spans, midi.ticks_per_beat


def midi_to_roll(path: Path, layout: Layout) -> NDArray[np.uint8]:
    """Piano roll of a MIDI file on the 16th-note grid (see :func:`notes_to_roll`)."""
    spans, ticks_per_beat = midi_note_spans(path)
    ticks_per_step = ticks_per_beat / 4
    steps = [
        (round(start / ticks_per_step), round(end / ticks_per_step), pitch)
        for start, end, pitch in spans
    ]
    return notes_to_roll(steps, layout)


def emotion_per_step(lines: NDArray[Any], steps: int) -> NDArray[np.float32]:
    """Expand one ``(arousal, valence)`` line per 16 steps to one row per step, shape (steps, 2)."""
    lines = np.asarray(lines, dtype=np.float32).reshape(-1, EMOTION_UNITS)
    expanded = np.repeat(lines, STEPS_PER_EMOTION_LINE, axis=0)
    if len(expanded) < steps:
        expanded = np.vstack([expanded, np.repeat(expanded[-1:], steps - len(expanded), axis=0)])
    return expanded[:steps]


def windows(
    roll: NDArray[Any], emotions: NDArray[Any], layout: Layout, hop: int
) -> tuple[NDArray[np.uint8], NDArray[np.float32]]:
    """Cut a piece into overlapping windows; a piece shorter than a window is padded with rests.

    Returns
    -------
    notes, emotions
        ``uint8`` note units ``(n, window_steps * note_units)`` and ``float32`` emotions
        ``(n, window_steps, 2)``; kept apart so a large corpus stays small in memory.
    """
    size = layout.window_steps
    if len(roll) < size:
        pad = size - len(roll)
        roll = np.concatenate([roll, np.zeros((pad, *roll.shape[1:]), roll.dtype)])
        emotions = np.concatenate([emotions, np.repeat(emotions[-1:], pad, axis=0)])
    starts = range(0, len(roll) - size + 1, max(1, hop))
    note_windows = np.stack([roll[s : s + size].reshape(-1) for s in starts]).astype(np.uint8)
    emotion_windows = np.stack([emotions[s : s + size] for s in starts]).astype(np.float32)
    return note_windows, emotion_windows


def assemble_visible(
    notes: NDArray[Any], emotions: NDArray[Any], layout: Layout
) -> NDArray[np.float32]:
    """Full visible vectors ``(n, visible_units)`` from :func:`windows` output."""
    n = len(notes)
    rows: NDArray[np.float32] = np.concatenate(
        [
            notes.reshape(n, layout.window_steps, layout.note_units).astype(np.float32),
            tile_emotions(emotions.reshape(n, layout.window_steps, EMOTION_UNITS), layout),
        ],
        axis=2,
    )
    return rows.reshape(n, layout.visible_units)


def pitch_shares(roll: NDArray[Any]) -> NDArray[np.float32]:
    """Share of a window's timesteps in which each pitch sounds, ``(steps, P, 2)`` -> ``(P,)``."""
    shares: NDArray[np.float32] = roll[..., PLAY].astype(np.float32).mean(axis=0)
    return shares


def sounds_major(shares: NDArray[Any], lowest_pitch: int) -> bool | None:
    """Whether per-pitch ``shares`` fit a major key best among all 24 Krumhansl-Kessler keys
    (as a per-bar listener hears it); ``None`` without a shape to judge."""
    classes = (lowest_pitch + np.arange(len(shares))) % 12
    profile = np.bincount(classes, weights=shares, minlength=12)
    if not profile.any() or np.all(profile == profile[0]):
        return None
    best = max(
        (np.corrcoef(profile, np.roll(kk, tonic))[0, 1], major)
        for major, kk in ((True, _KK_MAJOR), (False, _KK_MINOR))
        for tonic in range(12)
    )
    return bool(best[1])


def in_mode(shares: NDArray[Any], lowest_pitch: int, major: bool) -> NDArray[Any]:
    """Per-pitch shares around tonic C moved into C major (``major``) or C minor.

    If the shares sound more like the other C mode (Krumhansl-Kessler correlation), the
    degrees that tell the modes apart (3, 6, 7) move a semitone, as
    :func:`core.rbm.training.data.parallel_mode` does to whole pieces. A remembered bar is
    presented in the mode the current bar is asked for, so memory does not hold on to the
    previous mode after a valence jump.
    """
    classes = (lowest_pitch + np.arange(len(shares))) % 12
    profile = np.bincount(classes, weights=shares, minlength=12)
    if not profile.any() or np.all(profile == profile[0]):
        return shares
    sounds_major = np.corrcoef(profile, _KK_MAJOR)[0, 1] >= np.corrcoef(profile, _KK_MINOR)[0, 1]
    if sounds_major == major:
        return shares
    moves = MAJOR_TO_MINOR if sounds_major else MINOR_TO_MAJOR
    moved = shares.copy()
    for source, target in moves.items():
        rows = np.flatnonzero(classes == source)
        targets = rows + (target - source)
        keep = (targets >= 0) & (targets < len(shares))
        moved[rows] = 0.0
        np.maximum.at(moved, targets[keep], shares[rows[keep]])
    return moved


def bar_context(
    previous: list[NDArray[Any] | None], final: bool, layout: Layout, major: bool | None = None
) -> NDArray[np.float32]:
    """The context vector of one window (see the module doc), ``float32 (context_units,)``.

    Parameters
    ----------
    previous
        The rolls ``(window_steps, pitch_count, 2)`` of the previous windows, the most recent
        first; ``None`` (or a missing entry) for a window before the piece's start.
    final
        The window is the piece's last.
    major
        Present the remembered windows in C major (True) or C minor (False), see
        :func:`in_mode`; ``None`` keeps them as they are.
    """
    if not layout.history_bars:
        return np.zeros(0, dtype=np.float32)
    parts = [np.array([float(final)], dtype=np.float32)]
    for index in range(layout.history_bars):
        roll = previous[index] if index < len(previous) else None
        shares = np.zeros(layout.pitch_count, np.float32) if roll is None else pitch_shares(roll)
        if major is not None and roll is not None:
            shares = in_mode(shares, layout.lowest_pitch, major)
        parts.append(shares.astype(np.float32))
    return np.concatenate(parts)
