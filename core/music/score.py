"""The score: plain value types between the generators and MIDI/audio output."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ..grid import TICKS_PER_BEAT as TICKS_PER_BEAT
from ..grid import TICKS_PER_TIMESTEP as TICKS_PER_TIMESTEP
from ..grid import seconds_to_ticks, ticks_to_seconds


@dataclass(frozen=True, order=True)
class Note:
    """One note: start and duration in ticks, MIDI pitch and velocity (1-127)."""

    start: int
    duration: int
    pitch: int
    velocity: int

    @property
    def end(self) -> int:
        """Tick at which the note stops sounding."""
        return self.start + self.duration


@dataclass
class Track:
    """A named part played by one General MIDI program on one channel."""

    name: str
    program: int
    channel: int
    notes: list[Note] = field(default_factory=list)


@dataclass
class Score:
    """A piece of music on a fixed tempo and 4/4 grid."""

    bpm: float
    tracks: list[Track]
    length_ticks: int
    ticks_per_beat: int = TICKS_PER_BEAT
    time_signature: tuple[int, int] = (4, 4)

    def seconds(self, ticks: int) -> float:
        """Convert ticks to seconds at the score's tempo."""
        return ticks_to_seconds(ticks, self.bpm, self.ticks_per_beat)

    def ticks(self, seconds: float) -> int:
        """Nearest tick to ``seconds`` at the score's tempo."""
        return seconds_to_ticks(seconds, self.bpm, self.ticks_per_beat)

    @property
    def duration_s(self) -> float:
        """Length of the piece in seconds."""
        return self.seconds(self.length_ticks)


def tidy_notes(notes: Iterable[Note], end_tick: int) -> list[Note]:
    """Sorted notes that fit ``[0, end_tick)`` and never overlap themselves.

    A note that is still sounding when the same pitch starts again is shortened to end there
    (a synthesizer would otherwise cut it at the second note-off, or hang it). Notes clipped to
    nothing are dropped. Velocities are clamped to 1-127.

    Parameters
    ----------
    notes
        Notes of one track (one channel).
    end_tick
        Length of the piece; nothing sounds past it.
    """
    ordered = sorted(n for n in notes if 0 <= n.start < end_tick and n.duration > 0)
    last_by_pitch: dict[int, int] = {}
    tidy: list[Note] = []
    for note in ordered:
        previous = last_by_pitch.get(note.pitch)
        if previous is not None and tidy[previous].end > note.start:
            earlier = tidy[previous]
            tidy[previous] = Note(
                earlier.start, note.start - earlier.start, earlier.pitch, earlier.velocity
            )
        end = min(note.end, end_tick)
        last_by_pitch[note.pitch] = len(tidy)
        tidy.append(
            Note(note.start, end - note.start, note.pitch, int(min(127, max(1, note.velocity))))
        )
    return [n for n in tidy if n.duration > 0]
