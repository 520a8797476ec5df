"""Engine benchmark (issue 2): analysis and whole run against decode-only; render speed; memory.

Every number comes from one run on this machine, side by side:

- decode-only: PyAV decodes every frame of the clip, nothing else (the floor any analysis pays);
- analysis: ``core.emotion.analyze`` with the default sources;
- whole run: ``moodscore score`` (analysis, composition, FluidSynth render, mux) as a child process,
  whose peak resident memory is read from the kernel (``wait4``), for a 60 s and a 240 s clip;
- as a user sees it (issue 13): the whole ``moodscore emotions`` process, start-up and files
  included, on a ``--user-seconds`` clip against decode-only of it; and the same command with
  decoding, colour and faces in the analysis thread (as before issue 13).

Usage: ``python benchmarks/bench_engine.py [--seconds 60] [--long-seconds 240] [--height 1080]``
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import WORK, footage, markdown_table, python_child, run_measured

DECODE = """
import av, sys
with av.open(sys.argv[1]) as c:
    s = c.streams.video[0]; s.thread_type = "AUTO"
    n = sum(1 for _ in c.decode(s))
"""

ANALYZE = """
import sys
from core.config import Config
from core.emotion import analyze
analyze(sys.argv[1], Config())
"""


EMOTIONS_IN_ONE_THREAD = """
import sys
import core.emotion.analysis, core.video.frames
from core.cli import main
core.video.frames.PREFETCH_FRAMES = 0
core.emotion.analysis.SAMPLES_THREAD = False
sys.exit(main(sys.argv[1:]))
"""


def _emotions(clip: Path, *, overlapped: bool) -> float:
    """Wall seconds of a whole ``moodscore emotions`` process."""
    out = WORK / f"emotions_{clip.stem}"
    shutil.rmtree(out, ignore_errors=True)
    argv = ["emotions", str(clip), "--out", str(out), "--quiet"]
    command = [sys.executable, "-m", "core"] if overlapped else python_child(EMOTIONS_IN_ONE_THREAD)
    return run_measured([*command, *argv])[0]


def _child(code: str, *args: str) -> tuple[float, float]:
    return run_measured([*python_child(code), *args])


def _score(clip: Path) -> tuple[float, float, dict]:
    out = WORK / f"scored_{clip.stem}"
    shutil.rmtree(out, ignore_errors=True)
    seconds, peak_mb = run_measured(
        [sys.executable, "-m", "core", "score", str(clip), "--out", str(out), "--quiet", "--force"]
    )
    manifest = json.loads((out / "score.json").read_text())
    return seconds, peak_mb, manifest


def main() -> None:
    """Run the benchmark and print a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--long-seconds", type=float, default=240.0)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--repeat", type=int, default=3, help="runs per measure; best is kept")
    parser.add_argument("--user-seconds", type=float, default=30.0)
    args = parser.parse_args()

    clip = footage(args.seconds, args.height)
    long_clip = footage(args.long_seconds, args.height)
    # Best of --repeat runs, alternating, so a burst of other load hits both sides alike.
    decode_runs, analysis_runs, score_runs = [], [], []
    for _ in range(args.repeat):
        decode_runs.append(_child(DECODE, str(clip))[0])
        analysis_runs.append(_child(ANALYZE, str(clip))[0])
        score_runs.append(_score(clip))
    decode_s, analysis_s = min(decode_runs), min(analysis_runs)
    score_s, score_mb, manifest = min(score_runs, key=lambda run: run[0])
    long_score_s, long_mb, _ = _score(long_clip)
    user_clip = footage(args.user_seconds, args.height)
    user_decode, user_emotions, user_one_thread = [], [], []
    for _ in range(args.repeat):
        user_decode.append(_child(DECODE, str(user_clip))[0])
        user_emotions.append(_emotions(user_clip, overlapped=True))
        user_one_thread.append(_emotions(user_clip, overlapped=False))
    user_decode_s = min(user_decode)
    render_s = manifest["timings"]["render_s"]
    rows = [
        ("decode-only (PyAV, every frame)", f"{decode_s:.1f} s", "1.00", "—"),
        ("emotion analysis", f"{analysis_s:.1f} s", f"{analysis_s / decode_s:.2f}", "≤ 1.5"),
        ("whole `moodscore score`", f"{score_s:.1f} s", f"{score_s / decode_s:.2f}", "≤ 2.5"),
        (
            "WAV render speed",
            f"{render_s:.2f} s",
            f"{args.seconds / render_s:.0f}× real time",
            "≥ 100×",
        ),
        (
            f"`moodscore emotions`, whole process, {args.user_seconds:.0f} s clip",
            f"{min(user_emotions):.1f} s",
            f"{min(user_emotions) / user_decode_s:.2f} (decode-only {user_decode_s:.1f} s)",
            "≤ 1.2",
        ),
        (
            "the same, all in the analysis thread (before)",
            f"{min(user_one_thread):.1f} s",
            f"{min(user_one_thread) / user_decode_s:.2f}",
            "—",
        ),
        (f"peak memory, {args.seconds:.0f} s clip", f"{score_mb:.0f} MB", "", "< 500 MB"),
        (
            f"peak memory, {args.long_seconds:.0f} s clip",
            f"{long_mb:.0f} MB",
            f"{long_mb / score_mb:.2f}× the {args.seconds:.0f} s run",
            "flat",
        ),
    ]
    print(
        f"Best of {args.repeat} alternating runs. "
        f"Clip: {args.seconds:.0f} s {args.height}p30 H.264 ({clip.stat().st_size >> 20} MB); "
        f"{args.long_seconds:.0f} s run took {long_score_s:.1f} s.\n"
    )
    print(markdown_table(("measure", "value", "ratio", "target"), rows))


if __name__ == "__main__":
    main()
