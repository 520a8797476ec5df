"""Score files on disk: a folder per strip, a folder per version, and when old versions go.

Every score and re-score publishes into a new version folder (``<strip folder>/v3/``) and
points its strips there; nothing is renamed over a file Blender may hold open (Windows cannot
replace a file another handle has open, and Blender keeps a sound strip's file open). Undo and
redo find each version's files where they were, because old versions are removed only once
nothing can reach them:

* on **save**, the versions no strip of this session and no undo step can reach: left over
  from earlier sessions and used by no strip now;
* when **another file is opened** (the undo history ends there), the versions the saved .blend
  does not use;
* on **quit**, the versions neither the saved .blend nor the strips as they are now use (Blender
  writes those into ``quit.blend`` for *Recover Last Session*).

Only folders named ``v<number>`` inside a score folder (one holding :data:`OWNER_FILE`) are ever
removed. An unsaved .blend scores into a temp folder of its own Blender session
(:func:`session_root`); its first save copies the versions the strips use beside the .blend
(``//moodscore/<strip>/v<n>``) and relinks the strips, relative to it. The temp copies stay
until quit or the next file, for the undo steps that still point at them.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bpy
from bpy.app.handlers import persistent

from . import compat

#: File in a score folder naming the strip it belongs to.
OWNER_FILE = ".moodscore-owner"
#: Name of a version folder inside a score folder.
VERSION_NAME = re.compile(r"^v(\d+)$")
#: Name of a session's temp folder (:func:`session_root`), this session's or an earlier one's.
_SESSION_NAME = re.compile(r"^moodscore-\d+-[0-9a-f]{8}$")
#: A staging folder the engine fills before it is published as ``v<n>``.
_STAGING_NAME = re.compile(r"^\.v(\d+)\.partial-")


@dataclass
class _SessionState:
    """What the handlers know about this Blender session (one per process)."""

    root: Path | None = None  # this session's temp folder, made on first use
    reachable: set[Path] = field(default_factory=set)  # versions used since the file opened
    relinked: list[tuple[Any, str, str]] = field(default_factory=list)  # by the save under way
    on_disk: set[Path] = field(default_factory=set)  # versions the saved .blend uses
    copies: set[Path] = field(default_factory=set)  # versions copies saved this session use
    current: set[Path] = field(default_factory=set)  # versions the strips use now (last look)
    folders: set[Path] = field(default_factory=set)  # score folders seen since the file opened


_state = _SessionState()


def session_root() -> Path:
    """This Blender session's own temp folder for the scores of an unsaved .blend."""
    if _state.root is None:
        name = f"moodscore-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        _state.root = Path(tempfile.gettempdir()) / name
    _state.root.mkdir(parents=True, exist_ok=True)
    return _state.root


def real(path: str | os.PathLike[str]) -> Path:
    """``path`` resolved, so that the same folder compares equal however it was written."""
    return Path(os.path.realpath(path))


def free_for(folder: Path, owner: str) -> bool:
    """Whether ``folder`` is missing, empty, or recorded as ``owner``'s."""
    if not folder.exists() or not any(folder.iterdir()):
        return True
    record = folder / OWNER_FILE
    return record.is_file() and record.read_text(encoding="utf-8") == owner


def new_version(folder: Path, taken: set[Path]) -> Path:
    """The next version folder of a score folder, ``v<n>``, used by nothing yet."""
    numbers = [0]
    if folder.is_dir():
        for child in folder.iterdir():
            match = VERSION_NAME.match(child.name) or _STAGING_NAME.match(child.name)
            if match:
                numbers.append(int(match.group(1)))
    numbers += [int(m.group(1)) for p in taken if p.parent == folder and (m := _version(p))]
    version = folder / f"v{max(numbers) + 1}"
    taken.add(version)
    return version


def _version(path: Path) -> re.Match[str] | None:
    return VERSION_NAME.match(path.name)


def is_version(path: Path) -> bool:
    """Whether ``path`` is a version folder inside a score folder."""
    return bool(_version(path)) and (path.parent / OWNER_FILE).is_file()


def _strip_paths(strip: Any) -> Iterator[tuple[str, str]]:
    """(kind, absolute path) of every score file or folder ``strip`` points at."""
    info = strip.moodscore
    if info.role == "NONE" and not info.out_dir:  # not the add-on's: skip the file system
        return
    library = strip.id_data.library
    for kind in ("out_dir", "version_dir"):
        value = getattr(info, kind)
        if value:
            yield kind, bpy.path.abspath(value, library=library)
    sound = getattr(strip, "sound", None)
    if sound is not None and sound.filepath:
        yield "sound", bpy.path.abspath(sound.filepath, library=sound.library)


def used() -> tuple[set[Path], set[Path]]:
    """The version folders the strips of every scene use now, and their score folders."""
    versions, folders = set(), set()
    for scene in bpy.data.scenes:
        for strip in compat.all_strips(scene):
            for kind, path in _strip_paths(strip):
                resolved = real(path)
                if kind == "out_dir":
                    folders.add(resolved)
                    continue
                version = resolved if kind == "version_dir" else resolved.parent
                if _version(version):
                    versions.add(version)
                    folders.add(version.parent)
    return versions, folders


def note_state() -> None:
    """Remember the versions the strips use now: undo may come back to this state."""
    _state.current, folders = used()
    _state.reachable |= _state.current
    _state.folders |= folders


def remove_versions(keep: Iterable[Path]) -> list[Path]:
    """Delete every version folder of the known score folders that is not in ``keep``.

    A score folder left with no version goes too, and so does this session's temp folder
    once empty. Returns the removed version folders.
    """
    keep = set(keep) | _state.copies
    folders = set(_state.folders)
    if _state.root is not None and _state.root.is_dir():
        folders |= {child for child in _state.root.iterdir() if child.is_dir()}
    removed = []
    for folder in sorted(folders):
        if not (folder / OWNER_FILE).is_file():
            continue
        for version in sorted(folder.iterdir()):
            if _version(version) and version.is_dir() and real(version) not in keep:
                # A file still open elsewhere (Windows) stays until the next clean-up.
                shutil.rmtree(version, ignore_errors=True)
                removed.append(version)
        if {child.name for child in folder.iterdir()} <= {OWNER_FILE}:
            with contextlib.suppress(OSError):
                (folder / OWNER_FILE).unlink()
                folder.rmdir()
    if _state.root is not None:
        with contextlib.suppress(OSError):  # only when empty
            _state.root.rmdir()
    return removed


def _relative_to(path: Path, blend: Path) -> str:
    """``path`` as ``//``-relative to ``blend``'s folder (absolute across Windows drives)."""
    try:
        return "//" + os.path.relpath(path, blend.parent).replace(os.sep, "/")
    except ValueError:
        return str(path)


def _copy_version(source: Path, target: Path) -> None:
    """Copy a version folder; it appears under its final name only when complete."""
    partial = target.parent / f".{target.name}.partial-{uuid.uuid4().hex[:8]}"
    try:
        shutil.copytree(source, partial)
        partial.rename(target)
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def _in_session_temp(version: Path) -> bool:
    """Whether ``version`` lies in a session's temp folder (of any Blender session)."""
    session = version.parent.parent
    return bool(_SESSION_NAME.match(session.name)) and session.parent == real(tempfile.gettempdir())


def move_session_scores(blend: Path, *, saved: bool = False) -> dict[Path, Path]:
    """Copy the versions the strips use from temp folders (:func:`session_root`) beside
    ``blend``, and relink the strips.

    Each score folder becomes ``<blend folder>/moodscore/<its name>`` (``-2``, ``-3``… when
    another strip owns that name there). The add-on's own paths become ``//``-relative; the
    sounds' too once ``blend`` is the open file (``saved``), else absolute (Blender makes them
    relative as it writes an unsaved file). Returns the mapping of old to new folders.
    """
    versions, _ = used()
    base = blend.parent / "moodscore"
    mapping: dict[Path, Path] = {}
    taken: set[Path] = set()
    for version in sorted(v for v in versions if _in_session_temp(v)):
        folder = version.parent
        if folder not in mapping:
            key = (folder / OWNER_FILE).read_text(encoding="utf-8").partition(":")[2]
            owner = f"{blend.name}:{key}"
            target, number = base / folder.name, 2
            while target in taken or not free_for(target, owner):
                target, number = base / f"{folder.name}-{number}", number + 1
            taken.add(target)
            target.mkdir(parents=True, exist_ok=True)
            (target / OWNER_FILE).write_text(owner, encoding="utf-8")
            mapping[folder] = target
        target = mapping[folder] / version.name
        if target.exists():
            target = new_version(mapping[folder], taken)
        _copy_version(version, target)
        mapping[version] = target
    if mapping:
        _state.relinked = _relink(mapping, blend, saved)
    return mapping


def _relink(mapping: dict[Path, Path], blend: Path, saved: bool) -> list[tuple[Any, str, str]]:
    """Point every strip and sound at the copies in ``mapping``; return what was changed
    (the datablock, the property and its old value)."""
    changed = []
    for sound in bpy.data.sounds:
        path = real(bpy.path.abspath(sound.filepath)) if sound.filepath else None
        if path is not None and path.parent in mapping:
            changed.append((sound, "filepath", sound.filepath))
            new = mapping[path.parent] / path.name
            sound.filepath = _relative_to(new, blend) if saved else str(new)
    for scene in bpy.data.scenes:
        for strip in compat.all_strips(scene):
            info = strip.moodscore
            for kind in ("out_dir", "version_dir"):
                path = real(bpy.path.abspath(getattr(info, kind)))
                if getattr(info, kind) and path in mapping:
                    changed.append((info, kind, getattr(info, kind)))
                    setattr(info, kind, _relative_to(mapping[path], blend))
    return changed


def _rebase(old_blend: Path, new_blend: Path) -> None:
    """Keep the add-on's ``//``-relative paths right when the .blend is saved elsewhere."""
    for scene in bpy.data.scenes:
        for strip in compat.all_strips(scene):
            info = strip.moodscore
            for kind in ("out_dir", "version_dir", "video"):
                value = getattr(info, kind)
                if value.startswith("//"):
                    path = Path(bpy.path.abspath(value, start=str(old_blend.parent)))
                    setattr(info, kind, _relative_to(path, new_blend))


def _saved_path(args: tuple[Any, ...]) -> Path | None:
    """The .blend a save handler is called for (Blender 3.x passes only the scene)."""
    return Path(args[0]) if args and isinstance(args[0], str) and args[0] else None


@persistent
def _on_save_pre(*args: Any) -> None:
    blend = _saved_path(args)
    if blend is None:
        return
    if bpy.data.filepath and Path(bpy.data.filepath).parent != blend.parent:
        _rebase(Path(bpy.data.filepath), blend)
    move_session_scores(blend)


@persistent
def _on_save_post(*args: Any) -> None:
    blend = _saved_path(args)
    relinked, _state.relinked = _state.relinked, []
    if blend is not None and (not bpy.data.filepath or real(bpy.data.filepath) != real(blend)):
        # File > Save Copy: the open file stays where it was, and so do its strips' files;
        # the copy keeps the ones it was saved with.
        for owner, name, value in reversed(relinked):
            setattr(owner, name, value)
        note_state()
        if not relinked:  # else the copy got files of its own beside it
            _state.copies |= _state.current
        return
    moved: set[Path] = set()
    if blend is None and bpy.data.filepath:  # Blender 3.x passes no path: moved only now,
        moved = set(move_session_scores(Path(bpy.data.filepath), saved=True))
        if moved and not bpy.app.background:  # so the file is saved again, with the moves
            bpy.app.timers.register(_save_again, first_interval=0.0)
    note_state()
    # Until saved again, the file on disk still uses the temp versions it was written with.
    _state.on_disk = set(_state.current) | {path for path in moved if _version(path)}
    remove_versions(_state.reachable)


def _save_again() -> None:
    """Save the open file once more (Blender 3.x, after its first save moved the scores)."""
    if bpy.data.filepath:
        bpy.ops.wm.save_mainfile()


@persistent
def _on_load_pre(*args: Any) -> None:
    note_state()
    remove_versions(_state.on_disk)


@persistent
def _on_load_post(*args: Any) -> None:
    _state.reachable, _state.folders = set(), set()
    note_state()
    _state.on_disk = set(_state.current)


@persistent
def _on_undo_redo(*args: Any) -> None:
    note_state()


@persistent
def _on_exit_pre(*args: Any) -> None:
    note_state()
    _on_exit()


def _on_exit() -> None:
    """Quit: keep what the saved .blend and ``quit.blend`` use (no ``bpy`` here: at exit
    Blender may have freed its data already; the last look at the strips is used)."""
    remove_versions(_state.on_disk | _state.current)


_HANDLERS = (
    ("save_pre", _on_save_pre),
    ("save_post", _on_save_post),
    ("load_pre", _on_load_pre),
    ("load_post", _on_load_post),
    ("undo_post", _on_undo_redo),
    ("redo_post", _on_undo_redo),
    ("exit_pre", _on_exit_pre),  # Blender 5.0+; Python's atexit too
)


def register() -> None:
    """Install the handlers; the file open now counts as loaded."""
    for name, handler in _HANDLERS:
        handlers = getattr(bpy.app.handlers, name, None)
        if handlers is not None and handler not in handlers:
            handlers.append(handler)
    # Also where exit_pre exists: the bpy module may not run it. Registered once for good:
    # Blender disables every add-on when it quits, before Python's atexit runs.
    atexit.unregister(_on_exit)
    atexit.register(_on_exit)
    with contextlib.suppress(AttributeError):  # registering while Blender starts: no data
        _on_load_post()


def unregister() -> None:
    """Remove the handlers; the quit clean-up stays, with a last look at the strips (files
    stay now: the add-on may be enabled again, and undo may still reach them)."""
    for name, handler in _HANDLERS:
        handlers = getattr(bpy.app.handlers, name, None)
        if handlers is not None and handler in handlers:
            handlers.remove(handler)
    with contextlib.suppress(AttributeError):  # no data left to look at
        note_state()
