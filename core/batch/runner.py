"""Drive a batch: skip complete outputs, run the rest on a pool, keep ``batch.csv`` current."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import Config
from ..files import LOCK_NAME, FolderLock
from ..outputs import prepare_out_dir, remove_empty_dirs
from ..signals import shielded
from .inputs import Found
from .jobs import FAILED, PENDING, SCORED, SKIPPED, Job, completed_seconds, has_leftovers
from .ledger import Ledger, Row, check_replaceable

log = logging.getLogger(__name__)

#: How often the runner wakes to redraw the progress bar while no job finishes.
POLL_S = 0.5


@dataclass(frozen=True)
class BatchSummary:
    """Counts of a finished batch and where its table is."""

    scored: int
    skipped: int
    failed: int
    table: Path
    failures: tuple[tuple[Path, str], ...]

    @property
    def exit_code(self) -> int:
        """0 when every input is scored (now or before), 1 when any failed."""
        return 1 if self.failed else 0


def plan(
    found: Sequence[Found], out_root: Path, config: Config, *, force: bool
) -> tuple[list[Row], list[Job]]:
    """The table's rows and the jobs still to run (complete outputs are skipped)."""
    rows: list[Row] = []
    jobs: list[Job] = []
    for index, item in enumerate(found):
        out_dir = out_root / item.relative_out
        row = Row(item.video, out_dir)
        rows.append(row)
        done_s = None if force else completed_seconds(out_dir, item.video)
        if done_s is not None:
            row.status, row.seconds = SKIPPED, done_s
            continue
        # Files of an incomplete earlier run (killed while publishing) are this batch's own
        # outputs in its own folder: replacing them is how the batch resumes.
        replace = force or has_leftovers(out_dir, item.video.stem)
        jobs.append(Job(index, item.video, out_dir, config, replace))
    return rows, jobs


def run_batch(
    found: Sequence[Found],
    out_root: Path,
    config: Config,
    *,
    force: bool = False,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool = True,
) -> BatchSummary:
    """Score every found video into ``out_root``; a bad file fails alone.

    Parameters
    ----------
    found
        The videos and their output folders (:func:`.inputs.collect`).
    out_root
        The ``--out`` folder; it receives ``batch.csv`` and is locked against a second batch.
    force
        Rescore videos whose outputs are already complete.
    workers
        Local worker processes (default: the number of cores); ignored with ``scheduler``.
    scheduler
        Address of a Dask distributed scheduler; ``None`` runs locally.
    progress
        Show a progress bar over videos on stderr.

    Raises
    ------
    KeyboardInterrupt
        On Ctrl-C or a stop signal, after running jobs were cancelled (their staged files
        removed) and ``batch.csv`` was written.
    """
    out_root = Path(os.path.abspath(out_root))  # Dask workers have working folders of their own
    check_replaceable(out_root)
    # The cluster first: an unreachable or unusable one must leave nothing behind.
    cluster = _connect(scheduler) if scheduler is not None else None
    try:
        created = prepare_out_dir(out_root)
        with FolderLock(out_root):
            if cluster is not None:
                _check_cluster(cluster, out_root, created)
            return _run(found, out_root, config, force, workers, cluster, progress=progress)
    finally:
        if cluster is not None:
            cluster.close()


def _connect(scheduler: str) -> Any:
    from .pools import DaskPool

    return DaskPool(scheduler)


def _check_cluster(cluster: Any, out_root: Path, created: list[Path]) -> None:
    try:
        cluster.check_workers(out_root)
    except BaseException:
        # Removed while still locked: no other run can have started writing into it.
        with contextlib.suppress(OSError):  # Windows keeps an open file
            (out_root / LOCK_NAME).unlink()
        remove_empty_dirs(created)
        raise


def _run(
    found: Sequence[Found],
    out_root: Path,
    config: Config,
    force: bool,
    workers: int | None,
    cluster: Any,
    *,
    progress: bool,
) -> BatchSummary:
    """Plan, run and record the batch in its locked, existing ``out_root``."""
    rows, jobs = plan(found, out_root, config, force=force)
    ledger = Ledger(out_root, rows)
    ledger.write()
    skipped = ledger.count(SKIPPED)
    if skipped:
        log.info(
            "%d of %d videos already have complete outputs; skipping them (--force rescores).",
            skipped,
            len(rows),
        )
    if jobs:
        # Shielded: a Ctrl-C in the middle of starting worker processes left them reading
        # their start-up data from a batch already gone (a FileNotFoundError traceback each).
        with shielded():
            pool = cluster or _local_pool(min(workers or default_workers(), len(jobs)))
        try:
            log.info("Scoring %s on %s.", videos(len(jobs)), pool.describe())
            _drive(pool, jobs, ledger, progress=progress)
        finally:
            if cluster is None:
                pool.close()
    ledger.write()
    failures = tuple((row.path, row.error) for row in rows if row.status == FAILED)
    return BatchSummary(
        ledger.count(SCORED), ledger.count(SKIPPED), len(failures), ledger.path, failures
    )


def videos(count: int) -> str:
    """'1 video', '12 videos'."""
    return f"{count} video{'' if count == 1 else 's'}"


def _local_pool(workers: int) -> Any:
    from .pools import LocalPool

    level = logging.getLogger().getEffectiveLevel()
    return LocalPool(workers, log_level=max(level, logging.WARNING))


def default_workers() -> int:
    """One worker per core this process may use."""
    from .pools import usable_cores

    return usable_cores()


def _drive(pool: Any, jobs: list[Job], ledger: Ledger, *, progress: bool) -> None:
    queue = deque(jobs)
    running: dict[Any, Job] = {}
    bar = _VideoBar(len(jobs), enabled=progress)
    try:
        while queue or running:
            while queue and len(running) < pool.capacity:
                job = queue.popleft()
                with shielded():  # a submit may start a worker process (see above)
                    running[pool.submit(job)] = job
            for future in pool.wait(running.keys(), POLL_S):
                job = running.pop(future)
                result = pool.outcome(future, job)
                if result is None:  # its worker died: once more, on a fresh pool
                    queue.appendleft(job)
                    continue
                ledger.update(job.index, result.status, result.seconds, result.error)
                bar.finished(result.status)
                if result.status == FAILED:
                    log.warning("%s: %s", job.video, result.error)
            ledger.write_if_due()
    except KeyboardInterrupt:
        log.warning("Stopping: cancelling %d running video(s)...", len(running))
        pool.cancel(running.keys())
        for future, job in running.items():
            if future.cancelled() or not future.done():
                continue  # never started, or did not answer: its row stays pending
            result = pool.outcome(future, job)
            if result is not None:
                ledger.update(job.index, result.status, result.seconds, result.error)
        ledger.write()
        raise
    finally:
        bar.close()
        ledger.flush()


class _VideoBar:
    """tqdm over videos: done, failed and remaining counts; tqdm's own rate gives the ETA."""

    def __init__(self, total: int, *, enabled: bool) -> None:
        self.total = total
        self.done = self.failed = 0
        self.bar: Any = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(
                total=total,
                file=sys.stderr,
                unit="video",
                dynamic_ncols=True,
                mininterval=0.5,
                bar_format="{percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} videos "
                "[{elapsed}<{remaining}] {desc}",
            )
            self._counts()

    def finished(self, status: str) -> None:
        if status == FAILED:
            self.failed += 1
        else:
            self.done += 1
        if self.bar is not None:
            self._counts()
            self.bar.update(1)

    def _counts(self) -> None:
        left = self.total - self.done - self.failed
        self.bar.set_description_str(
            f"done {self.done}, failed {self.failed}, remaining {left}", refresh=False
        )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


__all__ = ["PENDING", "BatchSummary", "default_workers", "plan", "run_batch"]
