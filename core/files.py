"""Files Moodscore reads and writes: input checks, atomic writes, run locks, stale temp files.

Every temp file is created beside its target as ``.<name>.mstmp-<pid>-<random><suffix>`` with
the user's normal permissions (``0666`` minus the umask, like any other program's new file),
and renamed onto the target only when complete. The pid in the name lets a later run remove
the temp files of a run that was killed (``kill -9``, power loss) before it could clean up.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

try:
    import fcntl
except ImportError:  # Windows: byte-range locks from the C runtime instead
    # Typed as the module: mypy checks this file for the platform it runs on, where the
    # Windows branches (msvcrt's names exist only in Windows' stubs) are unreachable.
    fcntl = cast(Any, None)
    import msvcrt

from .errors import FolderBusy, InputError
from .signals import shielded

TEMP_MARKER = ".mstmp-"
_TEMP_NAME = re.compile(r"^\..*\.mstmp-(\d+)-[0-9a-f]{8}[^/]*$")
#: Longest file name most file systems take (ext4, XFS, Btrfs, APFS, NTFS: 255 bytes).
NAME_MAX = 255
LOCK_NAME = ".moodscore.lock"
#: Where the Windows lock sits in the lock file: far past the pid text, because a byte-range
#: lock there is mandatory (another process cannot read locked bytes) and a refused run must
#: still read the holder's pid.
_WINDOWS_LOCK_OFFSET = 1 << 20
#: Without it Windows opens descriptors in text mode and writes ``\r\n`` for ``\n``.
_O_BINARY = getattr(os, "O_BINARY", 0)

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


def check_out_option(path: Path, option: str = "--out") -> None:
    """Refuse an output folder option that is a symbolic link loop or a dangling link.

    Checked before anything else: ``Path.resolve`` raises a ``RuntimeError`` on a loop, and
    ``mkdir`` on a dangling link says "File exists".
    """
    for link in (path, *path.parents):
        if not link.is_symlink():
            continue
        try:
            link.resolve(strict=True)
        except (RuntimeError, OSError) as exc:
            if isinstance(exc, FileNotFoundError):
                target = os.readlink(link)
                raise InputError(
                    f"{option} {path}: {link} is a symbolic link to {target}, which does not "
                    "exist; create that folder or choose another."
                ) from None
            raise InputError(
                f"{option} {path}: {link} is a symbolic link loop; point the link at a real "
                "folder or choose another."
            ) from None


def check_riff_complete(path: Path, what: str, hint: str) -> None:
    """Refuse a RIFF file (a SoundFont) shorter than its header says: a truncated download.

    Checked before a native library opens it: FluidSynth's (libinstpatch's) own complaints
    are lines of noise on stderr, printed before our sentence.
    """
    try:
        with open(path, "rb") as handle:
            header = handle.read(8)
            size = os.fstat(handle.fileno()).st_size
    except OSError:
        return  # the caller's own checks name an unreadable file
    if len(header) == 8 and header[:4] == b"RIFF":
        declared = int.from_bytes(header[4:8], "little") + 8
        if size < declared:
            raise InputError(
                f"{what} {path} is truncated ({size} of its {declared} bytes); {hint}."
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
            # 0o666 through the umask: the same permissions as any new file the user makes
            # (Windows has no mode bits). Python makes descriptors non-inheritable itself
            # (PEP 446), so no O_CLOEXEC, which Windows lacks.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
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
    """Whether process ``pid`` exists (owned by anyone)."""
    if sys.platform == "win32":
        return _windows_pid_alive(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def _windows_pid_alive(pid: int) -> bool:
    # Not os.kill(pid, 0): on Windows signal 0 is CTRL_C_EVENT, and other numbers terminate.
    if sys.platform != "win32":  # only called there; ctypes.WinDLL exists only there
        raise AssertionError("a Windows-only check")
    import ctypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    query_limited_information, still_active, access_denied = 0x1000, 259, 5
    handle = kernel32.OpenProcess(query_limited_information, False, pid)
    if not handle:
        return ctypes.get_last_error() == access_denied  # exists, owned by someone else
    try:
        code = ctypes.c_ulong()
        if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
            return True
        return code.value == still_active
    finally:
        kernel32.CloseHandle(handle)


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


def _try_lock(fd: int) -> bool:
    """Take an exclusive lock on the open file ``fd`` without waiting; ``False`` if held."""
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True
    os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
    try:
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    except OSError as exc:  # EACCES: another process holds the range
        if exc.errno not in (errno.EACCES, errno.EDEADLK):
            raise
        return False
    return True


def _unlock(fd: int) -> None:
    """Drop the lock :func:`_try_lock` took (closing ``fd`` does it on POSIX)."""
    if fcntl is None:
        # Windows frees a closed file's locks only "when resources allow": unlock first.
        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)


def _read_at_start(fd: int, size: int) -> bytes:
    os.lseek(fd, 0, os.SEEK_SET)
    return os.read(fd, size)


class FolderLock:
    """An exclusive lock on ``<folder>/.moodscore.lock`` for the duration of a run.

    ``flock`` where the system has it, else (Windows) a byte-range lock far past the pid text.
    A second run into the same folder is refused at once with a sentence naming the run that
    holds it. The system drops the lock when the holder dies, however it dies, so a lock is
    never stale; the lock file is removed on release.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise :class:`~core.errors.FolderBusy`."""
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | _O_BINARY, 0o666)
            try:
                if not _try_lock(fd):
                    holder = _read_at_start(fd, 32).decode(errors="replace").strip()
                    raise FolderBusy(
                        f"Another moodscore run (pid {holder or 'unknown'}) is writing into "
                        f"{self.folder}; wait for it to finish or choose another --out folder."
                    )
            except BaseException:
                os.close(fd)
                raise
            # The previous holder may have unlinked the file between our open and lock:
            # then this lock guards nothing and the open must be retried.
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            _unlock(fd)
            os.close(fd)
        pid = f"{os.getpid()}\n".encode()
        # Written before the old text is cut off, so a reader never finds the file empty.
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, pid)
        os.ftruncate(fd, len(pid))
        self._fd = fd

    def release(self) -> None:
        """Remove the lock file and drop the lock."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        if fcntl is not None:
            # Unlink first, so no waiter locks a file that is about to vanish.
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            os.close(fd)
            return
        # Windows cannot delete a file that is open (here or in a waiting run): close first,
        # and leave the file to whoever holds it open now; it locks it next.
        _unlock(fd)
        os.close(fd)
        with contextlib.suppress(OSError):
            self.path.unlink()

    def __enter__(self) -> FolderLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
