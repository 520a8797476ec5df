"""Output naming and all-or-nothing publication of a run's files."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Collection, Iterator
from pathlib import Path

from .errors import InputError

#: Output kind -> file name pattern (``{stem}`` is the input's stem).
OUTPUT_NAMES: dict[str, str] = {
    "video": "{stem}.mp4",
    "midi": "{stem}.mid",
    "wav": "{stem}.wav",
    "emotions_txt": "{stem}.emotions.txt",
    "emotions_csv": "{stem}.emotions.csv",
    "cuts_csv": "{stem}.cuts.csv",
    "plot": "{stem}.emotions.png",
    "manifest": "score.json",
}
ALL_OUTPUTS = tuple(OUTPUT_NAMES)
EMOTION_OUTPUTS = ("emotions_txt", "emotions_csv", "cuts_csv", "plot")


def output_paths(out_dir: Path, stem: str, kinds: Collection[str]) -> dict[str, Path]:
    """Final paths of the requested output kinds."""
    unknown = sorted(set(kinds) - set(OUTPUT_NAMES))
    if unknown:
        raise ValueError(f"unknown output kinds: {unknown}")
    return {
        kind: out_dir / OUTPUT_NAMES[kind].format(stem=stem)
        for kind in OUTPUT_NAMES
        if kind in kinds
    }


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
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"Output folder {out_dir} is a file; choose a folder with --out.")
    created = [p for p in (out_dir, *out_dir.parents) if not p.exists()]
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".moodscore-probe-", dir=out_dir)
        os.close(fd)
        os.unlink(probe)
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
            fd, name = tempfile.mkstemp(
                prefix=f".{target.name}.", suffix=target.suffix, dir=target.parent
            )
            os.close(fd)
            self.temps[kind] = Path(name)
        return self.temps[kind]

    def publish(self) -> None:
        """Rename every staged file onto its target; drop intermediate files."""
        for kind, temp in self.temps.items():
            if kind in self.targets:
                os.replace(temp, self.targets[kind])
            else:
                temp.unlink(missing_ok=True)
        self.temps.clear()

    def discard(self) -> None:
        """Remove every staged file."""
        for temp in self.temps.values():
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
        self.temps.clear()


@contextlib.contextmanager
def staged_outputs(
    targets: dict[str, Path], out_dir: Path, created_dirs: Collection[Path] = ()
) -> Iterator[Staging]:
    """Yield a :class:`Staging`; publish on success, leave nothing behind on any failure."""
    staging = Staging(targets, out_dir)
    try:
        yield staging
        staging.publish()
    except BaseException:
        staging.discard()
        remove_empty_dirs(created_dirs)
        raise
