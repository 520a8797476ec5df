"""Where a batch's jobs run: a local pool of worker processes, or a Dask distributed cluster.

Both pools offer the same small interface to :mod:`.runner`: ``submit`` a job, ``wait`` for
some to finish, turn a finished future into a :class:`~.jobs.JobResult` (``outcome``),
``cancel`` everything still running, ``close``.

Cancelling reaches into running jobs: the local workers share a ``multiprocessing`` event that
:func:`core.pipeline.score_video` checks before every frame and render block; on a cluster a
Dask ``Event`` set by the batch is watched from inside each task and mirrored into a local
flag. Either way a cancelled job discards its staged files, so nothing partial is left.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import logging
import multiprocessing
import os
import queue
import signal
import socket
import threading
import time
import urllib.parse
import uuid
from collections.abc import Collection, Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, cast

from .. import __version__
from ..errors import InputError
from ..limits import quoted
from .jobs import CANCELLED, FAILED, CancelFlag, Job, JobResult, run_job

log = logging.getLogger(__name__)

#: How long running jobs get to stop cleanly after a cancel before their workers are ended.
CANCEL_GRACE_S = 30.0
_WORKER_DIED = (
    "The worker process scoring it died twice (a crash, or killed for lack of memory); "
    "score it alone with moodscore score to see why."
)


# -- threads per worker ------------------------------------------------------------------------


def core_share(workers: int, cores: int) -> int | None:
    """Threads each of ``workers`` jobs on a ``cores``-core machine should use (``None``: all).

    One worker keeps every library's own choice (as ``moodscore score`` does); several split the
    cores, since decoder frame threads cost extra CPU that only pays when cores are idle.
    """
    return None if workers <= 1 else max(1, cores // workers)


def use_threads(threads: int | None) -> None:
    """Limit this process's FFmpeg decoding and OpenCV threads (``None`` leaves the defaults)."""
    if threads is None:
        return
    import cv2

    from ..video.frames import set_decode_threads

    set_decode_threads(threads)
    cv2.setNumThreads(threads)


def usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


# -- local processes ---------------------------------------------------------------------------

_worker_cancel: CancelFlag | None = None
#: Modules a worker needs for every video, imported once in the fork server.
WORKER_PRELOAD = (
    "core.batch.forkserver_start",
    "core.batch.pools",
    "core.pipeline",
    "core.emotion.analysis",
    "core.emotion.export",
    "core.music.render",
    "core.video.mux",
)


def worker_context() -> multiprocessing.context.BaseContext:
    """How pool workers start: from a fork server where the system has one, else spawned.

    Workers fork from a server process that imported the scoring code once: each starts warm
    (and a replacement after a crash too) and none inherits this process's threads. Windows
    has neither fork nor a fork server; there each worker is a fresh interpreter that imports
    what its first job needs.
    """
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(list(WORKER_PRELOAD))
        return context
    return multiprocessing.get_context("spawn")


#: Set while no job runs in this worker (the lifeline watcher ends the process only then).
_idle = threading.Event()
_idle.set()


def _watch_lifeline(lifeline: Connection, cancel: Any) -> None:
    """End this worker when the batch dies, however it dies (``kill -9`` included).

    Nothing is ever sent on the lifeline: ``recv`` returns only when the batch's end is
    closed, i.e. when the batch is gone. The running job is then cancelled, so it discards its
    staged outputs instead of publishing them, and the process exits; with it go the fork
    server and the resource tracker, which live as long as any worker does.
    """
    with contextlib.suppress(EOFError, OSError):
        lifeline.recv_bytes()
    log.debug("the batch is gone; stopping worker %d", os.getpid())
    cancel.set()
    _idle.wait(CANCEL_GRACE_S)
    os._exit(1)


def _init_local_worker(
    cancel: CancelFlag, log_level: int, threads: int | None, lifeline: Connection
) -> None:
    """Set up a pool process: its share of the cores; the batch decides when Ctrl-C stops it."""
    # First of all: idle workers must not die of the terminal's Ctrl-C (which reaches the whole
    # process group, also while a fresh pool's workers start), nor of Windows' Ctrl-Break
    # (which reaches every process of the console); a running job handles them through
    # core.signals and cleans up.
    for name in ("SIGINT", "SIGBREAK"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
    global _worker_cancel
    _worker_cancel = cancel
    threading.Thread(
        target=_watch_lifeline, args=(lifeline, cancel), name="moodscore-lifeline", daemon=True
    ).start()
    use_threads(threads)
    logging.basicConfig(level=log_level, format="moodscore: %(message)s")


def _run_local_job(job: Job) -> JobResult:
    _idle.clear()
    try:
        return run_job(job, _worker_cancel)
    finally:
        _idle.set()


@contextlib.contextmanager
def _ctrl_c_held() -> Iterator[None]:
    """Start a helper process (the fork server) deaf to the terminal's Ctrl-C.

    Ctrl-C reaches the whole process group, and the fork server imports for a while before it
    ignores it: interrupted then, it printed a traceback. SIGINT is blocked (held pending, not
    lost) while it starts, and it inherits the block; this process gets it right after.
    Windows has no signal masks and no fork server.
    """
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            yield
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    else:
        yield


class LocalPool:
    """``workers`` processes on this machine (``concurrent.futures``, see :func:`worker_context`).

    At most ``workers`` jobs are handed over at a time, so when a worker process dies (a
    segfaulting decoder, the out-of-memory killer) the jobs it may have held are known; they
    are retried once on a fresh pool, then reported as failed.
    """

    def __init__(self, workers: int, *, log_level: int = logging.WARNING) -> None:
        self.capacity = workers
        self._context = worker_context()
        self._log_level = log_level
        self._retried: set[int] = set()
        if self._context.get_start_method() == "forkserver":
            from multiprocessing import forkserver, resource_tracker

            # The tracker first: it starts itself deaf to Ctrl-C, then unblocks SIGINT in this
            # thread, which would undo the hold around the fork server's start.
            resource_tracker.ensure_running()
            with _ctrl_c_held():
                forkserver.ensure_running()
        self._cancel = self._context.Event()
        # Workers hold the reading end; only this process holds the writing end, so the
        # system closes it when the batch dies and every worker sees EOF (_watch_lifeline).
        self._lifeline, self._lifeline_end = self._context.Pipe(duplex=False)
        self._executor = self._start()
        # Which executor each future came from: several futures report one broken pool.
        self._origin: dict[cf.Future[JobResult], cf.ProcessPoolExecutor] = {}

    def describe(self) -> str:
        return f"{self.capacity} local worker process{'es' if self.capacity != 1 else ''}"

    def _start(self) -> cf.ProcessPoolExecutor:
        return cf.ProcessPoolExecutor(
            max_workers=self.capacity,
            mp_context=self._context,
            initializer=_init_local_worker,
            initargs=(
                self._cancel,
                self._log_level,
                core_share(self.capacity, usable_cores()),
                self._lifeline,
            ),
        )

    def submit(self, job: Job) -> cf.Future[JobResult]:
        try:
            future = self._executor.submit(_run_local_job, job)
        except cf.process.BrokenProcessPool:  # a worker died since the last result came in
            self._replace_broken_pool()
            future = self._executor.submit(_run_local_job, job)
        self._origin[future] = self._executor
        return future

    def _replace_broken_pool(self) -> None:
        log.warning("A worker process died; starting a fresh pool.")
        # Wait for the broken pool's other workers to end: they were sent SIGTERM and are
        # still releasing their folder locks, which the retries need.
        self._executor.shutdown(wait=True, cancel_futures=True)
        self._executor = self._start()

    def wait(self, futures: Collection[Any], timeout: float) -> set[Any]:
        done, _ = cf.wait(futures, timeout=timeout, return_when=cf.FIRST_COMPLETED)
        return done

    def outcome(self, future: cf.Future[JobResult], job: Job) -> JobResult | None:
        """The job's result; ``None`` asks the runner to submit it again."""
        broken_executor = self._origin.pop(future, None)
        try:
            return future.result()
        except cf.CancelledError:
            return JobResult(job.index, CANCELLED, 0.0, "The batch was stopped before it started.")
        except cf.process.BrokenProcessPool:
            if broken_executor is self._executor:
                self._replace_broken_pool()
            if job.index in self._retried:
                return JobResult(job.index, FAILED, 0.0, _WORKER_DIED)
            self._retried.add(job.index)
            return None

    def cancel(self, futures: Collection[cf.Future[JobResult]]) -> None:
        """Stop queued jobs, let running ones stop cleanly, end workers that do not."""
        self._cancel.set()
        for future in futures:
            future.cancel()
        _, stuck = cf.wait(futures, timeout=CANCEL_GRACE_S)
        if stuck:
            # SIGTERM runs the job's own cleanup (core.signals) in the worker. On Windows
            # terminate() ends it outright; the next run into its folder removes its temp
            # files (their names carry its pid).
            for process in multiprocessing.active_children():
                process.terminate()
            cf.wait(stuck, timeout=CANCEL_GRACE_S)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
        self._lifeline_end.close()
        self._lifeline.close()


# -- Dask distributed --------------------------------------------------------------------------


def worker_facts(out_root: str) -> dict[str, Any]:
    """Run on every Dask worker before a batch: its host, version and view of ``--out``."""
    return {
        "host": socket.gethostname(),
        "cores": usable_cores(),
        "version": __version__,
        "sees_out": os.path.isdir(out_root),
        "can_write": os.access(out_root, os.W_OK | os.X_OK),
    }


def run_dask_job(job: Job, cancel_event: str, shares: dict[str, int | None]) -> JobResult:
    """A Dask task: :func:`~.jobs.run_job` with the batch's cancel event mirrored locally.

    ``shares`` gives the threads per task on each host (its cores over its worker threads).
    """
    from distributed import Event

    use_threads(shares.get(socket.gethostname()))

    # distributed's Event and Client are unannotated: what they make is Any here.
    remote = cast(Any, Event)(cancel_event)
    if remote.is_set():
        return JobResult(job.index, CANCELLED, 0.0, "The batch was stopped before it started.")
    flag, finished = threading.Event(), threading.Event()

    def watch() -> None:
        # One long-poll at a time on the scheduler, not one round trip per frame.
        while not finished.is_set():
            try:
                if remote.wait(timeout=1.0):
                    flag.set()
                    return
            except Exception:  # the scheduler went away: the job finishes on its own
                return

    watcher = threading.Thread(target=watch, name="moodscore-cancel-watch", daemon=True)
    watcher.start()
    try:
        return run_job(job, flag)
    finally:
        finished.set()


#: Dask's network protocols a scheduler listens on (``inproc`` only inside one process).
_SCHEDULER_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx")


def check_scheduler_address(address: str) -> str:
    """``address`` if it is a scheduler address Dask can dial, e.g. ``tcp://HOST:8786``.

    Checked before anything is created: Dask itself stalls 30 s on a malformed one and then
    prints a traceback from ``Client.__del__``.
    """
    parts = urllib.parse.urlsplit(address.strip())
    try:
        port = parts.port
    except ValueError:
        port = None
    if (
        parts.scheme not in _SCHEDULER_SCHEMES
        or not parts.hostname
        or port is None
        or parts.path not in ("", "/")
        or parts.query
    ):
        raise InputError(
            "--scheduler must be a Dask scheduler address such as tcp://HOST:8786 (protocol, "
            f"host and port), got {quoted(address)}."
        )
    return address.strip()


class DaskPool:
    """Jobs as tasks on an existing Dask distributed cluster.

    Workers must have this Moodscore version installed and see the inputs and ``--out`` at the
    same paths as this machine (a shared file system); both are checked on every worker before
    the first task.
    """

    def __init__(self, address: str) -> None:
        """Connect to the scheduler (nothing is created before: see :func:`.runner.run_batch`).

        Call :meth:`check_workers` once ``--out`` exists, before the first task.
        """
        from distributed import Client

        self.address = check_scheduler_address(address)
        try:
            self.client = cast(Any, Client)(self.address, timeout="15s", set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise InputError(
                f"Cannot reach the Dask scheduler at {address} ({_first_line(exc)}); start one "
                "with `dask scheduler` and pass its address, e.g. --scheduler tcp://HOST:8786."
            ) from None
        self._cancel_event = f"moodscore-batch-{uuid.uuid4().hex}"
        self._keys = f"moodscore-{uuid.uuid4().hex[:8]}"
        self._finished: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.capacity = 1 << 30  # the scheduler queues; it also sees workers join and leave

    def describe(self) -> str:
        workers = self.client.scheduler_info().get("workers", {})
        threads = sum(w.get("nthreads", 1) for w in workers.values())
        return f"the Dask cluster at {self.address} ({len(workers)} workers, {threads} threads)"

    def check_workers(self, out_root: Path) -> None:
        """Refuse workers that lack this version or cannot write to ``out_root``."""
        try:
            self.client.wait_for_workers(1, timeout=30)
        except TimeoutError:
            raise InputError(
                f"The Dask scheduler at {self.address} has no workers; start some with "
                f"`dask worker {self.address} --nthreads 1` on machines with Moodscore installed."
            ) from None
        try:
            facts = self.client.run(worker_facts, str(out_root))
        except Exception as exc:
            raise InputError(
                f"A Dask worker cannot run Moodscore ({type(exc).__name__}: {_first_line(exc)}); "
                f"install moodscore {__version__} in every worker's environment."
            ) from None
        threads = {
            address: info.get("nthreads", 1)
            for address, info in self.client.scheduler_info().get("workers", {}).items()
        }
        per_host: dict[str, list[int]] = {}
        for address, fact in sorted(facts.items()):
            cores_and_threads = per_host.setdefault(fact["host"], [fact["cores"], 0])
            cores_and_threads[1] += threads.get(address, 1)
            if fact["version"] != __version__:
                raise InputError(
                    f"Dask worker {address} runs moodscore {fact['version']}, this machine "
                    f"{__version__}; install the same version on every worker."
                )
            if not (fact["sees_out"] and fact["can_write"]):
                raise InputError(
                    f"Dask worker {address} on {fact['host']} cannot write to {out_root}; the "
                    "workers need the inputs and --out on a shared file system at the same "
                    "paths (see README, Batch scoring)."
                )
        self._shares = {host: core_share(n, cores) for host, (cores, n) in per_host.items()}

    def submit(self, job: Job) -> Any:
        future = self.client.submit(
            run_dask_job,
            job,
            self._cancel_event,
            self._shares,
            key=f"{self._keys}-{job.index}",
            pure=False,
        )
        future.add_done_callback(self._finished.put)
        return future

    def wait(self, futures: Collection[Any], timeout: float) -> set[Any]:
        """Futures finished since the last call (the callbacks queue them as they finish)."""
        try:
            done = {self._finished.get(timeout=timeout)}
        except queue.Empty:
            return set()
        while True:
            try:
                done.add(self._finished.get_nowait())
            except queue.Empty:
                return done & set(futures)

    def outcome(self, future: Any, job: Job) -> JobResult:
        from distributed import KilledWorker

        try:
            return cast(JobResult, future.result())
        except KilledWorker:
            error = (
                "The Dask workers scoring it died repeatedly (a crash, or out of memory); score "
                "it alone with moodscore score to see why."
            )
        except Exception as exc:  # raised in the task before run_job could catch it
            error = f"The Dask task failed ({type(exc).__name__}: {_first_line(exc)})."
        return JobResult(job.index, FAILED, 0.0, error)

    def cancel(self, futures: Collection[Any]) -> None:
        """Set the cancel event, drop queued tasks, give running ones time to clean up."""
        from distributed import Event

        with contextlib.suppress(Exception):
            cast(Any, Event)(self._cancel_event, client=self.client).set()
        running = {key for keys in self.client.processing().values() for key in keys}
        queued = [f for f in futures if f.key not in running]
        self.client.cancel(queued)
        deadline = time.monotonic() + CANCEL_GRACE_S
        pending = [f for f in futures if f.key in running]
        while pending and time.monotonic() < deadline:
            pending = [f for f in pending if not f.done()]
            time.sleep(0.1)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.close(timeout=10)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0].rstrip(".")
