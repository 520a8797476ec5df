"""Run every benchmark one after another and write their tables to ``benchmarks/RESULTS.md``.

Usage: ``python benchmarks/run_all.py`` (or ``make bench``); ``--only bench_render.py …`` reruns
some benchmarks and replaces just their sections, keeping the others. Each benchmark measures its
ratios side by side within its own run; running them one at a time keeps them from competing for
the machine's cores.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = (
    ("Engine (issue 2)", ["bench_engine.py"]),
    ("Emotion analysis with faces (issue 3)", ["bench_emotion.py"]),
    ("WAV rendering (issue 2)", ["bench_render.py"]),
    ("Bundled renderer beside FluidSynth (issue 16)", ["bench_synth.py"]),
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


def _machine() -> str:
    return (
        f"{datetime.date.today().isoformat()}, {os.cpu_count()} cores ({_cpu_model()}), "
        f"Python {platform.python_version()}"
    )


def _previous(results: Path) -> tuple[str, dict[str, str]]:
    """The title block and section title -> body of an existing RESULTS.md."""
    if not results.is_file():
        return "", {}
    parts = re.split(r"^## (.+)$", results.read_text(encoding="utf-8"), flags=re.MULTILINE)
    sections = dict(zip(parts[1::2], parts[2::2], strict=True))
    return parts[0].strip(), {title.strip(): body.strip() for title, body in sections.items()}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks; return non-zero if any failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", metavar="SCRIPT", help="rerun only these scripts")
    args = parser.parse_args(argv)
    results = HERE / "RESULTS.md"
    title_block, previous = _previous(results) if args.only else ("", {})
    sections = [
        title_block
        or f"# Benchmark results\n\n{_machine()}. Produced by `python benchmarks/run_all.py`."
    ]
    failed = 0
    for title, argv_ in BENCHMARKS:
        if args.only and argv_[0] not in args.only:
            if title in previous:
                sections += ["", f"## {title}", "", previous[title]]
            continue
        print(f"== {title}", file=sys.stderr, flush=True)
        done = subprocess.run(
            [sys.executable, str(HERE / argv_[0]), *argv_[1:]],
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
        if args.only:
            body = f"*Rerun: {_machine()}.*\n\n{body}"
        sections += ["", f"## {title}", "", body]
        print(body, file=sys.stderr, flush=True)
    results.write_text("\n".join(sections) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
