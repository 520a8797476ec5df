"""Run every benchmark one after another and write their tables to ``benchmarks/RESULTS.md``.

Usage: ``python benchmarks/run_all.py`` (or ``make bench``). Each benchmark measures its ratios
side by side within its own run; running them one at a time keeps them from competing for the
machine's cores.
"""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = (
    ("Engine (issue 2)", ["bench_engine.py"]),
    ("Emotion analysis with faces (issue 3)", ["bench_emotion.py"]),
    ("WAV rendering (issue 2)", ["bench_render.py"]),
    ("RBM quality and training throughput (issue 4)", ["bench_rbm.py", "--seeds", "4"]),
    ("Music craft and following, judged independently (issue 8)", ["bench_music.py"]),
    ("Batch scoring: local pool and Dask cluster (issue 13)", ["bench_batch.py"]),
    ("Editor features: speech detector and --bpm auto (issue 12)", ["bench_edit.py"]),
    ("Add-on UI responsiveness in real Blender 3.4 under Xvfb (issue 10)", ["bench_ui.py"]),
)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main() -> int:
    """Run the benchmarks; return non-zero if any failed."""
    sections = [
        "# Benchmark results",
        "",
        f"{datetime.date.today().isoformat()}, {os.cpu_count()} cores ({_cpu_model()}), "
        f"Python {platform.python_version()}. Produced by `python benchmarks/run_all.py`.",
    ]
    failed = 0
    for title, argv in BENCHMARKS:
        print(f"== {title}", file=sys.stderr, flush=True)
        done = subprocess.run(
            [sys.executable, str(HERE / argv[0]), *argv[1:]],
            capture_output=True,
            text=True,
            check=False,
            cwd=HERE.parent,
        )
        body = (
            done.stdout.strip()
            if done.returncode == 0
            else f"FAILED:\n```\n{done.stderr[-3000:]}\n```"
        )
        failed += done.returncode != 0
        sections += ["", f"## {title}", "", body]
        print(body, file=sys.stderr, flush=True)
    (HERE / "RESULTS.md").write_text("\n".join(sections) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
