"""Issue 20: hostile values, options and endpoints get one short sentence.

Frames lost when copying Matroska are in ``test_reliability_containers.py``; the batch and signal
faults that need real processes are in ``test_reliability_lifelines.py``.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from core.limits import MAX_CONFIG_DEPTH, MAX_QUOTED_CHARS
from tests.cli_run import one_sentence_error, run_cli

REPO = Path(__file__).resolve().parents[1]
#: Address space a bomb's process may use: a few times what a run needs, far below a bomb's.
BOMB_MEMORY = 1536 * 2**20


@pytest.fixture
def emotions_file(tmp_path: Path) -> Path:
    path = tmp_path / "clip.emotions.txt"
    path.write_text("0.2, 0.3\n0.6, 0.7\n")
    return path


def laughs(dotted_key: str, levels: int = 9) -> str:
    """A 'billion laughs' YAML: ``levels`` lists of nine aliases of the one before, at a key."""
    items = ["&a0 [" + ",".join(['"lol"'] * 9) + "]"]
    items += [f"&a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    *sections, leaf = dotted_key.split(".")
    lines = [f"{'  ' * depth}{section}:" for depth, section in enumerate(sections)]
    lines.append(f"{'  ' * len(sections)}{leaf}: [{', '.join(items)}]")
    return "\n".join(lines) + "\n"


def _bounded_run(*argv: str, timeout: float = 20.0) -> tuple[int, str, float]:
    """Run ``moodscore argv`` in a process whose memory is capped; its status, stderr, seconds."""
    resource = pytest.importorskip("resource")

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (BOMB_MEMORY, BOMB_MEMORY))

    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "core", *argv, "--quiet"],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=cap,
    )
    return done.returncode, done.stderr, time.monotonic() - started


# value bombs. A ~400-byte file grew past 4 GB under these keys.
@pytest.mark.parametrize(
    "key", ["bpm", "music.seed", "render.soundfont", "music.programs.melody", "analysis.sources"]
)
def test_billion_laughs_is_refused_fast_in_bounded_memory(
    key: str, tmp_path: Path, emotions_file: Path
) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(laughs(key))
    assert bomb.stat().st_size < 600
    out = tmp_path / "out"
    code, err, seconds = _bounded_run(
        "compose", str(emotions_file), "--config", str(bomb), "--out", str(out)
    )
    assert code == 2, err[-2000:]
    one_sentence_error(err, str(bomb), "aliases")
    assert seconds < 5.0  # process start-up and imports included; the check itself is ~ms
    assert not out.exists()


@pytest.mark.parametrize("levels", [4, 5])
def test_a_small_bomb_error_stays_short(
    levels: int, tmp_path: Path, emotions_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(laughs("bpm", levels))
    code, err = run_cli(capsys, "compose", str(emotions_file), "--config", str(bomb))
    assert code == 2
    line = one_sentence_error(err, "bpm" if levels == 4 else "aliases")
    assert len(line) < 200 + len(str(bomb))


_MEASURE_LOAD = """
import sys, time, tracemalloc
from core.config import load_config
from core.errors import InputError
tracemalloc.start()
started = time.perf_counter()
try:
    load_config(sys.argv[1])
except InputError as exc:
    print(time.perf_counter() - started, tracemalloc.get_traced_memory()[1], exc)
"""


def test_config_load_refuses_within_a_second_in_little_memory(tmp_path: Path) -> None:
    resource = pytest.importorskip("resource")
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(laughs("bpm", 12))
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE_LOAD, str(bomb)],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (BOMB_MEMORY, BOMB_MEMORY)),
    )
    seconds, peak, message = done.stdout.split(" ", 2)
    assert "aliases" in message, done.stderr[-2000:]
    assert float(seconds) < 1.0
    assert int(peak) < 16 * 2**20


@pytest.mark.parametrize("command", ["config", "compose"])
def test_deep_nesting_is_one_sentence(
    command: str, tmp_path: Path, emotions_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deep = tmp_path / "deep.yaml"
    deep.write_text("bpm: " + "[" * 500 + "]" * 500 + "\n")
    argv = ["config"] if command == "config" else ["compose", str(emotions_file)]
    code, err = run_cli(capsys, *argv, "--config", str(deep))
    assert code == 2
    one_sentence_error(err, str(deep), f"deeper than {MAX_CONFIG_DEPTH} levels")


def test_a_cyclic_alias_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cyclic = tmp_path / "cyclic.yaml"
    cyclic.write_text("analysis:\n  sources: &s [colour, *s]\n")
    code, err = run_cli(capsys, "config", "--config", str(cyclic))
    assert code == 2
    one_sentence_error(err, "aliases")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("render:\n  soundfont: " + "x" * 100_000 + "\n", ["render.soundfont", "characters"]),
        ("music:\n  seed: " + "9" * 5000 + "\n", ["too long"]),
        ("bpm: " + "9" * 4000 + "\n", ["bpm"]),
        ("bpm: '" + "y" * 900_000 + "'\n", ["bpm", "float"]),
    ],
)
def test_long_values_are_quoted_briefly(
    text: str, words: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "long.yaml"
    config.write_text(text)
    code, err = run_cli(capsys, "config", "--config", str(config))
    assert code == 2
    line = one_sentence_error(err, *words)
    assert len(line) < 200 + MAX_QUOTED_CHARS + len(str(config))


@pytest.mark.parametrize("line", ["a" * 2_000_000, "0.2, " + "9" * 300_000, "0.5, 0.5, " * 9999])
def test_emotion_file_lines_are_quoted_briefly(
    line: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    emotions = tmp_path / "long.emotions.txt"
    emotions.write_text(f"0.5, 0.5\n{line}\n")
    code, err = run_cli(capsys, "compose", str(emotions), "--out", str(tmp_path / "o"))
    assert code == 2
    sentence = one_sentence_error(err, "line 2")
    assert len(sentence) < 200 + MAX_QUOTED_CHARS + len(str(emotions))


@pytest.fixture
def one_clip(tmp_path: Path) -> Path:
    import numpy as np

    from tests.clips import render_frames, write_clip

    frame = np.full((90, 160, 3), 110, np.uint8)
    return write_clip(tmp_path / "one.mp4", render_frames(lambda i, t: frame, 1.0, 10.0))


# `--scheduler ""` ran the local pool; a malformed address stalled 30 s and printed a
# traceback from Client.__del__; an unreachable one left --out and a batch.csv.
@pytest.mark.parametrize("address", ["", "notaurl", "tcp://host:notaport", "http://h:1/x"])
def test_a_malformed_scheduler_is_refused_before_anything(
    address: str, one_clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    started = time.monotonic()
    code, err = run_cli(capsys, "batch", str(one_clip), "--out", str(out), "--scheduler", address)
    assert code == 2
    one_sentence_error(err, "--scheduler", "tcp://HOST:8786")
    assert time.monotonic() - started < 5.0
    assert not out.exists()


@pytest.mark.slow
def test_an_unreachable_scheduler_leaves_nothing(one_clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    argv = ["batch", str(one_clip), "--out", str(out), "--scheduler", "tcp://127.0.0.1:1"]
    done = subprocess.run(
        [sys.executable, "-m", "core", *argv, "--quiet"],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    one_sentence_error(done.stderr, "Cannot reach the Dask scheduler")
    assert not out.exists()


class _Trickle(BaseHTTPRequestHandler):
    """Answers 200 with a 1000-byte body, one byte every 0.2 s (and a gzip one, at once)."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        if self.path.endswith("gzip"):
            body = gzip.compress(json.dumps({"responses": [{}]}).encode())
            self.send_response(200)
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "1000")
        self.end_headers()
        for _ in range(1000):
            self.wfile.write(b" ")
            self.wfile.flush()
            time.sleep(0.2)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def trickle() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Trickle)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1/images:annotate"
    server.shutdown()
    server.server_close()


# the timeout applied per socket read: a 1-byte-per-second endpoint held a run 44 s
# with timeout_s 3 and max_retries 1.
def test_a_trickling_endpoint_is_cut_at_the_request_deadline(trickle: str) -> None:
    import numpy as np

    from core.emotion.cloud import CloudError, CloudFaces
    from core.emotion.config import CloudConfig

    config = CloudConfig(api_key="k", endpoint=trickle, timeout_s=1.0, max_retries=1)
    client = CloudFaces(config)
    started = time.monotonic()
    with pytest.raises(CloudError, match="within 1 s"):
        client.read(np.zeros((32, 32, 3), np.uint8))
    assert time.monotonic() - started < 2.0
    # A compressed answer is still read whole and decoded.
    gzipped = CloudFaces(CloudConfig(api_key="k", endpoint=trickle + "gzip", timeout_s=1.0))
    assert gzipped.read(np.zeros((32, 32, 3), np.uint8)) == []


# an --out on a symbolic link loop was a RuntimeError traceback, exit 1.
@pytest.mark.parametrize("below", ["", "sub"])
def test_out_on_a_symlink_loop_is_named_as_such(
    below: str, tmp_path: Path, emotions_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    out = tmp_path / "a" / below if below else tmp_path / "a"
    code, err = run_cli(capsys, "compose", str(emotions_file), "--out", str(out))
    assert code == 2
    one_sentence_error(err, "--out", "symbolic link loop")


# sentences that named the wrong thing.
def test_dangling_out_link_is_named_as_such(
    tmp_path: Path, emotions_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "out").symlink_to(tmp_path / "nowhere")
    code, err = run_cli(capsys, "compose", str(emotions_file), "--out", str(tmp_path / "out"))
    assert code == 2
    one_sentence_error(err, "--out", "symbolic link to", "does not exist")


def test_unknown_preset_names_the_option(
    tmp_path: Path, emotions_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = run_cli(capsys, "compose", str(emotions_file), "--preset", "kazoo")
    assert code == 2
    line = one_sentence_error(err, "--preset", "kazoo", "piano")
    assert "music.preset" not in line


def test_training_data_that_is_a_file_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "f.txt"
    data.write_text("x")
    code, err = run_cli(capsys, "train", "--data", str(data), "--out", str(tmp_path / "m"))
    assert code == 2
    line = one_sentence_error(err, "is a file", "folder")
    assert "does not exist" not in line


def test_a_picture_named_mp4_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import av
    import numpy as np

    picture = tmp_path / "photo.mp4"
    with av.open(str(picture), "w", format="image2pipe") as sink:
        stream = sink.add_stream("png", rate=1)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "rgb24"
        frame = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")
        for packet in [*stream.encode(frame), *stream.encode()]:
            sink.mux(packet)
    code, err = run_cli(capsys, "score", str(picture), "--out", str(tmp_path / "o"))
    assert code == 2
    line = one_sentence_error(err, "still image", "not a video")
    assert "shorter than one step" not in line


def test_inverted_tempo_range_from_the_config(
    tmp_path: Path, emotions_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("edit:\n  bpm_low: 140\n  bpm_high: 70\n")
    code, err = run_cli(capsys, "compose", str(emotions_file), "--config", str(config))
    assert code == 2
    line = one_sentence_error(err, "edit.bpm_low", "edit.bpm_high", "empty")
    assert "--bpm-range" not in line


# `moodscore config` printed values that `score` then refused, exit 0.
@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("music:\n  programs:\n    melody: 999\n", ["music.programs.melody", "999"]),
        ("music:\n  generator: kazoo\n", ["music.generator", "kazoo"]),
        ("music:\n  preset: kazoo\n", ["music.preset", "kazoo"]),
        ("render:\n  soundfont: /no/such.sf2\n", ["render.soundfont", "does not exist"]),
        ("edit:\n  bpm_low: 140\n  bpm_high: 70\n", ["edit.bpm_low", "empty"]),
    ],
)
def test_config_checks_what_it_prints(
    text: str, words: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(text)
    code, err = run_cli(capsys, "config", "--config", str(config))
    assert code == 2
    one_sentence_error(err, *words)
    assert capsys.readouterr().out == ""


# parse errors printed 3-12 lines of usage before the error.
@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["score"], ["required", "video"]),
        (["score", "x.mp4", "--bpm", "abc"], ["--bpm", "abc"]),
        (["score", "x.mp4", "--seed", "seven"], ["--seed", "seven"]),
        (["score", "x.mp4", "--nope"], ["unrecognized", "--nope"]),
        (["scor"], ["invalid choice", "scor"]),
        (["batch", "--workers", "x", "y"], ["--workers"]),
        (["score", "x.mp4", "--bpm", "b" * 100_000], ["--bpm"]),
    ],
)
def test_parse_errors_are_one_sentence(
    argv: list[str], words: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = run_cli(capsys, *argv)
    assert code == 2
    line = one_sentence_error(err, *words, "--help")
    assert "usage:" not in err
    assert len(line) < 400


def _moodscore(*argv: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "-m", "core", *argv, "--quiet"],
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )
    return done.returncode, done.stderr


# library noise before our sentence.
def test_truncated_soundfont_is_one_sentence_without_native_noise(
    tmp_path: Path, emotions_file: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    full = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
    if not full.is_file():
        pytest.skip("needs fluid-soundfont-gm (a real SoundFont to truncate)")
    truncated = tmp_path / "cut.sf2"
    with full.open("rb") as source:
        truncated.write_bytes(source.read(1_000_000))
    code, err = run_cli(capfd, "compose", str(emotions_file), "--soundfont", str(truncated))
    assert code == 2
    one_sentence_error(err, str(truncated), "truncated")


def test_resume_without_a_checkpoint_prints_no_tensorflow_lines(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    code, err = _moodscore("train", "--resume", "--out", str(tmp_path / "run"))
    assert code == 2
    one_sentence_error(err, "--resume", "no checkpoint")


# `train --corpus nosuchcorpus` left an empty music21 folder in the temp folder.
@pytest.mark.slow  # a training process (music21 and TensorFlow imports)
def test_unknown_corpus_leaves_no_temp_folder(tmp_path: Path) -> None:
    pytest.importorskip("music21")
    temp = tmp_path / "temp"
    temp.mkdir()
    code, err = _moodscore(
        "train", "--corpus", "nosuchcorpus", "--out", str(tmp_path / "m"), env={"TMPDIR": str(temp)}
    )
    assert code == 2
    one_sentence_error(err, "nosuchcorpus")
    assert list(temp.iterdir()) == []


def test_a_stop_during_a_lazy_import_is_still_a_stop(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Python 3.11 wraps an exception raised while a class is made (as scipy's classes are,
    on a lazy import mid-run) in a RuntimeError; the stop behind it is reported as a stop."""
    import core.cli
    from core.signals import Stopped

    class StoppedWhileNamed:
        def __set_name__(self, owner: type, name: str) -> None:
            raise Stopped(signal.SIGINT)

    def run_config(args: object) -> int:
        type("Imported", (), {"attribute": StoppedWhileNamed()})
        return 0

    monkeypatch.setattr(core.cli, "_run_config", run_config)
    assert core.cli.main(["config"]) == 130
    err = capsys.readouterr().err
    assert err.strip() == "moodscore: stopped by SIGINT; no partial output was left."
