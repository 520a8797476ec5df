"""Run a command as on a machine with no FluidSynth and no SoundFont installed.

A mount namespace of its own (``unshare --mount``, root only) hides, for that command and its
children only, every system SoundFont folder (an empty tmpfs over each) and the FluidSynth
library (``/dev/null`` bound over each ``libfluidsynth.so*`` file), as on a stock Windows or macOS
desktop, or a Linux desktop running Blender from blender.org.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess

#: Folders where Linux distributions, Homebrew and MacPorts keep SoundFonts.
SOUNDFONT_FOLDERS = (
    "/usr/share/sounds",
    "/usr/share/soundfonts",
    "/usr/local/share/soundfonts",
    "/opt/homebrew/share/soundfonts",
    "/opt/local/share/sounds",
)
_HIDE = r"""
set -e
for folder in $MS_FOLDERS; do
    if [ -d "$folder" ]; then mount -t tmpfs bare "$folder"; fi
done
for lib in /usr/lib/*/libfluidsynth.so* /usr/lib/libfluidsynth.so* \
           /usr/local/lib/libfluidsynth.so*; do
    if [ -f "$lib" ] && [ ! -L "$lib" ]; then mount --bind /dev/null "$lib"; fi
done
exec "$@"
"""


def bare(command: list[str]) -> list[str]:
    """``command`` wrapped to run without FluidSynth's library and without system SoundFonts."""
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", _HIDE, "bare", *command]


def bare_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for :func:`bare`: no SoundFont named by variable either."""
    base = dict(os.environ if env is None else env)
    base.pop("MOODSCORE_SOUNDFONT", None)
    return {**base, "MS_FOLDERS": " ".join(SOUNDFONT_FOLDERS)}


@functools.cache
def bare_machine_problem() -> str | None:
    """Why this machine cannot make a bare namespace (not root, no ``unshare``), else ``None``."""
    if shutil.which("unshare") is None:
        return "no unshare command"
    if os.geteuid() != 0:
        return "mount namespaces need root"
    probe = subprocess.run(
        bare(["true"]), env=bare_env(), capture_output=True, text=True, check=False
    )
    return None if probe.returncode == 0 else f"unshare failed: {probe.stderr.strip()}"
