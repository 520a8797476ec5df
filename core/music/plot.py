"""Piano-roll pictures of scores and MIDI files (matplotlib, no display needed)."""

from __future__ import annotations

import os
from pathlib import Path

from ..files import atomic_path
from .midi import read_midi
from .score import Score

#: One colour per track, cycling (matplotlib's tab10).
TRACK_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple",
                 "tab:brown", "tab:pink", "tab:olive", "tab:cyan", "tab:gray")  # fmt: skip


def plot_piano_roll(
    score_or_midi_path: Score | str | os.PathLike[str], path: str | os.PathLike[str]
) -> None:
    """Draw a piano roll (time in seconds against MIDI pitch, one colour per track) as PNG.

    Parameters
    ----------
    score_or_midi_path
        A :class:`Score`, or the path of a MIDI file to read.
    path
        PNG to write, atomically.

    Raises
    ------
    InputError
        If a MIDI path is missing or unreadable.
    """
    # Figure + the Agg canvas directly: no pyplot, so no global backend is switched for the
    # host application (Blender) and nothing tries to open a window.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    score = (
        score_or_midi_path
        if isinstance(score_or_midi_path, Score)
        else read_midi(score_or_midi_path)
    )
    figure = Figure(figsize=(12, 5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    legend = []
    for index, track in enumerate(score.tracks):
        colour = TRACK_COLOURS[index % len(TRACK_COLOURS)]
        bars: dict[int, list[tuple[float, float]]] = {}
        for note in track.notes:
            start = score.seconds(note.start)
            bars.setdefault(note.pitch, []).append((start, score.seconds(note.end) - start))
        for pitch, spans in bars.items():
            # Earlier tracks (melody, figuration) on top of the accompaniment.
            axes.broken_barh(
                spans, (pitch - 0.4, 0.8), facecolors=colour, linewidth=0, zorder=10 - index
            )
        legend.append(Patch(color=colour, label=f"{track.name} (program {track.program})"))
    axes.set_xlim(0, max(score.duration_s, 1e-3))
    pitches = [n.pitch for t in score.tracks for n in t.notes]
    if pitches:
        axes.set_ylim(min(pitches) - 2, max(pitches) + 2)
    axes.set_xlabel("time (s)")
    axes.set_ylabel("MIDI pitch")
    axes.set_title(f"Piano roll — {score.bpm:g} bpm, {score.duration_s:.1f} s")
    axes.grid(True, axis="x", alpha=0.3)
    if legend:
        axes.legend(handles=legend, loc="upper right", fontsize="small")
    figure.tight_layout()
    with atomic_path(Path(path), suffix=".png") as tmp:
        figure.savefig(tmp, format="png")
