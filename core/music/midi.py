"""Standard MIDI files from and to :class:`~.score.Score` (mido).

Written files are type 1: a conductor track (name, tempo, time signature) and one track per
part with its name and program change. Times are kept in ticks end to end, so a score read
back has the same notes at the same ticks.
"""

from __future__ import annotations

import io
import logging
import os
from collections import defaultdict, deque
from pathlib import Path

import mido

from ..errors import InputError
from ..files import write_bytes_atomic
from .score import TICKS_PER_BEAT, Note, Score, Track

log = logging.getLogger(__name__)

CONDUCTOR_NAME = "Moodscore"


def _tempo_of(bpm: float) -> int:
    return int(mido.bpm2tempo(bpm))  # an int already; mido is untyped


def _bpm_of(tempo: int) -> float:
    """The bpm a tempo (µs per beat) stands for, preferring a round value that maps back to it."""
    exact = float(mido.tempo2bpm(tempo))  # a float already; mido is untyped
    rounded = round(exact, 2)
    return rounded if mido.bpm2tempo(rounded) == tempo else exact


def _conductor(score: Score) -> mido.MidiTrack:
    numerator, denominator = score.time_signature
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("track_name", name=CONDUCTOR_NAME, time=0))
    track.append(mido.MetaMessage("set_tempo", tempo=_tempo_of(score.bpm), time=0))
    track.append(
        mido.MetaMessage("time_signature", numerator=numerator, denominator=denominator, time=0)
    )
    track.append(mido.MetaMessage("end_of_track", time=score.length_ticks))
    return track


def _part(part: Track, length_ticks: int) -> mido.MidiTrack:
    """One part as delta-timed messages; at equal ticks note-offs come before note-ons so a
    repeated pitch is released before it is struck again."""
    events: list[tuple[int, int, int, int]] = []  # (tick, 0=off/1=on, pitch, velocity)
    for note in part.notes:
        if note.duration <= 0:
            continue  # an empty note would be released before it is struck and then hang
        events.append((note.start, 1, note.pitch, note.velocity))
        events.append((note.end, 0, note.pitch, 0))
    events.sort()
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("track_name", name=part.name, time=0))
    track.append(mido.Message("program_change", channel=part.channel, program=part.program))
    now = 0
    for tick, is_on, pitch, velocity in events:
        kind = "note_on" if is_on else "note_off"
        track.append(
            mido.Message(kind, channel=part.channel, note=pitch, velocity=velocity, time=tick - now)
        )
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=max(0, length_ticks - now)))
    return track


def to_midi_file(score: Score) -> mido.MidiFile:
    """The score as a type-1 :class:`mido.MidiFile`."""
    midi = mido.MidiFile(type=1, ticks_per_beat=score.ticks_per_beat)
    midi.tracks.append(_conductor(score))
    midi.tracks.extend(_part(part, score.length_ticks) for part in score.tracks)
    return midi


def midi_bytes(score: Score) -> bytes:
    """The score as Standard MIDI File bytes; the same score always gives the same bytes."""
    buffer = io.BytesIO()
    to_midi_file(score).save(file=buffer)
    return buffer.getvalue()


def write_midi(score: Score, path: str | os.PathLike[str]) -> None:
    """Write the score as a MIDI file, atomically."""
    write_bytes_atomic(path, midi_bytes(score))


def _open_midi(path: Path) -> mido.MidiFile:
    if not path.exists():
        raise InputError(f"MIDI file {path} does not exist; check the path.")
    if not path.is_file():
        raise InputError(f"{path} is a directory, not a MIDI file; pass a .mid file.")
    try:
        return mido.MidiFile(path, clip=True)
    except (OSError, EOFError, ValueError, KeyError, IndexError) as exc:
        raise InputError(
            f"{path} is not a readable MIDI file ({exc or type(exc).__name__}); "
            "pass a Standard MIDI File (.mid)."
        ) from None


def _read_track(
    mido_track: mido.MidiTrack, index: int, tempos: list[int], signatures: list[tuple[int, int]]
) -> tuple[list[Track], int]:
    """The parts of one MIDI track (one per channel) and the track's length in ticks.

    Tempo and time-signature events are appended to ``tempos`` and ``signatures``.
    """
    name = f"Track {index}"
    programs: dict[int, int] = {}
    notes: dict[int, list[Note]] = defaultdict(list)
    held: dict[tuple[int, int], deque[tuple[int, int]]] = defaultdict(deque)
    tick = 0
    for message in mido_track:
        tick += message.time
        if message.type == "track_name":
            name = message.name
        elif message.type == "set_tempo":
            tempos.append(message.tempo)
        elif message.type == "time_signature":
            signatures.append((message.numerator, message.denominator))
        elif message.type == "program_change":
            programs.setdefault(message.channel, message.program)
        elif message.type == "note_on" and message.velocity > 0:
            held[message.channel, message.note].append((tick, message.velocity))
        elif message.type in ("note_on", "note_off") and held[message.channel, message.note]:
            # First in, first out: overlapping repeats of one pitch pair up in order.
            start, velocity = held[message.channel, message.note].popleft()
            notes[message.channel].append(Note(start, tick - start, message.note, velocity))
    for (channel, pitch), starts in held.items():
        notes[channel].extend(Note(start, tick - start, pitch, vel) for start, vel in starts)
    parts = [
        Track(
            name=name if len(notes) == 1 else f"{name} ch{channel + 1}",
            program=programs.get(channel, 0),
            channel=channel,
            notes=sorted(n for n in notes[channel] if n.duration > 0),
        )
        for channel in sorted(notes)
    ]
    return parts, tick


def read_midi(path: str | os.PathLike[str]) -> Score:
    """Read a Standard MIDI File into a :class:`Score`.

    Notes keep their ticks exactly. Parts are split by track and channel; the first tempo and
    time signature apply to the whole score (later changes are logged and ignored). A note
    still held at the end of its track ends there.

    Raises
    ------
    InputError
        If the file is missing or not a readable MIDI file.
    """
    path = Path(path)
    midi = _open_midi(path)
    tempos: list[int] = []
    signatures: list[tuple[int, int]] = []
    tracks: list[Track] = []
    length = 0
    for index, mido_track in enumerate(midi.tracks):
        parts, track_length = _read_track(mido_track, index, tempos, signatures)
        tracks.extend(parts)
        length = max(length, track_length)
    if len(set(tempos)) > 1:
        log.warning("%s changes tempo; using the first tempo for the whole piece.", path)
    return Score(
        bpm=_bpm_of(tempos[0]) if tempos else 120.0,
        tracks=tracks,
        length_ticks=length,
        ticks_per_beat=midi.ticks_per_beat or TICKS_PER_BEAT,
        time_signature=signatures[0] if signatures else (4, 4),
    )
