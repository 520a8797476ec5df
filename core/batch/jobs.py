"""One video's scoring as a batch worker runs it, and what makes an output folder complete.

:func:`run_job` never raises: whatever happens to one video (a bad file, a full disk, a bug,
a cancel) comes back as a :class:`JobResult` with one sentence, so it fails alone. It runs the
same :func:`core.pipeline.score_video` as ``moodscore score``, whose staging publishes all
outputs at once or none; a cancelled or failed job therefore leaves no partial output.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ..config import Config
from ..errors import Cancelled, FolderBusy, MoodscoreError
from ..files import describe_os_error
from ..naming import OUTPUT_NAMES
from ..signals import stop_on_signals

log = logging.getLogger(__name__)

MANIFEST = OUTPUT_NAMES["manifest"]
#: How long a job waits for a video's folder that another run holds. A batch killed with
#: ``kill -9`` leaves its workers scoring; they notice at once (the pool's lifeline) and stop
#: within a frame or a render block, but a rerun started right away can reach the folder first.
BUSY_WAIT_S = 15.0

SCORED, SKIPPED, FAILED, CANCELLED, PENDING = "scored", "skipped", "failed", "cancelled", "pending"


class CancelFlag(Protocol):
    """Anything with ``is_set()``: a ``threading.Event`` or a ``multiprocessing`` one."""

    def is_set(self) -> bool: ...


@dataclass(frozen=True)
class Job:
    """One video to score into ``out_dir`` (absolute paths: workers may run anywhere)."""

    index: int
    video: Path
    out_dir: Path
    config: Config
    force: bool


@dataclass(frozen=True)
class JobResult:
    """How a job ended: ``status`` is scored, failed or cancelled; ``error`` one sentence."""

    index: int
    status: str
    seconds: float
    error: str = ""


def run_job(job: Job, cancel: CancelFlag | None = None) -> JobResult:
    """Score one video; every outcome, including a signal or a bug, becomes a result."""
    started = time.perf_counter()

    def result(status: str, error: str = "") -> JobResult:
        return JobResult(job.index, status, round(time.perf_counter() - started, 3), error)

    try:
        # In a worker process's main thread SIGTERM/SIGINT stop the job cleanly; in a Dask
        # worker's task thread this does nothing and the cancel flag does the stopping.
        with stop_on_signals():
            _score_when_free(job, cancel)
    except (KeyboardInterrupt, Cancelled):
        return result(CANCELLED, "The batch was stopped before this video was done.")
    except MoodscoreError as exc:
        return result(FAILED, str(exc))
    except OSError as exc:
        return result(FAILED, describe_os_error(exc))
    except Exception as exc:  # a bug must cost one video, not the batch
        log.exception("Scoring %s failed unexpectedly.", job.video)
        return result(
            FAILED,
            f"Moodscore failed unexpectedly ({type(exc).__name__}: {exc}); please report it "
            "with this file.",
        )
    return result(SCORED)


def _score_when_free(job: Job, cancel: CancelFlag | None) -> None:
    """Score ``job``, waiting up to :data:`BUSY_WAIT_S` for its folder to be free."""
    from ..pipeline import score_video

    deadline = time.monotonic() + BUSY_WAIT_S
    while True:
        try:
            score_video(job.video, job.out_dir, job.config, force=job.force, cancel=cancel)  # type: ignore[arg-type]
            return
        except FolderBusy:
            if time.monotonic() > deadline or (cancel is not None and cancel.is_set()):
                raise
        time.sleep(0.2)


def completed_seconds(out_dir: Path, video: Path) -> float | None:
    """The scoring time recorded in ``out_dir`` when it holds a complete scoring of ``video``.

    Complete means: ``score.json`` parses, names this video as its input, and every output it
    lists exists and is not empty. (Outputs are published together after the manifest is
    written, so a folder that passes was finished by a run, not cut short by a kill.)

    Returns
    -------
    float or None
        The recorded total seconds (0 when absent), or ``None`` when not complete.
    """
    try:
        manifest: Any = json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))
        inputs, outputs = manifest["inputs"], manifest["outputs"]
        if inputs["video"] != str(video.resolve()) or not isinstance(outputs, dict):
            return None
        if not all((out_dir / name).stat().st_size > 0 for name in outputs.values()):
            return None
        return float(manifest.get("timings", {}).get("total_s", 0.0))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def has_leftovers(out_dir: Path, stem: str) -> bool:
    """Whether ``out_dir`` holds any output file of ``stem`` (of an incomplete earlier run)."""
    return any((out_dir / pattern.format(stem=stem)).exists() for pattern in OUTPUT_NAMES.values())
