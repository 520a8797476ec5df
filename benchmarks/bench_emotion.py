"""Emotion-analysis speed: ``analyze`` time ÷ decode-only time of the same clip, side by side.

Makes its own clip (real photographs of faces from matplotlib and scikit-image, panned and zoomed,
with hard cuts to colourful non-face shots and light film grain), then times:

- decode-only: PyAV decoding every frame with ``thread_type="AUTO"``, nothing else;
- ``core.emotion.analyze`` with all local sources (colour, face, motion);
- the face detector and classifier alone on the frames the analysis samples.

Each timing is the best of ``--repeat`` alternating runs (the machine is shared). Usage::

    .venv/bin/python benchmarks/bench_emotion.py                     # 60 s 720p30 with faces
    .venv/bin/python benchmarks/bench_emotion.py --height 1080       # the engine's 1080p30 case
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.config import Config  # noqa: E402
from core.emotion import analyze  # noqa: E402
from core.emotion.faces import FaceReader, crop_face  # noqa: E402
from core.video.frames import expand_limited_range, iter_frames  # noqa: E402

SHOT_S = 5.0


def load_photos() -> list[np.ndarray]:
    """Grace Hopper (matplotlib) and the astronaut (scikit-image, upper body) as RGB."""
    import matplotlib.cbook
    import skimage

    hopper = cv2.imread(str(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)))
    astronaut = cv2.imread(str(Path(skimage.__file__).parent / "data" / "astronaut.png"))
    astronaut = astronaut[:330, 60:420]  # upper body: framed as a video close-up would be
    return [cv2.cvtColor(p, cv2.COLOR_BGR2RGB) for p in (hopper, astronaut)]


def colourful(width: int, height: int, t: float) -> np.ndarray:
    """A saturated, moving stripe pattern: a shot without faces."""
    hsv = np.empty((height, width, 3), np.uint8)
    stripes = np.arange(width)[None, :] * 4 // width * 45
    hsv[..., 0] = ((stripes + int(t * 60)) % 180).astype(np.uint8)
    hsv[..., 1] = 200
    hsv[..., 2] = (150 + 80 * np.sin(np.arange(height) / 40.0 + t)[:, None]).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def portrait(photo: np.ndarray, width: int, height: int, t: float) -> np.ndarray:
    """The photo filling most of the frame height, slowly zooming and panning."""
    zoom = 0.8 + 0.04 * t
    h = round(height * zoom)
    w = round(photo.shape[1] * h / photo.shape[0])
    scaled = cv2.resize(photo, (w, h), interpolation=cv2.INTER_AREA)
    canvas = np.full((height, width, 3), (40, 50, 60), np.uint8)
    x = round((width - w) / 2 + width * 0.15 * np.sin(t / 2))
    y = round((height - h) / 2)
    src_x, dst_x = max(0, -x), max(0, x)
    src_y, dst_y = max(0, -y), max(0, y)
    part = scaled[src_y : src_y + height - dst_y, src_x : src_x + width - dst_x]
    canvas[dst_y : dst_y + part.shape[0], dst_x : dst_x + part.shape[1]] = part
    return canvas


def make_clip(
    path: Path, seconds: float, height: int, fps: float, grain: float, preset: str
) -> Path:
    """Encode the benchmark clip: shots cycle hopper → colour → astronaut every 5 s."""
    width = round(height * 16 / 9 / 2) * 2
    photos = load_photos()
    rng = np.random.default_rng(0)
    noise = [rng.normal(0, grain, (height, width, 1)).astype(np.int16) for _ in range(8)]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": preset, "crf": "20"}
        for i in range(round(seconds * fps)):
            t = i / fps
            shot, within = divmod(t, SHOT_S)
            kind = int(shot) % 3
            frame = (
                colourful(width, height, t)
                if kind == 1
                else portrait(photos[kind // 2], width, height, within)
            )
            if grain > 0:  # real footage carries sensor noise; it costs the decoder bits
                frame = np.clip(frame + noise[i % len(noise)], 0, 255).astype(np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return path


def decode_only(path: Path) -> float:
    """Seconds to decode every frame with PyAV (the reference the targets divide by)."""
    start = time.perf_counter()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for _ in container.decode(stream):
            pass
    return time.perf_counter() - start


def analysis_time(path: Path, config: Config) -> float:
    start = time.perf_counter()
    analyze(path, config)
    return time.perf_counter() - start


def face_costs(path: Path, config: Config) -> dict[str, float]:
    """Detector and classifier time on the frames the analysis samples for faces."""
    step_s = 240.0 / config.bpm * config.step_bars
    every_s = step_s / config.analysis.face_frames_per_step
    reader = FaceReader(config.analysis.face_detect_width, config.analysis.face_min_size)
    detect_s = classify_s = 0.0
    frames = faces = 0
    next_t = every_s / 2
    for frame in iter_frames(path):
        if frame.time_s < next_t:
            continue
        next_t += every_s
        grey, limited = frame.plane(0), not frame.full_range
        start = time.perf_counter()
        boxes = reader.detect(grey, limited_range=limited)
        middle = time.perf_counter()
        if boxes:
            crops = np.stack([crop_face(grey, box) for box in boxes])
            reader.model.predict(expand_limited_range(crops) if limited else crops)
        classify_s += time.perf_counter() - middle
        detect_s += middle - start
        frames += 1
        faces += len(boxes)
    return {
        "frames": frames,
        "faces": faces,
        "detect_ms_per_frame": 1000 * detect_s / max(frames, 1),
        "classify_ms_per_face": 1000 * classify_s / max(faces, 1),
        "face_ms_per_frame": 1000 * (detect_s + classify_s) / max(frames, 1),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--grain", type=float, default=3.0, help="noise std in grey levels")
    parser.add_argument("--preset", default="veryfast", help="x264 preset of the test clip")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--clip", type=Path, help="use this video instead of making one")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as folder:
        clip = args.clip
        if clip is None:
            clip = Path(folder) / f"bench_{args.height}p.mp4"
            start = time.perf_counter()
            make_clip(clip, args.seconds, args.height, args.fps, args.grain, args.preset)
            print(f"made {clip.name} in {time.perf_counter() - start:.1f} s", file=sys.stderr)
        local = Config()
        colour_only = Config()
        colour_only.analysis.sources = ["colour", "motion"]
        runs: dict[str, list[float]] = {"decode": [], "local": [], "colour+motion": []}
        for _ in range(args.repeat):
            runs["decode"].append(decode_only(clip))
            runs["local"].append(analysis_time(clip, local))
            runs["colour+motion"].append(analysis_time(clip, colour_only))
        faces = face_costs(clip, local)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    decode = min(runs["decode"])
    target = "≤ 2.0 (moonshot 1.3)" if args.height <= 720 else "≤ 1.5 (moonshot 1.2)"
    print(f"\n{args.seconds:g} s {args.height}p{args.fps:g} clip, best of {args.repeat}\n")
    print("| run | time (s) | ÷ decode-only | target |")
    print("|---|---:|---:|---|")
    print(f"| decode only (PyAV, every frame) | {decode:.2f} | 1.00 | |")
    print(
        f"| analyze: colour + face + motion | {min(runs['local']):.2f} | "
        f"{min(runs['local']) / decode:.2f} | {target} |"
    )
    print(
        f"| analyze: colour + motion | {min(runs['colour+motion']):.2f} | "
        f"{min(runs['colour+motion']) / decode:.2f} | |"
    )
    print("\n| face stage | value |")
    print("|---|---:|")
    print(f"| frames searched for faces | {faces['frames']} |")
    print(f"| faces found per frame | {faces['faces'] / max(faces['frames'], 1):.2f} |")
    print(f"| detector ms per analysed frame | {faces['detect_ms_per_frame']:.1f} |")
    print(f"| classifier (numpy mini-Xception) ms per face | {faces['classify_ms_per_face']:.1f} |")
    print(f"| face stage ms per analysed frame | {faces['face_ms_per_frame']:.1f} |")
    print(f"\npeak RSS of this process: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
