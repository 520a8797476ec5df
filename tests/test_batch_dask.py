"""``moodscore batch --scheduler`` on a real Dask cluster started here on 127.0.0.1.

The fixture runs ``dask scheduler`` and two ``dask worker`` processes (one thread each) from
this environment, waits (bounded) until both workers have registered, and ends them afterwards.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.batch_runs import (
    REPO,
    assert_complete,
    assert_library_scored_and_bad_file_failed,
    group_gone,
    interrupt_running,
    make_clip,
    make_library,
    read_table,
    run_batch,
    running_job,
    start_batch,
    temp_files,
    wait_for,
)

#: A real Dask cluster per test: out of `make test-fast`.
pytestmark = pytest.mark.slow

distributed = pytest.importorskip("distributed")
DASK = Path(sys.executable).with_name("dask")
READY_TIMEOUT_S = 120


def _spawn(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as sink:
        return subprocess.Popen(
            [str(DASK), *args],
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            start_new_session=True,
        )


def _end(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The address of a scheduler with two single-threaded worker processes."""
    logs = tmp_path_factory.mktemp("dask")
    info = logs / "scheduler.json"
    common = ["--no-dashboard"]
    processes = [
        _spawn(
            [
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--scheduler-file",
                str(info),
                *common,
            ],
            logs / "scheduler.log",
        )
    ]
    try:
        wait_for(info.exists, READY_TIMEOUT_S, "the Dask scheduler to start")
        for number in (1, 2):
            processes.append(
                _spawn(
                    [
                        "worker",
                        "--scheduler-file",
                        str(info),
                        "--nthreads",
                        "1",
                        "--host",
                        "127.0.0.1",
                        "--name",
                        f"w{number}",
                        *common,
                    ],
                    logs / f"worker{number}.log",
                )
            )
        with distributed.Client(scheduler_file=str(info), timeout=READY_TIMEOUT_S) as client:
            client.wait_for_workers(2, timeout=READY_TIMEOUT_S)
            address = client.scheduler.address
        yield address
    finally:
        for process in reversed(processes):
            _end(process)


def test_dask_cluster_scores_like_the_local_pool(cluster: str, tmp_path: Path) -> None:
    library = make_library(tmp_path / "footage")
    local, remote = tmp_path / "local", tmp_path / "cluster"
    on_cluster = run_batch(library, "--out", remote, "--scheduler", cluster, "--seed", "5")
    assert on_cluster.returncode == 1, on_cluster.stderr
    assert "2 workers, 2 threads" in on_cluster.stderr
    assert_library_scored_and_bad_file_failed(remote)

    # The same seed gives the same music wherever it runs.
    assert (
        run_batch(library, "--out", local, "--workers", "1", "--seed", "5", "--quiet").returncode
        == 1
    )
    for relative in ("a_moodscore/a.mid", "sub/b_moodscore/b.mid"):
        assert (remote / relative).read_bytes() == (local / relative).read_bytes()

    # Resumable on the cluster too.
    again = run_batch(library, "--out", remote, "--scheduler", cluster, "--quiet")
    assert again.returncode == 1
    assert [row["status"] for row in read_table(remote).values()].count("skipped") == 2


def test_ctrl_c_cancels_tasks_running_on_the_cluster(cluster: str, tmp_path: Path) -> None:
    for name in ("one", "two", "three"):
        make_clip(tmp_path / "footage" / f"{name}.mp4", 24.0, (320, 180))
    out = tmp_path / "scored"
    process = start_batch(tmp_path / "footage", "--out", out, "--scheduler", cluster, "--quiet")
    stderr, stopped_in = interrupt_running(process, out, lambda: process.send_signal(signal.SIGINT))
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert stopped_in < 20
    wait_for(lambda: group_gone(process.pid), 30, "the batch process to exit")
    # The workers stopped their tasks: within a few seconds no lock, no temp file, no output.
    wait_for(lambda: not running_job(out), 20, "the cancelled tasks to clean up")
    table = read_table(out)
    assert any(row["status"] == "cancelled" for row in table.values()), table
    for name, row in table.items():
        folder = Path(row["output folder"])
        if row["status"] == "scored":
            assert_complete(folder, Path(name).stem)
        else:
            assert not folder.exists() or not any(folder.iterdir()), list(folder.iterdir())
    assert not temp_files(out)

    # The cluster is still healthy: the rerun finishes the library.
    resumed = run_batch(tmp_path / "footage", "--out", out, "--scheduler", cluster, "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert {row["status"] for row in read_table(out).values()} <= {"scored", "skipped"}


def test_unreachable_scheduler_is_one_sentence(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "a.mp4")
    done = run_batch(clip, "--out", tmp_path / "o", "--scheduler", "tcp://127.0.0.1:9")
    assert done.returncode == 2
    assert "Cannot reach the Dask scheduler at tcp://127.0.0.1:9" in done.stderr
    assert "Traceback" not in done.stderr
