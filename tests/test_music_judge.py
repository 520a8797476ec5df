"""The independent music judge (benchmarks/music_judge.py) on small passages whose answer a
musician knows: parallel fifths, planted clashes, scales in major and minor, rank correlation."""

from __future__ import annotations

import io
import math

import mido
import pytest

from tests.helpers import benchmark_module

judge = benchmark_module("music_judge")

C, D, E, F, G, A, B = 60, 62, 64, 65, 67, 69, 71


def chords_as_midi(chords: list[tuple[int, ...]], beats_each: float = 1.0) -> mido.MidiFile:
    """A type-1 MIDI file with one track per voice (lowest voice first) playing ``chords``."""
    midi = mido.MidiFile(type=1, ticks_per_beat=480)
    conductor = mido.MidiTrack()
    conductor.append(mido.MetaMessage("time_signature", numerator=4, denominator=4))
    conductor.append(mido.MetaMessage("set_tempo", tempo=500_000))
    midi.tracks.append(conductor)
    length = round(beats_each * 480)
    for voice in range(len(chords[0])):
        track = mido.MidiTrack()
        for chord in chords:
            track.append(mido.Message("note_on", channel=voice, note=chord[voice], velocity=80))
            track.append(mido.Message("note_off", channel=voice, note=chord[voice], time=length))
        midi.tracks.append(track)
    buffer = io.BytesIO()
    midi.save(file=buffer)
    buffer.seek(0)
    return mido.MidiFile(file=buffer)


def melody_over_bass(melody: list[int], bass: int, beats_each: float = 1.0):
    """A 4/4 piece: ``melody`` in part 0 and one held ``bass`` note in part 1."""
    rows = [(i * beats_each, beats_each, pitch, 0) for i, pitch in enumerate(melody)]
    rows.append((0.0, len(melody) * beats_each, bass, 1))
    return judge.notes_from_tuples(rows)


def test_root_position_triads_a_step_apart_are_parallel_fifths_and_octaves():
    # C major to D major to E minor, root position, the soprano on the fifth: parallel fifths.
    fifths = judge.piece_from_midi(chords_as_midi([(48, C, E, G), (50, D, 66, A), (52, E, G, B)]))
    assert judge.outer_voice_parallels(fifths) == (2, 2)
    # The same with the soprano doubling the root: parallel octaves.
    octaves = judge.piece_from_midi(chords_as_midi([(48, E, G, 72), (50, 66, A, 74)]))
    assert judge.outer_voice_parallels(octaves) == (1, 1)
    assert judge.craft(fifths)["parallels_per_100_moves"] == 100.0


def test_textbook_cadence_has_no_parallels():
    # I - IV - V - I with the soprano C - C - B - C: outer voices in contrary or oblique motion.
    cadence = judge.piece_from_midi(
        chords_as_midi([(48, E, G, 72), (53, F, A, 72), (55, D, G, B), (48, E, G, 72)])
    )
    parallels, moves = judge.outer_voice_parallels(cadence)
    assert moves == 2
    assert parallels == 0


def test_contrary_motion_into_a_fifth_is_not_parallel():
    piece = judge.notes_from_tuples(
        [(0, 1, 48, 1), (0, 1, 64, 0), (1, 1, 43, 1), (1, 1, 62, 0), (2, 1, 48, 1), (2, 1, 67, 0)]
    )
    # 48-64 (major 10th) -> 43-62 (fifth): both move down, different classes;
    # 43-62 (fifth) -> 48-67 (fifth): both up, parallel.
    assert judge.outer_voice_parallels(piece) == (1, 2)


def test_semitone_clashes_are_found_where_planted():
    clean = judge.piece_from_midi(chords_as_midi([(48, E, G, 72), (53, F, A, 72)]))
    assert judge.semitone_clash_share(clean) == 0.0
    # Two beats of C major, then two with a major seventh (B against C) and a minor ninth.
    planted = judge.piece_from_midi(
        chords_as_midi([(48, E, G, 72), (48, E, G, 72), (48, E, G, 83), (48, E, 61, G)])
    )
    assert judge.semitone_clash_share(planted) == 0.5


def test_percussion_is_left_out_of_pitch_measures_but_counts_as_onsets():
    rows = [(0, 4, C, 0), (0, 4, E, 1)] + [(i / 2, 0.5, 37 + i % 2, 2, True) for i in range(8)]
    piece = judge.notes_from_tuples(rows)
    assert judge.semitone_clash_share(piece) == 0.0  # 37/38 would clash with each other
    assert judge.pitch_range(piece) == 4
    assert list(judge.onsets_per_bar(piece)) == [10]


def test_mode_of_a_c_major_and_an_a_minor_scale():
    major = melody_over_bass([C, D, E, F, G, A, B, 72], bass=48, beats_each=0.5)
    assert judge.bar_modes(major) == ["major"]
    assert judge.piece_key(major) == (0, "major")
    harmonic_minor = melody_over_bass([A, B, 72, 74, 76, 77, 80, 81], bass=45, beats_each=0.5)
    assert judge.bar_modes(harmonic_minor) == ["minor"]
    assert judge.piece_key(harmonic_minor) == (9, "minor")
    # The natural minor has C major's notes; the tonic in the bass still makes it A minor.
    natural_minor = melody_over_bass([A, B, 72, 74, 76, 77, 79, 81], bass=45, beats_each=0.5)
    assert judge.piece_key(natural_minor) == (9, "minor")


def test_mode_agreement_counts_only_bars_clearly_away_from_neutral():
    bars = [C, D, E, F, G, A, B, 72], [A, B, 72, 74, 76, 77, 80, 81]
    rows = [(bar * 4 + i * 0.5, 0.5, pitch, 0) for bar, scale in enumerate(bars)
            for i, pitch in enumerate(scale)]  # fmt: skip
    rows += [(0, 4, 48, 1), (4, 4, 45, 1)]
    piece = judge.notes_from_tuples(rows)
    assert judge.mode_agreement(piece, [0.9, 0.1]) == (1.0, 2)
    assert judge.mode_agreement(piece, [0.1, 0.9]) == (0.0, 2)
    assert judge.mode_agreement(piece, [0.9, 0.52]) == (1.0, 1)


def test_spearman_sign_and_ties():
    assert judge.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert judge.spearman([1, 2, 3, 4], [9, 7, 5, 1]) == pytest.approx(-1.0)
    assert judge.spearman([1, 2, 3], [1, 3, 2]) == pytest.approx(0.5)
    # Ties take their mean rank: ranks (1.5, 1.5, 3) against (1, 2, 3).
    assert judge.spearman([5, 5, 9], [1, 2, 3]) == pytest.approx(math.sqrt(3) / 2)
    assert math.isnan(judge.spearman([1, 1, 1], [1, 2, 3]))


def test_onsets_follow_a_rising_arousal():
    rows = [(bar * 4 + i * 4 / (bar + 1), 4 / (bar + 1), C, 0) for bar in range(4)
            for i in range(bar + 1)]  # fmt: skip
    piece = judge.notes_from_tuples(rows)
    assert list(judge.onsets_per_bar(piece)) == [1, 2, 3, 4]
    assert judge.spearman(judge.onsets_per_bar(piece), [0.1, 0.3, 0.5, 0.9]) > 0.99


def test_on_beat_melody_outside_the_chord_is_counted_and_passing_tones_are_not():
    chord = [(0, 4, 48, 1), (0, 4, 55, 1)]  # C and G: the chord shapes allow E or Eb above
    melody = [(0, 1, E, 0), (1, 0.5, F, 0), (1.5, 0.5, G, 0), (2, 1, D, 0), (3, 1, 72, 0)]
    piece = judge.notes_from_tuples(chord + melody)
    # Beat 1: E makes C major (in). Beat 2: F over C-G is no chord (out). Beat 3: D (out).
    # Beat 4: C (in). The G struck between beats 2 and 3 is not judged.
    assert judge.onbeat_nonchord_share(piece) == 0.5


def test_literal_bar_repeats_and_the_final_tonic():
    bar = [(0, 1, C, 0), (1, 1, E, 0), (2, 2, G, 0)]
    varied = [(0, 1, C, 0), (1, 1, F, 0), (2, 2, A, 0)]
    rows = bar + [(4 + s, d, p, v) for s, d, p, v in varied]
    rows += [(8 + s, d, p, v) for s, d, p, v in bar] + [(12 + s, d, p, v) for s, d, p, v in bar]
    bass = [(0, 4, 48, 1), (4, 4, 53, 1), (8, 4, 55, 1), (12, 4, 48, 1)]
    piece = judge.notes_from_tuples(rows + bass)
    # Bar 3 has another bass than bar 1; bar 4 returns to bar 1 in every part.
    assert judge.bar_repeat_share(piece) == 0.25
    melody_only = judge.notes_from_tuples(rows)
    assert judge.bar_repeat_share(melody_only) == 0.5
    assert judge.ends_on_tonic(piece)
    half_cadence = judge.notes_from_tuples(rows + bass[:3])
    assert not judge.ends_on_tonic(half_cadence)


def test_texture_measures():
    piece = judge.piece_from_midi(chords_as_midi([(48, E, G, 72), (53, F, A, 72)]))
    assert judge.polyphony(piece) == 4.0
    assert judge.onsets_per_beat(piece) == 4.0
    assert judge.pitch_range(piece) == 24
    assert 0.0 < judge.pitch_class_entropy(piece) < math.log2(12)
    one_class = judge.notes_from_tuples([(0, 4, C, 0), (0, 4, 72, 1)])
    assert judge.pitch_class_entropy(one_class) == 0.0


def test_low_interval_spacing():
    # F2 under A2 (a third below B-flat 2) is muddy; C3 under E3 and F2 under C3 are not.
    muddy = judge.notes_from_tuples([(0, 4, 41, 0), (0, 4, 45, 1)])
    clear = judge.notes_from_tuples([(0, 4, 48, 0), (0, 4, 52, 1), (4, 4, 41, 0), (4, 4, 48, 1)])
    assert judge.spacing_violation_share(muddy) == 1.0
    assert judge.spacing_violation_share(clear) == 0.0


def test_authentic_cadences_are_found_only_where_dominant_resolves_home():
    # C: I IV V7 | I — the V7-I over the bar line closes; I-IV inside the bar does not.
    progression = [(48, E, G, C + 12), (53, F, A, C + 12), (55, F, B, D + 12), (55, F, B, D + 12)]
    rows = [(beat, 1, pitch, voice) for beat, chord in enumerate(progression)
            for voice, pitch in enumerate(chord)]  # fmt: skip
    rows += [(4, 4, pitch, voice) for voice, pitch in enumerate((48, E, G, C + 12))]
    assert judge.authentic_cadence_bars(judge.notes_from_tuples(rows)) == [1]
    deceptive = rows[:-4] + [(4, 4, p, v) for v, p in enumerate((45, E, A, C + 12))]
    assert judge.authentic_cadence_bars(judge.notes_from_tuples(deceptive)) == []
    # Bar 3 has risen but rises no further: the build is over there.
    assert judge.rising_bars([0.2, 0.3, 0.4, 0.5, 0.5, 0.5]) == [1, 2]


def test_identity_polyphony_and_apex():
    tune = [(b, 1, p, 0) for b, p in enumerate((C, E, G, 72, G, E))]
    piece = judge.notes_from_tuples([*tune, (0, 8, 48, 1), (4, 4, 43, 1)])
    transposed = judge.notes_from_tuples([(s, d, p + 5, v) for s, d, p, v in tune])
    assert judge.transposed_identity(piece, transposed) == 1.0
    assert judge.note_identity({(0, 60)}, {(0, 62)}) == 0.0
    assert judge.polyphony_per_bar(piece) == [
        2.0,
        2.5,
    ]  # half of bar 2 has the tune over both basses
    assert judge.apex(piece) == (72, 0, 1.0)
    assert judge.chord_vocabulary_entropy(judge.notes_from_tuples([(0, 4, C, 0)])) == 0.0


def _groove(bars: int, fill: list[tuple[float, int, int]] | None = None) -> list[tuple]:
    """Kick on 1 and 3, hi-hat eighths for ``bars`` bars, a C major chord per bar, and
    ``fill`` rows (beat in the piece, key, velocity) as drums."""
    rows: list[tuple] = []
    for bar in range(bars):
        rows += [(bar * 4 + b, 0.25, 36, 9, True, 90) for b in (0, 2)]
        rows += [(bar * 4 + e / 2, 0.25, 42, 9, True, 70) for e in range(8)]
        rows += [(bar * 4, 4, p, 0) for p in (C, E, G)]
    rows += [(beat, 0.25, key, 9, True, velocity) for beat, key, velocity in fill or []]
    return rows


def test_transitions_into_a_bar_are_told_apart():
    plain = judge.notes_from_tuples(_groove(4))
    assert judge.transition_before(plain, 3) == ""
    roll = [(10 + i / 4, 38, 50 + 8 * i) for i in range(8)]
    assert judge.transition_before(judge.notes_from_tuples(_groove(4, roll)), 3) == "riser"
    toms = [(11, 50, 90), (11.5, 45, 90)]
    assert judge.transition_before(judge.notes_from_tuples(_groove(4, toms)), 3) == "fill"
    # The same toms in every bar are the groove, not a fill.
    every_bar = [(b * 4 + 3 + o, k, 90) for b in range(4) for o, k in ((0, 50), (0.5, 45))]
    assert judge.transition_before(judge.notes_from_tuples(_groove(4, every_bar)), 3) == ""
    sus = [(bar * 4, 4, p, 0) for bar in range(2) for p in (C, E, G)]
    sus += [(8, 3, p, 0) for p in (C, E, G)] + [(11, 1, p, 0) for p in (C, F, G)]
    sus += [(12, 4, p, 0) for p in (C, E, G)]
    assert judge.transition_before(judge.notes_from_tuples(sus), 3) == "sus"
    assert judge.is_suspended(frozenset({0, 2, 7})) and not judge.is_suspended(frozenset({0, 4, 7}))


def test_jump_bars_by_either_dimension():
    assert judge.jump_bars([0.1, 0.1, 0.6, 0.6], [0.8, 0.3, 0.3, 0.35], 0.3) == [1, 2]
    assert judge.jump_bars([0.1, 0.1, 0.6, 0.6], [0.8, 0.3, 0.3, 0.35], 0.01) == [1, 2, 3]


def test_phrase_shapes_repeat_and_vary():
    def phrases(shapes: list[list[int]]) -> list[tuple]:
        rows = []
        for group, shape in enumerate(shapes):
            for beat, velocity in enumerate(shape):
                rows.append((group * 16 + beat, 1, 72, 0, False, velocity))
                rows.append((group * 16 + beat, 1, 48, 1, False, 100))  # low part: not the tune
        return rows

    swell = [60 + 2 * min(b, 15 - b) for b in range(16)]
    terrace = [60 if b < 8 else 90 for b in range(16)]
    fading = [100 - 3 * b for b in range(16)]
    same = judge.notes_from_tuples(phrases([swell, swell, [v + 10 for v in swell]]))
    assert judge.shape_repeat_share(same) == 1.0
    varied = judge.notes_from_tuples(phrases([swell, terrace, fading]))
    assert judge.shape_repeat_share(varied) == 0.0


def test_phrase_end_fills_and_broadening():
    fill_a = [(15, 38, 90), (15.5, 38, 90)]
    fill_b = [(31, 50, 90), (31.5, 45, 90)]
    fill_a2 = [(47, 38, 90), (47.5, 38, 90)]
    piece = judge.notes_from_tuples(_groove(12, fill_a + fill_b + fill_a2))
    assert judge.repeat_share(judge.phrase_end_drums(piece)) == 0.0
    repeated = judge.notes_from_tuples(
        _groove(12, fill_a + fill_a2 + [(31, 38, 90), (31.5, 38, 90)])
    )
    assert judge.repeat_share(judge.phrase_end_drums(repeated)) == 1.0
    busy = [(bar * 4 + q / 4, 0.25, 72, 1) for bar in range(6) for q in range(16)]
    broad = busy + [(24 + q, 1, 72, 1) for q in range(8)]
    assert judge.ending_broadening(judge.notes_from_tuples(broad)) == pytest.approx(0.25)
    assert judge.ending_broadening(judge.notes_from_tuples(busy)) == pytest.approx(1.0)
