"""Every bad input gets one sentence naming problem and fix, exit status 2, and no file written."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pytest

from tests.cli_run import one_sentence_error, run_cli
from tests.clips import render_frames, write_audio_only, write_clip


def _files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


@pytest.fixture
def short_clip(tmp_path: Path) -> Path:
    """1 s: shorter than one step (a 4/4 bar lasts 2 s at 120 bpm)."""
    frame = np.full((90, 160, 3), 120, np.uint8)
    return write_clip(tmp_path / "short.mp4", render_frames(lambda i, t: frame, 1.0, 25.0))


def _text_as_mp4(tmp: Path) -> Path:
    path = tmp / "notes.mp4"
    path.write_text("this is a shopping list, not a video\n")
    return path


def _truncated(tmp: Path, clip: Path) -> Path:
    path = tmp / "truncated.mp4"
    path.write_bytes(clip.read_bytes()[: clip.stat().st_size // 3])
    return path


def _no_decodable_frames(tmp: Path, clip: Path) -> Path:
    """A valid container (moov first) whose frame data was lost."""
    faststart = tmp / "faststart.mp4"
    with (
        av.open(str(clip)) as source,
        av.open(str(faststart), "w", options={"movflags": "faststart"}) as sink,
    ):
        out = sink.add_stream_from_template(source.streams.video[0])
        for packet in source.demux(video=0):
            if packet.dts is not None:
                packet.stream = out
                sink.mux(packet)
    data = bytearray(faststart.read_bytes())
    mdat = data.index(b"mdat") + 4
    data[mdat:] = bytes(len(data) - mdat)
    path = tmp / "zeroed.mp4"
    path.write_bytes(bytes(data))
    return path


VIDEO_CASES: dict[str, tuple[Callable[[Path, Path], Path], tuple[str, ...]]] = {
    "missing": (lambda tmp, clip: tmp / "nope.mp4", ("does not exist",)),
    "directory": (lambda tmp, clip: tmp, ("directory",)),
    "text named mp4": (lambda tmp, clip: _text_as_mp4(tmp), ("not a readable video",)),
    "truncated": (_truncated, ("video",)),
    "no decodable frame": (_no_decodable_frames, ("decodable",)),
    "audio only": (lambda tmp, clip: write_audio_only(tmp / "song.m4a"), ("audio-only",)),
}


@pytest.mark.parametrize("case", list(VIDEO_CASES))
def test_bad_video_inputs(
    case: str, tmp_path: Path, dark_bright_clip: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make, words = VIDEO_CASES[case]
    video = make(tmp_path, dark_bright_clip)
    out = tmp_path / "out"
    before = _files_under(tmp_path)
    code, err = run_cli(capsys, "score", str(video), "--out", str(out))
    assert code == 2
    one_sentence_error(err, *words)
    assert not out.exists()
    assert _files_under(tmp_path) == before


def test_clip_shorter_than_one_step(
    short_clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = run_cli(capsys, "score", str(short_clip), "--out", str(tmp_path / "out"))
    assert code == 2
    one_sentence_error(err, "shorter than one step")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--generator", "jazz"], ("unknown generator", "1=scales")),
        (["7"], ("unknown generator",)),
        (["--bpm", "20"], ("--bpm", "between 30 and 300")),
        (["--bpm", "400"], ("--bpm", "between 30 and 300")),
    ],
)
def test_bad_options(
    argv: list[str],
    words: tuple[str, ...],
    dark_bright_clip: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, err = run_cli(capsys, "score", str(dark_bright_clip), *argv, "--out", str(tmp_path / "o"))
    assert code == 2
    one_sentence_error(err, *words)
    assert not (tmp_path / "o").exists()


def test_unwritable_output_folder(
    dark_bright_clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    code, err = run_cli(capsys, "score", str(dark_bright_clip), "--out", str(blocker / "sub"))
    assert code == 2
    one_sentence_error(err, "not writable", "--out")


def test_existing_output_needs_force(
    dark_bright_clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    mine = out / "dark_bright.mid"
    mine.write_bytes(b"my own file")
    code, err = run_cli(capsys, "score", str(dark_bright_clip), "--out", str(out))
    assert code == 2
    one_sentence_error(err, "already exists", "--force")
    assert mine.read_bytes() == b"my own file"
    assert _files_under(out) == [mine]


def test_output_never_overwrites_the_input(
    dark_bright_clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    original = dark_bright_clip.read_bytes()
    code, err = run_cli(
        capsys, "score", str(dark_bright_clip), "--out", str(dark_bright_clip.parent), "--force"
    )
    assert code == 2
    one_sentence_error(err, "overwrite the input")
    assert dark_bright_clip.read_bytes() == original


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("0.5, 0.5\n0.4 0.7\n", ("line 2",)),
        ("0.5, 0.5\n0.2, 0.3\n1.5, 0.2\n", ("line 3", "[0, 1]")),
        ("0.5, abc\n", ("line 1",)),
        ("\n", ("no 'arousal, valence' lines",)),
    ],
)
def test_bad_emotion_files(
    text: str, words: tuple[str, ...], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    emotions = tmp_path / "clip.emotions.txt"
    emotions.write_text(text)
    code, err = run_cli(capsys, "compose", str(emotions), "--out", str(tmp_path / "out"))
    assert code == 2
    one_sentence_error(err, *words)
    assert not (tmp_path / "out").exists()


def test_unknown_config_key_is_named(
    dark_bright_clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "moodscore.yaml"
    config.write_text("music:\n  generator: scales\n  tempo_feel: lazy\n")
    code, err = run_cli(capsys, "score", str(dark_bright_clip), "--config", str(config))
    assert code == 2
    one_sentence_error(err, "music.tempo_feel")


def test_usage_error_exits_2_from_the_console_script(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "core", "score", str(tmp_path / "missing.mp4")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip().endswith("does not exist; check the path.")
    assert done.stdout == ""


def test_missing_soundfont_is_named_before_any_work(
    dark_bright_clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "new" / "out"
    missing = tmp_path / "missing.sf2"
    code, err = run_cli(
        capsys, "score", str(dark_bright_clip), "--out", str(out), "--soundfont", str(missing)
    )
    assert code == 2
    one_sentence_error(err, "missing.sf2")
    assert not (tmp_path / "new").exists()
