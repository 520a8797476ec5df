"""The import graph: light entry points and no cycles.

``import core.config`` (the CLI's options, the add-on's properties) and enabling the add-on run
in Blender's own process or before any video is read, so they must not import PyAV, OpenCV or
matplotlib; each check runs in a fresh interpreter with those packages blocked.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
HEAVY = ("av", "cv2", "matplotlib")

#: Prepended to each probe: a meta-path finder that refuses the heavy packages, so importing
#: one fails loudly instead of passing unnoticed.
BLOCKER = textwrap.dedent(
    f"""
    import sys

    class Blocked:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {HEAVY!r}:
                raise ImportError(f"blocked by the test: {{name}}")
            return None

    sys.meta_path.insert(0, Blocked())
    """
)


def run_blocked(code: str) -> dict[str, object]:
    """Run ``code`` (which prints one JSON line last) with the heavy packages blocked."""
    result = subprocess.run(
        [sys.executable, "-c", BLOCKER + textwrap.dedent(code)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("module", ["core.config", "core.cli", "core.pipeline", "core.timeline"])
def test_light_modules_import_with_av_cv2_and_matplotlib_blocked(module: str) -> None:
    loaded = run_blocked(
        f"""
        import importlib, json, sys
        importlib.import_module({module!r})
        print(json.dumps({{"heavy": [m for m in {HEAVY!r} if m in sys.modules]}}))
        """
    )
    assert loaded == {"heavy": []}


@pytest.mark.skipif(importlib.util.find_spec("bpy") is None, reason="needs the bpy module")
def test_enabling_the_addon_imports_no_heavy_package_and_reports_them_missing() -> None:
    loaded = run_blocked(
        """
        import json, os, sys
        import bpy, addon_utils
        addon_utils.enable("blender_addon", default_set=True)
        from blender_addon import engine
        print(json.dumps({
            "enabled": "blender_addon" in bpy.context.preferences.addons,
            "missing": engine.missing_dependencies(),
        }), flush=True)
        os._exit(0)  # leave bpy's exit handlers out of the measurement
        """
    )
    assert loaded == {"enabled": True, "missing": ["cv2", "av"]}
