"""End to end through the real CLI: real decoding, FluidSynth, SoundFont and muxing."""

from __future__ import annotations

import csv
import json
import threading
from pathlib import Path

import av
import mido
import pytest

from core.cli import main
from core.config import Config
from core.errors import Cancelled
from core.music.analysis import bar_keys
from core.music.midi import read_midi
from core.pipeline import score_video

#: Every file a default `moodscore score` of the clip writes.
DEFAULT_OUTPUT_FILES = {
    "dark_bright.mp4",
    "dark_bright.mid",
    "dark_bright.wav",
    "dark_bright.emotions.txt",
    "dark_bright.emotions.csv",
    "dark_bright.cuts.csv",
    "dark_bright.emotions.png",
    "dark_bright.beats.csv",
    "score.json",
}


def _video_packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(video=0) if p.size]


@pytest.fixture(scope="module")
def scored(dark_bright_clip: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("scored") / "out"
    assert main(["score", str(dark_bright_clip), "2", "--out", str(out), "--quiet"]) == 0
    return out


def test_score_writes_every_output(scored: Path) -> None:
    assert {p.name for p in scored.iterdir()} == DEFAULT_OUTPUT_FILES


def test_scored_video_copies_the_video_and_adds_one_music_track(
    scored: Path, dark_bright_clip: Path
) -> None:
    assert _video_packets(scored / "dark_bright.mp4") == _video_packets(dark_bright_clip)
    with av.open(str(scored / "dark_bright.mp4")) as container:
        video = container.streams.video[0]
        (audio,) = container.streams.audio
        video_s = float(video.duration * video.time_base)
        audio_s = float(audio.duration * audio.time_base)
        assert audio.codec_context.name == "aac"
        assert abs(audio_s - video_s) <= 1 / 25


def test_emotions_follow_the_picture(scored: Path) -> None:
    with (scored / "dark_bright.emotions.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 4  # 8 s at 120 bpm: four one-bar steps
    first, second = rows[:2], rows[2:]
    for key in ("arousal", "valence"):
        assert min(float(r[key]) for r in second) > max(float(r[key]) for r in first)
    lines = (scored / "dark_bright.emotions.txt").read_text().splitlines()
    assert [tuple(map(float, line.split(","))) for line in lines] == [
        pytest.approx((float(r["arousal"]), float(r["valence"])), abs=1e-6) for r in rows
    ]


def test_midi_rereads_and_the_manifest_tells_the_run(scored: Path) -> None:
    midi = mido.MidiFile(scored / "dark_bright.mid")
    notes = [m for t in midi.tracks for m in t if m.type == "note_on" and m.velocity > 0]
    assert midi.type == 1 and midi.ticks_per_beat == 480 and notes
    assert 7.5 < midi.length <= 8.01
    manifest = json.loads((scored / "score.json").read_text())
    assert manifest["generator"] == "chords" and manifest["seed"] == 0
    assert manifest["duration_s"] == pytest.approx(8.0, abs=0.05)
    assert set(manifest["outputs"].values()) == DEFAULT_OUTPUT_FILES
    assert {"numpy", "av", "mido"} <= set(manifest["versions"])


def test_dark_half_sounds_minor_and_bright_half_major(scored: Path) -> None:
    """Judged from the MIDI file's pitch content (key profiles), not the generator's variables."""
    keys = bar_keys(read_midi(scored / "dark_bright.mid"))
    assert len(keys) == 4
    assert [k.mode for k in keys] == ["minor", "minor", "major", "major"]


def test_rerun_gives_identical_midi_bytes(
    scored: Path, dark_bright_clip: Path, tmp_path: Path
) -> None:
    again = tmp_path / "again"
    assert (
        main(
            [
                "score",
                str(dark_bright_clip),
                "--generator",
                "chords",
                "--out",
                str(again),
                "--quiet",
            ]
        )
        == 0
    )
    assert (again / "dark_bright.mid").read_bytes() == (scored / "dark_bright.mid").read_bytes()


def test_keep_original_audio_adds_a_second_track(dark_bright_clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "both"
    assert (
        main(
            [
                "score",
                str(dark_bright_clip),
                "-g",
                "scales",
                "--keep-original-audio",
                "--sources",
                "colour",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    with av.open(str(out / "dark_bright.mp4")) as container:
        assert len(container.streams.audio) == 2


@pytest.mark.parametrize("interrupt", [Cancelled, KeyboardInterrupt])
def test_an_interrupted_run_leaves_nothing(
    interrupt: type[BaseException], dark_bright_clip: Path, tmp_path: Path
) -> None:
    cancel = threading.Event()
    out = tmp_path / "interrupted"

    def stop_while_rendering(stage: str, fraction: float) -> None:
        if stage == "render":
            if interrupt is KeyboardInterrupt:
                raise KeyboardInterrupt
            cancel.set()

    config = Config()
    config.analysis.sources = ["colour"]
    with pytest.raises(interrupt):
        score_video(dark_bright_clip, out, config, progress=stop_while_rendering, cancel=cancel)
    assert not out.exists()


def test_interrupted_run_removes_the_folders_it_made(
    dark_bright_clip: Path, tmp_path: Path
) -> None:
    def stop(stage: str, fraction: float) -> None:
        if stage == "render":
            raise KeyboardInterrupt

    config = Config()
    config.analysis.sources = ["colour"]
    with pytest.raises(KeyboardInterrupt):
        score_video(dark_bright_clip, tmp_path / "a" / "b" / "out", config, progress=stop)
    assert list(tmp_path.iterdir()) == []


def test_interrupted_run_keeps_existing_files(dark_bright_clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "kept"
    out.mkdir()
    old = out / "dark_bright.wav"
    old.write_bytes(b"previous take")

    def stop(stage: str, fraction: float) -> None:
        if stage == "mux":
            raise KeyboardInterrupt

    config = Config()
    config.analysis.sources = ["colour"]
    with pytest.raises(KeyboardInterrupt):
        score_video(dark_bright_clip, out, config, force=True, progress=stop)
    assert [p.name for p in out.iterdir()] == ["dark_bright.wav"]
    assert old.read_bytes() == b"previous take"


def test_emotions_then_compose_then_plot(dark_bright_clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "emo"
    assert (
        main(
            [
                "emotions",
                str(dark_bright_clip),
                "--out",
                str(out),
                "--quiet",
                "--sources",
                "colour,motion",
            ]
        )
        == 0
    )
    assert {p.name for p in out.iterdir()} == {
        "dark_bright.emotions.txt",
        "dark_bright.emotions.csv",
        "dark_bright.cuts.csv",
        "dark_bright.emotions.png",
    }
    music = tmp_path / "music"
    emotions = out / "dark_bright.emotions.txt"
    assert main(["compose", str(emotions), "-g", "1", "--out", str(music), "--quiet"]) == 0
    assert {p.name for p in music.iterdir()} == {
        "dark_bright.mid",
        "dark_bright.wav",
        "dark_bright.beats.csv",
        "score.json",
    }
    for source in (emotions, music / "dark_bright.mid"):
        png = tmp_path / f"{source.name}.png"
        assert main(["plot", str(source), "--output", str(png), "--quiet"]) == 0
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_config_file_sets_options(dark_bright_clip: Path, tmp_path: Path) -> None:
    config = tmp_path / "moodscore.yaml"
    config.write_text(
        "bpm: 100\nmusic:\n  generator: scales\n  seed: 7\nanalysis:\n  sources: [colour]\n"
    )
    out = tmp_path / "cfg"
    assert (
        main(
            [
                "score",
                str(dark_bright_clip),
                "--config",
                str(config),
                "--seed",
                "9",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    manifest = json.loads((out / "score.json").read_text())
    assert manifest["generator"] == "scales"
    assert manifest["seed"] == 9  # the command line wins over the file
    assert manifest["grid"]["bpm"] == 100


def test_split_copies_segments(dark_bright_clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "parts"
    assert (
        main(["split", str(dark_bright_clip), "--seconds", "3", "--out", str(out), "--quiet"]) == 0
    )
    parts = sorted(out.iterdir())
    assert [p.name for p in parts] == [f"dark_bright_part00{i}.mp4" for i in (1, 2, 3)]
    frames = 0
    for part in parts:
        with av.open(str(part)) as container:
            frames += container.streams.video[0].frames
            assert len(container.streams.audio) == 1
    assert frames == 200
    copied = b"".join(b"".join(_video_packets(p)) for p in parts)
    assert copied == b"".join(_video_packets(dark_bright_clip))


def test_split_that_fails_part_way_leaves_no_segment(
    dark_bright_clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "parts"
    out.mkdir()
    theirs = out / "dark_bright_part002.mp4"
    theirs.write_bytes(b"someone else's segment")
    argv = ["split", str(dark_bright_clip), "--seconds", "3", "--out", str(out), "--quiet"]
    assert main(argv) == 2
    assert "dark_bright_part002.mp4 already exists" in capsys.readouterr().err
    # Segment 1 was already complete when segment 2 was refused; it is removed again.
    assert [p.name for p in out.iterdir()] == [theirs.name]
    assert theirs.read_bytes() == b"someone else's segment"
