"""Third-party packages for the legacy add-on path (Blender 3.x, or Add-ons → Install).

Blender 4.2+ installs the extension's ``wheels`` itself. Installed the legacy way, the add-on
unpacks the bundled wheels that fit this Python into its own ``vendor`` folder once, and puts
that folder on ``sys.path`` *after* the environment's paths, so packages already importable
(Blender's own numpy, or ``PYTHONPATH``) win. The legacy zip bundles numpy for hosts without
one (Debian's Blender 3.4). This happens when this module is imported, which the add-on's
``__init__`` does before any module that imports numpy or the engine's packages.

:data:`VENDOR_DIR` is also what a separate engine process must put on its ``sys.path``.
"""

from __future__ import annotations

import logging
import platform
import re
import sys
import zipfile
from pathlib import Path

log = logging.getLogger(__name__)

ADDON_DIR = Path(__file__).resolve().parent
WHEELS_DIR = ADDON_DIR / "wheels"
VENDOR_DIR = ADDON_DIR / "vendor"


def _platform_fits(tag: str) -> bool:
    if tag == "any":
        return True
    machine = platform.machine().lower()
    arch = {"amd64": "x86_64", "arm64": "arm64", "aarch64": "aarch64"}.get(machine, machine)
    if sys.platform.startswith("linux"):
        return "linux" in tag and arch in tag
    if sys.platform == "darwin":
        return "macosx" in tag and (arch in tag or "universal2" in tag)
    if sys.platform == "win32":
        return tag == ("win_amd64" if arch == "x86_64" else f"win_{arch}")
    return False


def _stable_abi_fits(python_tag: str) -> bool:
    """``cp37`` + ``abi3`` means CPython 3.7 or newer."""
    match = re.fullmatch(r"cp3(\d+)", python_tag)
    return match is not None and int(match[1]) <= sys.version_info.minor


def wheel_fits(wheel: Path) -> bool:
    """Whether a wheel's tags (``name-ver-py-abi-plat.whl``) fit this interpreter."""
    *_, python_tag, abi_tag, platform_tag = wheel.stem.split("-")
    ours = f"cp{sys.version_info.major}{sys.version_info.minor}"
    abis = set(abi_tag.split("."))
    abi_ok = bool(abis & {ours, "abi3", "none"})
    python_ok = any(
        tag in {ours, "py3"} or ("abi3" in abis and _stable_abi_fits(tag))
        for tag in python_tag.split(".")
    )
    return python_ok and abi_ok and any(_platform_fits(t) for t in platform_tag.split("."))


def vendor_wheels() -> None:
    """Unpack fitting bundled wheels (once) and append the vendor folder to ``sys.path``."""
    if not WHEELS_DIR.is_dir():
        return
    wheels = sorted(WHEELS_DIR.glob("*.whl"))
    fitting = [wheel for wheel in wheels if wheel_fits(wheel)]
    if wheels and all(wheel.name.endswith("-any.whl") for wheel in fitting):  # no compiled one
        log.warning(
            "Moodscore: its bundled packages do not fit Python %d.%d on %s; install the zip "
            "made for this Blender (README: Add-on install).",
            *sys.version_info[:2],
            sys.platform,
        )
    for wheel in fitting:
        marker = VENDOR_DIR / f".{wheel.name}.unpacked"
        if marker.exists():
            continue
        log.info("Moodscore: unpacking %s", wheel.name)
        VENDOR_DIR.mkdir(exist_ok=True)
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(VENDOR_DIR)
        marker.touch()  # last: an interrupted unpack is redone next time
    if VENDOR_DIR.is_dir() and str(VENDOR_DIR) not in sys.path:
        sys.path.append(str(VENDOR_DIR))


if not __name__.startswith("bl_ext."):  # an extension's wheels are Blender's business
    vendor_wheels()
