"""Files Moodscore reads and writes: input checks, atomic writes, run locks, stale temp files.

Every temp file is created beside its target as ``.<name>.mstmp-<pid>-<random><suffix>`` with
the user's normal permissions (``0666`` minus the umask, like any other program's new file),
and renamed onto the target only when complete. The pid in the name lets a later run remove
the temp files of a run that was killed (``kill -9``, power loss) before it could clean up.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

from .errors import InputError
from .signals import shielded

TEMP_MARKER = ".mstmp-"
_TEMP_NAME = re.compile(r"^\..*\.mstmp-(\d+)-[0-9a-f]{8}[^/]*$")
#: Longest file name most file systems take (ext4, XFS, Btrfs, APFS, NTFS: 255 bytes).
NAME_MAX = 255
LOCK_NAME = ".moodscore.lock"

#: What to do about a system error, by errno; the fallback is to check the path.
_OS_ADVICE = {
    errno.ENOSPC: "free some space or choose a folder on another disk",
    errno.EDQUOT: "free some space or choose a folder on another disk",
    errno.EROFS: "the disk is read-only; choose a writable folder",
    errno.EACCES: "check its permissions or choose another folder",
    errno.EPERM: "check its permissions or choose another folder",
    errno.ENAMETOOLONG: "use a shorter file or folder name",
    errno.ENOENT: "check that the path and its folders exist",
    errno.ENOTDIR: "a part of the path is a file, not a folder; check the path",
    errno.EISDIR: "it is a folder; give a file name",
    errno.EEXIST: "it already exists; choose another name",
    errno.ELOOP: "it is a symbolic link loop; point the link at a real file",
    errno.EIO: "the disk reported an input/output error; check the disk",
    errno.EMFILE: "too many files are open; close some programs and try again",
}


def describe_os_error(exc: OSError, path: str | os.PathLike[str] | None = None) -> str:
    """One sentence for a system error: which file, what the system said, what to do."""
    name = exc.filename if exc.filename is not None else path
    said = exc.strerror or str(exc) or type(exc).__name__
    advice = _OS_ADVICE.get(exc.errno or 0, "check the path and try again")
    where = f"{os.fsdecode(name)}: " if name is not None else ""
    return f"{where}{said[0].lower() + said[1:]}; {advice}."


def check_input_file(path: Path, what: str, hint: str) -> None:
    """Refuse, with one sentence, an input that is not a readable regular file.

    ``what`` names the input ("Video", "Emotion file"), ``hint`` says what to pass instead.
    A FIFO, socket or device is refused rather than opened: reading one can block forever.
    """
    try:
        info = path.stat()
    except FileNotFoundError:
        if path.is_symlink():
            raise InputError(f"{what} {path} is a broken symbolic link; {hint}.") from None
        raise InputError(f"{what} {path} does not exist; check the path.") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError(
                f"{what} {path} is a symbolic link loop; point the link at a real file."
            ) from None
        raise InputError(f"{what} {describe_os_error(exc, path)}") from None
    if stat.S_ISDIR(info.st_mode):
        raise InputError(f"{path} is a directory; {hint}.")
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"{what} {path} is not a regular file (a FIFO, socket or device); {hint}.")
    if not os.access(path, os.R_OK):
        raise InputError(
            f"{what} {path} cannot be read (permission denied); check its permissions."
        )


def temp_path_for(target: Path, suffix: str | None = None) -> Path:
    """A new, empty temp file beside ``target``, created with the user's normal permissions.

    The name keeps the target's suffix (writers such as FFmpeg pick the format from it) and is
    shortened where needed so it never exceeds :data:`NAME_MAX` even when the target's does not.
    """
    suffix = target.suffix if suffix is None else suffix
    tail = f"{TEMP_MARKER}{os.getpid()}-"
    room = NAME_MAX - len(tail) - 8 - len(suffix.encode()) - 1
    stem = target.name.encode()[: max(room, 1)].decode("utf-8", "ignore")
    for _ in range(100):
        path = target.parent / f".{stem}{tail}{secrets.token_hex(4)}{suffix}"
        try:
            # 0o666 through the umask: the same permissions as any new file the user makes.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return path
    raise FileExistsError(errno.EEXIST, "no free temp file name", str(target.parent))


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], *, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temp path in the target's folder; rename it onto ``target`` on success.

    On any exception (including ``KeyboardInterrupt``) the temp file is removed and the
    target is left untouched.

    Parameters
    ----------
    target
        Final path.
    suffix
        Suffix of the temp file (defaults to the target's), for writers that pick the
        format from the extension.
    """
    target = Path(target)
    tmp = temp_path_for(target, suffix)
    try:
        yield tmp
        with shielded():
            os.replace(tmp, target)
    finally:
        with shielded(), contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_bytes_atomic(target: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``target`` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(target: str | os.PathLike[str], text: str) -> None:
    """Write UTF-8 ``text`` to ``target`` atomically."""
    write_bytes_atomic(target, text.encode("utf-8"))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def remove_stale_temps(folder: Path) -> list[Path]:
    """Remove the temp files that runs which no longer exist left in ``folder``.

    Only names made by :func:`temp_path_for` whose pid is not a live process are touched.
    """
    removed: list[Path] = []
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            match = _TEMP_NAME.match(entry.name)
            if match is None or not entry.is_file(follow_symlinks=False):
                continue
            pid = int(match.group(1))
            if pid == os.getpid() or _pid_alive(pid):
                continue
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


def remove_own_temps(folder: Path) -> None:
    """Remove every temp file this process made in ``folder`` (cleanup after a failure)."""
    mine = f"{TEMP_MARKER}{os.getpid()}-"
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            if mine in entry.name and _TEMP_NAME.match(entry.name):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)


class FolderLock:
    """An exclusive ``flock`` on ``<folder>/.moodscore.lock`` for the duration of a run.

    A second run into the same folder is refused at once with a sentence naming the run that
    holds it. The kernel drops the lock when the holder dies, however it dies, so a lock is
    never stale; the lock file is removed on release.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise :class:`~core.errors.InputError`."""
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise InputError(
                    f"Another moodscore run (pid {holder}) is writing into {self.folder}; "
                    "wait for it to finish or choose another --out folder."
                ) from None
            except BaseException:
                os.close(fd)
                raise
            # The previous holder may have unlinked the file between our open and flock:
            # then this lock guards nothing and the open must be retried.
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Remove the lock file and drop the lock (unlink first, so no waiter locks a ghost)."""
        if self._fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> FolderLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
