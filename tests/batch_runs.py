"""Running ``moodscore batch`` as a user does, for the batch tests (local pool and Dask)."""

from __future__ import annotations

import contextlib
import csv
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tests.clips import dark_to_bright, render_frames, write_clip

REPO = Path(__file__).resolve().parents[1]
SCORED_FILES = {"mp4", "mid", "wav", "emotions.txt", "emotions.csv", "cuts.csv", "emotions.png"}


def make_clip(path: Path, seconds: float = 3.0, size: tuple[int, int] = (160, 90)) -> Path:
    """A short H.264 clip (dark, then bright and moving)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_clip(
        path,
        render_frames(
            dark_to_bright(
                *size,
            ),
            seconds,
            25.0,
        ),
        25.0,
    )


def make_library(root: Path, seconds: float = 3.0) -> Path:
    """``root/a.mp4``, ``root/sub/b.mp4`` and ``root/broken.mp4`` (text, not a video)."""
    make_clip(root / "a.mp4", seconds)
    make_clip(root / "sub" / "b.mp4", seconds)
    (root / "broken.mp4").write_text("this is not a video\n")
    return root


def batch_command(*argv: str | Path) -> list[str]:
    """``moodscore batch ARGV`` as this interpreter runs it."""
    return [sys.executable, "-m", "core", "batch", *map(str, argv)]


def run_batch(*argv: str | Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run a batch to its end and return its exit status and output."""
    return subprocess.run(
        batch_command(*argv), capture_output=True, text=True, timeout=timeout, cwd=REPO
    )


def read_table(out: Path) -> dict[str, dict[str, str]]:
    """batch.csv rows by the input's file name."""
    with (out / "batch.csv").open(newline="") as handle:
        return {Path(row["path"]).name: row for row in csv.DictReader(handle)}


def assert_complete(folder: Path, stem: str) -> None:
    """Every scored file of ``stem`` in ``folder`` and no temp file."""
    names = {p.name for p in folder.iterdir()}
    assert {f"{stem}.{suffix}" for suffix in SCORED_FILES} | {"score.json"} <= names
    assert not [n for n in names if ".mstmp-" in n or n.startswith(".moodscore")]


def assert_library_scored_and_bad_file_failed(out: Path) -> dict[str, dict[str, str]]:
    """The library of :func:`make_library` scored into ``out``: both clips complete, the broken
    file failed alone with its sentence. Returns the batch table."""
    table = read_table(out)
    assert {name: row["status"] for name, row in table.items()} == {
        "a.mp4": "scored",
        "b.mp4": "scored",
        "broken.mp4": "failed",
    }
    assert "is not a readable video" in table["broken.mp4"]["error"]
    assert_complete(out / "a_moodscore", "a")
    assert_complete(out / "sub" / "b_moodscore", "b")
    return table


def temp_files(out: Path) -> list[Path]:
    """Temp files left under ``out``."""
    return [p for p in out.rglob("*") if ".mstmp-" in p.name]


def wait_for(condition: Callable[[], object], timeout: float, what: str) -> None:
    """Poll ``condition`` until it holds; fail after ``timeout`` seconds naming ``what``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def running_job(out: Path) -> bool:
    """A job holds its output folder's run lock while it works."""
    return any(
        p.name == ".moodscore.lock" and p.parent != out for p in out.rglob(".moodscore.lock")
    )


def job_holder(out: Path) -> int | None:
    """The pid a running job wrote into its folder lock (``None`` until one has)."""
    for lock in out.rglob(".moodscore.lock"):
        with contextlib.suppress(OSError, ValueError):
            if lock.parent != out:
                return int(lock.read_text().strip())
    return None


def interrupt_running(
    process: subprocess.Popen[str], out: Path, send: Callable[[], None]
) -> tuple[str, float]:
    """Wait until a job of ``process`` works in ``out``, call ``send`` (a signal), and return
    the batch's stderr and how many seconds it took to stop."""
    try:
        wait_for(lambda: running_job(out), 120, "a video to start")
        started = time.monotonic()
        send()
        _, stderr = process.communicate(timeout=60)
        return stderr, time.monotonic() - started
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)


def start_batch(*argv: str | Path) -> subprocess.Popen[str]:
    """Start a batch without waiting for it."""
    # A session of its own: the test can signal the batch's whole process group, as a
    # terminal does on Ctrl-C.
    return subprocess.Popen(
        batch_command(*argv),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def group_gone(pgid: int) -> bool:
    """Whether no process of group ``pgid`` is left."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False
