"""Issue 20: every frame of every container PyAV reads reaches the scored MP4 and the split.

Footage is remuxed with PyAV into MKV, MOV and WebM (VP9, since WebM cannot carry H.264): real
footage with B-frames (the demo clip), a variable-frame-rate clip with B-frames and a three-frame
1 fps clip with a single keyframe. Matroska stores no decode times; the copy used to skip the
packets FFmpeg could not give one, losing the first GOP (117 of 120 frames) or the whole video.
"""

from __future__ import annotations

import wave
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from core.errors import InputError
from core.video.mux import mux
from core.video.split import split_video
from tests.cli_run import run_cli

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "examples" / "demo.mp4"
#: Footage used from the demo clip: 250 frames at 25 fps.
FOOTAGE_FRAMES = 250


def _encode(path: Path, times_s: list[float], codec: str, pictures: list[np.ndarray]) -> Path:
    """Encode ``pictures`` shown at ``times_s`` (a millisecond time base, so any rate)."""
    time_base = Fraction(1, 1000)
    height, width = pictures[0].shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = stream.codec_context.time_base = time_base
        stream.options = {"g": "25"}
        for t, picture in zip(times_s, pictures, strict=True):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(picture), format="rgb24")
            frame.pts, frame.time_base = round(t / time_base), time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def _remux(source: Path, target: Path, *, packets: int | None = None) -> Path:
    """Copy every stream of ``source`` into ``target``'s container (at most ``packets`` video)."""
    with av.open(str(source)) as src, av.open(str(target), "w") as sink:
        mapping = {s.index: sink.add_stream_from_template(s, opaque=True) for s in src.streams}
        copied = 0
        for packet in src.demux():
            if packet.dts is None or (packets is not None and copied >= packets):
                continue
            copied += packet.stream.type == "video"
            packet.stream = mapping[packet.stream.index]
            sink.mux(packet)
    return target


def _footage(count: int = FOOTAGE_FRAMES) -> list[np.ndarray]:
    with av.open(str(DEMO)) as demo:
        frames = demo.decode(video=0)
        return [next(frames).to_ndarray(format="rgb24")[::4, ::4] for _ in range(count)]


def _pictures(count: int) -> list[np.ndarray]:
    pictures = []
    for index in range(count):
        rgb = np.full((96, 160, 3), (index * 37) % 256, np.uint8)
        rgb[:48, : (index * 7) % 160] = 250
        pictures.append(rgb)
    return pictures


def _vfr_times(count: int = 60) -> list[float]:
    gaps = np.random.default_rng(1).uniform(0.02, 0.2, count - 1)
    return [0.0, *np.cumsum(gaps).round(3).tolist()]


def _h264(tmp: Path, kind: str) -> Path:
    """The H.264 MP4 each kind starts from (x264 puts B-frames in all of them)."""
    if kind == "footage":
        return _remux(DEMO, tmp / "footage.mp4", packets=FOOTAGE_FRAMES)
    if kind == "vfr":
        return _encode(tmp / "vfr.mp4", _vfr_times(), "libx264", _pictures(60))
    return _encode(tmp / "onefps.mp4", [0.0, 1.0, 2.0], "libx264", _pictures(3))


def _vp9(tmp: Path, kind: str) -> Path:
    if kind == "footage":
        times = [i / 25 for i in range(100)]
        return _encode(tmp / "footage.webm", times, "libvpx-vp9", _footage(100))
    if kind == "vfr":
        return _encode(tmp / "vfr.webm", _vfr_times(), "libvpx-vp9", _pictures(60))
    return _encode(tmp / "onefps.webm", [0.0, 1.0, 2.0], "libvpx-vp9", _pictures(3))


def clip_in(container: str, kind: str, tmp: Path) -> Path:
    """A ``kind`` clip ("footage", "vfr", "onefps") in ``container`` ("mkv", "mov", "webm")."""
    if container == "webm":
        return _vp9(tmp, kind)
    return _remux(_h264(tmp, kind), tmp / f"{kind}.{container}")


def _shown_at(path: Path) -> list[float]:
    """Presentation time of every decoded frame, in seconds from the first."""
    with av.open(str(path)) as container:
        times = [float(f.pts * f.time_base) for f in container.decode(video=0)]
    return [round(t - times[0], 3) for t in times] if times else []


def _packets(path: Path) -> int:
    with av.open(str(path)) as container:
        if not container.streams.video:
            return 0
        return sum(1 for p in container.demux(container.streams.video[0]) if p.size)


def _silence(path: Path, seconds: float) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(48000)
        out.writeframes(bytes(4 * round(48000 * seconds)))
    return path


CASES = [(c, k) for c in ("mkv", "mov", "webm") for k in ("footage", "vfr", "onefps")]


@pytest.mark.parametrize(("container", "kind"), CASES)
def test_mux_keeps_every_frame_at_its_time(container: str, kind: str, tmp_path: Path) -> None:
    clip = clip_in(container, kind, tmp_path)
    expected = _shown_at(clip)
    assert len(expected) >= 3
    out = tmp_path / "scored.mp4"
    mux(clip, _silence(tmp_path / "music.wav", expected[-1] + 1), out)
    assert _packets(out) == _packets(clip)
    assert _shown_at(out) == pytest.approx(expected, abs=0.0011)


@pytest.mark.parametrize(("container", "kind"), CASES)
def test_split_keeps_every_frame(container: str, kind: str, tmp_path: Path) -> None:
    clip = clip_in(container, kind, tmp_path)
    parts = split_video(clip, tmp_path / "parts", 2.0)
    assert parts, "no segment written"
    assert sum(_packets(p) for p in parts) == _packets(clip)
    assert sum(len(_shown_at(p)) for p in parts) == len(_shown_at(clip))


def test_single_keyframe_mkv_is_one_segment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clip = clip_in("mkv", "onefps", tmp_path)
    code, err = run_cli(capsys, "split", str(clip), "--seconds", "30", "--out", str(tmp_path / "p"))
    assert code == 0, err
    assert [p.name for p in (tmp_path / "p").iterdir()] == ["onefps_part001.mkv"]
    assert len(_shown_at(tmp_path / "p" / "onefps_part001.mkv")) == 3


@pytest.mark.slow  # whole scores of real footage
@pytest.mark.parametrize("kind", ["footage", "onefps"])
def test_scored_mp4_of_an_mkv_has_every_frame(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clip = clip_in("mkv", kind, tmp_path)
    code, err = run_cli(capsys, "score", str(clip), "--out", str(tmp_path / "s"), "--bpm", "240")
    assert code == 0, err
    assert _shown_at(tmp_path / "s" / f"{kind}.mp4") == pytest.approx(_shown_at(clip), abs=0.0011)


def _dropping_one(real: Callable[..., object]) -> Callable[..., object]:
    def drop(packets, video):
        kept = real(packets, video)
        for index, packet in enumerate(kept):
            if index != 5:
                yield packet

    return drop


def test_a_copy_missing_a_frame_is_not_published(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import core.video.mux as mux_module

    clip = clip_in("mov", "vfr", tmp_path)
    # Before the fix the name did not exist (nothing was checked): the copy then succeeded.
    real = getattr(mux_module, "with_decode_times", None)
    monkeypatch.setattr(mux_module, "with_decode_times", _dropping_one(real), raising=False)
    out = tmp_path / "scored.mp4"
    with pytest.raises(InputError, match="kept 59 of its 60 frames"):
        mux(clip, _silence(tmp_path / "music.wav", 8.0), out)
    assert {p.name for p in tmp_path.iterdir()} == {"vfr.mov", "vfr.mp4", "music.wav"}
