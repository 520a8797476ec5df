"""Build ``dist/moodscore-<version>.zip``: the Blender add-on with ``core`` and its wheels.

The zip holds one folder, ``moodscore/``, so both Blender 4.2+ (Get Extensions → Install from
Disk, which reads ``blender_manifest.toml``) and the legacy Add-ons → Install accept it. The
third-party wheels for every listed platform come from ``pip download`` (cached in
``dist/wheels-cache/``); numpy and requests ship with Blender. The zip is deterministic: sorted
entries, fixed timestamps and permissions.

Usage::

    python scripts/build_addon.py [--platforms linux-x64 macos-arm64 ...] [--no-wheels]
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterable
from pathlib import Path

log = logging.getLogger("build_addon")

REPO = Path(__file__).resolve().parent.parent
ADDON_SRC = REPO / "blender_addon"
CORE_SRC = REPO / "core"
ADDON_ID = "moodscore"
MANIFEST = "blender_manifest.toml"
FIXED_TIME = (2024, 1, 1, 0, 0, 0)

#: Blender platform -> pip ``--platform`` tags that fit it (newest first).
PLATFORM_TAGS: dict[str, tuple[str, ...]] = {
    "linux-x64": ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"),
    "windows-x64": ("win_amd64",),
    "macos-arm64": ("macosx_14_0_arm64", "macosx_13_0_arm64", "macosx_11_0_arm64"),
    "macos-x64": (
        "macosx_13_0_x86_64",
        "macosx_12_0_x86_64",
        "macosx_10_13_x86_64",
        "macosx_10_9_x86_64",
    ),
}
#: What ``core`` imports that Blender does not ship (Blender has numpy and requests; the add-on
#: skips the matplotlib plot; TensorFlow is for training only).
WHEEL_REQUIREMENTS = (
    "opencv-python-headless",
    "av",
    "mido",
    "packaging",
    "pyfluidsynth",
    "PyYAML",
    "tqdm",
)
BLENDER_PYTHON = "3.11"


def read_version() -> str:
    """``core.__version__`` without importing core."""
    text = (CORE_SRC / "__init__.py").read_text(encoding="utf-8")
    return re.search(r'__version__\s*=\s*"([^"]+)"', text).group(1)


def pinned(requirements: Iterable[str]) -> list[str]:
    """Requirements pinned to ``constraints.txt`` where it names them."""
    pins = {}
    for line in (REPO / "constraints.txt").read_text(encoding="utf-8").splitlines():
        name, sep, version = line.split("#")[0].strip().partition("==")
        if sep:
            pins[_normalise(name)] = version
    return [f"{r}=={pins[_normalise(r)]}" if _normalise(r) in pins else r for r in requirements]


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _wheel_project(wheel: Path) -> str:
    return _normalise(wheel.name.split("-")[0])


def download_wheels(platform: str, cache: Path) -> list[Path]:
    """The wheels of :data:`WHEEL_REQUIREMENTS` for ``platform``, downloading only what is new."""
    folder = cache / platform
    folder.mkdir(parents=True, exist_ok=True)
    requirements = pinned(WHEEL_REQUIREMENTS)
    wanted = {_normalise(r.split("==")[0]): r.partition("==")[2] for r in requirements}

    def cached() -> dict[str, Path]:
        found = {}
        for wheel in folder.glob("*.whl"):
            version = wheel.name.split("-")[1]
            if wanted.get(_wheel_project(wheel)) in ("", version):
                found[_wheel_project(wheel)] = wheel
        return found

    if set(cached()) != set(wanted):
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
            "--python-version",
            BLENDER_PYTHON,
            "--implementation",
            "cp",
            "--dest",
            str(folder),
        ]
        for tag in PLATFORM_TAGS[platform]:
            command += ["--platform", tag]
        log.info("Downloading wheels for %s", platform)
        subprocess.run([*command, *requirements], check=True)
    wheels = cached()
    missing = set(wanted) - set(wheels)
    if missing:
        raise SystemExit(f"build_addon: no {platform} wheel for {', '.join(sorted(missing))}")
    return sorted(wheels.values())


def source_files(root: Path) -> list[Path]:
    """Files of a source tree worth shipping (no caches, no build leftovers)."""
    skip_dirs = {"__pycache__", "vendor", "wheels"}
    return sorted(
        path
        for path in root.rglob("*")
        if path.is_file()
        and not skip_dirs & set(path.relative_to(root).parts)
        and path.suffix not in {".pyc", ".pyo"}
        and path.name != MANIFEST
    )


def manifest_text(version: str, platforms: list[str], wheels: list[str]) -> str:
    """The built manifest: the repository's template plus version, platforms and wheels."""
    template = (ADDON_SRC / MANIFEST).read_text(encoding="utf-8")
    text = re.sub(r'^version = ".*"$', f'version = "{version}"', template, flags=re.M)
    text = text.replace(
        "\n[permissions]",
        _toml_list("platforms", platforms) + _toml_list("wheels", wheels) + "\n[permissions]",
    )
    return text


def _toml_list(key: str, values: list[str]) -> str:
    if not values:
        return ""
    items = "".join(f'  "{value}",\n' for value in values)
    return f"{key} = [\n{items}]\n"


def build(
    out: Path,
    platforms: list[str],
    *,
    with_wheels: bool,
    cache: Path,
    soundfont: Path | None = None,
) -> Path:
    """Write the add-on zip to ``out`` and return it."""
    version = read_version()
    entries: dict[str, Path | bytes] = {}
    for path in source_files(ADDON_SRC):
        entries[f"{ADDON_ID}/{path.relative_to(ADDON_SRC).as_posix()}"] = path
    for path in source_files(CORE_SRC):
        entries[f"{ADDON_ID}/core/{path.relative_to(CORE_SRC).as_posix()}"] = path
    wheel_names = []
    if with_wheels:
        for platform in platforms:
            for wheel in download_wheels(platform, cache):
                entries[f"{ADDON_ID}/wheels/{wheel.name}"] = wheel
        wheel_names = sorted(
            f"./wheels/{name.rpartition('/')[2]}" for name in entries if name.endswith(".whl")
        )
    if soundfont is not None:
        entries[f"{ADDON_ID}/soundfonts/{soundfont.name}"] = soundfont
    manifest = manifest_text(version, platforms if with_wheels else [], wheel_names)
    entries[f"{ADDON_ID}/{MANIFEST}"] = manifest.encode("utf-8")
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".zip.partial")
    with zipfile.ZipFile(partial, "w") as archive:
        for name in sorted(entries):
            _add(archive, name, entries[name])
    partial.replace(out)
    log.info("Wrote %s (%.1f MB)", out, out.stat().st_size / 1e6)
    return out


def _add(archive: zipfile.ZipFile, name: str, source: Path | bytes) -> None:
    data = source if isinstance(source, bytes) else source.read_bytes()
    info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
    info.external_attr = 0o644 << 16
    # Wheels are zips already: storing them is as small and much faster.
    info.compress_type = zipfile.ZIP_STORED if name.endswith(".whl") else zipfile.ZIP_DEFLATED
    archive.writestr(info, data, compresslevel=9 if info.compress_type else None)


def blender_binary() -> Path | None:
    """A Blender binary that knows ``--command extension`` (4.2+), if one is installed."""
    candidate = shutil.which("blender")
    if candidate is None:
        return None
    result = subprocess.run([candidate, "--version"], capture_output=True, text=True, check=False)
    match = re.search(r"Blender (\d+)\.(\d+)", result.stdout)
    if match and (int(match[1]), int(match[2])) >= (4, 2):
        return Path(candidate)
    log.info("%s is older than 4.2; validating with the bpy module's tool instead", candidate)
    return None


def validate(zip_path: Path) -> None:
    """Validate the zip as an extension, with Blender or the ``bpy`` module's ``blender_ext.py``."""
    binary = blender_binary()
    if binary is not None:
        command = [
            str(binary),
            "--factory-startup",
            "--command",
            "extension",
            "validate",
            str(zip_path),
        ]
    else:
        tool = _bpy_extension_tool()
        if tool is None:
            log.warning("No Blender 4.2+ and no bpy module: the zip was not validated")
            return
        command = [sys.executable, str(tool), "validate", str(zip_path)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    output = (result.stdout + result.stderr).strip()
    if result.returncode != 0 or "error" in output.lower():
        raise SystemExit(f"build_addon: extension validation failed:\n{output}")
    log.info("Validated: %s", output.splitlines()[-1] if output else "ok")


def _bpy_extension_tool() -> Path | None:
    spec = importlib.util.find_spec("bpy")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        tools = sorted(Path(location).glob("*/scripts/addons_core/bl_pkg/cli/blender_ext.py"))
        if tools:
            return tools[-1]
    return None


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--platforms",
        nargs="+",
        choices=sorted(PLATFORM_TAGS),
        default=list(PLATFORM_TAGS),
        help="platforms to bundle wheels for",
    )
    parser.add_argument(
        "--no-wheels",
        action="store_true",
        help="no wheels: the dependencies come from Blender's environment",
    )
    parser.add_argument(
        "--soundfont", type=Path, help="bundle this SoundFont (only if its licence allows)"
    )
    parser.add_argument("--out", type=Path, help="zip to write (default: dist/moodscore-<v>.zip)")
    parser.add_argument("--cache", type=Path, default=REPO / "dist" / "wheels-cache")
    parser.add_argument("--no-validate", action="store_true")
    args = parser.parse_args(argv)
    out = args.out or REPO / "dist" / f"{ADDON_ID}-{read_version()}.zip"
    zip_path = build(
        out,
        args.platforms,
        with_wheels=not args.no_wheels,
        cache=args.cache,
        soundfont=args.soundfont,
    )
    if not args.no_validate:
        validate(zip_path)
    print(zip_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
