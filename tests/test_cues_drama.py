"""Cues with drama (issue 18), judged from the MIDI files by the independent music judge:
two generators a listener tells apart, a texture that grows to a held apex, every part in
range and spaced, no full close while the tension rises, an ending heard before the fade,
and an orchestral percussion part on the notes the Orchestra Kit plays."""

from __future__ import annotations

from pathlib import Path

import pyloudnorm
import pytest

from core.cli import main
from core.config import Config
from core.generators.frame import assemble_score
from core.music.instruments import PRESETS, TIMPANI_KEYS, programs_for
from core.music.score import Note, Score
from core.timeline import EmotionTimeline, TimeGrid
from tests.audio import read_wav_rate
from tests.helpers import BAR, GENERATORS, benchmark_module, compose, judged

judge = benchmark_module("music_judge")
#: A short thriller: calm dark 6 bars, a tension ramp of 8, a climax of 4, a bright release.
AROUSAL = [0.1] * 6 + [0.2 + 0.7 * i / 7 for i in range(8)] + [0.95] * 4 + [0.4] * 6
VALENCE = [0.2] * 6 + [0.3] * 8 + [0.15] * 4 + [0.8] * 6
CALM, CLIMAX = range(6), range(14, 18)


def thriller(name: str, seed: int = 1, preset: str = "piano") -> Score:
    """The short thriller composed by generator ``name``."""
    return compose(name, EmotionTimeline.from_values(AROUSAL, VALENCE, TimeGrid()), seed, preset)


@pytest.mark.parametrize("seed", [1, 2])
def test_scales_and_chords_differ_in_pad_and_bass_for_the_same_seed(seed: int) -> None:
    scales, chords = judged(thriller("scales", seed)), judged(thriller("chords", seed))
    for part in ("Harmony", "Bass"):
        same = judge.note_identity(judge.part_notes(scales, part), judge.part_notes(chords, part))
        assert same <= 0.2, (part, same)


@pytest.mark.parametrize("name", GENERATORS)
def test_the_texture_grows_from_three_voices_to_eight_at_the_climax(name: str) -> None:
    voices = judge.polyphony_per_bar(judged(thriller(name)))
    climax = sorted(voices[bar] for bar in CLIMAX)
    assert max(voices[bar] for bar in CALM) <= 3, voices
    # Median of the climax bars (as bench_music reports it); a cadence bar may dip to 7.
    assert climax[len(climax) // 2] >= 8 and climax[0] >= 7, voices


@pytest.mark.parametrize("name", GENERATORS)
def test_the_apex_is_held_in_the_climax(name: str) -> None:
    pitch, bar, beats = judge.apex(judged(thriller(name)))
    assert bar in CLIMAX and beats >= 2, (pitch, bar, beats)


@pytest.mark.parametrize("preset", sorted(PRESETS))
@pytest.mark.parametrize("name", GENERATORS)
def test_every_part_stays_in_its_instruments_range(name: str, preset: str) -> None:
    assert not any(judge.out_of_range_notes(judged(thriller(name, preset=preset))).values())


@pytest.mark.parametrize("name", GENERATORS)
def test_the_low_register_keeps_pistons_spacing(name: str) -> None:
    assert judge.spacing_violation_share(judged(thriller(name))) <= 0.05


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("name", GENERATORS)
def test_no_authentic_cadence_while_the_tension_rises(name: str, seed: int) -> None:
    closes = set(judge.authentic_cadence_bars(judged(thriller(name, seed))))
    assert not closes & set(judge.rising_bars(AROUSAL)), closes


@pytest.mark.parametrize("name", GENERATORS)
def test_the_final_tonic_arrives_a_bar_before_the_fade_and_is_held(name: str) -> None:
    score = thriller(name)
    fade = score.ticks(Config().render.fade_s)
    bass = next(t for t in score.tracks if t.name == "Bass").notes
    last = max(bass, key=lambda n: n.start)
    assert last.start <= score.length_ticks - fade - BAR
    assert last.end == score.length_ticks
    piece = judged(score)
    assert judge.ends_on_tonic(piece)
    lead = next(t for t in score.tracks if t.name in ("Melody", "Figuration"))
    fading = [n for n in lead.notes if score.length_ticks - fade < n.end < score.length_ticks]
    assert not fading  # no note of the tune stops inside the fade


@pytest.mark.parametrize("preset", ["strings", "orchestral"])
def test_orchestral_percussion_is_timpani_bass_drum_and_cymbal(preset: str) -> None:
    score = thriller("scales", preset=preset)
    drums = next(t for t in score.tracks if t.channel == 9).notes
    keys = {n.pitch for n in drums}
    assert keys and keys <= {36, 38, 57, *TIMPANI_KEYS}
    # Tuned to the tonic and dominant of the key: home (the final bass note) or its relative.
    home = next(t for t in score.tracks if t.name == "Bass").notes[-1].pitch % 12
    keys_here = {home, (home + 3) % 12, (home + 9) % 12}
    allowed = keys_here | {(k + 7) % 12 for k in keys_here}
    timpani = {key % 12 for key in keys if key in TIMPANI_KEYS}
    assert timpani and timpani <= allowed, (timpani, home)


def test_a_pop_preset_keeps_the_drum_set() -> None:
    drums = next(t for t in thriller("scales", preset="electric").tracks if t.channel == 9).notes
    assert {42, 38, 36} <= {n.pitch for n in drums}


def test_timpani_keep_every_tuning_on_the_orchestra_kit() -> None:
    # Keys 41-53 of the Orchestra Kit are timpani tuned F2-F3: a timpano on the dominant of
    # C# (key 44) or on E (key 52) is as much a timpano as one on F, and must not be dropped
    # or turned into a cymbal as a drum set's hi-hat or crash on those keys would be.
    timpani = [Note(i * 120, 120, key, 90) for i, key in enumerate(range(41, 54))]
    score = assemble_score(120.0, 2 * BAR, {"percussion": timpani}, programs_for("orchestral"))
    assert [n.pitch for n in score.tracks[0].notes] == list(range(41, 54))


@pytest.mark.parametrize("preset", ["piano", "orchestral"])
@pytest.mark.parametrize("name", GENERATORS)
def test_the_tune_sits_over_the_accompaniment_and_the_drums(
    name: str, preset: str, tmp_path: Path
) -> None:
    """Measured as a listener hears it: integrated loudness of the rendered stems."""
    emotions = tmp_path / "thriller.txt"
    lines = [f"{a:.3f}, {v:.3f}\n" for a, v in zip(AROUSAL, VALENCE, strict=True)]
    emotions.write_text("".join(lines))
    out = tmp_path / "out"
    argv = ["compose", str(emotions), "-g", name, "--preset", preset, "--seed", "1"]
    assert main([*argv, "--stems", "--out", str(out), "--quiet"]) == 0
    level = {}
    for stem in out.glob("thriller.*.wav"):
        rate, frames = read_wav_rate(stem)
        level[stem.name.split(".")[1]] = pyloudnorm.Meter(rate).integrated_loudness(frames)
    tune = level["melody"] if name == "scales" else level["figure"]
    assert tune - max(level["harmony"], level["bass"]) >= 3.0, level
    assert tune - level["percussion"] >= 3.0, level


def test_drum_kits_are_evened_to_the_standard_kit() -> None:
    """The electronic kit (25) is measured 6 LU over the standard kit: it plays softer."""
    groove = [Note(i * BAR // 4, BAR // 16, 36 if i % 2 else 38, 80) for i in range(8)]
    played = {
        kit: assemble_score(120, 2 * BAR, {"percussion": groove}, {"percussion": kit})
        .tracks[0]
        .notes
        for kit in (0, 25)
    }
    assert [n.velocity for n in played[0]] == [80] * 8
    assert all(n.velocity < 60 for n in played[25])
