"""The engine process: scores a job's requests outside Blender and reports as it goes.

Blender starts this file as a script with the interpreter it ships (see
:func:`blender_addon.engine.engine_python`), so nothing here may import ``bpy`` or the add-on
package: only the standard library until the request names the engine's ``core`` folder.

Protocol (one job per process):

* **stdin** carries the request, one JSON line (:func:`encode_request`), and then stays open:
  it is the lifeline. End of file means Blender went away; the process then cancels, removes
  what it staged and exits, so a crashed Blender never leaves an engine running.
* **events file** (the path is in the request): JSON lines this process appends and Blender
  reads from its timer without blocking, on every platform: ``progress`` (stage, fraction),
  one ``outcome`` per scored request (its files and the timeline), then ``done`` or ``error``.
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
from typing import Any, TextIO

#: The engine package's module name in the engine process.
CORE_NAME = "moodscore_core"
#: What the add-on asks the engine for: the edit has the picture, and matplotlib is heavy.
ADDON_OUTPUTS = ("midi", "wav", "emotions_txt", "emotions_csv", "manifest", "beats_csv")
#: Written only when the scene's editor aids ask for them (``core.edit.run.selected_outputs``).
EDIT_OUTPUTS = ("speech_csv", "stem_melody", "stem_figure", "stem_harmony", "stem_bass",
                "stem_percussion")  # fmt: skip
#: At most this often a progress event (seconds), unless the stage changes.
PROGRESS_INTERVAL_S = 0.05
#: How much lower than Blender the engine runs (POSIX ``nice``): Blender's UI comes first.
ENGINE_NICENESS = 10
#: Share of a stretched request's progress spent analysing (the rest composes and renders).
ANALYSIS_SHARE = 0.8

log = logging.getLogger("moodscore.engine")


def timeline_to_data(timeline: Any) -> dict[str, Any]:
    """An ``EmotionTimeline`` as JSON-ready data (what the add-on keys and re-scores from)."""
    return {
        "bpm": timeline.grid.bpm,
        "step_bars": timeline.grid.step_bars,
        "duration_s": timeline.duration_s,
        "cuts_s": list(timeline.cuts_s),
        "arousal": [float(value) for value in timeline.arousal],
        "valence": [float(value) for value in timeline.valence],
    }


def timeline_from_data(timeline_module: ModuleType, data: dict[str, Any]) -> Any:
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
    spec = importlib.util.spec_from_file_location(
        CORE_NAME, core_dir / "__init__.py", submodule_search_locations=[str(core_dir)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[CORE_NAME] = module
    spec.loader.exec_module(module)
    return module


class EventWriter:
    """Appends events to the events file, flushing each so Blender sees it at once."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._last_progress = 0.0
        self._last_stage = ""

    def send(self, event: str, **fields: Any) -> None:
        """Write one event line."""
        self._stream.write(json.dumps({"event": event, **fields}) + "\n")
        self._stream.flush()

    def progress(self, index: int, count: int, stage: str, fraction: float) -> None:
        """A progress event for request ``index`` of ``count``, throttled."""
        now = time.monotonic()
        if stage == self._last_stage and now - self._last_progress < PROGRESS_INTERVAL_S:
            return
        self._last_stage, self._last_progress = stage, now
        overall = (index + min(max(fraction, 0.0), 1.0)) / count
        self.send("progress", index=index, stage=stage, fraction=overall)


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
        outputs=ADDON_OUTPUTS + EDIT_OUTPUTS,
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


def run_job(job: dict[str, Any], events: EventWriter, cancel: threading.Event) -> int:
    """Score every request of ``job`` in turn; return the exit status."""
    core = load_core(Path(job["core_dir"]))
    errors = importlib.import_module(f"{core.__name__}.errors")
    config_module = importlib.import_module(f"{core.__name__}.config")
    requests = job["requests"]
    try:
        for index, request in enumerate(requests):
            config = config_module.config_from_dict(request["config"])

            def report(stage: str, fraction: float, index: int = index) -> None:
                events.progress(index, len(requests), stage, fraction)

            events.send("outcome", **score_request(core, request, config, report, cancel))
    except errors.MoodscoreError as exc:
        events.send("error", kind=type(exc).__name__, message=str(exc), expected=True)
        return 1
    except Exception as exc:  # reported in Blender as the engine's failure, with its type
        log.exception("Moodscore engine failed")
        events.send("error", kind=type(exc).__name__, message=str(exc), expected=False)
        return 1
    events.send("done")
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
    """Read the request from stdin, score it, report to the events file."""
    logging.basicConfig(level=logging.WARNING, format="Moodscore engine: %(message)s")
    yield_to_blender()
    job = json.loads(sys.stdin.readline())
    sys.path[:] = job["sys_path"]
    cancel = threading.Event()
    threading.Thread(
        target=watch_lifeline, args=(sys.stdin, cancel), name="lifeline", daemon=True
    ).start()
    with open(job["events"], "a", encoding="utf-8") as stream:
        status = run_job(job, EventWriter(stream), cancel)
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
