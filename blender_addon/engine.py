"""The bridge to Moodscore's engine (``core``): plain data in, files out, in another process.

Nothing here touches ``bpy`` data: the operators turn strips into :class:`ScoreRequest` objects
on the main thread, a :class:`ScoringJob` scores them in an engine process
(``engine_worker.py``, run by the Python interpreter Blender ships), and the operators turn
the results back into strips on the main thread. Blender's own process runs no engine code
and no extra thread: Python threads inside Blender stall its drawing and can crash it, and a
separate process can be killed at once on cancel.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import core, engine_worker, messages
from .core import errors
from .core import timeline as timeline_module
from .core.config import Config, config_to_dict
from .core.timeline import EmotionTimeline
from .engine_protocol import EVENT_KEY, Event

log = logging.getLogger(__name__)

#: How often :meth:`ScoringJob.run` looks at the engine when it waits for it.
WAIT_INTERVAL_S = 0.05
#: How long a terminated engine gets to exit before it is killed.
TERMINATE_GRACE_S = 2.0


class EngineError(errors.MoodscoreError):
    """The engine process failed: an unexpected error, a crash or a kill."""


#: Import names of the engine's third-party dependencies (:func:`missing_dependencies`).
ENGINE_DEPENDENCIES = ("numpy", "cv2", "av", "mido", "yaml")


def missing_dependencies() -> list[str]:
    """Import names of the engine's third-party dependencies that cannot be imported.

    Looked up without importing them: Blender's process never imports OpenCV or PyAV (enabling
    the add-on imports neither), so a missing one is found here, not only in the engine.
    """
    import importlib.util

    def missing(name: str) -> bool:
        try:
            return importlib.util.find_spec(name) is None
        except (ImportError, ValueError):  # a broken install, or a finder that refuses it
            return True

    return [name for name in ENGINE_DEPENDENCIES if missing(name)]


def engine_python() -> Path:
    """The Python interpreter that runs the engine: the one Blender itself runs on.

    Inside Blender ``sys.executable`` names its bundled Python, and in the ``bpy`` module the
    environment's Python. A Blender linked against the system's Python (e.g. Debian's) may
    instead name whatever ``python3.x`` comes first on ``PATH`` (a pyenv shim, another build),
    so an interpreter inside ``sys.prefix`` (the installation Blender runs on) wins.
    """
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    executable = Path(sys.executable).absolute() if sys.executable else None
    prefixes = [Path(sys.prefix).absolute(), Path(sys.base_prefix).absolute()]
    inside = executable is not None and any(executable.is_relative_to(p) for p in prefixes)
    if inside and executable is not None and executable.is_file():
        return executable
    for prefix in prefixes:
        for name in (f"bin/python{version}", "bin/python3", "python.exe", "bin/python.exe"):
            candidate = prefix / name
            if candidate.is_file():
                return candidate
    if executable is not None and executable.is_file():
        return executable
    raise EngineError(
        "Moodscore found no Python interpreter for its engine beside Blender's "
        f"(looked in {sys.prefix}); reinstall Blender or report this."
    )


@dataclass
class ScoreRequest:
    """One strip to score, as plain data the engine process receives.

    ``timeline`` set means re-score from it (no video analysis); ``stretch_to_s`` set means
    the edit plays the part at another speed, so the analysed timeline is stretched to it.
    """

    key: str
    video: Path
    out_dir: Path
    stem: str
    config: Config
    start_s: float
    end_s: float
    timeline: EmotionTimeline | None = None
    stretch_to_s: float | None = None
    staging_dir: Path = field(init=False)

    def __post_init__(self) -> None:
        # Hidden, beside the final folder (same file system): publishing is a rename.
        partial = f".{self.out_dir.name}.partial-{uuid.uuid4().hex[:8]}"
        self.staging_dir = self.out_dir.parent / partial

    def to_data(self) -> dict[str, Any]:
        """The request as the engine process reads it (secrets included: it goes on a pipe)."""
        timeline = self.timeline
        return {
            "key": self.key,
            "video": str(self.video),
            "staging_dir": str(self.staging_dir),
            "stem": self.stem,
            "config": config_to_dict(self.config, public=False),
            "start_s": self.start_s,
            "end_s": self.end_s,
            "timeline": engine_worker.timeline_to_data(timeline) if timeline is not None else None,
            "stretch_to_s": self.stretch_to_s,
        }


@dataclass
class ScoreOutcome:
    """A finished request: where its files will live once published, and what they hold."""

    request: ScoreRequest
    outputs: dict[str, Path]
    timeline: EmotionTimeline

    @property
    def staging_dir(self) -> Path:
        """The hidden folder holding the staged files."""
        return self.request.staging_dir

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
class EngineProcess:
    """An engine process, its temp folder and its events file, before it has a job.

    :meth:`start` launches it with the setup line: it imports ``core`` and its packages at
    once and then waits on stdin for the job (see ``engine_worker.py``).
    """

    process: subprocess.Popen
    workdir: Path
    events: Path

    @classmethod
    def start(cls) -> EngineProcess:
        """Launch an engine; it warms up in the background. Raises :class:`EngineError`."""
        workdir = Path(tempfile.mkdtemp(prefix="moodscore-job-"))
        events = workdir / "events.jsonl"
        events.touch()
        setup = {
            "core_dir": str(Path(core.__file__).resolve().parent),
            "sys_path": [entry for entry in sys.path if entry and os.path.exists(entry)],
            "events": str(events),
        }
        # The engine's temp files go in the job's folder, so removing it after any exit
        # (even a kill, which runs no cleanup in the engine) leaves nothing behind.
        env = {**os.environ, "TMPDIR": str(workdir), "TEMP": str(workdir)}
        env["TMP"] = env["TEMP"]
        # Below Blender's priority (as a renderer's workers are): on a busy machine the
        # scheduler serves Blender's UI first, and the engine takes the rest of the CPU.
        flags = getattr(subprocess, "CREATE_NO_WINDOW", 0)
        flags |= getattr(subprocess, "BELOW_NORMAL_PRIORITY_CLASS", 0)
        try:
            process = subprocess.Popen(
                [str(engine_python()), "-I", str(Path(engine_worker.__file__).resolve())],
                stdin=subprocess.PIPE,
                env=env,
                cwd=workdir,
                text=True,
                encoding="utf-8",
                creationflags=flags,
            )
        except (OSError, EngineError) as exc:
            shutil.rmtree(workdir, ignore_errors=True)
            raise EngineError(f"Moodscore could not start its engine ({exc}).") from None
        engine = cls(process, workdir, events)
        if not engine.send(json.dumps(setup)):
            engine.stop()
            raise EngineError("Moodscore could not start its engine (it exited at once).")
        return engine

    def send(self, line: str) -> bool:
        """Write one line to the engine's stdin; return whether it arrived."""
        stdin = self.process.stdin
        assert stdin is not None  # started with stdin=PIPE
        try:
            stdin.write(line + "\n")
            stdin.flush()
        except (OSError, ValueError):  # a closed pipe: the engine has exited
            return False
        return True

    def alive(self) -> bool:
        """Whether the process still runs."""
        return self.process.poll() is None

    def stop(self) -> None:
        """End the process now and remove its folder (an idle engine has staged nothing)."""
        with contextlib.suppress(OSError):
            if self.process.stdin is not None:
                self.process.stdin.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(TERMINATE_GRACE_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)


@dataclass
class ScoringJob:
    """Score several strips one after the other in one engine process; all or nothing.

    Every request writes into a hidden staging folder beside its final folder; the main
    thread publishes them together only when all succeeded, so a cancel, a failure or a killed
    engine leaves no file behind and never touches a previous score.
    """

    requests: list[ScoreRequest]
    stage: str = "starting the engine"
    fraction: float = 0.0
    outcomes: list[ScoreOutcome] = field(default_factory=list)
    #: What the engine warned about, worded for the add-on (the operator reports each).
    warnings: list[str] = field(default_factory=list)
    #: Warnings the operator gave before the engine started (already reported).
    notes: list[str] = field(default_factory=list)
    error: BaseException | None = None
    cancelled: bool = False
    _process: subprocess.Popen | None = None
    _workdir: Path | None = None
    _events: Any = None
    _pending: str = ""
    _done: bool = False

    @property
    def done(self) -> bool:
        """Whether the work is over (successfully or not) and cleaned up."""
        return self._done

    @property
    def pid(self) -> int | None:
        """The engine process's id while it runs."""
        return self._process.pid if self._process is not None else None

    @property
    def workdir(self) -> Path | None:
        """The job's own temp folder (the engine's ``TMPDIR``), removed when the job ends."""
        return self._workdir

    def check(self) -> None:
        """Refuse now, before an engine starts, what would fail in it: a missing video,
        SoundFont or RBM model, or a folder Moodscore cannot write to.

        Raises
        ------
        InputError
            One sentence naming the problem and the add-on control that fixes it.
        """
        for request in self.requests:
            if not request.video.is_file():
                raise errors.InputError(
                    f"The video of '{request.key}' ({request.video}) does not exist; put the "
                    "file back or point the movie strip at it."
                )
            soundfont = request.config.render.soundfont
            if soundfont and not Path(soundfont).is_file():
                raise errors.InputError(
                    f"The SoundFont in {messages.PREFERENCES} ({soundfont}) does not exist; "
                    "choose an existing .sf2 file there, or clear it to use the bundled one."
                )
            model = request.config.rbm.model
            rbm = request.config.music.generator.startswith("rbm")
            if rbm and model and not Path(model).exists():
                raise errors.InputError(
                    f"The RBM Model in {messages.PREFERENCES} ({model}) does not exist; "
                    "choose an existing .npz file there, or clear it to use the bundled one."
                )
            folder = request.staging_dir.parent
            problem = _unwritable(folder)
            if problem is not None:
                raise errors.InputError(
                    f"Moodscore cannot write the score of '{request.key}' to {folder} "
                    f"({problem}); {messages.WRITABLE_FOLDER}."
                )

    def start(self) -> None:
        """Hand the requests to an engine process (a warm one if there is); returns at once."""
        job = json.dumps({"requests": [request.to_data() for request in self.requests]})
        process = take_warm()
        if process is not None and not process.send(job):
            process.stop()  # it died while idle: a fresh one does the job
            process = None
        if process is None:
            try:
                process = EngineProcess.start()
            except EngineError as exc:
                self._fail(exc)
                return
            if not process.send(job):
                process.stop()
                self._fail(EngineError("Moodscore could not start its engine."))
                return
        self._process, self._workdir = process.process, process.workdir
        self._events = process.events.open(encoding="utf-8")

    def poll(self) -> bool:
        """Read the engine's news; when it has exited, collect the result. Never blocks.

        Returns whether the job is done.
        """
        if self._done:
            return True
        self._read_events()
        status = self._process.poll() if self._process is not None else -1
        if status is None:
            return False
        self._read_events()
        if self.error is None and not self.cancelled:
            if status != 0:
                self.error = EngineError(
                    f"The Moodscore engine stopped unexpectedly ({_exit_reason(status)}); "
                    "nothing was written. Run it again, or see Blender's console."
                )
            elif len(self.outcomes) != len(self.requests):
                self.error = EngineError("The Moodscore engine ended without finishing its work.")
        self._finish()
        return True

    def run(self) -> None:
        """Start and wait for the end (scripts and background mode)."""
        self.start()
        self.wait()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the job to end; return whether it did."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.poll():
            if deadline is not None and time.monotonic() > deadline:
                return False
            time.sleep(WAIT_INTERVAL_S)
        return True

    def cancel(self) -> None:
        """Stop now: terminate the engine; the next :meth:`poll` removes what it staged."""
        self.cancelled = True
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(TERMINATE_GRACE_S)
        except subprocess.TimeoutExpired:
            process.kill()

    def discard(self) -> None:
        """Delete every staged file of this job, and score folders' parents left empty."""
        for request in self.requests:
            shutil.rmtree(request.staging_dir, ignore_errors=True)
        self.outcomes.clear()
        for request in self.requests:
            with contextlib.suppress(OSError):  # only succeeds when empty
                request.out_dir.parent.rmdir()

    def _read_events(self) -> None:
        if self._events is None:
            return
        self._pending += self._events.read()
        *lines, self._pending = self._pending.split("\n")
        for line in lines:
            if line.strip():
                self._handle(json.loads(line))

    def _handle(self, event: dict[str, Any]) -> None:
        kind = event[EVENT_KEY]
        if kind == Event.PROGRESS:
            request = self.requests[event["index"]]
            self.stage = f"{request.key}: {event['stage']}"
            self.fraction = event["fraction"]
        elif kind == Event.WARNING:
            self.warnings.append(messages.for_addon(event["message"]))
        elif kind == Event.OUTCOME:
            request = next(r for r in self.requests if r.key == event["key"])
            outputs = {name: Path(path) for name, path in event["outputs"].items()}
            timeline = engine_worker.timeline_from_data(timeline_module, event["timeline"])
            self.outcomes.append(ScoreOutcome(request, outputs, timeline))
        elif kind == Event.DONE:
            self.stage, self.fraction = "done", 1.0
        elif kind == Event.ERROR:
            message = messages.for_addon(event["message"])
            if event["kind"] == "Cancelled":
                self.error = errors.Cancelled(message)
            elif event["expected"]:
                self.error = errors.MoodscoreError(message)
            else:
                self.error = EngineError(f"Scoring failed ({event['kind']}: {message}).")

    def _fail(self, error: BaseException) -> None:
        self.error = error
        self._finish()

    def _finish(self) -> None:
        if self._events is not None:
            self._events.close()
            self._events = None
        if self._process is not None and self._process.stdin is not None:
            with contextlib.suppress(OSError):
                self._process.stdin.close()
        if self.error is not None or self.cancelled:
            self.discard()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
        self._done = True


def _unwritable(folder: Path) -> str | None:
    """Why files cannot be created in ``folder`` (or, while it does not exist yet, in the
    folder it will be made in), else ``None``; tried for real, as permissions alone do not
    tell (ACLs, read-only mounts, Windows).
    """
    existing = folder
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is a file"
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    return None


def _exit_reason(status: int) -> str:
    """``Popen.returncode`` in words."""
    if status < 0:
        with contextlib.suppress(ValueError):
            import signal

            return f"killed by {signal.Signals(-status).name}"
        return f"killed by signal {-status}"
    return f"exit status {status}"


def timeline_from_curves(
    arousal: np.ndarray,
    valence: np.ndarray,
    *,
    bpm: float,
    step_bars: int,
    duration_s: float,
    cuts_s: tuple[float, ...],
) -> EmotionTimeline:
    """A timeline from per-step values read off edited curves (clipped to [0, 1])."""
    return timeline_module.EmotionTimeline.from_values(
        np.clip(arousal, 0.0, 1.0),
        np.clip(valence, 0.0, 1.0),
        grid=timeline_module.TimeGrid(bpm, step_bars),
        duration_s=duration_s,
        cuts_s=cuts_s,
    )


# The one job that may run at a time; read by the panel, the status bar and the cancel operator.
_active_job: ScoringJob | None = None
# The warnings of the last job that ended, which the panel keeps showing until the next one.
_last_warnings: list[str] = []


def active_job() -> ScoringJob | None:
    """The job running now, if any."""
    return _active_job


def claim(job: ScoringJob) -> None:
    """Make ``job`` the active one (the last job's warnings are then old news)."""
    global _active_job
    _active_job = job
    _last_warnings.clear()


def release(job: ScoringJob) -> None:
    """Forget ``job`` if it is the active one, keeping its warnings for the panel."""
    global _active_job
    if _active_job is job:
        _active_job = None
        _last_warnings[:] = [*job.notes, *job.warnings]


def last_warnings() -> list[str]:
    """The warnings of the last job that ended (before and from its engine)."""
    return list(_last_warnings)


def cancel_active() -> bool:
    """Stop the running job; return whether there was one."""
    job = _active_job
    if job is None or job.done:
        return False
    job.cancel()
    return True


def shutdown() -> None:
    """Stop the running job and remove what it staged, and stop a warm engine (unregister)."""
    job = _active_job
    if job is not None:
        job.cancel()
        job.poll()
        release(job)
    stop_warm()


# An engine started ahead of time (:func:`prewarm`): its imports (numpy, OpenCV, PyAV, core)
# take seconds, most of a short score's time, and longer still on the first run after an
# install, when nothing is in the disk cache and no bytecode is compiled.
_warm: EngineProcess | None = None


def prewarm() -> bool:
    """Start an idle engine for the next job unless one waits or a job runs; return whether
    one was started. Never raises: the job starts its own engine if this one is missing.
    """
    global _warm
    if _active_job is not None or (_warm is not None and _warm.alive()):
        return False
    stop_warm()
    try:
        _warm = EngineProcess.start()
    except EngineError as exc:
        log.info("Moodscore could not start an engine ahead of time (%s).", exc)
        return False
    return True


def has_warm() -> bool:
    """Whether an idle engine is running (or still importing)."""
    return _warm is not None and _warm.alive()


def take_warm() -> EngineProcess | None:
    """The idle engine, if one runs; it is then the caller's."""
    global _warm
    engine, _warm = _warm, None
    if engine is not None and not engine.alive():
        engine.stop()
        return None
    return engine


def stop_warm() -> None:
    """End the idle engine, if any, and remove its folder."""
    global _warm
    engine, _warm = _warm, None
    if engine is not None:
        engine.stop()
