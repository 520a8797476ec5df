"""Windows' standard library by proxy: at start-up, take away what CPython on Windows lacks.

Python imports ``sitecustomize`` while it starts, before any program code runs. Loaded from
here (this folder on ``sys.path``: see ``tests/test_windows_stdlib.py``), it leaves a Linux
Python with roughly the standard library of Windows' CPython 3.11, so code that reaches for a
Unix-only module, signal or ``os`` function fails here as it would there:

* Unix-only modules cannot be imported (``fcntl``, ``termios``, ``pwd``, ``resource`` ...);
* ``signal`` keeps only Windows' signals (SIGINT, SIGTERM, SIGABRT, ...) and gains SIGBREAK
  (Ctrl-Break, number 21 as on Windows; on Linux 21 is SIGTTIN, which nothing here sends);
* ``os`` loses ``nice``, ``sched_*``, ``pread``/``pwrite``, ``fork``, process groups, user ids,
  ``O_CLOEXEC`` ...;
* ``multiprocessing`` offers only ``spawn``: ``get_all_start_methods()`` is ``['spawn']`` and
  ``get_context("fork")`` or ``("forkserver")`` raises ``ValueError``;
* ``msvcrt`` exists with ``locking`` (byte-range locks, backed by POSIX record locks), the
  one part of it Moodscore uses;
* ``os.replace`` and ``os.rename`` refuse, as Windows does, to move a file or to replace one
  that a process has open (found in ``/proc/*/fd``).

What stays is what Windows has under another implementation (``subprocess``, ``os.kill`` with
SIGTERM, semaphores) or what the standard library's own POSIX code needs internally. Where
``$WINPROXY_LOG`` names a file, every process that starts under the proxy appends its pid and
command line to it, so a test can tell the proxy reached each child.
"""

from __future__ import annotations

import errno
import fcntl as _fcntl  # kept privately, for the msvcrt stand-in's locks
import os
import signal
import subprocess
import sys
import time
import types
from collections.abc import Callable

#: Modules Windows' CPython does not have.
MISSING_MODULES = ("fcntl", "termios", "tty", "pty", "pwd", "grp", "resource", "syslog", "crypt",
                   "spwd", "nis")  # fmt: skip
#: The signals Windows' ``signal`` module has.
WINDOWS_SIGNALS = frozenset(
    {"SIGABRT", "SIGBREAK", "SIGFPE", "SIGILL", "SIGINT", "SIGSEGV", "SIGTERM"}
)
#: ``signal`` functions and constants Windows lacks.
SIGNAL_NAMES = ("alarm", "pause", "setitimer", "getitimer", "siginterrupt", "pthread_kill",
                "pthread_sigmask", "sigpending", "sigwait", "sigwaitinfo", "sigtimedwait",
                "pidfd_send_signal", "SIG_BLOCK", "SIG_UNBLOCK", "SIG_SETMASK", "ITIMER_REAL",
                "ITIMER_VIRTUAL", "ITIMER_PROF")  # fmt: skip
#: ``os`` names Windows lacks (besides every ``sched_*``/``SCHED_*``).
OS_NAMES = ("nice", "getpriority", "setpriority", "pread", "pwrite", "preadv", "pwritev", "fork",
            "forkpty", "register_at_fork", "killpg", "getpgid", "setpgid", "getpgrp", "setpgrp",
            "getsid", "setsid", "getuid", "geteuid", "getgid", "getegid", "getresuid",
            "getresgid", "setuid", "seteuid", "setgid", "setegid", "getgroups", "setgroups",
            "initgroups", "getgrouplist", "chown", "lchown", "fchown", "fchmod", "lchmod",
            "chroot", "mkfifo", "mknod", "getloadavg", "statvfs", "fstatvfs", "ttyname",
            "openpty", "wait3", "wait4", "O_CLOEXEC", "O_NOFOLLOW", "O_DIRECTORY")  # fmt: skip
#: Windows' number for Ctrl-Break.
SIGBREAK = 21
#: Windows' message for ERROR_SHARING_VIOLATION.
IN_USE = "The process cannot access the file because it is being used by another process"

LK_UNLCK, LK_LOCK, LK_NBLCK, LK_RLCK, LK_NBRLCK = range(5)


def _locking(fd: int, mode: int, nbytes: int) -> None:
    """``msvcrt.locking``: lock ``nbytes`` from the file position; errors as Windows raises them.

    A non-blocking lock that is held elsewhere raises ``PermissionError`` (EACCES); a blocking
    one tries ten times a second apart, then raises EDEADLOCK.
    """
    start = os.lseek(fd, 0, os.SEEK_CUR)
    if mode == LK_UNLCK:
        _fcntl.lockf(fd, _fcntl.LOCK_UN, nbytes, start)
        return
    tries = 1 if mode in (LK_NBLCK, LK_NBRLCK) else 10
    for attempt in range(tries):
        try:
            _fcntl.lockf(fd, _fcntl.LOCK_EX | _fcntl.LOCK_NB, nbytes, start)
            return
        except OSError as exc:
            if exc.errno not in (errno.EACCES, errno.EAGAIN):
                raise
        if attempt + 1 < tries:
            time.sleep(1.0)
    code = errno.EACCES if tries == 1 else errno.EDEADLK
    raise OSError(code, os.strerror(code))


def _fake_msvcrt() -> types.ModuleType:
    module = types.ModuleType("msvcrt", "Stand-in for Windows' msvcrt: byte-range locks only.")
    module.locking = _locking
    module.LK_UNLCK, module.LK_LOCK, module.LK_NBLCK = LK_UNLCK, LK_LOCK, LK_NBLCK
    module.LK_RLCK, module.LK_NBRLCK = LK_RLCK, LK_NBRLCK
    return module


def _in_use(path: str | os.PathLike[str]) -> bool:
    """Whether a process (this one too) has the file ``path`` open."""
    if not os.path.lexists(path) or os.path.isdir(path):
        return False
    real = os.path.realpath(path)
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:  # gone, or not ours to look at
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == real:
                    return True
            except OSError:
                continue
    return False


def _refusing_open_files(move: Callable[..., None]) -> Callable[..., None]:
    """``move`` (``os.replace``, ``os.rename``) failing as on Windows for a file in use.

    Windows needs delete access to the source and to a replaced target, which a program
    holding the file open denies (its handle does not share deletion).
    """

    def checked(src, dst, *, src_dir_fd=None, dst_dir_fd=None):
        if src_dir_fd is None and dst_dir_fd is None:
            for name in (src, dst):
                if _in_use(name):
                    raise PermissionError(errno.EACCES, IN_USE, os.fsdecode(name))
        move(src, dst, src_dir_fd=src_dir_fd, dst_dir_fd=dst_dir_fd)

    return checked


def windows_lacks(module: str, name: str) -> bool:
    """Whether Windows' ``module`` (``"os"`` or ``"signal"``) lacks attribute ``name``."""
    if module == "os":
        return name in OS_NAMES or name.startswith(("sched_", "SCHED_"))
    if module == "signal":
        a_signal = name.startswith("SIG") and not name.startswith("SIG_")
        return name in SIGNAL_NAMES or (a_signal and name not in WINDOWS_SIGNALS)
    return False


def _remove(module: types.ModuleType, names: list[str]) -> None:
    for name in names:
        if hasattr(module, name):
            delattr(module, name)


def _spawn_only() -> None:
    import multiprocessing
    import multiprocessing.context as context
    import multiprocessing.popen_fork

    for method in ("fork", "forkserver"):
        context._concrete_contexts.pop(method, None)  # get_context(method) -> ValueError
    default = context._default_context
    default._default_context = context._concrete_contexts["spawn"]
    context.DefaultContext.get_all_start_methods = lambda self: ["spawn"]
    # multiprocessing's functions are the default context's methods, bound at its import.
    multiprocessing.get_all_start_methods = default.get_all_start_methods
    # On Windows kill() is terminate(); the POSIX versions would need the SIGKILL removed here.
    multiprocessing.popen_fork.Popen.kill = multiprocessing.popen_fork.Popen.terminate
    subprocess.Popen.kill = subprocess.Popen.terminate


def _note_start() -> None:
    log = os.environ.get("WINPROXY_LOG")
    if log:
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)
        try:
            os.write(fd, f"{os.getpid()} {sys.orig_argv!r}\n".encode())
        finally:
            os.close(fd)


def install() -> None:
    """Take away what Windows' standard library lacks (idempotent)."""
    if "msvcrt" in sys.modules:
        return
    for name in MISSING_MODULES:
        sys.modules[name] = None  # import raises ImportError (ModuleNotFoundError)
    sys.modules["msvcrt"] = _fake_msvcrt()
    _remove(signal, [name for name in dir(signal) if windows_lacks("signal", name)])
    signal.SIGBREAK = SIGBREAK
    _remove(os, [name for name in dir(os) if windows_lacks("os", name)])
    os.replace = _refusing_open_files(os.replace)
    os.rename = _refusing_open_files(os.rename)
    _spawn_only()
    _note_start()


# Imported under another name (a test reading the lists above), it changes nothing.
if __name__ == "sitecustomize":
    install()
