"""Which videos a batch scores and where each one's outputs go.

An input is a video file, a folder (searched recursively for video files) or a text file that
lists paths, one a line. A video found in folder ``F`` at ``F/a/b/clip.mp4`` is scored into
``OUT/a/b/clip_moodscore/``; a video given directly (or listed outside the list's folder) into
``OUT/clip_moodscore/``.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..files import check_input_file

#: Suffixes a folder search takes as video files (compared lower-case).
VIDEO_SUFFIXES = frozenset(
    (
        *(".mp4", ".m4v", ".mov", ".qt", ".mkv", ".webm", ".avi", ".wmv", ".asf", ".flv"),
        *(".mpg", ".mpeg", ".m2v", ".ts", ".mts", ".m2ts", ".3gp", ".3g2", ".mxf", ".ogv"),
        *(".dv", ".vob", ".y4m"),
    )
)
#: Suffixes of a file that lists inputs rather than being one.
LIST_SUFFIXES = frozenset({".txt", ".lst", ".list"})
OUTPUT_SUFFIX = "_moodscore"


@dataclass(frozen=True)
class Found:
    """One video to score: its absolute path and its output folder relative to ``--out``."""

    video: Path
    relative_out: Path


def collect(inputs: Sequence[Path], out_root: Path) -> list[Found]:
    """Every video the inputs name, each once, with an output folder no other video shares.

    Parameters
    ----------
    inputs
        Video files, folders and path-list files, as given on the command line.
    out_root
        The batch's ``--out`` folder: never searched, so a rerun does not score its own outputs.

    Raises
    ------
    InputError
        For an input that does not exist, a folder without videos, or two videos that would
        write into the same output folder.
    """
    out_root = out_root.resolve()
    found: dict[Path, tuple[Path, Path]] = {}  # video -> (its base folder, video as named)
    for given in inputs:
        for video, base in _expand(given, out_root):
            found.setdefault(_absolute(video), (base, video))
    if not found:
        names = ", ".join(str(p) for p in inputs)
        raise InputError(
            f"No video files found in {names}; pass video files, folders holding videos "
            f"({', '.join(sorted(VIDEO_SUFFIXES)[:6])}, ...) or a .txt list of paths."
        )
    return _assign_outputs(found)


def _absolute(path: Path) -> Path:
    # Not resolve(): a symbolic link keeps its own name (and so its output folder's name).
    return Path(os.path.abspath(path))


def _expand(given: Path, out_root: Path) -> Iterator[tuple[Path, Path]]:
    """(video, base folder) pairs of one command-line input."""
    if given.is_dir():
        yield from ((video, given) for video in _search(given, out_root))
        return
    if given.suffix.lower() in LIST_SUFFIXES:
        check_input_file(given, "Path list", "pass a text file with one video path a line")
        yield from _read_list(given, out_root)
        return
    if not given.exists() and not given.is_symlink():
        raise InputError(f"Input {given} does not exist; check the path.")
    # Any other file is taken as a video: if it is not one, it fails alone with its sentence.
    yield given, given.parent


def _search(folder: Path, out_root: Path) -> list[Path]:
    """Video files under ``folder``, sorted, skipping hidden entries and the output folder."""
    videos: list[Path] = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        here = Path(root)
        dirs[:] = sorted(
            d for d in dirs if not d.startswith(".") and (here / d).resolve() != out_root
        )
        videos += [
            here / name
            for name in sorted(files)
            if not name.startswith(".") and Path(name).suffix.lower() in VIDEO_SUFFIXES
        ]
    return videos


def _read_list(listing: Path, out_root: Path) -> Iterator[tuple[Path, Path]]:
    """Entries of a path list: blank lines and ``#`` comments skipped, relative to its folder.

    A listed path that does not exist still becomes a job, which fails alone with its sentence:
    one stale line must not stop a library of thousands.
    """
    try:
        # -sig: Windows editors (Notepad until 2019) start UTF-8 files with a byte-order mark.
        text = listing.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(
            f"{listing} is not a UTF-8 text list of paths; pass one video path a line."
        ) from None
    base = listing.parent
    for line in text.splitlines():
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        path = Path(entry).expanduser()
        path = path if path.is_absolute() else base / path
        if path.is_dir():
            yield from ((video, path) for video in _search(path, out_root))
        else:
            yield path, base if _is_within(path, base) else path.parent


def _is_within(path: Path, folder: Path) -> bool:
    return _absolute(path).is_relative_to(_absolute(folder))


def _assign_outputs(found: dict[Path, tuple[Path, Path]]) -> list[Found]:
    """Output folders ``<relative path>_moodscore``; same-stem siblings keep their suffix."""
    by_stem: defaultdict[Path, list[Path]] = defaultdict(list)
    relative: dict[Path, Path] = {}
    for video, (base, _) in found.items():
        rel = _absolute(video).relative_to(_absolute(base))
        relative[video] = rel
        by_stem[video.with_suffix("")].append(video)
    owners: dict[Path, Path] = {}
    result: list[Found] = []
    for video in sorted(found):
        rel = relative[video]
        # clip.mp4 and clip.mov side by side: clip.mp4_moodscore and clip.mov_moodscore.
        name = rel.stem if len(by_stem[video.with_suffix("")]) == 1 else rel.name
        out = rel.parent / f"{name}{OUTPUT_SUFFIX}"
        other = owners.setdefault(out, video)
        if other != video:
            raise InputError(
                f"{other} and {video} would both be scored into {out}/; pass the folder that "
                "holds both instead of each file, or rename one."
            )
        result.append(Found(video, out))
    return result
