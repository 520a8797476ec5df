"""Where a strip's visible part sits in the edit and in its file, and where its score goes.

Blender shows timeline frame ``f`` of a movie strip as source frame
``trim_start + (f - content_start) * rate`` (rounded down), where ``rate`` is how many source
frames the strip advances per timeline frame: 1 for a strip added by a script
(``strips.new_movie``); ``file fps / scene fps`` for one added with *Add > Movie*, whose *Adjust
Playback Rate* (on by default) plays the file at its real speed; times the Speed Factor (3.x) or
set by two retiming keys (4.2+). So file seconds come from that mapping, while the score must
last the visible part's length at the *scene's* rate.
"""

from __future__ import annotations

import math
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
    """The visible part of a movie strip, in scene frames and in file seconds.

    ``rate`` is how many file frames the strip advances per scene frame (see the module).
    """

    video: Path
    first_frame: int
    frame_count: int
    scene_fps: float
    file_fps: float
    file_start_s: float
    rate: float = 1.0

    @property
    def file_end_s(self) -> float:
        """End of the visible part in file seconds."""
        return self.file_start_s + self.frame_count * self.rate / self.file_fps

    @property
    def edit_duration_s(self) -> float:
        """How long the visible part plays in the edit."""
        return self.frame_count / self.scene_fps

    @property
    def needs_stretch(self) -> bool:
        """Whether the edit plays the part at another speed than the file's own."""
        file_duration_s = self.file_end_s - self.file_start_s
        return abs(self.edit_duration_s - file_duration_s) * self.scene_fps >= 0.5

    def frame_at(self, file_s: float) -> float:
        """The (fractional) scene frame where the picture reaches second ``file_s`` of the file."""
        return self.first_frame + (file_s - self.file_start_s) * self.file_fps / self.rate


def frame_showing(frame: float, rate: float) -> int:
    """The first whole scene frame that shows the file frame due at (fractional) ``frame``.

    Where Blender shows the file frame nearest the mapped moment, a file frame appears half a
    file frame (``0.5 / rate`` scene frames) early; where it truncates (3.4), on time.
    """
    early = 0.5 / rate if compat.SHOWS_NEAREST_SOURCE_FRAME else 0.0
    return math.ceil(frame - early - 1e-6)


def scene_fps(scene: bpy.types.Scene) -> float:
    """The scene's frame rate (``fps / fps_base``, e.g. 29.97)."""
    return scene.render.fps / scene.render.fps_base


def strip_span(scene: bpy.types.Scene, strip: Any) -> StripSpan:
    """The visible part of ``strip``, as Blender maps it onto the file.

    Raises
    ------
    StripError
        For anything but a movie strip, a missing file, reversed playback or speed changes
        within the strip.
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
    if len(compat.retiming_frames(strip)) > 2:
        raise StripError(
            f"Strip '{strip.name}' has retiming keys inside it; Moodscore follows one speed "
            "per strip, so use Strip > Retiming > Reset Retiming or split the strip at its keys."
        )
    file_fps = float(getattr(strip, "fps", 0.0) or 0.0) or _probe_fps(video)
    fps = scene_fps(scene)
    rate = playback_rate(strip, file_fps, fps, video)
    left_handle = compat.strip_timing(strip, "left_handle")
    first_file_frame = compat.strip_timing(strip, "content_trim_start") + rate * (
        left_handle - compat.strip_timing(strip, "content_start")
    )
    return StripSpan(
        video=video,
        first_frame=int(left_handle),
        frame_count=int(compat.strip_timing(strip, "duration")),
        scene_fps=fps,
        file_fps=file_fps,
        file_start_s=max(0.0, first_file_frame / file_fps),
        rate=rate,
    )


def playback_rate(strip: Any, file_fps: float, scene_fps: float, video: Path) -> float:
    """File frames per scene frame of a movie strip, as Blender plays it.

    Blender keeps *Adjust Playback Rate* as a flag the Python API does not show; its effect
    shows in the content's timeline length, which is the source frame count divided by the
    rate. So of the rates the strip can have (its speed, with or without the file-to-scene
    fps ratio) the one that explains that length is taken. Two retiming keys (4.2+) set one
    speed: the source frames between them over their timeline distance.
    """
    keys = compat.retiming_frames(strip)
    speed = compat.speed_factor(strip)
    adjust = file_fps / scene_fps
    if not keys and abs(adjust - 1.0) < 1e-6:
        return speed
    timeline = compat.content_frames(strip)
    source = compat.source_frame_count(strip)
    if source is None:
        count = _file_frame_count(video)
        if count is None:  # unreadable here: assume Add > Movie's default
            return speed * adjust
        source = (
            count
            - compat.strip_timing(strip, "content_trim_start")
            - compat.strip_timing(strip, "content_trim_end")
        )
    if keys:
        # The keys map the first and last source frame (Blender's ``len - 1``) onto them.
        return (source - 1) / max(1, keys[-1] - keys[0])
    # Blender truncates the length; when both rates give it (they differ by under a frame over
    # the whole strip) the adjusted one wins, as Add > Movie is how most strips come in.
    return min((speed * adjust, speed), key=lambda rate: abs(int(source / rate) - timeline))


_frame_counts: dict[tuple[str, int, int], int] = {}


def _file_frame_count(video: Path) -> int | None:
    """The file's video frame count, read once per file version (PyAV, header only).

    ``None`` when the file cannot be read here (PyAV missing, not a video).
    """
    stat = video.stat()
    key = (str(video), stat.st_size, stat.st_mtime_ns)
    if key not in _frame_counts:
        try:
            import av  # only for Blender 4.x+ strips whose rate the API leaves ambiguous
        except ImportError:
            return None
        try:
            container = av.open(str(video))
        except (av.error.FFmpegError, OSError, ValueError):
            return None
        with container:
            if not container.streams.video:
                return None
            stream = container.streams.video[0]
            count = stream.frames
            if not count:
                rate = float(stream.average_rate or stream.guessed_rate or 25)
                if stream.duration is not None and stream.time_base is not None:
                    seconds = float(stream.duration * stream.time_base)
                else:
                    seconds = (container.duration or 0) / 1_000_000
                count = round(seconds * rate)
        _frame_counts[key] = int(count)
    return _frame_counts[key]


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


#: Names Windows reserves for devices, whatever the extension (``con.wav`` is the console).
_WINDOWS_DEVICES = frozenset(
    {"CON", "PRN", "AUX", "NUL"} | {f"{kind}{n}" for kind in ("COM", "LPT") for n in range(1, 10)}
)


def _not_a_device(name: str) -> str:
    """``name`` with ``_`` in front if Windows would take it for a device."""
    return f"_{name}" if name.split(".")[0].upper() in _WINDOWS_DEVICES else name


def safe_name(name: str) -> str:
    """``name`` usable as a file or folder name on every platform."""
    cleaned = re.sub(r'[\\/:*?"<>|\x00-\x1f]+', "_", name).strip(" .")
    return _not_a_device(cleaned or "strip")


def file_stem(strip_name: str) -> str:
    """Stem of a strip's score files: its name without a video extension."""
    stem = safe_name(strip_name)
    suffix = Path(stem).suffix.lower()
    if suffix in {".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".ogv"}:
        stem = stem[: -len(suffix)] or stem
    return _not_a_device(stem)
