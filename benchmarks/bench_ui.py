"""How long Blender's UI stalls while the add-on scores, in the real UI (issue 10).

Runs Debian's windowed ``blender`` under ``Xvfb`` with the Sequencer and the Moodscore sidebar
visible, and a 20 ms ``bpy.app.timers`` probe that records when it runs. The probe's longest
gap while idle is the baseline; the longest gap while a strip is scored (from the button press
to the score strip) is what the user feels. The button's return time is how long
``moodscore.score_strip`` with ``INVOKE_DEFAULT`` takes to return to Blender's event loop. The
machine's load average is printed beside each run: other work on a shared machine stalls
Blender's UI too, with or without the add-on.

``--first`` measures instead how long the first score after enabling the add-on takes beside
the warm ones that follow in the same Blender (issue 17.9): the add-on is installed and enabled,
the Moodscore tab opened, and :data:`FIRST_PRESS_S` later :data:`FIRST_CLIP_S` of the strip are
scored :data:`WARM_SCORES` + 1 times, :data:`BETWEEN_S` apart; each score's wall time and the
time it spent at "starting the engine" (before the engine's first progress) are printed side by
side. Each Blender starts with an empty bytecode cache (``PYTHONPYCACHEPREFIX``), as after an
install: the first engine compiles every module it imports (numpy, OpenCV, PyAV, scipy,
``core``), the later ones reuse that. The disk cache stays warm: this machine cannot drop it.

Usage: ``python benchmarks/bench_ui.py [--runs 2] [--clips demo footage] [--baseline COMMIT]
[--first]``; ``--baseline`` also builds the add-on of an earlier commit (``git archive``) and
measures it in the same run, alternating with the working tree's, so the two are compared side by
side.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import REPO, WORK, footage, markdown_table

from tests.blender_ui_driver import SEQUENCER_UI, run_blender_ui

#: The probe's period; a gap is the time between two consecutive probe calls.
PROBE_S = 0.02
IDLE_S = 4.0

#: The scene every step script starts from (:func:`run_steps`), after SEQUENCER_UI
#: (tests/blender_ui_driver.py), which defines args, engine and helpers: the clip
#: (``args["seconds"]`` of it, if given) selected in a Sequencer with its sidebar.
SCENE_STEPS = r"""
scene = bpy.context.scene
editor, clip = add_selected_movie("clip", args["fps"])
if args.get("seconds"):
    clip.frame_final_duration = round(args["seconds"] * args["fps"])
scene.frame_start, scene.frame_end = 1, clip.frame_final_end
scene.moodscore.generator = "chords"
window, area = sequencer_with_sidebar()
phase = ["settle"]
"""

UI_STEPS = r"""
report = {"probe": [], "errors": []}
marks = {}


def probe():
    report["probe"].append(time.perf_counter())
    return PROBE_S


def finish():
    quit_with_report(report)


def fail(error):
    report["errors"].append(f"{error} in phase {phase[0]}")
    finish()


def advance():
    now = time.perf_counter()
    with bpy.context.temp_override(window=window, area=area, region=window_region(area)):
        if phase[0] == "settle":
            open_moodscore_tab(window, area)
            bpy.ops.sequencer.view_all()
            phase[0] = "idle"
            return 2.0
        if phase[0] == "idle":
            marks["idle_start"] = now
            bpy.app.timers.register(probe, first_interval=PROBE_S)
            phase[0] = "press"
            return args["idle_s"]
        if phase[0] == "press":
            marks["idle_end"] = marks["press"] = time.perf_counter()
            result = bpy.ops.moodscore.score_strip("INVOKE_DEFAULT")
            marks["returned"] = time.perf_counter()
            report["invoke"] = sorted(result)
            phase[0] = "scoring"
            return 0.05
        if phase[0] == "scoring":
            if engine.active_job() is not None and now - marks["press"] < 600:
                return 0.05
            marks["done"] = now
            report["strips"] = sorted(s.name for s in every_strip(editor))
            report["scored"] = "clip · score" in report["strips"]
            if not report["scored"]:
                try:  # the same request run synchronously raises the report the button showed
                    bpy.ops.moodscore.score_strip()
                except RuntimeError as exc:
                    report["errors"].append(str(exc))
            report["marks"] = marks
            finish()
            return None


PROBE_S = args["probe_s"]
bpy.app.timers.register(guarded(advance, fail), first_interval=2.0)
"""


#: Seconds between opening the Moodscore tab and pressing Score in ``--first`` runs: a user
#: selects the strip and picks the settings first; this is quicker than most do.
FIRST_PRESS_S = 1.0
#: Seconds between a score's end and the next press (a user listens to it first).
BETWEEN_S = 3.0
#: What :func:`no_bytecode_yet` changes in the environment.
BYTECODE_ENV = ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")
#: Warm scores after the first one in ``--first`` runs.
WARM_SCORES = 2
#: Seconds of the clip scored in ``--first`` runs: short, as when trying settings on a shot,
#: where the engine's start is most of the wait.
FIRST_CLIP_S = 6.0

FIRST_STEPS = r"""
# Score the strip 1 + args["warm"] times; record each score's stage changes.
report = {"scores": [], "errors": []}
current = {}


def fail(error):
    report["errors"].append(f"{error} in phase {phase[0]}")
    quit_with_report(report)


def advance():
    now = time.perf_counter()
    with bpy.context.temp_override(window=window, area=area, region=window_region(area)):
        if phase[0] == "settle":
            open_moodscore_tab(window, area)
            phase[0] = "press"
            return args["press_s"]
        if phase[0] == "press":
            for strip in every_strip(editor):  # only the movie strip, as a user re-selects it
                strip.select = strip.name == "clip"
            editor.active_strip = clip
            current.clear()
            current.update(press=now, stages=[])
            result = bpy.ops.moodscore.score_strip("INVOKE_DEFAULT")
            if "RUNNING_MODAL" not in result:
                fail(f"Score returned {sorted(result)}")
                return None
            phase[0] = "scoring"
            return 0.02
        if phase[0] == "scoring":
            job = engine.active_job()
            if job is not None and now - current["press"] < 600:
                stage = job.stage.split(": ")[-1]
                if not current["stages"] or current["stages"][-1][0] != stage:
                    current["stages"].append((stage, now - current["press"]))
                return 0.02
            current["total"] = now - current["press"]
            report["scores"].append(dict(current))
            if len(report["scores"]) > args["warm"]:
                quit_with_report(report)
                return None
            phase[0] = "press"
            return args["between_s"]


bpy.app.timers.register(guarded(advance, fail), first_interval=2.0)
"""


def build_addon(out: Path, source: Path = REPO) -> Path:
    """The legacy add-on zip for Linux without wheels (Debian's Blender takes the packages
    from ``PYTHONPATH``), built by ``source``'s own build script (its options changed once).
    """
    script = source / "scripts" / "build_addon.py"
    options = ["--no-wheels", "--no-validate"]
    if "--out-dir" in script.read_text(encoding="utf-8"):  # one zip per platform and kind
        folder = out.with_suffix("")
        options += ["--platforms", "linux-x64", "--kinds", "legacy", "--out-dir", str(folder)]
    else:
        folder, options = None, [*options, "--out", str(out)]
    subprocess.run(
        [sys.executable, str(script), *options],
        check=True,
        timeout=300,
        stdout=subprocess.DEVNULL,
    )
    if folder is not None:
        shutil.move(next(folder.glob("*legacy*.zip")), out)
        shutil.rmtree(folder)
    return out


def build_baseline(commit: str, out: Path) -> Path:
    """The add-on as it was at ``commit``, built by that commit's own build script."""
    with tempfile.TemporaryDirectory(prefix="bench-ui-src-") as tmp_name:
        source = Path(tmp_name)
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", commit, "blender_addon", "core", "scripts"],
            check=True,
            capture_output=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(source)], input=archive, check=True)
        shutil.copy(REPO / "constraints.txt", source / "constraints.txt")
        return build_addon(out, source)


def longest_gap_ms(times: list[float], start: float, end: float) -> float:
    """The longest time between probe calls within ``start``-``end`` (seconds), in ms."""
    inside = [t for t in times if start <= t <= end]
    bounded = [start, *inside, end]
    return 1000 * max(b - a for a, b in itertools.pairwise(bounded))


def run_steps(
    addon_zip: Path, clip: Path, fps: int, steps: str, **args: Any
) -> tuple[dict[str, Any], str]:
    """Run ``steps`` after ``SEQUENCER_UI`` and ``SCENE_STEPS`` in a fresh windowed Blender.

    Returns the steps' report and Blender's output (the end of it).
    """
    with tempfile.TemporaryDirectory(prefix="bench-ui-") as tmp_name:
        tmp = Path(tmp_name)
        paths = {
            "zip": str(addon_zip),
            "clip": str(clip),
            "fps": fps,
            "blend": str(tmp / "edit.blend"),
            "report": str(tmp / "report.json"),
            **args,
        }
        run = run_blender_ui(SEQUENCER_UI + SCENE_STEPS + steps, paths, tmp, timeout=900)
        report_path = Path(paths["report"])
        if not report_path.exists():
            raise RuntimeError(
                f"Blender wrote no report:\n{run.stdout[-2000:]}{run.stderr[-2000:]}"
            )
        return json.loads(report_path.read_text()), run.stdout[-2000:]


def run_once(addon_zip: Path, clip: Path, fps: int) -> dict[str, float]:
    """Score ``clip`` once in a fresh windowed Blender; return the stall figures."""
    load = os.getloadavg()[0]  # other work on the machine stalls Blender too
    report, output = run_steps(addon_zip, clip, fps, UI_STEPS, probe_s=PROBE_S, idle_s=IDLE_S)
    if report["errors"] or not report.get("scored"):
        report.pop("probe")
        raise RuntimeError(f"the UI run failed: {report}\n{output}")
    marks, probe = report["marks"], report["probe"]
    if os.environ.get("MOODSCORE_BENCH_DEBUG"):  # where the long gaps fall, after the press
        inside = [marks["press"], *(t for t in probe if marks["press"] <= t <= marks["done"])]
        inside.append(marks["done"])
        gaps = sorted(((b - a, a - marks["press"]) for a, b in itertools.pairwise(inside)))
        print([f"{1000 * g:.0f} ms at +{at:.2f} s" for g, at in gaps[-5:]], file=sys.stderr)
    return {
        "idle_ms": longest_gap_ms(probe, marks["idle_start"] + PROBE_S, marks["idle_end"]),
        "scoring_ms": longest_gap_ms(probe, marks["press"], marks["done"]),
        "invoke_ms": 1000 * (marks["returned"] - marks["press"]),
        "scoring_s": marks["done"] - marks["press"],
        "load": load,
    }


@contextlib.contextmanager
def no_bytecode_yet() -> Iterator[None]:
    """Blender and its engines start with no compiled bytecode, as after an install: every
    module compiles on its first import into an empty cache, which later imports reuse.
    """
    saved = {name: os.environ.get(name) for name in BYTECODE_ENV}
    with tempfile.TemporaryDirectory(prefix="bench-ui-pycache-") as cache:
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        os.environ["PYTHONPYCACHEPREFIX"] = cache
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def first_and_warm(
    addon_zip: Path, clip: Path, fps: int, press_s: float = FIRST_PRESS_S
) -> dict[str, Any]:
    """Score ``clip`` 1 + :data:`WARM_SCORES` times in one fresh windowed Blender.

    Returns each score's wall time and its time at "starting the engine" (seconds).
    """
    load = os.getloadavg()[0]
    with no_bytecode_yet():
        report, output = run_steps(
            addon_zip,
            clip,
            fps,
            FIRST_STEPS,
            press_s=press_s,
            between_s=BETWEEN_S,
            seconds=FIRST_CLIP_S,
            warm=WARM_SCORES,
        )
    if report["errors"]:
        raise RuntimeError(f"the UI run failed: {report}\n{output}")
    scores = []
    for score in report["scores"]:
        starting = [at for stage, at in score["stages"] if stage != "starting the engine"]
        scores.append({"total_s": score["total"], "starting_s": starting[0] if starting else 0.0})
    return {"scores": scores, "load": load}


def first_table(runs: dict[str, list[dict[str, Any]]]) -> str:
    """First score against the warm ones, per add-on: wall seconds (of which engine start)."""
    rows = []
    for label, figures in runs.items():
        for run in figures:
            first, *warm = run["scores"]
            warm_s = sum(s["total_s"] for s in warm) / len(warm)
            rows.append(
                [
                    label,
                    f"{first['total_s']:.1f} ({first['starting_s']:.1f})",
                    " / ".join(f"{s['total_s']:.1f} ({s['starting_s']:.1f})" for s in warm),
                    f"{first['total_s'] / warm_s:.2f}",
                    f"{run['load']:.1f}",
                ]
            )
    header = [
        "Add-on",
        "First score s (starting the engine)",
        "Warm scores s (starting the engine)",
        "First / warm",
        "Load (1 min)",
    ]
    return markdown_table(header, rows)


def clip_for(name: str) -> tuple[Path, int]:
    """A benchmark clip and its frame rate: the 24 s demo (360p) or 20 s of 1080p footage."""
    if name == "demo":
        return REPO / "examples" / "demo.mp4", 25
    if name == "footage":
        return footage(20.0, 1080, fps=30), 30
    raise SystemExit(f"bench_ui: unknown clip '{name}'; use demo or footage.")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=2, help="runs per clip (default 2)")
    parser.add_argument("--clips", nargs="+", default=["demo", "footage"])
    parser.add_argument("--baseline", help="also measure the add-on of this git commit")
    parser.add_argument(
        "--no-tree", action="store_true", help="measure only --baseline, not the working tree"
    )
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    parser.add_argument(
        "--first", action="store_true", help="first score after enabling against warm ones"
    )
    parser.add_argument(
        "--press-after",
        type=float,
        default=FIRST_PRESS_S,
        help=f"with --first: seconds from opening the tab to Score (default {FIRST_PRESS_S:g})",
    )
    args = parser.parse_args(argv)
    if shutil.which("blender") is None or shutil.which("Xvfb") is None:
        print("bench_ui: needs Debian's `blender` and `Xvfb` (scripts/setup_system.sh).")
        return 2
    WORK.mkdir(parents=True, exist_ok=True)
    addons = {}
    if args.baseline:
        baseline_zip = WORK / "moodscore-ui-baseline.zip"
        addons[args.baseline] = build_baseline(args.baseline, baseline_zip)
    if not args.no_tree:
        addons["this tree"] = build_addon(WORK / "moodscore-ui-bench.zip")
    if args.first:
        return run_first(addons, args)
    rows, raw = [], {}
    for name in args.clips:
        clip, fps = clip_for(name)
        runs: dict[str, list[dict[str, float]]] = {label: [] for label in addons}
        for _ in range(args.runs):  # alternate, so both see the same machine load
            for label, addon_zip in addons.items():
                runs[label].append(run_once(addon_zip, clip, fps))
        for label, figures in runs.items():
            raw[f"{name} ({label})"] = figures
            rows.append(table_row(f"{clip.name}, {label}", figures))
    header = [
        "Clip, add-on",
        "Longest gap idle (ms)",
        "Longest gap scoring (ms)",
        "Above idle (ms)",
        "Button returns (ms)",
        "Scoring (s)",
        "Load (1 min)",
    ]
    print(markdown_table(header, rows))
    if args.json:
        args.json.write_text(json.dumps(raw, indent=2))
    return 0


def run_first(addons: dict[str, Path], args: argparse.Namespace) -> int:
    """``--first``: alternate the add-ons over ``args.runs`` runs per clip; print the table."""
    raw = {}
    for name in args.clips:
        clip, fps = clip_for(name)
        runs: dict[str, list[dict[str, Any]]] = {label: [] for label in addons}
        for _ in range(args.runs):
            for label, addon_zip in addons.items():
                runs[label].append(first_and_warm(addon_zip, clip, fps, args.press_after))
        print(f"{clip.name}:")
        print(first_table(runs))
        raw[name] = runs
    if args.json:
        args.json.write_text(json.dumps(raw, indent=2))
    return 0


def table_row(label: str, runs: list[dict[str, float]]) -> list[str]:
    """One table row: every run's figure, separated by slashes."""
    return [
        label,
        " / ".join(f"{r['idle_ms']:.0f}" for r in runs),
        " / ".join(f"{r['scoring_ms']:.0f}" for r in runs),
        " / ".join(f"{r['scoring_ms'] - r['idle_ms']:+.0f}" for r in runs),
        " / ".join(f"{r['invoke_ms']:.0f}" for r in runs),
        " / ".join(f"{r['scoring_s']:.1f}" for r in runs),
        " / ".join(f"{r['load']:.1f}" for r in runs),
    ]


if __name__ == "__main__":
    sys.exit(main())
