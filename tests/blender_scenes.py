"""Blender scenes for the add-on tests: strips, the score strip, its files, a job watcher.

Imported only by test modules that have ``bpy`` (they skip without it first).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import wave
from collections.abc import Callable, Iterator
from pathlib import Path

from blender_addon import compat, engine


def add_movie(scene, name: str, channel: int, frame_start: int, path: str = "//clip.mp4"):
    return compat.strips_in(scene.sequence_editor).new_movie(name, path, channel, frame_start)


timing = compat.strip_timing  # by Blender 5.2's names, so the tests warn on no version


def score_strip_of(scene, name: str):
    return compat.find_strip(scene, f"{name} · score")


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def wav_seconds(path: Path) -> float:
    with wave.open(str(path)) as reader:
        return reader.getnframes() / reader.getframerate()


def add_colour_strip(scene, name: str, *, channel: int, start: int, frames: int):
    """A colour strip; Blender 5.0 takes its length where 4.x took an end frame."""
    strips = compat.strips_in(scene.sequence_editor)
    try:
        return strips.new_effect(name, "COLOR", channel, frame_start=start, length=frames)
    except TypeError:
        return strips.new_effect(
            name, "COLOR", channel, frame_start=start, frame_end=start + frames
        )


class JobWatcher(threading.Thread):
    """Watches the active job from another thread: its engine, its progress, its folders.

    ``act`` runs once, as soon as the engine has reported progress (e.g. cancel or kill).
    """

    def __init__(self, act: Callable[[engine.ScoringJob], None] | None = None) -> None:
        super().__init__(daemon=True)
        self.act = act
        self.acted = False
        self.pid: int | None = None
        self.workdir: Path | None = None
        self.staging: list[Path] = []
        self.progress: list[tuple[str, float]] = []
        self.priority: int | None = None
        self.policy: int | None = None

    def run(self) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            job = engine.active_job()
            if job is None or job.done:
                if self.pid is not None:
                    return
            elif job.pid is not None:
                self.pid, self.workdir = job.pid, job.workdir
                self.staging = [request.staging_dir for request in job.requests]
                sample = (job.stage, job.fraction)
                if not self.progress or self.progress[-1] != sample:
                    self.progress.append(sample)
                if job.fraction > 0.0 and self.priority is None:
                    with contextlib.suppress(OSError):  # it may just have ended
                        self.priority = os.getpriority(os.PRIO_PROCESS, job.pid)
                        self.policy = os.sched_getscheduler(job.pid)
                if self.act is not None and not self.acted and job.fraction > 0.0:
                    self.act(job)
                    self.acted = True
            time.sleep(0.002)


@contextlib.contextmanager
def watching(act: Callable[[engine.ScoringJob], None] | None = None) -> Iterator[JobWatcher]:
    watcher = JobWatcher(act)
    watcher.start()
    try:
        yield watcher
    finally:
        watcher.join(timeout=130)


def process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False
