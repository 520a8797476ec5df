"""``--bpm auto``: the tempo that lands the cuts on beats, the re-gridded timeline, beats.csv."""

from __future__ import annotations

import json
import math
from pathlib import Path

import mido
import numpy as np
import pytest

from core.cli import main
from core.edit.beats import format_beats_csv, marker_names
from core.edit.tempo import fit_tempo, preferred_bpm, regrid
from core.timeline import EmotionStep, EmotionTimeline, TimeGrid
from tests.edit_clips import write_clip_with_audio

FPS = 24.0
#: 90 bpm at 24 fps is 16 frames a beat, so every beat falls on a frame.
BPM = 90.0
#: Cuts on beats 4, 10, 16 and 24 of 90 bpm (three of them downbeats). 135 bpm also puts
#: all four on beats, but only two on downbeats; 120 and 72 miss them.
CUT_BEATS = (4, 10, 16, 24)
CUTS_S = tuple(beat * 60.0 / BPM for beat in CUT_BEATS)


def test_cuts_on_beats_of_a_tempo_give_that_tempo() -> None:
    fit = fit_tempo(CUTS_S, FPS, mean_arousal=0.5)
    assert fit.bpm == pytest.approx(BPM, abs=0.05)
    assert all(fit.on_beat) and sum(fit.on_downbeat) == 3
    assert max(abs(d) for d in fit.offsets_s) < 0.5 / FPS


def test_downbeats_decide_between_tempi_that_hit_every_cut() -> None:
    excited = fit_tempo(CUTS_S, FPS, mean_arousal=1.0)  # the mood pulls towards 140
    assert excited.bpm == pytest.approx(BPM, abs=0.05)


def test_the_mood_decides_between_a_tempo_and_its_double() -> None:
    bar_s = 4 * 60.0 / 70.0  # cuts on bars of 70 bpm are on every other bar of 140 bpm
    cuts = [bar_s * k for k in (1, 2, 4, 5)]
    calm = fit_tempo(cuts, 25.0, mean_arousal=0.1)
    excited = fit_tempo(cuts, 25.0, mean_arousal=0.9)
    assert calm.bpm == pytest.approx(70.0, abs=0.05)
    assert excited.bpm == pytest.approx(140.0, abs=0.05)
    assert all(calm.on_downbeat) and all(excited.on_downbeat)


def test_cuts_at_frames_of_a_real_edit_land_within_half_a_frame() -> None:
    rng = np.random.default_rng(3)
    beat_s = 60.0 / 104.0
    beats = np.sort(rng.choice(np.arange(2, 120), 12, replace=False))
    cuts = np.round(beats * beat_s * 25.0) / 25.0  # an editor cuts on frames, not on beats
    fit = fit_tempo(list(cuts), 25.0, mean_arousal=0.5)
    assert sum(fit.on_beat) == 12
    assert fit.bpm == pytest.approx(104.0, abs=0.1)


def test_without_cuts_calm_pictures_get_slower_music() -> None:
    calm, excited = fit_tempo([], 25.0, 0.2), fit_tempo([], 25.0, 0.8)
    assert 70.0 <= calm.bpm < excited.bpm <= 140.0
    assert calm.bpm == pytest.approx(preferred_bpm(0.2, 70.0, 140.0), abs=0.05)
    assert calm.summary()["cuts_on_beat"] == 0


def test_the_range_is_kept() -> None:
    fit = fit_tempo(CUTS_S, FPS, 0.5, low=100.0, high=130.0)
    assert 100.0 <= fit.bpm <= 130.0


def test_regrid_keeps_each_stretch_of_the_curves() -> None:
    grid = TimeGrid(120.0)  # 2 s steps
    arousal = [0.1, 0.9, 0.5, 0.3, 0.7]
    steps = tuple(
        EmotionStep(2.0 * i, min(2.0 * i + 2.0, 9.0), a, 1.0 - a, {"face_valence": v})
        for i, (a, v) in enumerate(zip(arousal, [math.nan, 0.8, 0.6, math.nan, 0.2], strict=True))
    )
    timeline = EmotionTimeline(grid, 9.0, steps, cuts_s=(4.0,))
    moved = regrid(timeline, TimeGrid(80.0))  # 3 s steps
    assert [s.start_s for s in moved.steps] == [0.0, 3.0, 6.0]
    assert moved.steps[-1].end_s == 9.0 and moved.cuts_s == (4.0,)
    # 0-3 s: two thirds of step 0 (0.1) and one third of step 1 (0.9).
    assert moved.steps[0].arousal == pytest.approx((2 * 0.1 + 0.9) / 3)
    assert moved.steps[0].valence == pytest.approx(1 - (2 * 0.1 + 0.9) / 3)
    # A source that saw nothing in part of a step is averaged over the rest only.
    assert moved.steps[0].sources["face_valence"] == pytest.approx(0.8)
    # The area under the curve is the same on both grids.
    old = sum((s.end_s - s.start_s) * s.arousal for s in timeline.steps)
    new = sum((s.end_s - s.start_s) * s.arousal for s in moved.steps)
    assert new == pytest.approx(old)


def test_beats_csv_numbers_bars_and_beats() -> None:
    rows = format_beats_csv(120.0, 2.6).splitlines()
    assert rows == [
        "time_s,bar,beat",
        "0.0000,1,1",
        "0.5000,1,2",
        "1.0000,1,3",
        "1.5000,1,4",
        "2.0000,2,1",
        "2.5000,2,2",
    ]


def test_marker_names_read_in_the_timeline() -> None:
    assert marker_names(120.0, 4.5, (2.5,)) == [
        (0.0, "bar 1"),
        (2.0, "bar 2"),
        (2.5, "hit 2.50 s"),
        (4.0, "bar 3"),
    ]


@pytest.fixture(scope="module")
def auto_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tempo")
    clip = write_clip_with_audio(folder / "cuts.mp4", 18.0, fps=FPS, cuts_s=CUTS_S)
    out = folder / "out"
    assert main(["score", str(clip), "--bpm", "auto", "--quiet", "--out", str(out)]) == 0
    return out


def test_score_with_bpm_auto_puts_the_detected_cuts_on_beats(auto_run: Path) -> None:
    manifest = json.loads((auto_run / "score.json").read_text())
    tempo = manifest["edit"]["tempo"]
    assert tempo["auto"] and tempo["bpm"] == pytest.approx(BPM, abs=0.05)
    assert tempo["cuts"] == len(CUTS_S) and tempo["cuts_on_beat"] == len(CUTS_S)
    assert tempo["cuts_on_downbeat"] == 3
    for row, cut in zip(tempo["cut_offsets_s"], CUTS_S, strict=True):
        assert row["cut_s"] == pytest.approx(cut, abs=0.5 / FPS)
        assert abs(row["offset_s"]) <= 0.5 / FPS
    # The music and the emotion grid are on the fitted tempo.
    assert manifest["grid"]["bpm"] == pytest.approx(tempo["bpm"])
    midi = mido.MidiFile(auto_run / "cuts.mid")
    tempos = [m.tempo for track in midi.tracks for m in track if m.type == "set_tempo"]
    assert mido.tempo2bpm(tempos[0]) == pytest.approx(tempo["bpm"], abs=1e-3)
    beats = (auto_run / "cuts.beats.csv").read_text().splitlines()
    assert beats[0] == "time_s,bar,beat"
    times = [float(row.split(",")[0]) for row in beats[1:]]
    assert np.allclose(np.diff(times), 60.0 / tempo["bpm"], atol=1e-4)
    assert times[-1] < 18.0 <= times[-1] + 60.0 / tempo["bpm"] + 1e-3
    assert beats[1 + 16] == f"{times[16]:.4f},5,1"


def test_an_empty_bpm_range_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    clip = write_clip_with_audio(tmp_path / "c.mp4", 1.0)
    args = ["score", str(clip), "--bpm", "auto", "--bpm-range", "140-70", "--out", str(tmp_path)]
    assert main([*args, "--quiet"]) == 2
    assert "--bpm-range 140-70 is empty" in capsys.readouterr().err
    assert main(["emotions", str(clip), "--bpm", "auto", "--out", str(tmp_path / "e")]) == 2
    assert "--bpm auto" in capsys.readouterr().err
    assert main(["score", str(clip), "--bpm-range", "80-100", "--out", str(tmp_path)]) == 2
    assert "add --bpm auto" in capsys.readouterr().err
    assert not list(tmp_path.glob("*/*"))
