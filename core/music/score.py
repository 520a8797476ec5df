"""The score: plain value types between the generators and MIDI/audio output."""

from __future__ import annotations

from dataclasses import dataclass, field

TICKS_PER_BEAT = 480
TICKS_PER_TIMESTEP = TICKS_PER_BEAT // 4  # a 16th note


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
        return ticks * 60.0 / (self.bpm * self.ticks_per_beat)

    @property
    def duration_s(self) -> float:
        """Length of the piece in seconds."""
        return self.seconds(self.length_ticks)
