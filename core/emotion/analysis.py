"""Read a video's emotional arc: one streaming pass, sources combined per step."""

from __future__ import annotations

import logging
import math
import threading
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InputError
from ..timeline import EmotionStep, EmotionTimeline, TimeGrid
from ..video.frames import Frame, iter_frames, stride_for
from ..video.probe import probe
from .cloud import CloudError, CloudFaces
from .colour import colour_emotion
from .config import ALL_SOURCES, AnalysisConfig
from .faces import FaceReader, area_weighted_point
from .fusion import fuse_step, smooth_within_shots
from .shots import CutSettings, ShotTracker, motion_level

if TYPE_CHECKING:  # core.config imports this package's config: avoid the import cycle
    from ..config import Config

logger = logging.getLogger(__name__)

THUMB_WIDTH = 96  # per-frame thumbnail for cuts and motion
CLOUD_WIDTH = 640  # frames sent to Cloud Vision
PROGRESS_EVERY = 0.01
#: Read the sampled frames (colour, faces) in a thread of its own (results are identical).
SAMPLES_THREAD = True
#: Sampled-frame readings that may be in flight before the analysis waits for the oldest.
SAMPLES_BACKLOG = 4
LOCAL_SOURCE_KEYS = (
    "colour_arousal",
    "colour_valence",
    "face_arousal",
    "face_valence",
    "faces",
    "motion",
    "cuts",
)
CLOUD_SOURCE_KEYS = ("cloud_arousal", "cloud_valence")

ProgressFn = Callable[[float], None]


def validate_sources(sources: Iterable[str]) -> tuple[str, ...]:
    """Normalise and check ``analysis.sources``; :class:`InputError` names an unknown one."""
    names = tuple(dict.fromkeys(str(s).strip().lower() for s in sources if str(s).strip()))
    unknown = [name for name in names if name not in ALL_SOURCES]
    if unknown:
        raise InputError(
            f"Unknown analysis source '{unknown[0]}'; choose from {', '.join(ALL_SOURCES)} "
            "(e.g. --sources colour,face,motion)."
        )
    if not names:
        raise InputError(
            f"No analysis source chosen; pick at least one of {', '.join(ALL_SOURCES)}."
        )
    return names


class SampleSchedule:
    """Which frames to sample: ``per_step`` frames per step, centred in equal slices of it.

    A frame is taken when it is the first one within half a frame of the next target time, so
    a short last step still gets its samples and a low frame rate never skips a step silently.
    """

    def __init__(self, per_step: int, step_s: float, duration_s: float, tolerance_s: float):
        self.per_step = max(1, per_step)
        self.step_s = step_s
        self.duration_s = duration_s
        self.tolerance_s = tolerance_s
        self._slot = 0
        self._target = self._time_of(0)

    def _time_of(self, slot: int) -> float:
        step, within = divmod(slot, self.per_step)
        start = step * self.step_s
        length = min(self.step_s, self.duration_s - start)
        return start + (within + 0.5) * length / self.per_step

    def due(self, time_s: float) -> bool:
        """Whether the frame at ``time_s`` (relative to the range start) should be sampled."""
        if time_s + self.tolerance_s < self._target:
            return False
        while self._target <= time_s + self.tolerance_s:
            self._slot += 1
            self._target = self._time_of(self._slot)
        return True


class StepSums:
    """Running sums and counts per (name, step): means without keeping any frame."""

    def __init__(self) -> None:
        self._sum: defaultdict[tuple[str, int], float] = defaultdict(float)
        self._count: defaultdict[tuple[str, int], int] = defaultdict(int)

    def add(self, name: str, step: int, value: float) -> None:
        self._sum[name, step] += value
        self._count[name, step] += 1

    def count(self, name: str, step: int) -> int:
        return self._count.get((name, step), 0)

    def mean(self, name: str, step: int) -> float:
        count = self.count(name, step)
        return self._sum[name, step] / count if count else math.nan


class FaceSources:
    """Local faces and, optionally, Cloud Vision with fallback to the local model."""

    def __init__(self, sources: tuple[str, ...], analysis: AnalysisConfig, n_steps: int) -> None:
        self.analysis = analysis
        self.local_on = "face" in sources
        # Stays true when the cloud fails: the local model then reads the faces.
        self.active = self.local_on or "cloud" in sources
        self.cloud = _open_cloud(analysis) if "cloud" in sources else None
        self._cloud_steps = _spread(n_steps, analysis.cloud.max_requests)
        self._cloud_done: set[int] = set()
        self._local: FaceReader | None = None
        if self.cloud is not None and len(self._cloud_steps) < n_steps:
            logger.info(
                "The Cloud Vision budget of %d requests covers %d of %d steps; the "
                "local face model reads the others.",
                analysis.cloud.max_requests,
                len(self._cloud_steps),
                n_steps,
            )

    @property
    def local(self) -> FaceReader:
        if self._local is None:  # built lazily: with cloud only, it may never be needed
            self._local = FaceReader(self.analysis.face_detect_width, self.analysis.face_min_size)
        return self._local

    def read(self, frame: Frame, step: int, sums: StepSums) -> None:
        """Analyse one sampled frame's faces into ``sums`` for ``step``."""
        if self._cloud_covers(step) and step not in self._cloud_done:
            self._cloud_done.add(step)
            self._read_cloud(frame, step, sums)
        # Checked again: a cloud failure just now hands this very frame to the local model.
        if self.local_on or not self._cloud_covers(step):
            self._read_local(frame, step, sums)

    def _cloud_covers(self, step: int) -> bool:
        return self.cloud is not None and step in self._cloud_steps

    def _read_local(self, frame: Frame, step: int, sums: StepSums) -> None:
        self.add_local(self.local_faces(frame), step, sums)

    def local_faces(self, frame: Frame) -> list[Any]:
        """The local model's faces in ``frame`` (callable from one other thread)."""
        return self.local.read(frame.plane(0), limited_range=not frame.full_range)

    @staticmethod
    def add_local(faces: list[Any], step: int, sums: StepSums) -> None:
        """Add the local model's ``faces`` of one frame to ``sums`` for ``step``."""
        sums.add("faces", step, len(faces))
        point = area_weighted_point(faces)
        if point is not None:
            sums.add("face_arousal", step, point[0])
            sums.add("face_valence", step, point[1])

    def _read_cloud(self, frame: Frame, step: int, sums: StepSums) -> None:
        assert self.cloud is not None
        try:
            faces = self.cloud.read(frame.rgb(CLOUD_WIDTH))
        except CloudError as failure:
            logger.warning("Cloud Vision is unavailable (%s); using the local face model.", failure)
            self.cloud.close()
            self.cloud, self._cloud_steps = None, set()
            return
        sums.add("cloud_faces", step, len(faces))
        if faces:
            total = sum(face.area for face in faces)
            for axis, name in enumerate(CLOUD_SOURCE_KEYS):
                sums.add(name, step, sum(f.area * f.point[axis] for f in faces) / total)

    def close(self) -> None:
        if self.cloud is not None:
            self.cloud.close()


def _open_cloud(analysis: AnalysisConfig) -> CloudFaces | None:
    try:
        return CloudFaces(analysis.cloud)
    except ImportError:
        logger.warning(
            "Cloud Vision needs the 'requests' package, which is missing; using the "
            "local face model."
        )
        return None


def _spread(n_steps: int, budget: int) -> set[int]:
    """Steps that get one cloud request each: all of them, or an even spread over the budget."""
    if budget <= 0:
        return set()
    if n_steps <= budget:
        return set(range(n_steps))
    return {i * n_steps // budget for i in range(budget)}


def _analysis_range(
    path: Path, duration_s: float, start_s: float, end_s: float | None, grid: TimeGrid
) -> tuple[float, float]:
    if start_s < 0 or (end_s is not None and end_s <= start_s):
        end_text = "the end" if end_s is None else f"{end_s:g} s"
        raise InputError(
            f"The range {start_s:g} s to {end_text} of {path.name} is empty or negative; "
            "pass 0 <= start < end."
        )
    end = duration_s if end_s is None or duration_s <= 0 else min(end_s, duration_s)
    if end_s is not None and duration_s > 0 and end_s > duration_s + 1e-3:
        logger.info("%s ends at %.2f s; analysing up to there.", path.name, duration_s)
    if end - start_s < grid.step_s - 1e-6:
        raise InputError(
            f"{path.name} ({end - start_s:.2f} s) is shorter than one step "
            f"({grid.step_s:.1f} s at {grid.bpm:g} bpm); use a longer clip or a faster "
            "--bpm/--step-bars."
        )
    return start_s, end


def analyze(
    video: str | Path,
    config: Config,
    *,
    start_s: float = 0.0,
    end_s: float | None = None,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> EmotionTimeline:
    """Read the arousal and valence of a video, step by step on the musical grid.

    One streaming pass decodes every frame once: a tiny thumbnail of each feeds cut detection
    and motion; ``frames_per_step`` frames per step feed the colour clusters and
    ``face_frames_per_step`` the face model (or Cloud Vision).

    Parameters
    ----------
    video
        Video file.
    config
        Options; ``bpm`` and ``step_bars`` set the grid, ``analysis`` the sources.
    start_s, end_s
        Range to analyse in seconds (``end_s`` defaults to the end of the video). Step times
        in the result are relative to ``start_s``; the last step may be partial.
    progress
        Called with the fraction decoded (0..1), at most every 1 %.
    cancel
        Checked before every frame; raises :class:`core.errors.Cancelled` when set.

    Returns
    -------
    EmotionTimeline
        One step per ``grid.step_s`` covering the range; ``sources`` per step hold
        ``colour_*``, ``face_*``, ``faces``, ``motion``, ``cuts`` (and ``cloud_*`` with the
        cloud on), NaN where a source is off or saw nothing; ``cuts_s`` are the hard cuts.

    Raises
    ------
    InputError
        For an unreadable video, an unknown source, a range shorter than one step (a clip
        shorter than one step is refused rather than padded: one bar of music per bar of
        picture is the smallest thing worth scoring) or a range without decodable frames.
    """
    analysis = config.analysis
    sources = validate_sources(analysis.sources)
    grid = TimeGrid(config.bpm, config.step_bars)
    info = probe(video)
    start_s, end = _analysis_range(info.path, info.duration_s, start_s, end_s, grid)
    duration = end - start_s
    reader = FrameReader(sources, analysis, grid, duration, info.fps)
    reported = -1.0
    try:
        for frame in iter_frames(info.path, start_s=start_s, end_s=end, cancel=cancel):
            time_s = frame.time_s - start_s
            reader.add(frame, time_s)
            if progress is not None and time_s / duration - reported >= PROGRESS_EVERY:
                reported = time_s / duration
                progress(min(1.0, reported))
        reader.finish()
    finally:
        reader.close()
    if reader.frames == 0:
        raise InputError(
            f"{info.path.name} has no decodable frame between {start_s:g} s and {end:g} s; "
            "check the range or re-export the video."
        )
    if progress is not None:
        progress(1.0)
    timeline = _build_timeline(grid, duration, reader.sums, reader.cuts, sources, analysis)
    logger.info(
        "Analysed %d frames of %s: %d steps, %d cuts.",
        reader.frames,
        info.path.name,
        len(timeline.steps),
        len(timeline.cuts_s),
    )
    return timeline


class FrameReader:
    """Everything that looks at frames: cuts and motion on all, colour and faces on samples."""

    def __init__(
        self,
        sources: tuple[str, ...],
        analysis: AnalysisConfig,
        grid: TimeGrid,
        duration_s: float,
        fps: float,
    ) -> None:
        self.analysis = analysis
        self.step_s = grid.step_s
        self.n_steps = grid.step_count(duration_s)
        tolerance = 0.5 / fps if fps > 0 else 0.02
        self.colour = (
            SampleSchedule(analysis.frames_per_step, grid.step_s, duration_s, tolerance)
            if "colour" in sources
            else None
        )
        self.face_schedule = SampleSchedule(
            analysis.face_frames_per_step, grid.step_s, duration_s, tolerance
        )
        self.shots = (
            ShotTracker(CutSettings(min_distance=analysis.cut_min_distance))
            if "motion" in sources
            else None
        )
        self.sums = StepSums()
        self.cuts: list[float] = []
        self.frames = 0
        # The sampled frames' work (a scaled RGB picture and k-means for colour, the face
        # detector) runs outside the GIL in a thread of its own, beside the per-frame cuts and
        # motion here. With the cloud on, everything stays here (frame.rgb() is not reentrant).
        offload = SAMPLES_THREAD and "cloud" not in sources
        self._samples_thread = (
            ThreadPoolExecutor(1, thread_name_prefix="moodscore-samples") if offload else None
        )
        self._pending: deque[tuple[Callable[[Any], None], Future[Any]]] = deque()
        # Last, so nothing can fail after the cloud client has opened its HTTP session.
        self.faces = FaceSources(sources, analysis, self.n_steps)

    def add(self, frame: Frame, time_s: float) -> None:
        """Analyse the next decoded frame (``time_s`` from the range start)."""
        self.frames += 1
        step = min(int(time_s / self.step_s), self.n_steps - 1)
        if self.shots is not None:
            thumb = frame.thumb(stride_for(frame.width, THUMB_WIDTH))
            is_cut, change = self.shots.update(thumb, time_s)
            if is_cut:
                self.cuts.append(time_s)
            elif change is not None:
                self.sums.add("motion", step, motion_level(change, self.analysis.motion_scale))
        if self.colour is not None and self.colour.due(time_s):
            self._sample(self._colour_of, frame, lambda reading: self._add_colour(step, reading))
        if self.faces.active and self.face_schedule.due(time_s):
            if self._samples_thread is None:
                self.faces.read(frame, step, self.sums)
            else:
                self._sample(
                    self.faces.local_faces,
                    frame,
                    lambda faces: self.faces.add_local(faces, step, self.sums),
                )

    def _sample(
        self, read: Callable[[Frame], Any], frame: Frame, add: Callable[[Any], None]
    ) -> None:
        """``add(read(frame))`` now, or with the samples thread later, in the same order."""
        if self._samples_thread is None:
            add(read(frame))
            return
        self._pending.append((add, self._samples_thread.submit(read, frame)))
        while len(self._pending) > SAMPLES_BACKLOG:
            self._settle()

    def _colour_of(self, frame: Frame) -> tuple[float, float]:
        return colour_emotion(
            frame.rgb(self.analysis.analysis_width), self.analysis.colour_clusters
        )

    def _add_colour(self, step: int, reading: tuple[float, float]) -> None:
        self.sums.add("colour_arousal", step, reading[0])
        self.sums.add("colour_valence", step, reading[1])

    def _settle(self) -> None:
        """Add the oldest pending reading: in frame order, so the sums are bit-identical."""
        add, future = self._pending.popleft()
        add(future.result())

    def finish(self) -> None:
        """Wait for the sampled frames' readings still being computed."""
        while self._pending:
            self._settle()

    def close(self) -> None:
        if self._samples_thread is not None:
            self._samples_thread.shutdown(wait=True, cancel_futures=True)
        self.faces.close()


def _step_sources(
    sums: StepSums, step: int, cuts_in_step: int, sources: tuple[str, ...]
) -> dict[str, float]:
    values = {key: sums.mean(key, step) for key in LOCAL_SOURCE_KEYS if key not in ("cuts",)}
    if "motion" in sources:
        values["cuts"] = float(cuts_in_step)
        if math.isnan(values["motion"]):
            values["motion"] = 0.0  # a step of cuts only, or a single frame: no measured motion
    else:
        values["cuts"] = math.nan
    if sums.count("faces", step) == 0 and sums.count("cloud_faces", step):
        values["faces"] = sums.mean("cloud_faces", step)
    if "cloud" in sources:
        for key in CLOUD_SOURCE_KEYS:
            values[key] = sums.mean(key, step)
    return {key: values[key] for key in (*LOCAL_SOURCE_KEYS, *CLOUD_SOURCE_KEYS) if key in values}


def _fill_gaps(rows: list[dict[str, float]], keys: tuple[str, ...]) -> None:
    """Give a step that no sampled frame landed in its nearest neighbour's colour reading."""
    for key in keys:
        known = [i for i, row in enumerate(rows) if not math.isnan(row[key])]
        if not known:
            continue
        for i, row in enumerate(rows):
            if math.isnan(row[key]):
                row[key] = rows[min(known, key=lambda j: abs(j - i))][key]


def _build_timeline(
    grid: TimeGrid,
    duration: float,
    sums: StepSums,
    cuts: list[float],
    sources: tuple[str, ...],
    analysis: AnalysisConfig,
) -> EmotionTimeline:
    n_steps = grid.step_count(duration)
    cut_steps = [min(int(t / grid.step_s), n_steps - 1) for t in cuts]
    rows = [_step_sources(sums, i, cut_steps.count(i), sources) for i in range(n_steps)]
    if "colour" in sources:
        _fill_gaps(rows, ("colour_arousal", "colour_valence"))
    bounds = [(i * grid.step_s, min((i + 1) * grid.step_s, duration)) for i in range(n_steps)]
    fused = np.array(
        [
            fuse_step(row, end - start, analysis)
            for row, (start, end) in zip(rows, bounds, strict=True)
        ]
    )
    shot_starts = sorted(set(cut_steps))
    arousal = smooth_within_shots(fused[:, 0], shot_starts, analysis.smoothing)
    valence = smooth_within_shots(fused[:, 1], shot_starts, analysis.smoothing)
    steps = tuple(
        EmotionStep(start_s=start, end_s=end, arousal=float(a), valence=float(v), sources=row)
        for (start, end), a, v, row in zip(bounds, arousal, valence, rows, strict=True)
    )
    return EmotionTimeline(grid=grid, duration_s=duration, steps=steps, cuts_s=tuple(cuts))
