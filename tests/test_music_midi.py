"""MIDI files: structure, exact round trip, unreadable input."""

from __future__ import annotations

from pathlib import Path

import mido
import pytest

from core.config import Config
from core.errors import InputError
from core.generators import get_composer
from core.music.midi import midi_bytes, read_midi, write_midi
from core.music.plot import plot_piano_roll
from core.music.score import Note, Score, Track
from core.timeline import EmotionTimeline, TimeGrid


def chords_score(bpm: float = 120.0) -> Score:
    timeline = EmotionTimeline.from_values(
        [0.2, 0.6, 0.9, 0.4], [0.8, 0.4, 0.2, 0.7], grid=TimeGrid(bpm=bpm), cuts_s=(1.1,)
    )
    return get_composer("chords")(timeline, Config(), 4)


@pytest.mark.parametrize("bpm", [120.0, 97.3])
def test_round_trip_keeps_every_note_at_the_same_tick(tmp_path: Path, bpm: float) -> None:
    score = chords_score(bpm)
    path = tmp_path / "piece.mid"
    write_midi(score, path)
    back = read_midi(path)
    assert back.bpm == score.bpm
    assert back.length_ticks == score.length_ticks
    assert back.ticks_per_beat == 480
    assert back.time_signature == (4, 4)
    assert [(t.name, t.program, t.channel) for t in back.tracks] == [
        (t.name, t.program, t.channel) for t in score.tracks
    ]
    for original, read in zip(score.tracks, back.tracks, strict=True):
        assert read.notes == original.notes


def test_file_is_type_1_with_a_conductor_track_names_and_programs(tmp_path: Path) -> None:
    score = chords_score()
    path = tmp_path / "piece.mid"
    write_midi(score, path)
    midi = mido.MidiFile(path)
    assert midi.type == 1
    assert midi.ticks_per_beat == 480
    conductor = [m.type for m in midi.tracks[0]]
    assert {"track_name", "set_tempo", "time_signature"} <= set(conductor)
    assert not any(m.type == "note_on" for m in midi.tracks[0])
    for part, mido_track in zip(score.tracks, midi.tracks[1:], strict=True):
        assert mido_track.name == part.name
        programs = [m for m in mido_track if m.type == "program_change"]
        assert [(m.channel, m.program) for m in programs] == [(part.channel, part.program)]
        # Only the percussion part uses General MIDI's drum channel 10 (index 9).
        drums = part.name == "Percussion"
        assert all((m.channel == 9) == drums for m in mido_track if not m.is_meta)
    assert midi.length == pytest.approx(score.duration_s)


def test_bytes_are_deterministic() -> None:
    assert midi_bytes(chords_score()) == midi_bytes(chords_score())


def test_a_repeated_pitch_is_released_before_it_is_struck_again(tmp_path: Path) -> None:
    notes = [Note(0, 480, 60, 90), Note(480, 480, 60, 80), Note(960, 240, 60, 70)]
    score = Score(bpm=120.0, tracks=[Track("Lead", 0, 0, notes)], length_ticks=1920)
    path = tmp_path / "repeat.mid"
    write_midi(score, path)
    assert read_midi(path).tracks[0].notes == notes


def test_foreign_midi_with_zero_velocity_note_offs_and_a_held_note(tmp_path: Path) -> None:
    midi = mido.MidiFile(type=0, ticks_per_beat=96)
    track = mido.MidiTrack(
        [
            mido.Message("program_change", channel=4, program=24, time=0),
            mido.Message("note_on", channel=4, note=64, velocity=100, time=0),
            mido.Message("note_on", channel=4, note=64, velocity=0, time=96),
            mido.Message("note_on", channel=4, note=67, velocity=50, time=0),
            mido.MetaMessage("end_of_track", time=192),
        ]
    )
    midi.tracks.append(track)
    path = tmp_path / "foreign.mid"
    midi.save(path)
    score = read_midi(path)
    assert score.ticks_per_beat == 96
    assert score.bpm == 120.0
    assert score.tracks[0].program == 24
    assert score.tracks[0].channel == 4
    assert score.tracks[0].notes == [Note(0, 96, 64, 100), Note(96, 192, 67, 50)]


def test_unreadable_midi_is_refused_with_a_sentence(tmp_path: Path) -> None:
    fake = tmp_path / "notes.mid"
    fake.write_text("these are not MIDI bytes\n")
    with pytest.raises(InputError, match=r"not a readable MIDI file.*pass a Standard MIDI File"):
        read_midi(fake)
    truncated = tmp_path / "truncated.mid"
    truncated.write_bytes(midi_bytes(chords_score())[:40])
    with pytest.raises(InputError, match="not a readable MIDI file"):
        read_midi(truncated)
    with pytest.raises(InputError, match="does not exist"):
        read_midi(tmp_path / "missing.mid")
    with pytest.raises(InputError, match="directory"):
        read_midi(tmp_path)


def test_piano_roll_png_from_a_score_and_from_a_midi_file(tmp_path: Path) -> None:
    score = chords_score()
    midi_path = tmp_path / "piece.mid"
    write_midi(score, midi_path)
    for source, name in ((score, "a.png"), (midi_path, "b.png")):
        plot_piano_roll(source, tmp_path / name)
        data = (tmp_path / name).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
        assert len(data) > 5000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "b.png", "piece.mid"]
