"""RBM composition shared by the RBM-Feedback (3) and RBM-Sampling (4) generators.

The timeline is cut into windows of the model's ``window_steps`` 16th notes from its first
bar line (the shipped model's windows are one bar). In every window the emotion units are
clamped to the timeline's (arousal, valence) at each timestep during ``config.rbm.gibbs_steps``
Gibbs steps (arousal scaled about 0.5 by ``config.rbm.arousal_gain``); a model with memory is
also clamped to the window's context: the windows the sampler wrote before it, presented in the
mode the window's valence asks for, and whether it is the last. *Feedback* continues each
window's chain from the previous window's last sample (the first from noise); *Sampling* starts
every window from noise drawn from the training data's note frequencies. A chain that starts
from noise first runs ``config.rbm.burn_in`` extra steps. With ``config.rbm.mean_field`` a
window's notes are those whose last probability is above one half instead of the last sample.

**The sampler's constraints** (extra log-odds on the note units while the chain runs; every
note is still drawn from the model):

- *register*: notes outside a ``register_span``-semitone window are never proposed;
- *phrase plan* (``cadences``): the deterministic generators' 4-bar phrases
  (:func:`core.generators.form.plan_phrases`); at each phrase end the chain is pulled toward
  the dominant (half cadence) or the dominant then the tonic (authentic cadence), and the final
  bar toward the tonic chord;
- *no collapse* (``candidates``): a window that repeats the previous one note for note, sounds
  fewer than three pitch classes or bare intervals where it sounds three pitches
  (:func:`window_flaws`) is re-drawn from fresh noise, and the least flawed draw is kept.

The model plays around tonic C (its training windows were moved to C); the piece is moved to a
home key chosen by the seed (:func:`home_shift`), so valence chooses major or minor on that
tonic. Post-processing keeps the sampled notes and only does what a player would: a pitch
sounding on both sides of a window seam without a new articulation is one tied note; nothing
is shorter than a 16th or longer than four bars; velocity follows arousal with a metric accent.
With ``config.rbm.arrangement`` (:mod:`.arrange`) the top voice goes to the preset's melody
instrument and the rest to its harmony instrument, a bass is derived from the model's harmony
and the shared percussion plays by arousal; otherwise one track on the harmony instrument.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ..music.dynamics import accented_velocity
from ..music.instruments import preset_programs, programs_for
from ..music.score import TICKS_PER_TIMESTEP, Note, Score, Track
from .arrange import bass_part, drums, shared, split_voices
from .model import RbmModel, load_model, noise_notes, resolve_model, run_chain
from .roll import PLAY, Layout, bar_context, pitch_shares, roll_to_notes, sounds_major

if TYPE_CHECKING:
    from ..config import Config
    from ..timeline import EmotionTimeline

MAX_NOTE_STEPS = 4 * 16  # four 4/4 bars
#: Program roles of :func:`~core.music.instruments.preset_programs` that suit polyphony.
PROGRAM_ROLES = ("harmony", "melody")


def timestep_emotions(timeline: EmotionTimeline) -> NDArray[np.float32]:
    """(arousal, valence) per 16th-note timestep covering ``timeline.duration_s``, (n, 2)."""
    grid = timeline.grid
    total = grid.timestep_count(timeline.duration_s)
    if not timeline.steps or total == 0:
        return np.zeros((total, 2), dtype=np.float32)
    per_step = np.stack([timeline.arousal, timeline.valence], axis=1).astype(np.float32)
    index = np.minimum(np.arange(total) // grid.timesteps_per_step, len(per_step) - 1)
    expanded: NDArray[np.float32] = per_step[index]
    return expanded


#: Log-odds the phrase plan adds to the play units of a cadence chord's tones, and (negative)
#: to the other pitch classes, while the chain samples that stretch.
CHORD_PULL, NON_CHORD_PUSH = 1.5, -3.0
#: Log-odds that keep the chain inside its register window (a note outside is as good as never
#: proposed).
OUTSIDE_REGISTER = -20.0
REGISTER_CENTRE = 59  # MIDI pitch at the centre of the register window, in C
#: Chords of the phrase plan in the model's key (tonic C): tonic in major / minor, dominant.
TONIC_MAJOR, TONIC_MINOR, DOMINANT = (0, 4, 7), (0, 3, 7), (7, 11, 2)
#: Degrees (in C) that belong to one mode only: the minor third, sixth and seventh; the major
#: third, sixth and seventh (the leading tone; a cadence's dominant pulls it back in).
MINOR_DEGREES, MAJOR_DEGREES = (3, 8, 10), (4, 9, 11)
#: Triads a beat may sound: major, minor, diminished and augmented, as pitch-class sets.
TRIADS = tuple(
    frozenset((root + i) % 12 for i in shape)
    for shape in ((0, 4, 7), (0, 3, 7), (0, 3, 6), (0, 4, 8))
    for root in range(12)
)
BAR_STEPS = 16
BEAT_STEPS = 4


@dataclass
class SamplerStats:
    """What the sampler did, for the benchmark: windows whose first draw was flawed (a chain
    stuck on the previous window, too few pitch classes, bare intervals), and how many of
    them a re-draw made flawless."""

    windows: int = 0
    flawed_first: int = 0
    fixed: int = 0
    redraws: int = 0


def final_bar(total_steps: int) -> int:
    """The bar where the final tonic arrives: the last with at least half a bar of music."""
    last = max(0, (total_steps - 1) // BAR_STEPS)
    return last if last == 0 or total_steps - last * BAR_STEPS >= BAR_STEPS // 2 else last - 1


def cadence_chords(
    total_steps: int, valence: NDArray[np.floating[Any]]
) -> list[tuple[int, int, tuple[int, ...]]]:
    """The phrase plan's chord targets ``(first_step, end_step, pitch classes)`` in C.

    Phrases are :func:`core.generators.form.plan_phrases`' (4 bars, a half cadence then an
    authentic one). A half cadence ends on V (the last beat of its last bar); an authentic
    one has V in the second half of the bar before its last and I through its last bar, as a
    chorale reaches its fermata; the piece's last phrase holds I from the final bar's downbeat
    to the end. I is major or minor by the valence where it sounds. (V took whole half bars
    at first: a minor phrase-end bar then read as the dominant's major key.)
    """
    from ..generators.form import AUTHENTIC, plan_phrases

    def tonic(step: int) -> tuple[int, ...]:
        return TONIC_MAJOR if valence[min(step, len(valence) - 1)] > 0.5 else TONIC_MINOR

    if total_steps == 0:
        return []
    targets: list[tuple[int, int, tuple[int, ...]]] = []
    for phrase in plan_phrases(final_bar(total_steps)):
        bar = phrase.last_bar * BAR_STEPS
        end = total_steps if phrase.final else bar + BAR_STEPS
        if phrase.cadence == AUTHENTIC:
            if phrase.last_bar > phrase.first_bar:
                targets.append((bar - BAR_STEPS // 2, bar, DOMINANT))
            targets.append((bar, end, tonic(bar)))
        else:
            targets.append((end - BEAT_STEPS, end, DOMINANT))
    return targets


def constraint_bias(
    layout: Layout,
    total_steps: int,
    targets: list[tuple[int, int, tuple[int, ...]]],
    register_span: int,
    valence: NDArray[np.floating[Any]] | None = None,
    mode_push: float = 0.0,
) -> NDArray[np.float32]:
    """Extra note-unit log-odds per timestep, ``(total_steps, note_units)``: the register
    window, the mode's scale (``mode_push`` against the other mode's degrees where
    ``valence`` asks for major or minor) and the phrase plan's chords (see the module doc)."""
    pitches = layout.lowest_pitch + np.arange(layout.pitch_count)
    bias = np.zeros((total_steps, layout.pitch_count, 2), dtype=np.float32)
    low = REGISTER_CENTRE - register_span // 2
    outside = (pitches < low) | (pitches > low + register_span)
    bias[:, outside, :] = OUTSIDE_REGISTER
    if mode_push and valence is not None:
        major = np.asarray(valence[:total_steps]) > 0.5
        bias[major[:, None] & np.isin(pitches % 12, MINOR_DEGREES)[None, :], PLAY] -= mode_push
        bias[~major[:, None] & np.isin(pitches % 12, MAJOR_DEGREES)[None, :], PLAY] -= mode_push
    for first, end, chord in targets:
        tones = np.isin(pitches % 12, chord)
        bias[first:end, tones & ~outside, PLAY] += CHORD_PULL
        bias[first:end, ~tones & ~outside, PLAY] += NON_CHORD_PUSH
    return bias.reshape(total_steps, layout.note_units)


#: The share of a window's sounding 16ths that may hold a semitone clash before it counts as
#: a flaw: passing notes against held ones are part of the chorale style the model learned.
CLASH_ALLOWANCE = 0.1


def clash_share(play: NDArray[np.bool_], classes: NDArray[np.signedinteger[Any]]) -> float:
    """Share of the sounding steps of ``play`` ``(steps, pitches)`` holding two pitch classes a
    semitone apart (``classes`` gives each pitch row's pitch class)."""
    sounding = 0
    clashing = 0
    for row in play:
        present = set(classes[row].tolist())
        if not present:
            continue
        sounding += 1
        clashing += any((pc + 1) % 12 in present for pc in present)
    return clashing / sounding if sounding else 0.0


def window_flaws(
    window: NDArray[Any],
    previous: NDArray[Any] | None,
    lowest_pitch: int,
    major: bool | None = None,
) -> float:
    """How stuck, bare or off-mode one sampled window ``(steps, pitches, 2)`` is (0 = none).

    Adds 4 when it repeats the previous window note for note, 2 when it sounds fewer than
    three pitch classes, twice the share of its beats that sound two or more pitches without
    a full triad (bare fifths and octaves; the derived bass would make them three-note beats),
    1 when a per-bar key analysis hears the other mode than ``major`` asks for, and four times
    the share of its 16ths with a semitone clash above :data:`CLASH_ALLOWANCE` (the model's
    passing notes rubbing against held ones; the chorales clash on 2-11% of 16ths).
    """
    flaws = 0.0
    if previous is not None and np.array_equal(window, previous) and window.any():
        flaws += 4.0
    play = window[..., PLAY].astype(bool)
    classes = (lowest_pitch + np.arange(play.shape[1])) % 12
    if len(set(classes[play.any(axis=0)])) < 3:
        flaws += 2.0
    flaws += 4.0 * max(0.0, clash_share(play, classes) - CLASH_ALLOWANCE)
    full = judged = 0
    for step in range(0, len(play), BEAT_STEPS):
        rows = np.flatnonzero(play[step])
        if len(rows) < 2:
            continue
        judged += 1
        present = frozenset(classes[rows])
        full += any(triad <= present for triad in TRIADS)
    if judged:
        flaws += 2.0 * (1 - full / judged)
    if major is not None:
        heard = sounds_major(pitch_shares(window), lowest_pitch)
        flaws += heard is not None and heard != major
    return flaws


def sample_roll(
    model: RbmModel,
    emotions: NDArray[Any],
    gibbs_steps: int,
    seed: int,
    *,
    feedback: bool,
    burn_in: int = 0,
    mean_field: bool = False,
    arousal_gain: float = 1.0,
    candidates: int = 1,
    cadences: bool = False,
    register_span: int | None = None,
    mode_push: float = 0.0,
    stats: SamplerStats | None = None,
) -> NDArray[np.uint8]:
    """Sampled note units for every timestep of ``emotions``, shape ``(n, pitches, 2)``.

    Chains that start from noise run ``burn_in`` steps more than ``gibbs_steps``. With
    ``mean_field`` a window's notes are those whose last probability is above one half; a
    Feedback chain still continues from the previous chain's last *sample* (its state), not
    from that read-out, which would pull it into a fixed point (bare fifths, bar after bar).
    The model is clamped to arousal ``0.5 + arousal_gain * (arousal - 0.5)``. A model with
    memory is also clamped to each window's context: the windows written before it (in the
    mode its valence asks for) and whether it is the last. With ``candidates`` > 1 a flawed
    window (:func:`window_flaws`) is re-drawn from fresh noise up to that many times in all
    and the least flawed draw kept; ``cadences`` steers the phrase plan's cadence chords
    (:func:`cadence_chords`); ``register_span`` keeps the notes inside a register window;
    ``mode_push`` lowers the log-odds of the other mode's degrees (:func:`constraint_bias`).
    """
    layout = model.layout
    emotions = np.array(emotions, dtype=np.float32)
    total = len(emotions)
    targets = cadence_chords(total, emotions[:, 1]) if cadences else []
    bias = (
        constraint_bias(layout, total, targets, register_span or 127, emotions[:, 1], mode_push)
        if cadences or register_span or mode_push
        else None
    )
    emotions[:, 0] = 0.5 + arousal_gain * (emotions[:, 0] - 0.5)
    size = layout.window_steps
    shape = (size, layout.pitch_count, 2)
    last_window = (final_bar(total) * BAR_STEPS) // size
    rng = np.random.default_rng(seed)
    windows: list[NDArray[np.uint8]] = []
    state: NDArray[np.uint8] | None = None
    for index, start in enumerate(range(0, total, size)):
        chunk = _padded(emotions[start : start + size], size)
        window_bias = None if bias is None else _padded(bias[start : start + size], size)
        major = bool(chunk[:, 1].mean() > 0.5)
        context = bar_context(
            [w.reshape(shape) for w in windows[::-1][: layout.history_bars]],
            index >= last_window,
            layout,
            major,
        )
        previous = windows[-1].reshape(shape) if windows else None
        best: tuple[float, NDArray[np.uint8], NDArray[np.uint8]] | None = None
        for attempt in range(max(1, candidates)):
            if feedback and state is not None and attempt == 0:
                initial, steps = state, gibbs_steps
            else:
                initial, steps = noise_notes(model, rng), gibbs_steps + max(0, burn_in)
            sample, probabilities = run_chain(
                model, initial, chunk, steps, rng, context=context, note_bias=window_bias
            )
            notes = (probabilities > 0.5).astype(np.uint8) if mean_field else sample
            flaws = window_flaws(notes.reshape(shape), previous, layout.lowest_pitch, major)
            if best is None or flaws < best[0]:
                best = (flaws, notes, sample)
            if attempt == 0 and stats is not None:
                stats.windows += 1
                stats.flawed_first += flaws > 0
            if flaws == 0 or attempt + 1 >= candidates:
                break
            if stats is not None:
                stats.redraws += 1
        assert best is not None
        if stats is not None and attempt > 0 and best[0] == 0:
            stats.fixed += 1
        windows.append(best[1])
        state = best[2]
    if not windows:
        return np.zeros((0, layout.pitch_count, 2), dtype=np.uint8)
    notes = np.concatenate(windows)[:total]
    return notes.reshape(len(notes), layout.pitch_count, 2)


def _padded(chunk: NDArray[Any], size: int) -> NDArray[Any]:
    """``chunk`` with its last row held to ``size`` rows (the last window of a piece)."""
    if len(chunk) == size:
        return chunk
    return np.vstack([chunk, np.repeat(chunk[-1:], size - len(chunk), axis=0)])


def home_shift(seed: int) -> int:
    """Semitones (-5..+6) from the model's C to the piece's home key, chosen by the seed.

    Seeds step round the circle of fifths (C, G, D, ...), so twelve consecutive seeds give
    twelve keys; the shift is the smallest one, so the register moves as little as possible.
    """
    home = (7 * seed) % 12
    return (home + 5) % 12 - 5


def roll_notes(
    roll: NDArray[Any],
    emotions: NDArray[np.floating[Any]],
    lowest_pitch: int,
    length_ticks: int,
    shift: int = 0,
) -> list[Note]:
    """Notes of a sampled roll moved by ``shift`` semitones, post-processed as described in
    the module doc."""
    notes = []
    for start, length, pitch in roll_to_notes(roll, lowest_pitch):
        start_tick = start * TICKS_PER_TIMESTEP
        duration = min(length, MAX_NOTE_STEPS) * TICKS_PER_TIMESTEP
        duration = min(duration, length_ticks - start_tick)
        if duration < TICKS_PER_TIMESTEP:  # cut by the end of the video: drop, don't blip
            continue
        velocity = accented_velocity(float(emotions[start, 0]), "melody", start_tick)
        notes.append(Note(start_tick, duration, pitch + shift, velocity))
    return notes


def roll_to_track(
    roll: NDArray[Any],
    emotions: NDArray[np.floating[Any]],
    lowest_pitch: int,
    program: int,
    length_ticks: int,
) -> Track:
    """Notes of a sampled roll as one track (no arrangement)."""
    notes = roll_notes(roll, emotions, lowest_pitch, length_ticks)
    return Track(name="RBM", program=program, channel=0, notes=notes)


def preset_program(preset: str) -> int:
    """General MIDI program for the RBM's polyphonic part under an instrument preset."""
    programs = preset_programs(preset)
    return next((programs[r] for r in PROGRAM_ROLES if r in programs), 0)


def compose_rbm(
    timeline: EmotionTimeline,
    config: Config,
    seed: int,
    *,
    feedback: bool,
    stats: SamplerStats | None = None,
) -> Score:
    """Compose a score for ``timeline`` with the resolved RBM model.

    Parameters
    ----------
    timeline
        Arousal and valence per step; its grid gives the tempo.
    config
        ``config.rbm`` selects the model and how it is sampled and arranged,
        ``config.music`` the instruments.
    seed
        Same seed, timeline and model -> identical score. The seed also picks the key.
    feedback
        Chain windows (RBM-Feedback) instead of sampling each from noise (RBM-Sampling).
    stats
        Filled with the sampler's counts (for the benchmark).
    """
    path, _ = resolve_model(config)
    model = load_model(path)
    emotions = timestep_emotions(timeline)
    rbm = config.rbm
    roll = sample_roll(
        model,
        emotions,
        rbm.gibbs_steps,
        seed,
        feedback=feedback,
        burn_in=rbm.burn_in,
        mean_field=rbm.mean_field,
        arousal_gain=rbm.arousal_gain,
        candidates=rbm.candidates,
        cadences=rbm.cadences,
        register_span=rbm.register_span,
        mode_push=rbm.mode_push,
        stats=stats,
    )
    bpm = timeline.grid.bpm
    length_ticks = timeline.grid.length_ticks(timeline.duration_s)
    lowest = model.layout.lowest_pitch
    if not rbm.arrangement:
        track = roll_to_track(
            roll, emotions, lowest, preset_program(config.music.preset), length_ticks
        )
        return Score(bpm=bpm, tracks=[track], length_ticks=length_ticks)
    shift = home_shift(seed)
    notes = roll_notes(roll, emotions, lowest, length_ticks, shift)
    melody, harmony = split_voices(notes, roll, lowest + shift)
    parts = {"melody": melody, "harmony": harmony}
    final_step = final_bar(len(roll)) * BAR_STEPS
    parts["bass"] = bass_part(roll, lowest + shift, emotions[:, 0], final_step, shift % 12)
    programs = programs_for(config.music.preset, config.music.programs)
    if timeline.steps and length_ticks > 0:
        parts["percussion"] = drums(timeline, seed, programs["percussion"])
    score: Score = shared("assemble_score")(
        bpm, length_ticks, {r: n for r, n in parts.items() if n}, programs
    )
    return score
