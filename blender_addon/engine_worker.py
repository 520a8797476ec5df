"""The engine process: scores a job's requests outside Blender and reports as it goes.

Blender starts this file as a script with the interpreter it ships (see
:func:`blender_addon.engine.engine_python`), so nothing here may import ``bpy`` or the add-on
package: only the standard library (and ``engine_protocol.py`` beside this file) until the
setup names the engine's ``core`` folder.

Protocol (one job per process; the event names are :class:`engine_protocol.Event`'s):

* **stdin** carries two JSON lines and then stays open: the *setup* (``core_dir``,
  ``sys_path``, ``events``), after which the process imports its packages and reports
  ``ready``, and the *job* (``requests``), which may come much later: Blender starts an engine
  ahead of time so that a score does not wait for Python's imports. stdin is also the lifeline:
  end of file means Blender went away (or no longer needs the engine); the process then
  cancels, removes what it staged and exits, so a crashed Blender never leaves an engine
  running.
* **events file** (the path is in the setup): JSON lines this process appends and Blender
  reads from its timer without blocking, on every platform: ``ready``, ``progress`` (stage,
  fraction), ``warning`` (every record logged at WARNING or above while scoring, so the user
  sees it in Blender, not only in its console), one ``outcome`` per scored request (its files
  and the timeline), then ``done`` or ``error``.
* **exit**: Blender cancels by terminating the process; whatever the exit (cancel, crash,
  kill), Blender removes the job's staging folders and its temp folder (this process's
  ``TMPDIR``) afterwards, so nothing is left on disk.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import logging
import os
import shutil
import sys
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:  # at run time core is loaded from the setup's folder (see load_core)
    from .core.timeline import EmotionTimeline

#: The engine package's module name in the engine process.
CORE_NAME = "moodscore_core"
#: What the add-on asks the engine for: the edit has the picture, and matplotlib is heavy.
ADDON_OUTPUTS = ("midi", "wav", "emotions_txt", "emotions_csv", "manifest", "beats_csv")
#: At most this often a progress event (seconds), unless the stage changes.
PROGRESS_INTERVAL_S = 0.05
#: How much lower than Blender the engine runs (POSIX ``nice``): Blender's UI comes first.
ENGINE_NICENESS = 10
#: Share of a stretched request's progress spent analysing (the rest composes and renders).
ANALYSIS_SHARE = 0.8

#: Modules of ``core`` a score imports (many on first use, inside functions); a warm engine
#: imports them before its job comes, so the job does not wait for them. Measured on the demo
#: clip: a score in a fresh process after importing only ``pipeline`` took 4.6 s, after these
#: 2.4 s, a second score in the same process 2.2 s.
WARM_MODULES = (
    "pipeline",
    "emotion",
    "video.probe",
    "generators.scales",
    "generators.chords",
    "music.midi",
    "music.render",
    "music.synth",
    "music.master",
    "music.soundfont",
    "emotion.export",
)
#: Packages ``core`` imports inside functions (mastering, the bundled synthesizer); where one is
#: not installed, the score goes without it as it would have. FluidSynth is warmed through
#: ``core``'s own probe, which keeps pyfluidsynth's import chatter off stdout.
WARM_PACKAGES = ("scipy.signal", "pyloudnorm", "midirenderer")
#: At most this many distinct warnings are forwarded per job (the console gets them all).
MAX_WARNINGS = 20

log = logging.getLogger("moodscore.engine")


def load_module(name: str, path: Path, package_dir: Path | None = None) -> ModuleType:
    """Import the file ``path`` as module ``name`` (a package searching ``package_dir``)."""
    locations = [str(package_dir)] if package_dir is not None else None
    spec = importlib.util.spec_from_file_location(name, path, submodule_search_locations=locations)
    assert spec is not None and spec.loader is not None  # a file location always has both
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


if __package__:
    from . import engine_protocol
else:  # run as a script with ``python -I``: not even this file's folder is on sys.path
    engine_protocol = load_module(
        "moodscore_engine_protocol", Path(__file__).with_name("engine_protocol.py")
    )
Event = engine_protocol.Event


def timeline_to_data(timeline: EmotionTimeline) -> dict[str, Any]:
    """An ``EmotionTimeline`` as JSON-ready data (what the add-on keys and re-scores from)."""
    return {
        "bpm": timeline.grid.bpm,
        "step_bars": timeline.grid.step_bars,
        "duration_s": timeline.duration_s,
        "cuts_s": list(timeline.cuts_s),
        "arousal": [float(value) for value in timeline.arousal],
        "valence": [float(value) for value in timeline.valence],
    }


def timeline_from_data(timeline_module: ModuleType, data: dict[str, Any]) -> EmotionTimeline:
    """The ``EmotionTimeline`` that :func:`timeline_to_data` describes."""
    import numpy as np

    return timeline_module.EmotionTimeline.from_values(
        np.asarray(data["arousal"], dtype=np.float64),
        np.asarray(data["valence"], dtype=np.float64),
        grid=timeline_module.TimeGrid(data["bpm"], data["step_bars"]),
        duration_s=data["duration_s"],
        cuts_s=tuple(data["cuts_s"]),
    )


def load_core(core_dir: Path) -> ModuleType:
    """Import the engine package found in ``core_dir`` as :data:`CORE_NAME`."""
    return load_module(CORE_NAME, core_dir / "__init__.py", core_dir)


def warm_up(core: ModuleType) -> None:
    """Import what a score needs now, while Blender's user is still choosing settings.

    A module that fails to import is left for the job, which reports the failure.
    """
    names = [f"{core.__name__}.{name}" for name in WARM_MODULES] + list(WARM_PACKAGES)
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:  # the job imports it again and reports why it fails
            log.debug("Warming %s failed", name, exc_info=True)
    synth = sys.modules.get(f"{core.__name__}.music.synth")
    if synth is not None:
        synth.fluidsynth_problem()


class EventWriter:
    """Appends events to the events file, flushing each so Blender sees it at once.

    Thread-safe: the pipeline's stages may report (and log) from their own threads.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self._last_progress = 0.0
        self._last_stage = ""

    def send(self, event: str, **fields: Any) -> None:
        """Write one event line."""
        line = json.dumps({engine_protocol.EVENT_KEY: str(event), **fields}) + "\n"
        with self._lock:
            self._stream.write(line)
            self._stream.flush()

    def progress(self, index: int, count: int, stage: str, fraction: float) -> None:
        """A progress event for request ``index`` of ``count``, throttled."""
        now = time.monotonic()
        if stage == self._last_stage and now - self._last_progress < PROGRESS_INTERVAL_S:
            return
        self._last_stage, self._last_progress = stage, now
        overall = (index + min(max(fraction, 0.0), 1.0)) / count
        self.send(Event.PROGRESS, index=index, stage=stage, fraction=overall)


class WarningForwarder(logging.Handler):
    """Sends each distinct record at WARNING or above to Blender as a ``warning`` event.

    Without it a warning (a cloud fallback, a clipped synthesizer, mastering that missed its
    target) only reaches Blender's console, which most users never open.
    """

    def __init__(self, events: EventWriter) -> None:
        super().__init__(logging.WARNING)
        self._events = events
        self._sent: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == log.name:  # the engine's own failure goes out as an ``error`` event
            return
        message = record.getMessage()
        if message in self._sent or len(self._sent) >= MAX_WARNINGS:
            return
        self._sent.add(message)
        self._events.send(Event.WARNING, message=message, source=record.name)


def score_request(
    core: ModuleType,
    request: dict[str, Any],
    config: Any,
    report: Any,
    cancel: threading.Event,
) -> dict[str, Any]:
    """Score one request into its staging folder; return its ``outcome`` event fields."""
    pipeline = importlib.import_module(f"{core.__name__}.pipeline")
    timeline_module = importlib.import_module(f"{core.__name__}.timeline")
    naming = importlib.import_module(f"{core.__name__}.naming")
    staging = Path(request["staging_dir"])
    timeline = request["timeline"]
    if timeline is not None:
        timeline = timeline_from_data(timeline_module, timeline)
    progress = report
    if timeline is None and request["stretch_to_s"] is not None:
        # The edit plays the part at the scene's rate: analyse in file time, then stretch the
        # curves onto edit time so the music lasts as long as the strip.
        analysed = pipeline.score_video(
            request["video"],
            staging / "analysis",
            config,
            start_s=request["start_s"],
            end_s=request["end_s"],
            outputs=("emotions_txt",),
            stem=request["stem"],
            progress=lambda stage, fraction: report(stage, ANALYSIS_SHARE * fraction),
            cancel=cancel,
        )
        shutil.rmtree(staging / "analysis", ignore_errors=True)
        timeline = analysed.timeline.stretched(request["stretch_to_s"])

        def progress(stage: str, fraction: float) -> None:
            report(stage, ANALYSIS_SHARE + (1.0 - ANALYSIS_SHARE) * fraction)

    result = pipeline.score_video(
        request["video"],
        staging,
        config,
        start_s=request["start_s"],
        end_s=request["end_s"],
        # The editor aids' files are written only when the scene asks for them.
        outputs=ADDON_OUTPUTS + naming.EDIT_OUTPUTS,
        timeline=timeline,
        stem=request["stem"],
        progress=progress,
        cancel=cancel,
    )
    return {
        "key": request["key"],
        "outputs": {kind: str(path) for kind, path in result.outputs.items()},
        "timeline": timeline_to_data(result.timeline),
    }


def run_job(
    core: ModuleType, job: dict[str, Any], events: EventWriter, cancel: threading.Event
) -> int:
    """Score every request of ``job`` in turn; return the exit status."""
    errors = importlib.import_module(f"{core.__name__}.errors")
    config_module = importlib.import_module(f"{core.__name__}.config")
    requests = job["requests"]
    try:
        for index, request in enumerate(requests):
            config = config_module.config_from_dict(request["config"])

            def report(stage: str, fraction: float, index: int = index) -> None:
                events.progress(index, len(requests), stage, fraction)

            events.send(Event.OUTCOME, **score_request(core, request, config, report, cancel))
    except errors.MoodscoreError as exc:
        events.send(Event.ERROR, kind=type(exc).__name__, message=str(exc), expected=True)
        return 1
    except Exception as exc:  # reported in Blender as the engine's failure, with its type
        log.exception("Moodscore engine failed")
        events.send(Event.ERROR, kind=type(exc).__name__, message=str(exc), expected=False)
        return 1
    events.send(Event.DONE)
    return 0


def watch_lifeline(stream: TextIO, cancel: threading.Event) -> None:
    """Set ``cancel`` when ``stream`` (stdin) ends: Blender closed it or went away."""
    stream.read()
    cancel.set()


def yield_to_blender() -> None:
    """Run below Blender: lower priority, and on Linux the batch policy, whose wake-ups never
    preempt Blender's UI thread. On Windows Blender starts the process below normal priority.
    """
    if hasattr(os, "nice"):
        os.nice(ENGINE_NICENESS)
    if hasattr(os, "SCHED_BATCH"):
        with contextlib.suppress(OSError):
            os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
    if hasattr(os, "sched_setaffinity"):
        cores = sorted(os.sched_getaffinity(0))
        if len(cores) > 1:
            # One core stays Blender's alone: priorities decide who runs next, but a core the
            # engine never touches is what keeps the UI's frames on time.
            with contextlib.suppress(OSError):
                os.sched_setaffinity(0, cores[1:])


def main() -> int:
    """Read the setup, warm up, read the job, score it; report to the events file."""
    logging.basicConfig(level=logging.WARNING, format="Moodscore engine: %(message)s")
    yield_to_blender()
    line = sys.stdin.readline()
    if not line:
        return 0
    setup = json.loads(line)
    sys.path[:] = setup["sys_path"]
    with open(setup["events"], "a", encoding="utf-8") as stream:
        events = EventWriter(stream)
        logging.getLogger().addHandler(WarningForwarder(events))
        core = load_core(Path(setup["core_dir"]))
        warm_up(core)
        events.send(Event.READY)
        line = sys.stdin.readline()
        if not line:  # Blender no longer needs this engine, or went away before a job came
            remove_job_files({**setup, "requests": []})
            return 0
        job = {**setup, **json.loads(line)}
        cancel = threading.Event()
        threading.Thread(
            target=watch_lifeline, args=(sys.stdin, cancel), name="lifeline", daemon=True
        ).start()
        status = run_job(core, job, events, cancel)
    if cancel.is_set():  # Blender is gone: nobody else will remove what this job made
        remove_job_files(job)
    return status


def remove_job_files(job: dict[str, Any]) -> None:
    """Delete the job's staging folders, their parent if it is left empty, and its temp folder."""
    for request in job["requests"]:
        staging = Path(request["staging_dir"])
        shutil.rmtree(staging, ignore_errors=True)
        with contextlib.suppress(OSError):  # only succeeds when empty
            staging.parent.rmdir()
    workdir = Path(job["events"]).parent
    # Out of it first: Windows cannot remove a folder that is a process's working directory.
    with contextlib.suppress(OSError):
        os.chdir(workdir.parent)
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
