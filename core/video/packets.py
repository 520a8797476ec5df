"""Packets copied between containers: decode timestamps restored, and every frame accounted for.

Matroska stores only presentation times. With B-frames FFmpeg cannot derive a decode time for
the first packets of a stream (it learns the reorder delay only later), so they arrive with
``dts=None``; skipping them dropped the first keyframe and with it a whole GOP (issue 20).
:func:`with_decode_times` fills those gaps from the neighbouring packets, and
:func:`verify_copy` re-reads a written file and refuses it unless it holds every video packet
of the source over the same span of time.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av

from ..errors import InputError

log = logging.getLogger(__name__)


@dataclass
class VideoSpan:
    """How many video packets a stream holds and the presentation times they cover."""

    packets: int = 0
    first_s: float | None = None
    last_s: float | None = None
    #: One tick of the stream's time base, in seconds: the rounding a copy may add.
    tick_s: float = 0.0

    def add(self, packet: av.Packet[Any]) -> None:
        """Count ``packet`` (a non-empty packet of the video stream)."""
        self.packets += 1
        self.tick_s = max(self.tick_s, float(packet.time_base))
        stamp = packet.pts if packet.pts is not None else packet.dts
        if stamp is None:
            return
        at = float(stamp * packet.time_base)
        self.first_s = at if self.first_s is None else min(self.first_s, at)
        self.last_s = at if self.last_s is None else max(self.last_s, at)

    @property
    def seconds(self) -> float:
        """From the first frame's presentation time to the last one's."""
        if self.first_s is None or self.last_s is None:
            return 0.0
        return self.last_s - self.first_s


def with_decode_times(
    packets: Iterable[av.Packet[Any]], video: av.video.stream.VideoStream
) -> Iterator[av.Packet[Any]]:
    """``packets`` with every missing ``dts`` filled in; flush (empty) packets dropped.

    A run of video packets without a decode time is held back until the next packet that has
    one, then given decode times counted back from it by each packet's duration (forward from
    the previous one at the end of the stream), so decode times keep increasing and stay at or
    before the presentation times. Other streams' packets (audio) never reorder: their decode
    time is their presentation time (one with neither time is dropped). Packets of other
    streams that arrive during a held run are held with it, so the order between streams
    is kept.
    """
    held: list[av.Packet[Any]] = []
    gaps: list[av.Packet[Any]] = []
    previous: int | None = None
    for packet in packets:
        if packet.size == 0:
            continue
        if packet.stream is not video:
            if packet.pts is None and packet.dts is None:
                continue  # nothing says where it plays, so it cannot be placed
            if packet.dts is None:
                packet.dts = packet.pts
            if held:
                held.append(packet)
            else:
                yield packet
            continue
        if packet.dts is None:
            gaps.append(packet)
            held.append(packet)
            continue
        if gaps:
            _count_back(gaps, previous, packet.dts)
            yield from held
            held, gaps = [], []
        previous = packet.dts
        yield packet
    if gaps:
        _count_forward(gaps, previous)
    yield from held


def _step(packet: av.Packet[Any]) -> int:
    return packet.duration if packet.duration and packet.duration > 0 else 1


def _count_back(gaps: list[av.Packet[Any]], previous: int | None, following: int) -> None:
    stamps = []
    stamp = following
    for packet in reversed(gaps):
        stamp -= _step(packet)
        stamps.append(stamp)
    stamps.reverse()
    if previous is not None and stamps[0] <= previous:
        # The durations do not fit between the neighbours: share the gap out evenly.
        room = following - previous
        stamps = [previous + room * (k + 1) // (len(gaps) + 1) for k in range(len(gaps))]
    for packet, value in zip(gaps, stamps, strict=True):
        packet.dts = value


def _count_forward(gaps: list[av.Packet[Any]], previous: int | None) -> None:
    if previous is None:
        _from_presentation_order(gaps)
        return
    stamp = previous
    for packet in gaps:
        stamp += _step(packet)
        packet.dts = stamp if packet.pts is None else min(stamp, packet.pts)


def _from_presentation_order(gaps: list[av.Packet[Any]]) -> None:
    """Decode times for a stream that has none at all (a few frames, all in one run).

    Frames are decoded at the pace they are shown: the k-th decode time is the k-th smallest
    presentation time, moved back just enough that no frame is decoded after it is shown.
    """
    shown = [packet.pts if packet.pts is not None else 0 for packet in gaps]
    paced = sorted(shown)
    delay = max(0, *(pace - pts for pace, pts in zip(paced, shown, strict=True)))
    for packet, pace in zip(gaps, paced, strict=True):
        packet.dts = pace - delay


def video_span(path: Path) -> VideoSpan:
    """Count the video packets of ``path``'s first video stream (none: an empty span)."""
    span = VideoSpan()
    with av.open(str(path)) as container:
        if not container.streams.video:
            return span
        for packet in container.demux(container.streams.video[0]):
            if packet.size:
                span.add(packet)
    return span


def verify_copy(source: Path, written: Path, expected: VideoSpan, what: str) -> None:
    """Refuse ``written`` unless it holds ``expected``'s video packets over the same span.

    Raises
    ------
    InputError
        Naming ``source``, how many frames the copy kept and what to do.
    """
    found = video_span(written)
    tolerance = 0.001 + expected.tick_s + found.tick_s
    if found.packets == expected.packets and abs(found.seconds - expected.seconds) <= tolerance:
        return
    log.debug(
        "copy of %s: %d/%d packets, %.4f/%.4f s",
        source,
        found.packets,
        expected.packets,
        found.seconds,
        expected.seconds,
    )
    raise InputError(
        f"Copying the video of {source} into {what} kept {found.packets} of its "
        f"{expected.packets} frames over {found.seconds:.3f} of {expected.seconds:.3f} s, so "
        "nothing was written; re-encode it to H.264 in MP4 first "
        "(e.g. ffmpeg -i IN -c:v libx264 OUT.mp4)."
    )
