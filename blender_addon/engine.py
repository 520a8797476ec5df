"""The bridge to Moodscore's engine (``core``): plain data in, files out, off the main thread.

Nothing here touches ``bpy`` data: the operators turn strips into :class:`ScoreRequest` objects
on the main thread, a :class:`ScoringJob` runs ``core.pipeline.score_video`` for each (in a
worker thread, or inline when Blender runs in the background), and the operators turn the
results back into strips on the main thread.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import logging
import shutil
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

#: The engine's progress callback: (stage, fraction 0-1).
Progress = Callable[[str, float], None]

#: What the add-on asks the engine for: the edit has the picture, and matplotlib is heavy.
ADDON_OUTPUTS = ("midi", "wav", "emotions_txt", "emotions_csv", "manifest")

_ROOT_PACKAGE = __package__ or "blender_addon"


def core_module(name: str = "") -> Any:
    """Import ``core.<name>``: the copy vendored into the built add-on, else the installed one."""
    vendored = f"{_ROOT_PACKAGE}.core"
    base = vendored if importlib.util.find_spec(vendored) is not None else "core"
    return importlib.import_module(f"{base}.{name}" if name else base)


def missing_dependencies() -> list[str]:
    """Import names of the engine's third-party dependencies that cannot be imported."""
    names = ("numpy", "cv2", "av", "mido", "yaml")
    return [name for name in names if importlib.util.find_spec(name) is None]


@dataclass
class ScoreRequest:
    """One strip to score, as plain data the worker may read.

    ``timeline`` set means re-score from it (no video analysis); ``stretch_to_s`` set means
    the edit plays the part at another speed, so the analysed timeline is stretched to it.
    """

    key: str
    video: Path
    out_dir: Path
    stem: str
    config: Any
    start_s: float
    end_s: float
    timeline: Any = None
    stretch_to_s: float | None = None


@dataclass
class ScoreOutcome:
    """A finished request: where its files will live once published, and what they hold."""

    request: ScoreRequest
    staging_dir: Path
    outputs: dict[str, Path]
    timeline: Any

    def publish(self) -> dict[str, Path]:
        """Move the staged files into the request's folder, replacing that strip's old files."""
        self.request.out_dir.mkdir(parents=True, exist_ok=True)
        published = {}
        for kind, staged in self.outputs.items():
            final = self.request.out_dir / staged.name
            staged.replace(final)
            published[kind] = final
        shutil.rmtree(self.staging_dir, ignore_errors=True)
        return published

    def discard(self) -> None:
        """Delete the staged files."""
        shutil.rmtree(self.staging_dir, ignore_errors=True)


@dataclass
class ScoringJob:
    """Score several strips one after the other; all or nothing.

    Every request writes into a hidden staging folder beside its final folder; the main
    thread publishes them together only when all succeeded, so a cancel or a failure leaves
    no file behind and never touches a previous score.
    """

    requests: list[ScoreRequest]
    stage: str = "waiting"
    fraction: float = 0.0
    outcomes: list[ScoreOutcome] = field(default_factory=list)
    error: BaseException | None = None
    cancel_event: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _finished: threading.Event = field(default_factory=threading.Event)

    @property
    def done(self) -> bool:
        """Whether the work is over (successfully or not)."""
        return self._finished.is_set()

    @property
    def cancelled(self) -> bool:
        """Whether the user asked to stop."""
        return self.cancel_event.is_set()

    def cancel(self) -> None:
        """Ask the work to stop; the engine raises ``Cancelled`` at its next check."""
        self.cancel_event.set()

    def start(self) -> None:
        """Run in a daemon worker thread."""
        self._thread = threading.Thread(target=self.run, name="moodscore-job", daemon=True)
        self._thread.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the work to end; return whether it did."""
        return self._finished.wait(timeout)

    def run(self) -> None:
        """Score every request; on any error discard what was staged."""
        try:
            for index, request in enumerate(self.requests):
                self.outcomes.append(self._score(index, request))
            if self.cancelled:
                raise core_module("errors").Cancelled("Scoring was cancelled.")
        except BaseException as exc:  # the main thread reports it; never kill the worker loudly
            self.error = exc
            self.discard()
            if not isinstance(exc, core_module("errors").MoodscoreError):
                log.exception("Moodscore job failed")
        finally:
            self._finished.set()

    def discard(self) -> None:
        """Delete every staged file of this job, and score folders' parents left empty."""
        for outcome in self.outcomes:
            outcome.discard()
        self.outcomes.clear()
        for request in self.requests:
            with contextlib.suppress(OSError):  # only succeeds when empty
                request.out_dir.parent.rmdir()

    def _progress_for(self, index: int, label: str) -> Progress:
        count = len(self.requests)

        def report(stage: str, fraction: float) -> None:
            self.stage = f"{label}: {stage}"
            self.fraction = (index + min(max(fraction, 0.0), 1.0)) / count

        return report

    def _score(self, index: int, request: ScoreRequest) -> ScoreOutcome:
        pipeline = core_module("pipeline")
        partial_name = f".{request.out_dir.name}.partial-{uuid.uuid4().hex[:8]}"
        staging_dir = request.out_dir.parent / partial_name
        progress = self._progress_for(index, request.key)
        timeline = request.timeline
        try:
            if timeline is None and request.stretch_to_s is not None:
                # The edit plays the part at the scene's rate: analyse in file time, then
                # stretch the curves onto edit time so the music lasts as long as the strip.
                analysed = pipeline.score_video(
                    request.video,
                    staging_dir / "analysis",
                    request.config,
                    start_s=request.start_s,
                    end_s=request.end_s,
                    outputs=("emotions_txt",),
                    stem=request.stem,
                    progress=lambda stage, f: progress(stage, 0.8 * f),
                    cancel=self.cancel_event,
                )
                shutil.rmtree(staging_dir / "analysis", ignore_errors=True)
                timeline = analysed.timeline.stretched(request.stretch_to_s)
                progress = _rescaled(progress, 0.8, 1.0)
            result = pipeline.score_video(
                request.video,
                staging_dir,
                request.config,
                start_s=request.start_s,
                end_s=request.end_s,
                outputs=ADDON_OUTPUTS,
                timeline=timeline,
                stem=request.stem,
                progress=progress,
                cancel=self.cancel_event,
            )
        except BaseException:
            shutil.rmtree(staging_dir, ignore_errors=True)
            raise
        return ScoreOutcome(request, staging_dir, dict(result.outputs), result.timeline)


def _rescaled(progress: Progress, low: float, high: float) -> Progress:
    """``progress`` with its fraction mapped onto ``low``-``high``."""

    def report(stage: str, fraction: float) -> None:
        progress(stage, low + (high - low) * fraction)

    return report


def timeline_from_curves(
    arousal: np.ndarray,
    valence: np.ndarray,
    *,
    bpm: float,
    step_bars: int,
    duration_s: float,
    cuts_s: tuple[float, ...],
) -> Any:
    """A timeline from per-step values read off edited curves (clipped to [0, 1])."""
    timeline_mod = core_module("timeline")
    return timeline_mod.EmotionTimeline.from_values(
        np.clip(arousal, 0.0, 1.0),
        np.clip(valence, 0.0, 1.0),
        grid=timeline_mod.TimeGrid(bpm, step_bars),
        duration_s=duration_s,
        cuts_s=cuts_s,
    )


# The one job that may run at a time; read by the panel, the status bar and the cancel operator.
_active_job: ScoringJob | None = None


def active_job() -> ScoringJob | None:
    """The job running now, if any."""
    return _active_job


def claim(job: ScoringJob) -> None:
    """Make ``job`` the active one."""
    global _active_job
    _active_job = job


def release(job: ScoringJob) -> None:
    """Forget ``job`` if it is the active one."""
    global _active_job
    if _active_job is job:
        _active_job = None


def cancel_active() -> bool:
    """Ask the running job to stop; return whether there was one."""
    job = _active_job
    if job is None or job.done:
        return False
    job.cancel()
    return True


def shutdown(timeout_s: float = 5.0) -> None:
    """Cancel the running job and wait briefly for its thread (on unregister)."""
    job = _active_job
    if job is not None:
        job.cancel()
        with contextlib.suppress(Exception):
            job.wait(timeout_s)
        release(job)
