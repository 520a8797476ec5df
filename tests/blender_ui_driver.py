"""Drive Debian's windowed ``blender`` under Xvfb with a script of timed UI steps.

Shared by the UI test (``tests/test_blender_ui.py``), the UI benchmark
(``benchmarks/bench_ui.py``) and ``scripts/screenshot_ducking.py``. The host side starts a
private X server and Blender in a throwaway home; ``SEQUENCER_UI`` is the Blender side those
scripts begin with: the legacy add-on installed, a movie strip in the Sequencer, the sidebar
shown and the Moodscore tab opened the way a user can.
"""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
from pathlib import Path
from typing import Any

#: The window Blender opens in; Xvfb's screen has the same size.
WIDTH, HEIGHT = 1280, 800

#: Blender-side start of a UI script (the caller's steps follow it). It reads the JSON
#: arguments (``zip``, ``blend``, ``clip``), installs and enables the legacy add-on, saves the
#: file (so the score's ``//`` paths resolve next to it) and defines the steps' helpers;
#: ``quit_with_report`` writes the script's report to ``args["report"]``.
SEQUENCER_UI = r"""
import json, sys, time
import bpy

args = json.loads(sys.argv[sys.argv.index("--") + 1])
bpy.ops.preferences.addon_install(filepath=args["zip"])
bpy.ops.preferences.addon_enable(module="moodscore")
engine = sys.modules["moodscore.engine"]
bpy.ops.wm.save_as_mainfile(filepath=args["blend"])


def add_selected_movie(name, fps):
    # Returns the sequence editor and the strip, selected and active, as Score expects.
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = fps, 1.0
    editor = scene.sequence_editor_create()
    strips = editor.strips if hasattr(editor, "strips") else editor.sequences
    movie = strips.new_movie(name, args["clip"], 2, 1)
    movie.select = True
    editor.active_strip = movie
    return editor, movie


def every_strip(editor):
    return editor.strips_all if hasattr(editor, "strips_all") else editor.sequences_all


def sequencer_with_sidebar():
    # The window's largest area becomes the Sequencer with its sidebar shown.
    window = bpy.context.window_manager.windows[0]
    area = max(window.screen.areas, key=lambda a: a.width * a.height)
    area.type = "SEQUENCE_EDITOR"
    space = area.spaces.active
    space.view_type = "SEQUENCER"
    space.show_region_ui = True
    return window, area


def window_region(area):
    return next(r for r in area.regions if r.type == "WINDOW")


def quit_with_report(report):
    with open(args["report"], "w") as out:
        json.dump(report, out)
    bpy.ops.wm.quit_blender()


def finish(ok):
    # ``report`` and ``phase`` (a one-item list naming the current step) are the steps' own.
    report["ok"] = ok
    quit_with_report(report)


def fail(error):
    report["error"] = f"{error} in phase {phase[0]}"
    finish(False)


def guarded(advance, fail):
    # A timer that raises is dropped, which would leave Blender open until the caller's
    # timeout: the error goes to fail(message) instead, which reports it and quits.
    def step():
        try:
            return advance()
        except Exception as exc:
            fail(f"{type(exc).__name__}: {exc}")
            return None

    return step


def open_moodscore_tab(window, area):
    # The way a user can (3.x has no active_panel_category): Ctrl+Shift+Tab over the
    # sidebar steps back from the first tab to the last, Moodscore's.
    sidebar = next(r for r in area.regions if r.type == "UI")
    x, y = sidebar.x + sidebar.width // 2, sidebar.y + 30
    window.event_simulate("MOUSEMOVE", "NOTHING", x=x, y=y)
    for value in ("PRESS", "RELEASE"):
        window.event_simulate("TAB", value, x=x, y=y, ctrl=True, shift=True)
"""


class XvfbUnavailable(RuntimeError):
    """Xvfb did not start, so there is no display to run Blender's UI on."""


def start_xvfb() -> tuple[subprocess.Popen, str]:
    """Xvfb on a free display (it picks the number and writes it to our pipe).

    Returns
    -------
    The server process (the caller terminates it) and its ``DISPLAY`` value.

    Raises
    ------
    XvfbUnavailable
        When the server gives no display number.
    """
    read_fd, write_fd = os.pipe()
    server = subprocess.Popen(
        [
            "Xvfb",
            *("-displayfd", str(write_fd)),
            *("-screen", "0", f"{WIDTH}x{HEIGHT}x24"),
            *("-nolisten", "tcp"),
        ],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        display = pipe.readline().strip()
    if not display:
        server.kill()
        server.wait()
        raise XvfbUnavailable("Xvfb did not start")
    return server, f":{display}"


def run_blender_ui(
    script: str,
    args: dict[str, Any],
    work: Path,
    *,
    timeout: float,
    simulate_events: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run ``script`` in a fresh windowed Blender on a private X display.

    Parameters
    ----------
    script
        The Blender-side Python; it reads ``args`` as JSON after ``--`` and quits Blender.
    args
        JSON-ready arguments for the script.
    work
        A scratch folder: the script, Blender's home and its temporary files go there.
    timeout
        Seconds before Blender is killed (``subprocess.TimeoutExpired``).
    simulate_events
        Start Blender with ``--enable-event-simulate`` (needed by ``open_moodscore_tab``).

    Returns
    -------
    The finished Blender process, its output captured as text; its exit status is not checked
    (the script's own report says whether the steps worked).
    """
    script_path = work / "ui.py"
    script_path.write_text(script, encoding="utf-8")
    home = work / "home"
    home.mkdir(exist_ok=True)
    command = [
        "blender",
        "--factory-startup",
        *(["--enable-event-simulate"] if simulate_events else []),
        *("--window-geometry", "0", "0", str(WIDTH), str(HEIGHT)),
        *("--python", str(script_path)),
        *("--", json.dumps(args)),
    ]
    server, display = start_xvfb()
    try:
        env = {
            **os.environ,
            "DISPLAY": display,
            "HOME": str(home),
            "TMPDIR": str(work),
            # The legacy add-on takes its packages from the environment (never TensorFlow).
            "PYTHONPATH": os.pathsep.join(site.getsitepackages()),
        }
        return subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
    finally:
        server.terminate()
        server.wait(timeout=10)


def build_legacy_zip(out_dir: Path) -> Path:
    """The linux-x64 legacy zip without wheels (the UI's Blender takes the venv's packages)."""
    repo = Path(__file__).resolve().parent.parent
    subprocess.run(
        [
            sys.executable,
            str(repo / "scripts" / "build_addon.py"),
            *("--no-wheels", "--no-validate", "--platforms", "linux-x64", "--kinds", "legacy"),
            *("--out-dir", str(out_dir)),
        ],
        check=True,
        timeout=300,
    )
    (addon_zip,) = out_dir.glob("moodscore-*-legacy-linux_x64.zip")
    return addon_zip


def run_ui_steps(
    steps: str, args: dict[str, Any], work: Path, *, timeout: float = 240
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """Run ``SEQUENCER_UI`` + ``steps`` (a pytest test's) and return Blender and the report.

    Skips the test where Xvfb cannot start; fails it when the steps did not report success.
    """
    import pytest

    try:
        run = run_blender_ui(SEQUENCER_UI + steps, args, work, timeout=timeout)
    except XvfbUnavailable as exc:
        pytest.skip(str(exc))
    report_path = Path(args["report"])
    assert report_path.exists(), run.stdout[-3000:] + run.stderr[-3000:]
    report = json.loads(report_path.read_text())
    assert report["ok"], f"{report}\n{run.stdout[-3000:]}"
    return run, report
