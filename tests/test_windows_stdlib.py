"""Issue 16, test 2: Moodscore in a Python with Windows' standard library, by proxy.

No Windows Python runs here, so the tests run a Linux Python from which
``tests/winproxy/sitecustomize.py`` removes, at every start-up, what Windows' Python lacks:
``fcntl`` and the other Unix-only modules, SIGHUP and the other POSIX-only signals (SIGBREAK
is added), ``os.nice``, ``os.sched_*``, ``os.pread``/``os.pwrite``, ``os.fork``, process
groups, and the fork and forkserver start methods; ``msvcrt.locking`` is provided, and moving
or replacing a file a process holds open fails as it does on Windows.

The proxy is an environment of its own (:func:`winpython`): a venv of this Python whose
``.pth`` file loads the proxy and then this environment's packages. A ``PYTHONPATH`` would not
do: the add-on starts its engine with ``python -I``, which ignores the environment, and the
proxy must reach that process too. Every process that starts under the proxy notes its command
line in ``$WINPROXY_LOG``, so each test also shows which processes ran under it.

A proxy cannot run Windows' own implementations (real ``msvcrt`` locks, ``TerminateProcess``,
Ctrl-Break from a console, kernel32's process query, drive letters): a source scan keeps every
Unix-only name behind a guard also on paths these runs do not take, and the kernel32 pid check
is tested against a stand-in of the three calls it makes.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import signal
import subprocess
import sys
import sysconfig
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from core.batch.inputs import collect
from core.files import LOCK_NAME, TEMP_MARKER
from tests.clips import dark_to_bright, render_frames, write_clip
from tests.winproxy import sitecustomize as winproxy

REPO = Path(__file__).resolve().parents[1]
PROXY = REPO / "tests" / "winproxy"
ADDON_DRIVER = REPO / "tests" / "winproxy_addon.py"
#: Windows' number for SIGBREAK (Ctrl-Break), which the proxy adds to ``signal``.
SIGBREAK = 21
#: A folder name no ASCII-only code path survives.
UNICODE_DIR = "Fußnoten – клипы 映像"
#: Encoding of the standard streams under the proxy (see :func:`proxy_env`).
STREAMS = "cp1252"


@pytest.fixture(scope="module")
def winpython(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Python with this environment's packages and Windows' standard library, by proxy."""
    root = tmp_path_factory.mktemp("winpython")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", root], check=True)
    site_packages = Path(
        sysconfig.get_path("purelib", vars={"base": str(root), "platbase": str(root)})
    )
    # Each line of a .pth file is a path or an import, run in order at start-up: the proxy
    # comes first, then this environment's packages (and their own .pth files).
    (site_packages / "00-winproxy.pth").write_text(
        f"{PROXY}\n"
        "import sitecustomize\n"
        f"import site; site.addsitedir({sysconfig.get_path('purelib')!r})\n",
        encoding="utf-8",
    )
    return root / "bin" / "python"


@pytest.fixture
def proxy_log(tmp_path: Path) -> Path:
    return tmp_path / "winproxy.log"


def proxy_env(log: Path, **extra: str) -> dict[str, str]:
    """The environment of a process under the proxy.

    Its standard streams use cp1252, as a Windows console's do when they are redirected (the
    ANSI code page of Western Windows), so a non-ASCII path printed there is exercised too.
    """
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    return {**env, "WINPROXY_LOG": str(log), "PYTHONIOENCODING": STREAMS, **extra}


def moodscore(python: Path, *argv: str | Path) -> list[str]:
    """The command line of ``moodscore argv --quiet`` under the proxy.

    The installed ``moodscore`` script, run by the proxy's Python, as a user runs it; spawned
    pool workers import that script again as their main module (``__mp_main__``).
    """
    return [str(python), str(Path(sys.executable).with_name("moodscore")), *map(str, argv),
            "--quiet"]  # fmt: skip


def run(python: Path, log: Path, *argv: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        moodscore(python, *argv),
        capture_output=True,
        encoding=STREAMS,
        timeout=600,
        cwd=REPO,
        env=proxy_env(log),
    )


def started_under_proxy(log: Path) -> list[str]:
    """Command lines of the processes that started under the proxy."""
    return log.read_text(encoding="utf-8").splitlines() if log.exists() else []


def make_clip(path: Path, seconds: float, fps: float = 25.0) -> Path:
    """A small H.264 clip (dark, then bright and moving) at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_clip(path, render_frames(dark_to_bright(160, 90), seconds, fps), fps)


def assert_sounds(wav: Path) -> None:
    """The WAV has audible music: its RMS is above -50 dBFS."""
    with wave.open(str(wav)) as reader:
        dtype = {2: np.int16, 4: np.int32}[reader.getsampwidth()]
        data = np.frombuffer(reader.readframes(reader.getnframes()), dtype)
    rms = float(np.sqrt(np.mean((data / np.iinfo(dtype).max) ** 2)))
    assert rms > 10 ** (-50 / 20), f"{wav} is silent (RMS {rms:.2e})"


def test_the_proxy_removes_what_windows_lacks(winpython: Path, proxy_log: Path) -> None:
    probe = (
        "import importlib.util, json, multiprocessing, os, signal\n"
        "try:\n"
        "    multiprocessing.get_context('forkserver')\n"
        "    forkserver = True\n"
        "except ValueError:\n"
        "    forkserver = False\n"
        "print(json.dumps({\n"
        "    'modules': [m for m in ('fcntl', 'termios', 'pwd', 'grp', 'resource')\n"
        "                if importlib.util.find_spec(m) is not None],\n"
        "    'signals': [s for s in ('SIGHUP', 'SIGKILL', 'SIGQUIT', 'SIGUSR1')\n"
        "                if hasattr(signal, s)],\n"
        "    'sigbreak': getattr(signal, 'SIGBREAK', None),\n"
        "    'os': [f for f in ('nice', 'sched_setaffinity', 'pread', 'pwrite', 'fork',\n"
        "                       'killpg', 'getpgid', 'setsid', 'getuid') if hasattr(os, f)],\n"
        "    'start_methods': multiprocessing.get_all_start_methods(),\n"
        "    'forkserver': forkserver,\n"
        "}))\n"
    )
    # -I as the add-on starts its engine: the proxy does not depend on the environment.
    done = subprocess.run(
        [str(winpython), "-I", "-c", probe],
        capture_output=True,
        encoding=STREAMS,
        check=True,
        env=proxy_env(proxy_log),
    )
    assert json.loads(done.stdout) == {
        "modules": [],
        "signals": [],
        "sigbreak": SIGBREAK,
        "os": [],
        "start_methods": ["spawn"],
        "forkserver": False,
    }
    assert len(started_under_proxy(proxy_log)) == 1


def _guards(node: ast.AST, module: str) -> bool:
    """Whether ``node`` (an ``if`` test) asks ``hasattr``/``getattr`` of ``module``."""
    return any(
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Name)
        and call.func.id in ("hasattr", "getattr")
        and call.args
        and isinstance(call.args[0], ast.Name)
        and call.args[0].id == module
        for call in ast.walk(node)
    )


def _catches(handlers: list[ast.ExceptHandler], *errors: str) -> bool:
    names = {n.id for h in handlers if h.type is not None for n in ast.walk(h.type)
             if isinstance(n, ast.Name)}  # fmt: skip
    return bool(names & set(errors))


def unguarded_unix_calls(source: str) -> list[str]:
    """Uses of what Windows' ``os``/``signal`` lack outside a ``hasattr``/``getattr`` test or a
    ``try`` for ``AttributeError``, and imports of Unix-only modules outside a ``try`` for
    ``ImportError``, as ``line: text``."""
    found: list[str] = []
    unix_modules = set(winproxy.MISSING_MODULES)

    def visit(node: ast.AST, guarded: frozenset[str], importable: bool) -> None:
        if isinstance(node, ast.If | ast.IfExp):
            inside = guarded | {m for m in ("os", "signal") if _guards(node.test, m)}
            body = node.body if isinstance(node.body, list) else [node.body]
            orelse = node.orelse if isinstance(node.orelse, list) else [node.orelse]
            for item, scope in [(node.test, guarded), *((b, inside) for b in body),
                                *((o, guarded) for o in orelse)]:  # fmt: skip
                visit(item, scope, importable)
            return
        if isinstance(node, ast.Try):
            attr = _catches(node.handlers, "AttributeError", "Exception")
            imp = _catches(node.handlers, "ImportError", "ModuleNotFoundError")
            for item in node.body:
                visit(item, guarded | ({"os", "signal"} if attr else set()), importable or imp)
            for item in [*node.handlers, *node.orelse, *node.finalbody]:
                visit(item, guarded, importable)
            return
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in ("os", "signal")
            and node.value.id not in guarded
            and winproxy.windows_lacks(node.value.id, node.attr)
        ):
            found.append(f"{node.lineno}: {node.value.id}.{node.attr}")
        if isinstance(node, ast.Import) and not importable:
            modules = [alias.name for alias in node.names]
            found.extend(f"{node.lineno}: import {m}" for m in modules if m in unix_modules)
        if isinstance(node, ast.ImportFrom) and not importable:
            module, names = node.module or "", [alias.name for alias in node.names]
            if module in unix_modules:
                found.append(f"{node.lineno}: from {module} import")
            if module in ("os", "signal"):
                lacking = [n for n in names if winproxy.windows_lacks(module, n)]
                unix = [] if module in guarded else lacking
                found.extend(f"{node.lineno}: from {module} import {n}" for n in unix)
        for child in ast.iter_child_nodes(node):
            visit(child, guarded, importable)

    visit(ast.parse(source), frozenset(), False)
    return found


def test_unix_only_calls_are_guarded() -> None:
    """Also the paths the runs above do not take (cancel, training, the Dask pool ...)."""
    files = [
        path.relative_to(REPO)
        for root in ("core", "blender_addon", "scripts")
        for path in sorted((REPO / root).rglob("*.py"))
    ]
    found = {
        str(path): uses
        for path in files
        if (uses := unguarded_unix_calls((REPO / path).read_text(encoding="utf-8")))
    }
    assert len(files) > 80
    assert found == {}
    # The scan sees a use it should flag, and the guards it should accept.
    assert unguarded_unix_calls("import os\nos.nice(1)\n") == ["2: os.nice"]
    assert unguarded_unix_calls("import signal\nx = signal.SIGHUP\n") == ["2: signal.SIGHUP"]
    assert unguarded_unix_calls("import fcntl\n") == ["1: import fcntl"]
    assert unguarded_unix_calls("from os import pread\n") == ["1: from os import pread"]
    assert unguarded_unix_calls("if hasattr(os, 'nice'):\n    pass\nelse:\n    os.nice(1)\n") == [
        "4: os.nice"
    ]
    assert not unguarded_unix_calls(
        "try:\n    import fcntl\nexcept ImportError:\n    fcntl = None\n"
        "if hasattr(os, 'nice'):\n    os.nice(1)\n"
        "try:\n    os.killpg(1, 15)\nexcept AttributeError:\n    pass\n"
        "n = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else 1\n"
        "x = signal.SIGINT, signal.SIGTERM\n"
    )


@pytest.mark.slow
def test_every_engine_module_imports(winpython: Path, proxy_log: Path) -> None:
    """All of ``core`` (RBM training with TensorFlow too) and the add-on's engine process."""
    probe = (
        "import importlib, json, pkgutil, sys\n"
        "import core\n"
        "names = [m.name for m in pkgutil.walk_packages(core.__path__, 'core.')]\n"
        "names.append('blender_addon.engine_worker')\n"
        "failed = {}\n"
        "for name in names:\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as exc:\n"
        "        failed[name] = repr(exc)\n"
        "print(json.dumps({'count': len(names), 'failed': failed}))\n"
    )
    done = subprocess.run(
        [str(winpython), "-c", probe],
        capture_output=True,
        encoding=STREAMS,
        timeout=300,
        cwd=REPO,
        env=proxy_env(proxy_log, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["failed"] == {}
    assert report["count"] > 50


@pytest.mark.slow
def test_score_writes_wav_midi_and_mp4(winpython: Path, proxy_log: Path, tmp_path: Path) -> None:
    clip = make_clip(tmp_path / UNICODE_DIR / "Szene ä.mp4", seconds=3.0)
    out = tmp_path / UNICODE_DIR / "vertont"
    done = run(winpython, proxy_log, "score", clip, "--out", out, "--seed", "3")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("moodscore: wrote "), done.stdout
    for suffix in ("wav", "mid", "mp4"):
        assert (out / f"Szene ä.{suffix}").stat().st_size > 0, suffix
    assert_sounds(out / "Szene ä.wav")
    assert any("'score'" in line for line in started_under_proxy(proxy_log))
    assert not [p for p in out.iterdir() if TEMP_MARKER in p.name or p.name == LOCK_NAME]


@pytest.mark.slow
def test_force_over_a_wav_a_player_holds_open_changes_nothing(
    winpython: Path, proxy_log: Path, tmp_path: Path
) -> None:
    """Windows cannot replace a file in use: the run says which and what to do, and leaves
    every old output as it was instead of half new, half old."""
    clip = make_clip(tmp_path / "clip.mp4", seconds=3.0)
    out = tmp_path / "scored"
    assert run(winpython, proxy_log, "score", clip, "--out", out, "--seed", "1").returncode == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with (out / "clip.wav").open("rb"):  # the player
        again = run(winpython, proxy_log, "score", clip, "--out", out, "--seed", "2", "--force")
    assert again.returncode == 2, again.stderr
    assert again.stderr.strip() == (
        f"moodscore: error: Cannot replace {out / 'clip.wav'} (the process cannot access the "
        "file because it is being used by another process); close any program that has it "
        "open (a player, an editor) and run again."
    )
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    closed = run(winpython, proxy_log, "score", clip, "--out", out, "--seed", "2", "--force")
    assert closed.returncode == 0, closed.stderr
    assert '"seed": 2,' in (out / "score.json").read_text(encoding="utf-8")
    assert not [p for p in out.iterdir() if TEMP_MARKER in p.name or p.name == LOCK_NAME]


@pytest.mark.slow
def test_batch_scores_two_clips_in_spawned_workers(
    winpython: Path, proxy_log: Path, tmp_path: Path
) -> None:
    library = tmp_path / "footage"
    make_clip(library / "a.mp4", seconds=3.0)
    make_clip(library / "b.mp4", seconds=3.0)
    out = tmp_path / "scored"
    done = run(winpython, proxy_log, "batch", library, "--out", out, "--workers", "2")
    assert done.returncode == 0, done.stderr
    assert "2 scored" in done.stdout
    for stem in ("a", "b"):
        assert_sounds(out / f"{stem}_moodscore" / f"{stem}.wav")
        assert (out / f"{stem}_moodscore" / f"{stem}.mid").is_file()
    # The workers were spawned (a fresh interpreter each), and under the proxy too.
    workers = [line for line in started_under_proxy(proxy_log) if "spawn_main" in line]
    assert len(workers) >= 2, started_under_proxy(proxy_log)


@pytest.mark.slow
def test_a_held_folder_is_refused_and_sigbreak_stops_the_holder(
    winpython: Path, proxy_log: Path, tmp_path: Path
) -> None:
    """Two runs into one folder: the second gets the one sentence; SIGBREAK stops the first."""
    clip = make_clip(tmp_path / "long.mp4", seconds=40.0, fps=10.0)
    out = tmp_path / "made" / "shared"
    first = subprocess.Popen(
        moodscore(winpython, "score", clip, "--out", out),
        cwd=REPO,
        env=proxy_env(proxy_log),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        encoding=STREAMS,
    )
    try:
        lock = out / LOCK_NAME
        deadline = time.monotonic() + 120
        while not (lock.exists() and lock.read_text().strip() == str(first.pid)):
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, "the first run never took the folder's lock"
            time.sleep(0.005)
        # Frozen while it holds the lock, so the second run meets it however slow this is.
        first.send_signal(signal.SIGSTOP)
        second = run(winpython, proxy_log, "score", clip, "--out", out)
        # Continued first: SIGCONT discards a pending 21, which is a stop signal on Linux.
        first.send_signal(signal.SIGCONT)
        first.send_signal(SIGBREAK)
        _, first_err = first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
    assert second.returncode == 2
    assert second.stderr.strip() == (
        f"moodscore: error: Another moodscore run (pid {first.pid}) is writing into {out}; "
        "wait for it to finish or choose another --out folder."
    )
    assert first.returncode == 128 + SIGBREAK, first_err
    assert "no partial output was left" in first_err
    assert not (tmp_path / "made").exists()


def test_a_path_list_saved_by_notepad(tmp_path: Path) -> None:
    """A byte-order mark and CRLF line ends, as Windows editors write them."""
    listing = tmp_path / "library.txt"
    listing.write_bytes("\ufeffa.mp4\r\n# skipped\r\nb.mp4\r\n".encode())
    found = collect([listing], tmp_path / "out")
    assert [f.video for f in found] == [tmp_path / "a.mp4", tmp_path / "b.mp4"]


class FakeKernel32:
    """The three kernel32 calls :func:`core.files._windows_pid_alive` makes.

    ``running`` processes are alive; ``exited`` ones ended with the given code but still have a
    handle somewhere; ``foreign`` ones are alive but belong to another user; any other pid
    names no process.
    """

    STILL_ACTIVE, INVALID_PARAMETER, ACCESS_DENIED = 259, 87, 5

    def __init__(self, running: set[int], exited: dict[int, int], foreign: set[int]) -> None:
        self.running, self.exited, self.foreign = running, exited, foreign
        self.last_error = 0
        self.open_handles: set[int] = set()

    def OpenProcess(self, access: int, inherit: bool, pid: int) -> int:  # noqa: N802
        if pid in self.foreign:
            self.last_error = self.ACCESS_DENIED
            return 0
        if pid not in self.running and pid not in self.exited:
            self.last_error = self.INVALID_PARAMETER
            return 0
        self.open_handles.add(pid)
        return pid

    def GetExitCodeProcess(self, handle: int, code) -> int:  # noqa: N802
        code._obj.value = self.exited.get(handle, self.STILL_ACTIVE)
        return 1

    def CloseHandle(self, handle: int) -> int:  # noqa: N802
        self.open_handles.discard(handle)
        return 1


def test_windows_pid_check_never_signals(monkeypatch: pytest.MonkeyPatch) -> None:
    """On Windows ``os.kill(pid, 0)`` sends Ctrl-C, so the stale-temp check asks kernel32."""
    import ctypes

    from core import files

    kernel32 = FakeKernel32(running={100}, exited={200: 0}, foreign={300})
    monkeypatch.setattr(ctypes, "WinDLL", lambda name, **_: kernel32, raising=False)
    monkeypatch.setattr(ctypes, "get_last_error", lambda: kernel32.last_error, raising=False)
    monkeypatch.setattr(os, "kill", lambda *_: pytest.fail("os.kill was called"))
    monkeypatch.setattr(sys, "platform", "win32")
    found = {pid: files._pid_alive(pid) for pid in (100, 200, 300, 400)}
    assert found == {100: True, 200: False, 300: True, 400: False}
    assert not kernel32.open_handles


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("bpy") is None, reason="needs the bpy module")
def test_addon_enables_and_scores_through_its_engine(
    winpython: Path, proxy_log: Path, tmp_path: Path
) -> None:
    clip = make_clip(tmp_path / "clip.mp4", seconds=4.0)
    edit = tmp_path / UNICODE_DIR
    edit.mkdir()
    home = tmp_path / "home"
    home.mkdir()
    done = subprocess.run(
        [str(winpython), str(ADDON_DRIVER), str(REPO), str(clip), str(edit)],
        capture_output=True,
        encoding=STREAMS,
        timeout=600,
        cwd=tmp_path,
        env=proxy_env(proxy_log, HOME=str(home)),
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["status"] == ["FINISHED"]
    assert report["fcntl_importable"] is False  # the proxy is active in Blender's process
    sound = report["sound"]  # relative to the .blend ("//"), in the add-on's folder layout
    assert sound.startswith("//moodscore/") and sound.endswith("clip.wav"), sound
    assert_sounds(edit / sound.removeprefix("//"))
    # The engine process ran under the proxy, started as the add-on starts it (python -I).
    engines = [line for line in started_under_proxy(proxy_log) if "engine_worker.py" in line]
    assert len(engines) == 1 and "'-I'" in engines[0], started_under_proxy(proxy_log)
