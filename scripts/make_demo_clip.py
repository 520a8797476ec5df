"""Build ``examples/demo.mp4``, the clip ``make demo`` scores.

Real photographs shipped by scikit-image and matplotlib (public domain / free to use, see
``examples/README.md``), cut into four shots with slow and fast camera moves, so the emotion
arc has a clear shape: dark and still, warm, a smiling face, bright and fast.

Usage: ``python scripts/make_demo_clip.py [--out examples/demo.mp4]``
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Iterator
from pathlib import Path

import cv2
import numpy as np

WIDTH, HEIGHT, FPS, SHOT_S = 640, 360, 25, 6.0


def _photo(name: str) -> np.ndarray:
    """An RGB photograph by name from the installed packages' sample data."""
    if name == "grace_hopper":
        import matplotlib.cbook

        with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as handle:
            data = np.frombuffer(handle.read(), np.uint8)
        return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    from skimage import data as samples

    image = getattr(samples, name)()
    return np.dstack([image] * 3) if image.ndim == 2 else image[..., :3]


def _ken_burns(
    image: np.ndarray,
    t: float,
    zoom: tuple[float, float],
    pan: float,
    anchor_y: float,
    size: tuple[int, int],
) -> np.ndarray:
    """A 16:9 window over ``image`` that zooms from zoom[0] to zoom[1] and pans sideways.

    ``anchor_y`` is the window centre's height as a fraction of the image (0 = top).
    """
    h, w = image.shape[:2]
    scale = zoom[0] + (zoom[1] - zoom[0]) * t
    win_w = min(w, h * 16 / 9) / scale
    win_h = win_w * 9 / 16
    cx = w / 2 + pan * (t - 0.5) * (w - win_w)
    cy = h * anchor_y
    x0 = int(np.clip(cx - win_w / 2, 0, w - win_w))
    y0 = int(np.clip(cy - win_h / 2, 0, h - win_h))
    crop = image[y0 : y0 + int(win_h), x0 : x0 + int(win_w)]
    return cv2.resize(crop, size, interpolation=cv2.INTER_AREA)


def _grade(frame: np.ndarray, brightness: float, saturation: float) -> np.ndarray:
    hsv = cv2.cvtColor(frame, cv2.COLOR_RGB2HSV).astype(np.float32)
    hsv[..., 1] = np.clip(hsv[..., 1] * saturation, 0, 255)
    hsv[..., 2] = np.clip(hsv[..., 2] * brightness, 0, 255)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)


#: (photo, zoom start/end, pan, vertical anchor, brightness, saturation) per shot.
SHOTS = (
    ("camera", (1.0, 1.05), 0.1, 0.5, 0.45, 0.0),
    ("coffee", (1.0, 1.25), 0.3, 0.5, 0.9, 1.0),
    ("astronaut", (1.0, 1.15), 0.1, 0.3, 1.05, 1.2),
    ("chelsea", (1.0, 1.8), 1.0, 0.5, 1.15, 1.6),
)


def frames(
    size: tuple[int, int] = (WIDTH, HEIGHT),
    fps: float = FPS,
    shot_s: float = SHOT_S,
    total_s: float | None = None,
) -> Iterator[np.ndarray]:
    """Yield the demo clip's frames; ``total_s`` longer than the four shots repeats them."""
    per_shot = int(shot_s * fps)
    total = int((total_s or shot_s * len(SHOTS)) * fps)
    images = {photo: _photo(photo) for photo, *_ in SHOTS}
    for index in range(total):
        photo, zoom, pan, anchor_y, brightness, saturation = SHOTS[(index // per_shot) % len(SHOTS)]
        t = (index % per_shot) / per_shot
        frame = _ken_burns(images[photo], t, zoom, pan, anchor_y, size)
        yield _grade(frame, brightness, saturation)


def write_h264(path: Path, frames: Iterable[np.ndarray], fps: float, **options: str) -> None:
    """Encode RGB frames as H.264 in ``path``; ``options`` go to libx264 (e.g. crf, preset)."""
    import av

    with av.open(str(path), "w") as container:
        stream = None
        for frame in frames:
            if stream is None:
                stream = container.add_stream("libx264", rate=round(fps))
                stream.height, stream.width = frame.shape[:2]
                stream.pix_fmt = "yuv420p"
                stream.options = {"g": str(2 * round(fps)), **options}
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        if stream is not None:
            container.mux(stream.encode())


def main() -> None:
    """Write the demo clip."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("examples/demo.mp4"))
    args = parser.parse_args()
    write_h264(args.out, frames(), FPS, crf="26", preset="slow")


if __name__ == "__main__":
    main()
