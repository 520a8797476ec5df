"""``moodscore batch`` through the real CLI: local pool, bad files, resume after SIGKILL, Ctrl-C.

Every batch runs as its own process (``python -m core batch``) so signals and exit statuses are
the ones a user gets. The Dask cluster tests are in ``test_batch_dask.py``.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from core.batch.inputs import collect
from core.errors import InputError
from tests.batch_runs import (
    assert_complete,
    assert_library_scored_and_bad_file_failed,
    group_gone,
    interrupt_running,
    job_holder,
    make_clip,
    make_library,
    read_table,
    run_batch,
    running_job,
    start_batch,
    temp_files,
    wait_for,
)

#: Worker pools and real processes: minutes, so out of `make test-fast`.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_library(tmp_path_factory.mktemp("library") / "footage")


# -- inputs ------------------------------------------------------------------------------------


def test_inputs_from_folders_lists_and_files(tmp_path: Path) -> None:
    for name in ("f/a.mp4", "f/x/b.MOV", "f/.hidden/c.mp4", "f/notes.txt", "g/d.mkv", "e.webm"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    listing = tmp_path / "list.txt"
    listing.write_text(f"# clips\n\ng/d.mkv\n{tmp_path / 'e.webm'}\nmissing.mp4\n")
    out = tmp_path / "f" / "scored"  # inside an input folder: must not be searched
    (out / "old_moodscore").mkdir(parents=True)
    (out / "old_moodscore" / "old.mp4").write_bytes(b"")

    found = collect([tmp_path / "f", listing, tmp_path / "f" / "a.mp4"], out)

    outputs = {
        item.video.relative_to(tmp_path).as_posix(): str(item.relative_out) for item in found
    }
    assert outputs == {
        "f/a.mp4": "a_moodscore",
        "f/x/b.MOV": "x/b_moodscore",
        "g/d.mkv": "g/d_moodscore",
        "e.webm": "e_moodscore",
        "missing.mp4": "missing_moodscore",  # kept: it fails alone, with its sentence
    }


def test_same_stem_siblings_keep_their_suffix_and_clashes_are_refused(tmp_path: Path) -> None:
    for name in ("f/clip.mp4", "f/clip.mov", "g/clip.mp4"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    found = collect([tmp_path / "f"], tmp_path / "out")
    assert sorted(str(item.relative_out) for item in found) == [
        "clip.mov_moodscore",
        "clip.mp4_moodscore",
    ]
    with pytest.raises(InputError, match="would both be scored into clip_moodscore"):
        collect([tmp_path / "f" / "clip.mp4", tmp_path / "g" / "clip.mp4"], tmp_path / "out")


def test_usage_errors_exit_2_with_one_sentence(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "a.mp4")
    (tmp_path / "empty").mkdir()
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "batch.csv").write_text("name,total\nmine,3\n")
    cases = [
        ((tmp_path / "nope.mp4", "--out", tmp_path / "o"), "does not exist"),
        ((tmp_path / "empty", "--out", tmp_path / "o"), "No video files found"),
        ((clip, "--out", tmp_path / "o", "--workers", "0"), "--workers must be between"),
        (
            (clip, "--out", tmp_path / "o", "--workers", "2", "--scheduler", "tcp://x:1"),
            "leave out",
        ),
        ((clip, "--out", foreign), "not a Moodscore batch table"),
        ((clip, "--out", tmp_path / "o", "--seed", "-1"), "--seed"),
        ((clip,), "--out"),
    ]
    for argv, words in cases:
        done = run_batch(*argv)
        assert done.returncode == 2, (argv, done.stderr)
        assert words in done.stderr, (argv, done.stderr)
        assert "Traceback" not in done.stderr
    assert not (tmp_path / "o").exists()
    assert (foreign / "batch.csv").read_text() == "name,total\nmine,3\n"


# -- local pool --------------------------------------------------------------------------------


def test_local_pool_scores_a_library_and_a_bad_file_fails_alone(
    library: Path, tmp_path: Path
) -> None:
    out = tmp_path / "scored"
    done = run_batch(library, "--out", out, "--workers", "2", "--seed", "7")
    assert done.returncode == 1, done.stderr
    table = assert_library_scored_and_bad_file_failed(out)
    assert float(table["a.mp4"]["seconds"]) > 0
    assert Path(table["b.mp4"]["output folder"]) == out / "sub" / "b_moodscore"
    assert not (out / "broken_moodscore").exists()
    assert "2 scored, 0 already complete, 1 failed" in done.stdout

    # A rerun skips what is complete and touches none of it.
    before = {
        p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file() and p.name != "batch.csv"
    }
    again = run_batch(library, "--out", out, "--seed", "7", "--quiet")
    assert again.returncode == 1
    statuses = {name: row["status"] for name, row in read_table(out).items()}
    assert statuses == {"a.mp4": "skipped", "b.mp4": "skipped", "broken.mp4": "failed"}
    assert {p: p.stat().st_mtime_ns for p in before} == before

    # Only good inputs: exit 0. --force rescores, with the same MIDI bytes for the same seed.
    midi = (out / "a_moodscore" / "a.mid").read_bytes()
    forced = run_batch(library / "a.mp4", "--out", out, "--seed", "7", "--force", "--quiet")
    assert forced.returncode == 0, forced.stderr
    assert read_table(out)["a.mp4"]["status"] == "scored"
    assert (out / "a_moodscore" / "a.mid").read_bytes() == midi


@pytest.fixture(scope="module")
def long_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three 24 s clips: long enough to be caught mid-way by a signal."""
    root = tmp_path_factory.mktemp("long") / "footage"
    for name in ("one", "two", "three"):
        make_clip(root / f"{name}.mp4", 24.0, (320, 180))
    return root


def test_resume_after_sigkill(long_library: Path, tmp_path: Path) -> None:
    out = tmp_path / "scored"
    process = start_batch(long_library, "--out", out, "--workers", "1", "--quiet")
    try:
        wait_for(
            lambda: (
                (out / "batch.csv").exists()
                and "scored" in [row["status"] for row in read_table(out).values()]
            ),
            240,
            "the first video to be scored",
        )
        wait_for(lambda: running_job(out), 60, "the second video to start")
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # the batch and its worker, no cleanup at all
        process.wait(30)
    wait_for(lambda: group_gone(process.pid), 30, "the killed processes to go")
    first = {name for name, row in read_table(out).items() if row["status"] == "scored"}
    assert len(first) == 1

    resumed = run_batch(long_library, "--out", out, "--workers", "2", "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    table = read_table(out)
    for name, row in table.items():
        assert row["status"] == ("skipped" if name in first else "scored"), table
        assert_complete(Path(row["output folder"]), Path(name).stem)
    assert not temp_files(out)


@pytest.mark.parametrize("target", ["process group", "batch process only"])
def test_ctrl_c_cancels_running_videos_and_leaves_no_partial_output(
    long_library: Path, tmp_path: Path, target: str
) -> None:
    out = tmp_path / "scored"
    process = start_batch(long_library, "--out", out, "--workers", "2", "--quiet")
    if target == "process group":  # what a terminal does on Ctrl-C
        stderr, stopped_in = interrupt_running(
            process, out, lambda: os.killpg(process.pid, signal.SIGINT)
        )
    else:  # kill -INT <pid>: the workers hear it from the batch
        stderr, stopped_in = interrupt_running(
            process, out, lambda: process.send_signal(signal.SIGINT)
        )
    assert process.returncode == 130, stderr
    assert "stopped by SIGINT; no partial output was left" in stderr
    assert "Traceback" not in stderr
    assert stopped_in < 20  # the running videos were cancelled, not finished
    wait_for(lambda: group_gone(process.pid), 30, "the worker processes to exit")
    table = read_table(out)
    assert any(row["status"] in ("pending", "cancelled") for row in table.values())
    for name, row in table.items():
        folder = Path(row["output folder"])
        if row["status"] == "scored":
            assert_complete(folder, Path(name).stem)
        else:  # nothing of an unfinished video: no output, no temp file, no lock
            assert not folder.exists() or not any(folder.iterdir()), list(folder.iterdir())
    assert not temp_files(out)
    assert not (out / ".moodscore.lock").exists()


def test_an_incomplete_output_folder_is_scored_again(library: Path, tmp_path: Path) -> None:
    out = tmp_path / "scored"
    good = [library / "a.mp4", library / "sub"]
    assert run_batch(*good, "--out", out, "--quiet").returncode == 0
    (out / "a_moodscore" / "a.wav").unlink()  # as if killed while publishing
    (out / "b_moodscore" / "score.json").unlink()
    kept = (out / "b_moodscore" / "b.mid").stat().st_mtime_ns

    again = run_batch(*good, "--out", out, "--quiet")
    assert again.returncode == 0, again.stderr
    assert {row["status"] for row in read_table(out).values()} == {"scored"}
    assert_complete(out / "a_moodscore", "a")
    assert_complete(out / "b_moodscore", "b")
    assert (out / "b_moodscore" / "b.mid").stat().st_mtime_ns != kept


def test_a_worker_killed_mid_video_is_retried_on_a_fresh_pool(
    long_library: Path, tmp_path: Path
) -> None:
    out = tmp_path / "scored"
    process = start_batch(long_library, "--out", out, "--workers", "2", "--quiet")
    try:
        # The folder lock names the process holding it once the job has written its pid.
        wait_for(lambda: job_holder(out) is not None, 120, "a video to start")
        worker = job_holder(out)
        assert worker is not None and worker != process.pid
        os.kill(worker, signal.SIGKILL)  # as the out-of-memory killer would
        _, stderr = process.communicate(timeout=240)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 0, stderr
    assert "starting a fresh pool" in stderr
    for name, row in read_table(out).items():
        assert row["status"] == "scored"
        assert_complete(Path(row["output folder"]), Path(name).stem)
    assert not temp_files(out)


def test_a_second_batch_into_the_same_folder_is_refused(long_library: Path, tmp_path: Path) -> None:
    out = tmp_path / "scored"
    first = start_batch(long_library, "--out", out, "--workers", "1", "--quiet")
    try:
        wait_for(lambda: running_job(out), 120, "the first batch to start")
        second = run_batch(long_library, "--out", out, "--quiet")
        assert second.returncode == 2
        assert f"Another moodscore run (pid {first.pid}) is writing into {out}" in second.stderr
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=60)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    assert first.returncode == 130
