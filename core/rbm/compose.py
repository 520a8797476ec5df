"""RBM composition shared by the RBM-Feedback (3) and RBM-Sampling (4) generators.

The timeline is cut into windows of the model's ``window_steps`` 16th notes from its first
bar line (the shipped model's windows are one bar, so every window has the emotion of its bar).
In every window the emotion units are clamped to the timeline's (arousal, valence) at each
timestep during ``config.rbm.gibbs_steps`` Gibbs steps (arousal scaled about 0.5 by
``config.rbm.arousal_gain``). *Feedback* continues each window's chain from the previous
window's last sample (the first from noise); *Sampling* starts every window from noise drawn
from the training data's note frequencies. A chain that starts from noise first
runs ``config.rbm.burn_in`` extra steps (the noise holds far more onsets than music). With
``config.rbm.mean_field`` a window's notes are those whose last probability is above one half
instead of the last sample (independent per-unit noise made most notes a 16th long and
doubled the semitone clashes); the Feedback chain itself continues from its last sample.

Post-processing keeps the sampled notes and only does what a player would: a pitch sounding on
both sides of a window seam without a new articulation is one tied note; nothing is shorter
than a 16th or longer than four bars; velocity follows arousal with a metric accent; the
program comes from the instrument preset. No note is added, moved or removed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..music.dynamics import accented_velocity
from ..music.instruments import preset_programs
from ..music.score import TICKS_PER_TIMESTEP, Note, Score, Track
from .model import RbmModel, load_model, noise_notes, resolve_model, run_chain
from .roll import roll_to_notes

if TYPE_CHECKING:
    from ..config import Config
    from ..timeline import EmotionTimeline

MAX_NOTE_STEPS = 4 * 16  # four 4/4 bars
#: Program roles of :func:`~core.music.instruments.preset_programs` that suit polyphony.
PROGRAM_ROLES = ("harmony", "melody")


def timestep_emotions(timeline: EmotionTimeline) -> np.ndarray:
    """(arousal, valence) per 16th-note timestep covering ``timeline.duration_s``, (n, 2)."""
    grid = timeline.grid
    total = grid.timestep_count(timeline.duration_s)
    if not timeline.steps or total == 0:
        return np.zeros((total, 2), dtype=np.float32)
    per_step = np.stack([timeline.arousal, timeline.valence], axis=1).astype(np.float32)
    index = np.minimum(np.arange(total) // grid.timesteps_per_step, len(per_step) - 1)
    return per_step[index]


def sample_roll(
    model: RbmModel,
    emotions: np.ndarray,
    gibbs_steps: int,
    seed: int,
    *,
    feedback: bool,
    burn_in: int = 0,
    mean_field: bool = False,
    arousal_gain: float = 1.0,
) -> np.ndarray:
    """Sampled note units for every timestep of ``emotions``, shape ``(n, pitches, 2)``.

    Chains that start from noise run ``burn_in`` steps more than ``gibbs_steps``. With
    ``mean_field`` a window's notes are those whose last probability is above one half; a
    Feedback chain still continues from the previous chain's last *sample* (its state), not
    from that read-out, which would pull it into a fixed point (bare fifths, bar after bar).
    The model is clamped to arousal ``0.5 + arousal_gain * (arousal - 0.5)``.
    """
    layout = model.layout
    emotions = np.array(emotions, dtype=np.float32)
    emotions[:, 0] = 0.5 + arousal_gain * (emotions[:, 0] - 0.5)
    size = layout.window_steps
    rng = np.random.default_rng(seed)
    windows = []
    previous: np.ndarray | None = None
    for start in range(0, len(emotions), size):
        chunk = emotions[start : start + size]
        if len(chunk) < size:  # the last window: hold the final emotion to the window's end
            chunk = np.vstack([chunk, np.repeat(chunk[-1:], size - len(chunk), axis=0)])
        if feedback and previous is not None:
            initial, steps = previous, gibbs_steps
        else:
            initial, steps = noise_notes(model, rng), gibbs_steps + max(0, burn_in)
        previous, probabilities = run_chain(model, initial, chunk, steps, rng)
        windows.append((probabilities > 0.5).astype(np.uint8) if mean_field else previous)
    if not windows:
        return np.zeros((0, layout.pitch_count, 2), dtype=np.uint8)
    notes = np.concatenate(windows)[: len(emotions)]
    return notes.reshape(len(notes), layout.pitch_count, 2)


def roll_to_track(
    roll: np.ndarray, emotions: np.ndarray, lowest_pitch: int, program: int, length_ticks: int
) -> Track:
    """Notes of a sampled roll as one track, post-processed as described in the module doc."""
    notes = []
    for start, length, pitch in roll_to_notes(roll, lowest_pitch):
        start_tick = start * TICKS_PER_TIMESTEP
        duration = min(length, MAX_NOTE_STEPS) * TICKS_PER_TIMESTEP
        duration = min(duration, length_ticks - start_tick)
        if duration < TICKS_PER_TIMESTEP:  # cut by the end of the video: drop, don't blip
            continue
        velocity = accented_velocity(float(emotions[start, 0]), "melody", start_tick)
        notes.append(Note(start=start_tick, duration=duration, pitch=pitch, velocity=velocity))
    return Track(name="RBM", program=program, channel=0, notes=notes)


def preset_program(preset: str) -> int:
    """General MIDI program for the RBM's polyphonic part under an instrument preset."""
    programs = preset_programs(preset)
    return next((programs[r] for r in PROGRAM_ROLES if r in programs), 0)


def compose_rbm(timeline: EmotionTimeline, config: Config, seed: int, *, feedback: bool) -> Score:
    """Compose a score for ``timeline`` with the resolved RBM model.

    Parameters
    ----------
    timeline
        Arousal and valence per step; its grid gives the tempo.
    config
        ``config.rbm`` selects the model and Gibbs steps, ``config.music.preset`` the program.
    seed
        Same seed, timeline and model -> identical score.
    feedback
        Chain windows (RBM-Feedback) instead of sampling each from noise (RBM-Sampling).
    """
    path, _ = resolve_model(config)
    model = load_model(path)
    emotions = timestep_emotions(timeline)
    roll = sample_roll(
        model,
        emotions,
        config.rbm.gibbs_steps,
        seed,
        feedback=feedback,
        burn_in=config.rbm.burn_in,
        mean_field=config.rbm.mean_field,
        arousal_gain=config.rbm.arousal_gain,
    )
    bpm = timeline.grid.bpm
    length_ticks = timeline.grid.length_ticks(timeline.duration_s)
    track = roll_to_track(
        roll,
        emotions,
        model.layout.lowest_pitch,
        preset_program(config.music.preset),
        length_ticks,
    )
    return Score(bpm=bpm, tracks=[track], length_ticks=length_ticks)
