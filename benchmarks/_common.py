"""Helpers shared by the benchmarks: test clips, child-process timing and memory, tables."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "benchmarks" / "_work"


def demo_clip_module():
    """``scripts/make_demo_clip.py`` as a module (its frame maker and H.264 writer)."""
    spec = importlib.util.spec_from_file_location(
        "make_demo_clip", REPO / "scripts/make_demo_clip.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def footage(seconds: float, height: int, fps: int = 30) -> Path:
    """A cached H.264 clip of photographed shots with camera moves and cuts (CRF 20)."""
    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / f"footage_{height}p{fps}_{int(seconds)}s.mp4"
    if not path.exists():
        maker = demo_clip_module()
        width = height * 16 // 9
        frames = maker.frames((width, height), fps=fps, shot_s=6.0, total_s=seconds)
        tmp = path.with_suffix(".tmp.mp4")
        maker.write_h264(tmp, frames, fps, crf="20", preset="veryfast")
        tmp.replace(path)
    return path


def run_measured(argv: Sequence[str]) -> tuple[float, float]:
    """Run a command; return (wall seconds, peak resident memory in MB) of that child alone."""
    started = time.perf_counter()
    process = subprocess.Popen(list(argv), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{argv} failed: {process.stderr.read().decode()[-2000:]}")
    return elapsed, usage.ru_maxrss / 1024


def python_child(code: str) -> list[str]:
    """argv running ``code`` in this interpreter."""
    return [sys.executable, "-c", code]


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)
