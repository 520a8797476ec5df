"""All-or-nothing publication of a run's files (their names are :mod:`core.naming`'s)."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
from collections.abc import Collection, Iterator
from pathlib import Path

from .errors import InputError
from .files import (
    NAME_MAX,
    TEMP_MARKER,
    FolderLock,
    check_out_option,
    remove_own_temps,
    remove_stale_temps,
    temp_path_for,
)
from .naming import OUTPUT_NAMES
from .signals import shielded

log = logging.getLogger(__name__)

#: Errors of writing (no space, over quota, file too large) that name no file themselves.
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def check_writable(
    paths: dict[str, Path], *, force: bool, protected: Collection[Path] = ()
) -> None:
    """Refuse, before any work, outputs that exist (without ``force``) or would hit an input."""
    protected_resolved = {p.resolve() for p in protected}
    for path in paths.values():
        if path.resolve() in protected_resolved:
            raise InputError(
                f"Output {path} would overwrite the input file; choose another --out folder."
            )
        if len(path.name.encode()) > NAME_MAX:
            raise InputError(
                f"Output name {path.name[:40]}... is longer than {NAME_MAX} bytes, more than file "
                "systems take; rename the input to something shorter."
            )
        if path.is_dir():
            raise InputError(f"{path} is a directory; remove it or choose another --out folder.")
        if path.exists() and not force:
            raise InputError(f"{path} already exists; pass --force to overwrite it.")


def prepare_out_dir(out_dir: Path) -> list[Path]:
    """Create ``out_dir`` if needed and check it takes files.

    Returns
    -------
    list of Path
        The folders this call created, deepest first, so a failed run can remove them.
    """
    check_out_option(out_dir, "Output folder")
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"Output folder {out_dir} is a file; choose a folder with --out.")
    created = [p for p in (out_dir, *out_dir.parents) if not p.exists()]
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        temp_path_for(out_dir / ".moodscore-probe").unlink()
    except OSError as exc:
        remove_empty_dirs(created)
        raise InputError(
            f"Output folder {out_dir} is not writable ({exc.strerror}); choose another with --out."
        ) from None
    return created


def remove_empty_dirs(folders: Collection[Path]) -> None:
    """Remove the given folders, deepest first, where they exist and are empty."""
    for folder in folders:
        with contextlib.suppress(OSError):
            folder.rmdir()


class Staging:
    """Temp files beside their targets, published together only when the whole run succeeds."""

    def __init__(self, targets: dict[str, Path], out_dir: Path) -> None:
        self.targets = targets
        self.out_dir = out_dir
        self.temps: dict[str, Path] = {}

    def path(self, kind: str) -> Path:
        """The temp path to write output ``kind`` to (also for kinds only needed on the way)."""
        if kind not in self.temps:
            target = self.targets.get(kind) or self.out_dir / OUTPUT_NAMES[kind].format(stem="")
            self.temps[kind] = temp_path_for(target)
        return self.temps[kind]

    def add(self, kind: str, target: Path) -> Path:
        """Stage a target found only during the run (a split's next segment); its temp path."""
        self.targets[kind] = target
        return self.path(kind)

    def publish(self) -> None:
        """Rename every staged file onto its target, all or none; drop intermediate files.

        The targets' old files are moved aside first, and put back if one cannot be: Windows
        refuses to move or replace a file another program has open (a player, an editor),
        and a run must not then leave half new and half old outputs. Old files are deleted
        last; one still open stays as a temp file that a later run removes.
        """
        staged = [(temp, self.targets[kind]) for kind, temp in self.temps.items()
                  if kind in self.targets]  # fmt: skip
        aside = _move_aside([target for _, target in staged])
        try:
            for temp, target in staged:
                os.replace(temp, target)
        except BaseException:
            for target, old in aside:  # whatever could not be published keeps its old file
                if not os.path.lexists(target):
                    os.replace(old, target)
            raise
        for kind, temp in self.temps.items():
            if kind not in self.targets:
                temp.unlink(missing_ok=True)
        for _, old in aside:
            with contextlib.suppress(OSError):
                old.unlink()
        self.temps.clear()

    def discard(self) -> None:
        """Remove every staged file, and any temp file of this process the run left in the folder
        (one created just before a signal arrived is not in ``temps`` yet)."""
        for temp in self.temps.values():
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
        self.temps.clear()
        remove_own_temps(self.out_dir)


def _move_aside(targets: list[Path]) -> list[tuple[Path, Path]]:
    """Rename the existing ``targets`` to temp names; (target, temp) pairs, all or none.

    Raises
    ------
    InputError
        Naming the first file that cannot be moved (in use by another program on Windows),
        after every file moved so far was put back.
    """
    aside: list[tuple[Path, Path]] = []
    for target in targets:
        if not os.path.lexists(target):
            continue
        old = temp_path_for(target)
        try:
            os.replace(target, old)
        except OSError as exc:
            old.unlink(missing_ok=True)
            for moved, its_old in reversed(aside):
                os.replace(its_old, moved)
            said = exc.strerror or type(exc).__name__
            raise InputError(
                f"Cannot replace {target} ({said[0].lower()}{said[1:]}); close any program "
                "that has it open (a player, an editor) and run again."
            ) from None
        aside.append((target, old))
    return aside


@contextlib.contextmanager
def staged_outputs(
    targets: dict[str, Path],
    out_dir: Path,
    *,
    force: bool,
    protected: Collection[Path] = (),
) -> Iterator[Staging]:
    """Yield a :class:`Staging` for one run into ``out_dir``; all or nothing.

    Checks the targets before any work, then runs as :func:`locked_staging`, checking the
    targets again under the folder's lock.
    """
    check_writable(targets, force=force, protected=protected)
    with locked_staging(targets, out_dir) as staging:
        # Another run may have published these between our first check and the lock.
        check_writable(targets, force=force, protected=protected)
        yield staging


@contextlib.contextmanager
def locked_staging(targets: dict[str, Path], out_dir: Path) -> Iterator[Staging]:
    """Yield a :class:`Staging` for ``targets`` in ``out_dir``, holding the folder's run lock.

    Before yielding: creates the folder, checks it takes files, takes the folder's run lock
    (a concurrent run into it is refused) and removes temp files that killed runs left there.
    On success every output is published at once; on any failure or signal nothing is left:
    no temp file, no folder the run created, and a write error names the output folder.
    """
    lock = FolderLock(out_dir)
    staging = Staging(targets, out_dir)
    created_dirs: list[Path] = []
    try:
        # Shielded: a signal between creating the folder (or the lock file) and noting it
        # would leave them behind.
        with shielded():
            created_dirs = prepare_out_dir(out_dir)
            lock.acquire()
        stale = remove_stale_temps(out_dir)
        if stale:
            log.info("Removed %d temp file(s) left by an earlier, killed run.", len(stale))
        yield staging
        with shielded():
            staging.publish()
    except BaseException as exc:
        with shielded():
            staging.discard()
            lock.release()
            remove_empty_dirs(created_dirs)
        renamed = folder_error(exc, out_dir)
        if renamed is not None:
            raise renamed from exc
        raise
    with shielded():
        lock.release()


def folder_error(exc: BaseException, out_dir: Path) -> OSError | None:
    """For a write error that names no file the user knows, the same error naming ``out_dir``.

    A full disk is reported with no file name, an FFmpeg write error with the hidden temp
    file's; either way the useful answer is the output folder. ``None`` when ``exc`` is fine
    as it is.
    """
    if not isinstance(exc, OSError):
        return None
    name = exc.filename
    unnamed = name is None and exc.errno in _WRITE_ERRNOS
    if unnamed or (name is not None and TEMP_MARKER in os.fsdecode(name)):
        return OSError(exc.errno, exc.strerror or str(exc), str(out_dir))
    return None
