"""Stop signals all stop a run the same way, and cleanup is never interrupted.

The stop signals are SIGINT and SIGTERM everywhere, plus SIGHUP (the terminal went away) on
POSIX and SIGBREAK (Ctrl-Break) on Windows: :data:`STOP_SIGNALS` has those the system has.

The first signal raises :class:`Stopped` (a ``KeyboardInterrupt``, so every ``except
BaseException`` cleanup path handles it as it handles Ctrl-C). Later signals are ignored: an
impatient double Ctrl-C or a ``timeout`` that sends SIGTERM twice cannot break the cleanup the
first one started. Code that must not be cut in half (publishing outputs, removing temp files)
runs in :func:`shielded`: a signal arriving there is held and raised when the block ends.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType

#: The stop signals this system has, in a fixed order.
STOP_SIGNALS: tuple[signal.Signals, ...] = tuple(
    getattr(signal, name)
    for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK")
    if hasattr(signal, name)
)


def _exit_at_once(signum: int, frame: FrameType | None) -> None:
    name = signal.Signals(signum).name
    os.write(2, f"moodscore: stopped by {name}; no partial output was left.\n".encode())
    os._exit(128 + signum)


def exit_quietly_on_stop_signals() -> None:
    """Until :func:`stop_on_signals` takes over, a stop signal ends the process at once.

    For the command line's first moments, before anything is written: installed before the
    heavy imports (numpy, PyAV, OpenCV take a few hundred milliseconds), so a Ctrl-C then exits
    with status 128 + signal and one line, not a ``KeyboardInterrupt`` traceback and death by
    the signal.
    """
    if threading.current_thread() is threading.main_thread():
        for signum in STOP_SIGNALS:
            signal.signal(signum, _exit_at_once)


def started_as_the_command() -> bool:
    """Whether this process runs the installed ``moodscore`` script (not a library user)."""
    return os.path.splitext(os.path.basename(sys.argv[0] if sys.argv else ""))[0] == "moodscore"


class Stopped(KeyboardInterrupt):
    """The run was stopped by a signal; ``exit_code`` is the shell's ``128 + signal``."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.exit_code = 128 + signum


def stopped_by(exc: BaseException) -> KeyboardInterrupt | None:
    """The stop (a :class:`KeyboardInterrupt`) behind ``exc``, following its causes, if any."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, KeyboardInterrupt):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def stop_received() -> Stopped | None:
    """The stop a signal raised in this run, even where a library turned it into another error.

    A signal that lands inside an import can surface as that import's own failure (OpenCV's
    loader reports ``numpy._core.multiarray failed to import``), without the stop as its cause.
    """
    return Stopped(_State.stopping) if _State.stopping is not None else None


class _State:
    stopping: int | None = None
    pending: int | None = None
    shield_depth = 0


def _on_signal(signum: int, frame: FrameType | None) -> None:
    if _State.stopping is not None:
        return  # already stopping: let the cleanup finish
    if _State.shield_depth:
        _State.pending = signum
        return
    _State.stopping = signum
    raise Stopped(signum)


@contextlib.contextmanager
def shielded() -> Iterator[None]:
    """Hold a stop signal until the block is done, then raise it."""
    _State.shield_depth += 1
    try:
        yield
    finally:
        _State.shield_depth -= 1
        if _State.shield_depth == 0 and _State.pending is not None and _State.stopping is None:
            _State.stopping, _State.pending = _State.pending, None
            raise Stopped(_State.stopping)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Within the block, the :data:`STOP_SIGNALS` signals raise :class:`Stopped` once.

    Outside the main thread (where Python cannot install handlers) this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _State.stopping = _State.pending = None
    previous = {signum: signal.signal(signum, _on_signal) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        stopped = _State.stopping is not None
        for signum, handler in previous.items():
            # A stopped run is about to exit: a late signal must not print a traceback.
            signal.signal(signum, signal.SIG_IGN if stopped else handler)
        _State.stopping = _State.pending = None
