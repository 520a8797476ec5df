"""Issue 11, real processes: signals, kill -9, concurrent runs and full disks.

Each test runs the real ``moodscore`` command in a subprocess and stops, kills or races it at the
moment it has temp files on disk (the riskiest moment: outputs half written). Full-disk tests
mount a real tmpfs of a few hundred kilobytes, which needs root; they skip with the reason
otherwise.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from core.cli import main
from core.files import LOCK_NAME, TEMP_MARKER
from tests.clips import dark_to_bright, render_frames, write_clip

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def minute_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """60 s at 160x90: a run long enough (render, mux) to be stopped while it writes."""
    path = tmp_path_factory.mktemp("clips") / "minute.mp4"
    return write_clip(path, render_frames(dark_to_bright(160, 90), 60.0, 10.0), 10.0)


def _start(*argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "core", *argv, "--quiet"],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _temps(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if TEMP_MARKER in p.name] if folder.is_dir() else []


def _writing_outputs(folder: Path) -> bool:
    """Whether the run has output temps on disk (not just the folder check's instant probe)."""
    return any(p.name.startswith(".minute") for p in _temps(folder))


def _wait_until(condition, process: subprocess.Popen[str], timeout: float = 120.0) -> None:
    """Poll ``condition`` every millisecond until it holds; fail if the process ends first."""
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            pytest.fail(f"the run ended (status {process.returncode}) before it could be stopped")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("the run never reached the point to stop it at")
        time.sleep(0.001)


def _finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    _, err = process.communicate(timeout=120)
    return process.returncode, err


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# SIGTERM and SIGHUP stop a run like Ctrl-C: nothing left, exit 128 + signal.
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_stop_signal_leaves_nothing(
    signum: signal.Signals, minute_clip: Path, tmp_path: Path
) -> None:
    out = tmp_path / "made" / "by-the-run"
    run = _start("score", str(minute_clip), "--out", str(out))
    _wait_until(lambda: _writing_outputs(out), run)
    run.send_signal(signum)
    code, err = _finish(run)
    assert code == 128 + signum
    assert err.strip() == (
        f"moodscore: stopped by {signal.Signals(signum).name}; no partial output was left."
    )
    assert not (tmp_path / "made").exists()


def test_sigterm_with_force_keeps_the_old_outputs(minute_clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["score", str(minute_clip), "--out", str(out), "--quiet"]) == 0
    before = _tree(out)
    run = _start("score", str(minute_clip), "--out", str(out), "--force", "--seed", "9")
    _wait_until(lambda: _writing_outputs(out), run)
    run.send_signal(signal.SIGTERM)
    code, _ = _finish(run)
    assert code == 143
    assert _tree(out) == before


# an impatient double Ctrl-C, the two signals 0-3 ms apart, at varied moments.
def test_double_ctrl_c_leaves_nothing_and_no_traceback(minute_clip: Path, tmp_path: Path) -> None:
    rng = random.Random(11)
    for trial in range(6):
        out = tmp_path / f"trial{trial}"
        run = _start("score", str(minute_clip), "--out", str(out))
        _wait_until(lambda out=out: _writing_outputs(out), run)
        time.sleep(rng.uniform(0.0, 0.3))
        run.send_signal(signal.SIGINT)
        time.sleep(rng.uniform(0.0, 0.003))
        if run.poll() is None:
            run.send_signal(signal.SIGINT)
        code, err = _finish(run)
        assert "Traceback" not in err, err
        if code == 0:  # finished before the first signal was delivered: everything published
            assert not _temps(out) and (out / "score.json").is_file()
            continue
        assert code == 130, err
        assert err.strip() == "moodscore: stopped by SIGINT; no partial output was left."
        assert not out.exists(), sorted(p.name for p in out.iterdir())


# "Also seen": kill -9 cannot clean up; the next run into the folder does.
def test_temp_files_of_a_killed_run_are_removed_by_the_next_run(
    minute_clip: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    assert main(["score", str(minute_clip), "--out", str(out), "--quiet"]) == 0
    run = _start("score", str(minute_clip), "--out", str(out), "--force")
    _wait_until(lambda: _writing_outputs(out), run)
    run.kill()
    run.wait()
    left = _temps(out)
    assert left and all(f"{TEMP_MARKER}{run.pid}-" in p.name for p in left)
    assert main(["score", str(minute_clip), "--out", str(out), "--force", "--quiet"]) == 0
    assert not _temps(out)
    assert not (out / LOCK_NAME).exists()


# a second run into a folder a run is writing into is refused, not silently merged.
def test_concurrent_runs_into_one_folder(minute_clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "shared"
    first = _start("score", str(minute_clip), "--out", str(out), "--seed", "1")
    _wait_until(lambda: (out / LOCK_NAME).exists(), first)
    second = _start("score", str(minute_clip), "--out", str(out), "--seed", "2")
    second_code, second_err = _finish(second)
    first_code, first_err = _finish(first)
    assert first_code == 0, first_err
    assert second_code == 2
    assert second_err.strip() == (
        f"moodscore: error: Another moodscore run (pid {first.pid}) is writing into {out}; "
        "wait for it to finish or choose another --out folder."
    )
    assert '"seed": 1,' in (out / "score.json").read_text()


def test_runs_started_300_ms_apart(minute_clip: Path, tmp_path: Path) -> None:
    """The issue's own repro: whichever way the race goes, one run writes and one is refused."""
    out = tmp_path / "shared"
    runs = [_start("score", str(minute_clip), "--out", str(out), "--seed", "1")]
    time.sleep(0.3)
    runs.append(_start("score", str(minute_clip), "--out", str(out), "--seed", "2"))
    results = sorted(_finish(run) for run in runs)
    assert [code for code, _ in results] == [0, 2]
    refusal = results[1][1].strip()
    assert "Another moodscore run" in refusal or "already exists" in refusal, refusal
    assert not _temps(out)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[callable]:
    """Mount real tmpfs file systems of a given size (root only); unmounted in teardown."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs to fill needs root")
    mounted: list[Path] = []

    def mount(size_kb: int) -> Path:
        folder = tmp_path / f"disk{len(mounted)}"
        folder.mkdir()
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(folder)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(folder)
        return folder

    yield mount
    for folder in mounted:
        subprocess.run(["umount", str(folder)], check=True)


# a full disk is one sentence, and nothing is left on it.
def test_a_full_disk_leaves_nothing_and_is_one_sentence(
    small_disk, dark_bright_clip: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    disk = small_disk(2048)
    code = main(["score", str(dark_bright_clip), "--out", str(disk / "o"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip().startswith(f"moodscore: error: {disk / 'o'}: no space left on device;")
    assert err.strip().endswith("free some space or choose a folder on another disk.")
    assert list(disk.iterdir()) == []


# `split --force` failing part-way keeps every old segment.
def test_split_force_failing_part_way_keeps_the_old_segments(
    small_disk, dark_bright_clip: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    size = dark_bright_clip.stat().st_size
    disk = small_disk(int(size * 1.5) // 1024 + 64)  # one set of segments fits, two do not
    parts = disk / "parts"
    argv = ["split", str(dark_bright_clip), "--seconds", "3", "--out", str(parts), "--quiet"]
    assert main(argv) == 0
    before = _tree(parts)
    assert len(before) >= 2
    code = main([*argv, "--force"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip() == (
        f"moodscore: error: {parts}: no space left on device; "
        "free some space or choose a folder on another disk."
    )
    assert _tree(parts) == before


def test_the_clip_fixture_is_long_enough(minute_clip: Path) -> None:
    """The signal tests rely on a run that writes for a while."""
    from core.video.probe import probe

    assert probe(minute_clip).duration_s >= 59.0
    assert np.isclose(probe(minute_clip).fps, 10.0)
