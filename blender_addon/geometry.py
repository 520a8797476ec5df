"""Where a strip's visible part sits in the edit and in its file, and where its score goes.

A movie strip keeps its frame count whatever the scene's frame rate: frame ``k`` of the strip's
content is frame ``k`` of the file. So file seconds come from frames at the *file's* rate, while
the score must last the visible part's length at the *scene's* rate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bpy

from . import compat

#: Highest channel of the VSE.
MAX_CHANNEL = 128
#: Suffix of the sound strip made from a movie strip.
SCORE_SUFFIX = " · score"

_REFUSED_KINDS = {
    "IMAGE": "an image sequence",
    "SCENE": "a scene strip",
    "META": "a meta strip",
    "SOUND": "a sound strip",
    "MASK": "a mask strip",
    "MOVIECLIP": "a movie-clip (tracking) strip",
    "COLOR": "a colour strip",
    "TEXT": "a text strip",
}


class StripError(Exception):
    """A strip Moodscore cannot score; the message is one sentence for the user."""


@dataclass(frozen=True)
class StripSpan:
    """The visible part of a movie strip, in scene frames and in file seconds."""

    video: Path
    first_frame: int
    frame_count: int
    scene_fps: float
    file_fps: float
    file_start_s: float

    @property
    def file_end_s(self) -> float:
        """End of the visible part in file seconds."""
        return self.file_start_s + self.frame_count / self.file_fps

    @property
    def edit_duration_s(self) -> float:
        """How long the visible part plays in the edit."""
        return self.frame_count / self.scene_fps

    @property
    def needs_stretch(self) -> bool:
        """Whether the edit plays the part at another speed than the file (fps differ)."""
        file_duration_s = self.file_end_s - self.file_start_s
        return abs(self.edit_duration_s - file_duration_s) * self.scene_fps >= 0.5


def scene_fps(scene: bpy.types.Scene) -> float:
    """The scene's frame rate (``fps / fps_base``, e.g. 29.97)."""
    return scene.render.fps / scene.render.fps_base


def strip_span(scene: bpy.types.Scene, strip: Any) -> StripSpan:
    """The visible part of ``strip``.

    Raises
    ------
    StripError
        For anything but a movie strip, a missing file, reversed or retimed playback.
    """
    if strip.type != "MOVIE":
        kind = _REFUSED_KINDS.get(strip.type, f"a {strip.type.lower()} strip")
        raise StripError(
            f"Strip '{strip.name}' is {kind}; Moodscore scores movie strips only "
            "(render it to a movie file and add that)."
        )
    video = Path(bpy.path.abspath(strip.filepath, library=strip.id_data.library))
    if not video.is_file():
        raise StripError(f"Strip '{strip.name}' points at {video}, which does not exist.")
    if getattr(strip, "use_reverse_frames", False):
        raise StripError(f"Strip '{strip.name}' plays reversed; turn off Reverse Frames.")
    if len(getattr(strip, "retiming_keys", ())) > 2:
        raise StripError(f"Strip '{strip.name}' is retimed; reset its retiming first.")
    file_fps = float(getattr(strip, "fps", 0.0) or 0.0) or _probe_fps(video)
    # Scene frame f shows content frame f - content_start, shifted by the hold/trim offset.
    left_handle = compat.strip_timing(strip, "left_handle")
    first_file_frame = (
        left_handle
        - compat.strip_timing(strip, "content_start")
        + compat.strip_timing(strip, "content_trim_start")
    )
    return StripSpan(
        video=video,
        first_frame=int(left_handle),
        frame_count=int(compat.strip_timing(strip, "duration")),
        scene_fps=scene_fps(scene),
        file_fps=file_fps,
        file_start_s=max(0.0, first_file_frame / file_fps),
    )


def _probe_fps(video: Path) -> float:
    from .core.video.probe import probe  # PyAV: imported only when Blender cannot tell

    return probe(video).fps


def free_channel(scene: bpy.types.Scene, strip: Any, first: int, last: int) -> int:
    """The first channel above ``strip`` with no strip between frames ``first`` and ``last``."""
    siblings = list(compat.parent_collection(scene, strip))
    for channel in range(strip.channel + 1, MAX_CHANNEL + 1):
        if not any(
            other.channel == channel
            and compat.strip_timing(other, "left_handle") < last
            and compat.strip_timing(other, "right_handle") > first
            for other in siblings
        ):
            return channel
    raise StripError(f"No channel above '{strip.name}' is free for its score.")


def safe_name(name: str) -> str:
    """``name`` usable as a file or folder name on every platform."""
    cleaned = re.sub(r'[\\/:*?"<>|\x00-\x1f]+', "_", name).strip(" .")
    return cleaned or "strip"


def file_stem(strip_name: str) -> str:
    """Stem of a strip's score files: its name without a video extension."""
    stem = safe_name(strip_name)
    suffix = Path(stem).suffix.lower()
    if suffix in {".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".ogv"}:
        stem = stem[: -len(suffix)] or stem
    return stem
