"""Issue 20, real processes: a killed batch takes its pool along; early signals.

Each test starts the real ``moodscore`` command in its own session, so every process it made
(workers, the fork server, the resource tracker) can be found by session id afterwards.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.files import TEMP_MARKER
from tests.clips import dark_to_bright, render_frames, write_clip

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/self").exists(), reason="lists processes through /proc"),
]

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three 30 s clips: long enough that a batch of them is killed while it scores."""
    folder = tmp_path_factory.mktemp("library")
    for index in range(3):
        frames = render_frames(dark_to_bright(160, 90), 30.0, 10.0)
        write_clip(folder / f"clip{index}.mp4", frames, 10.0)
    return folder


def _start(*argv: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as err:  # a file, not a pipe: orphans would hold a pipe open
        return subprocess.Popen(
            [sys.executable, "-m", "core", *argv, "--quiet"],
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
        )


def _session(leader: int) -> list[int]:
    """Every live process in the session ``leader`` started."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            if os.getsid(int(entry.name)) == leader and state != "Z":
                found.append(int(entry.name))
        except (OSError, IndexError):
            continue
    return found


def _wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def _end_session(leader: int) -> None:
    for pid in _session(leader):
        os.kill(pid, signal.SIGKILL)


# kill -9 of a batch used to leave its workers, fork server and resource tracker
# running; the worker published its video, and a rerun found the folder locked (exit 1).
def test_kill_9_of_a_batch_ends_its_pool_and_a_rerun_finishes(
    library: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    batch = _start("batch", str(library), "--out", str(out), "--workers", "2", log=tmp_path / "e")
    try:
        scoring = lambda: any(TEMP_MARKER in p.name for p in out.rglob("*"))  # noqa: E731
        assert _wait_for(scoring, 120), (tmp_path / "e").read_text()
        os.kill(batch.pid, signal.SIGKILL)
        batch.wait()
        assert _wait_for(lambda: not _session(batch.pid), 10.0), "the pool outlived its batch"
        assert not list(out.rglob("score.json")), "a worker published after the batch died"
        rerun = subprocess.run(
            [sys.executable, "-m", "core", "batch", str(library), "--out", str(out), "--quiet"],
            env={**os.environ, "PYTHONPATH": str(REPO)},
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert rerun.returncode == 0, rerun.stderr
        assert len(list(out.rglob("score.json"))) == 3
    finally:
        _end_session(batch.pid)


def _interpreter_start_s() -> float:
    """How long a bare interpreter takes to start here: before it, Python itself has the signal."""
    times = []
    for _ in range(3):
        started = time.monotonic()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        times.append(time.monotonic() - started)
    return sorted(times)[1]


@pytest.fixture(scope="module")
def emotions_long(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("emotions") / "long.emotions.txt"
    path.write_text("".join(f"{i % 10 / 10}, {(i * 3) % 10 / 10}\n" for i in range(300)))
    return path


# SIGINT in the first ~0.15 s (during the heavy imports) printed a KeyboardInterrupt
# traceback and the process died by the signal; a batch interrupted while its pool started
# got a FileNotFoundError (or KeyboardInterrupt) traceback from a pool process.
@pytest.mark.parametrize("command", ["compose", "score", "batch"])
def test_early_ctrl_c_exits_130_without_a_traceback(
    command: str, library: Path, emotions_long: Path, tmp_path: Path
) -> None:
    start_s = _interpreter_start_s()
    given = {
        "compose": ["compose", str(emotions_long)],
        "score": ["score", str(library / "clip0.mp4")],
        "batch": ["batch", str(library)],
    }[command]
    for index, after_ms in enumerate([10, 25, 50, 80, 150, 300, 500, 700, 900]):
        out = tmp_path / f"out{index}"
        run = _start(*given, "--out", str(out), log=tmp_path / "err")
        time.sleep(start_s + after_ms / 1000)
        os.killpg(run.pid, signal.SIGINT)  # as the terminal sends it: to the whole group
        try:
            code = run.wait(timeout=120)
        finally:
            _end_session(run.pid)
        err = (tmp_path / "err").read_text()
        assert code == 130, (after_ms, code, err[-3000:])
        assert "Traceback" not in err, (after_ms, err[-3000:])
        assert err.strip().splitlines()[-1].endswith("no partial output was left."), err
        assert not out.exists() or not any(out.rglob("*.wav")), after_ms
