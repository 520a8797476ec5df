"""Batch benchmark (issue 13): throughput of ``moodscore batch`` on 1 and 2 local workers and on
a Dask cluster, side by side in one run.

A library of ``--videos`` copies of one photographed 1080p H.264 clip is scored whole (analysis,
composition, FluidSynth render, mux) by the real ``moodscore batch`` command, timed from process
start to exit as a user sees it, in three set-ups taken in turn, best of ``--repeat``:

- the local pool with ``--workers 1`` and ``--workers 2``;
- a Dask cluster started here beforehand (``dask scheduler`` and two ``dask worker`` processes
  with one thread each, on 127.0.0.1), through ``--scheduler``.

Usage: ``python benchmarks/bench_batch.py [--videos 6] [--seconds 20] [--height 1080]``
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import WORK, footage, markdown_table, run_measured

DASK = Path(sys.executable).with_name("dask")


def make_library(clip: Path, videos: int) -> Path:
    """``videos`` hard links (or copies) of ``clip`` in a folder of their own."""
    library = WORK / f"batch_library_{clip.stem}_{videos}"
    shutil.rmtree(library, ignore_errors=True)
    library.mkdir(parents=True)
    for number in range(videos):
        target = library / f"clip{number:02d}.mp4"
        try:
            os.link(clip, target)
        except OSError:
            shutil.copyfile(clip, target)
    return library


@contextlib.contextmanager
def dask_cluster(workers: int) -> Iterator[str]:
    """A scheduler and ``workers`` single-threaded worker processes; yields the address.

    They stay in this process's session: with the kernel's autogroup scheduling a session of
    their own would get the cluster a CPU share of its own beside other work on the machine,
    flattering it against the local pool.
    """
    from distributed import Client

    folder = Path(tempfile.mkdtemp(prefix="moodscore-bench-dask-"))
    info = folder / "scheduler.json"
    base = ["--no-dashboard", "--scheduler-file", str(info)]
    processes = [
        subprocess.Popen(
            [str(DASK), "scheduler", "--host", "127.0.0.1", "--port", "0", *base],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    try:
        deadline = time.monotonic() + 120
        while not info.exists():
            if time.monotonic() > deadline:
                raise RuntimeError("the Dask scheduler did not start within 120 s")
            time.sleep(0.1)
        for _ in range(workers):
            processes.append(
                subprocess.Popen(
                    [str(DASK), "worker", "--nthreads", "1", "--host", "127.0.0.1", *base],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        with Client(scheduler_file=str(info), timeout=120) as client:
            client.wait_for_workers(workers, timeout=120)
            address = client.scheduler.address
        yield address
    finally:
        for process in reversed(processes):
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(folder, ignore_errors=True)


def time_batch(library: Path, *options: str, one_core: bool = False) -> float:
    """Wall seconds of one whole ``moodscore batch`` run into a fresh folder.

    ``one_core`` pins the run to one core (``taskset``), as on a one-core machine.
    """
    out = WORK / "batch_out"
    shutil.rmtree(out, ignore_errors=True)
    argv = [sys.executable, "-m", "core", "batch", str(library), "--out", str(out), "--quiet"]
    pinned = ["taskset", "-c", str(min(os.sched_getaffinity(0)))] if one_core else []
    seconds, _ = run_measured([*pinned, *argv, *options])
    shutil.rmtree(out, ignore_errors=True)
    return seconds


def main() -> None:
    """Run the benchmark and print a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--repeat", type=int, default=2, help="runs per set-up; best is kept")
    args = parser.parse_args()

    clip = footage(args.seconds, args.height)
    library = make_library(clip, args.videos)
    footage_min = args.videos * args.seconds / 60
    runs: dict[str, list[float]] = {
        "1 local worker": [],
        "2 local workers": [],
        "dask": [],
        "one core": [],
    }
    load_before = os.getloadavg()[0]
    with dask_cluster(2) as address:
        # Alternating, so a burst of other load on the machine hits every set-up alike.
        for _ in range(args.repeat):
            runs["1 local worker"].append(time_batch(library, "--workers", "1"))
            runs["2 local workers"].append(time_batch(library, "--workers", "2"))
            runs["dask"].append(time_batch(library, "--scheduler", address))
            if shutil.which("taskset"):
                runs["one core"].append(time_batch(library, "--workers", "1", one_core=True))
    one, two, dask = (min(runs[key]) for key in ("1 local worker", "2 local workers", "dask"))

    def row(label: str, seconds: float, ratio: str, target: str) -> tuple[str, ...]:
        per_min = seconds / footage_min
        return (label, f"{seconds:.1f} s", f"{per_min:.1f} s", ratio, target)

    rows = [
        row("local pool, 1 worker", one, "1.00", "—"),
        *(
            [
                row(
                    "1 worker pinned to one core (reference)",
                    min(runs["one core"]),
                    f"2 workers: {min(runs['one core']) / two:.2f}× this",
                    "—",
                )
            ]
            if runs["one core"]
            else []
        ),
        row("local pool, 2 workers", two, f"{one / two:.2f}× throughput", "≥ 1.6×"),
        row(
            "Dask cluster, 2 workers × 1 thread",
            dask,
            f"{(dask / two - 1) * 100:+.0f} % time vs 2 local",
            "≤ +10 %",
        ),
    ]
    print(
        f"Best of {args.repeat} alternating runs of `moodscore batch` (whole process, start-up "
        f"included) over {args.videos} × {args.seconds:.0f} s {args.height}p30 H.264 clips "
        f"({footage_min:.1f} min of footage), all outputs. Cost per minute = wall seconds per "
        f"minute of footage. {os.cpu_count()} cores; 1-minute load average "
        f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after (other work on the machine "
        "takes cores from every set-up).\n"
    )
    print(markdown_table(("set-up", "wall", "per footage minute", "ratio", "target"), rows))


if __name__ == "__main__":
    main()
