"""The harmonic plan shared by the Scales and Chords generators.

A *harmonic plan* cuts the piece into segments, each with one chord in one key and the
emotion of its bar. Chords follow the phrases of :mod:`.form`: a phrase opens on the tonic,
walks one of its valence band's progressions and closes with a cadence (predominant →
dominant for a half cadence; dominant → tonic on the next downbeat for an authentic one). In
a minor key the cadential dominant is major, with the raised leading tone, and the tune
switches to harmonic minor under it. A big jump of valence across 0.5 moves to the relative
key. Every cut of the video becomes a chord change snapped to the nearest beat, so no chord
lasts less than a beat; a cut with a big change of emotion is a *hit*: a forte chord and a
cymbal.

The voicings, pad and bass built on the plan live in :mod:`.accompaniment`; the frame that
puts a generator's lead part on them, in :mod:`.frame`.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace

import numpy as np

from ..errors import InputError
from ..music.analysis import estimate_key
from ..music.dynamics import (
    CUT_ACCENT,
    HIT_ACCENT,
    accented_velocity,
    clamp_velocity,
    phrase_swell,
)
from ..timeline import EmotionTimeline
from .form import AUTHENTIC, Phrase, plan_phrases
from .mapping import (
    AROUSAL_TABLE,
    DOMINANT_SCALES,
    HIT_JUMP,
    MODES,
    MODULATION_JUMP,
    ArousalBand,
    ValenceBand,
    arousal_band,
    emotion_jump,
    valence_band,
)
from .metre import BAR, BEAT, HALF_BAR

#: Modes whose bars hold the tonic on the downbeat (see :func:`_bar_formulas`).
MODAL_TONIC_DOWNBEATS = frozenset({"lydian", "mixolydian", "dorian", "phrygian"})
#: Bright modes whose cadences may take V of V (the major II, with the raised 4th) before the
#: dominant, and the arousal from which they do: calm music keeps its plain predominant.
SECONDARY_DOMINANT_MODES = frozenset({"ionian"})
SECONDARY_DOMINANT_AROUSAL = 0.4
#: Where a phrase may open on ♭VI (see :func:`_opens_on_mediant`): driven music in a major
#: key, in one phrase of every MEDIANT_EVERY.
MEDIANT_AROUSAL = 0.7
MEDIANT_EVERY = 3
#: Rise of arousal (within RISE_BARS bars ahead) that marks a bar as still building.
RISE = 0.05
RISE_BARS = 4


@dataclass(frozen=True)
class Chord:
    """Pitch classes of a chord: a triad, plus a fourth tone when it has one (the seventh of
    a half-diminished chord, the colour tone of a final tonic after a cut)."""

    root: int
    third: int
    fifth: int
    added: int | None = None

    @property
    def pitch_classes(self) -> tuple[int, ...]:
        """Root, third, fifth (and the added tone) as pitch classes 0-11."""
        tones = (self.root, self.third, self.fifth)
        return tones if self.added is None else (*tones, self.added)


@dataclass(frozen=True)
class Segment:
    """A stretch of the piece with one chord, one key and one emotion."""

    start: int
    end: int
    arousal: float
    valence: float
    #: Tonic pitch class of the key, and the pitch classes the tune may use here.
    tonic: int
    scale: tuple[int, ...]
    chord: Chord
    #: The phrase this segment belongs to, and its span in ticks (for the swell).
    phrase: Phrase
    phrase_span: tuple[int, int]
    #: The segment starts at a cut of the video; a hit is a cut with a big change of emotion.
    at_cut: bool = False
    hit: bool = False
    #: "dominant" or "tonic" when the segment is part of the phrase's cadence.
    cadence_role: str = ""
    #: The bass holds the tonic under the chord (see :func:`holds_pedal`); None leaves it to
    #: that rule, False is the plan's veto where the drone would be heard as a close.
    pedal: bool | None = None
    #: The pad stands on the chord's root (where no bass plays, its lowest voice is the bass).
    root_position: bool = False

    @property
    def band(self) -> ArousalBand:
        """The arousal row of the mapping table for this segment."""
        return arousal_band(self.arousal)

    @property
    def duration(self) -> int:
        """Length in ticks."""
        return self.end - self.start

    @property
    def final(self) -> bool:
        """The last tonic of the piece, held to its end."""
        return self.phrase.final and self.cadence_role == "tonic"

    def velocity(self, role: str, tick: int) -> int:
        """Velocity for ``role`` at ``tick``: arousal, metre, the phrase's swell, cut accents."""
        first, last = self.phrase_span
        velocity = accented_velocity(self.arousal, role, tick) + phrase_swell(
            (tick - first) / max(1, last - first)
        )
        if tick == self.start and self.at_cut:
            velocity += HIT_ACCENT if self.hit and role == "harmony" else CUT_ACCENT
        return clamp_velocity(velocity)


@dataclass(frozen=True)
class HarmonicPlan:
    """The segments of a piece, covering ``[0, length_ticks)`` without gaps."""

    length_ticks: int
    segments: tuple[Segment, ...]
    #: Ticks of hit points (cuts with a big change of emotion).
    hits: tuple[int, ...] = ()


def triad(tonic: int, mode: str, degree: int) -> Chord:
    """The chord on ``degree`` (0 = tonic), stacked in thirds inside ``mode`` on ``tonic``.

    A bare diminished triad has no centre of its own (each of its notes can be heard as a
    leading tone), so it gets the mode's seventh on top: the half-diminished seventh that
    minor keys use, which still sounds dark but clearly belongs to its key.
    """
    intervals = MODES[mode]
    pcs = [(tonic + intervals[(degree + 2 * k) % len(intervals)]) % 12 for k in range(4)]
    diminished = (pcs[1] - pcs[0]) % 12 == 3 and (pcs[2] - pcs[0]) % 12 == 6
    return Chord(pcs[0], pcs[1], pcs[2], pcs[3] if diminished else None)


def dominant(tonic: int) -> Chord:
    """The major triad on the fifth degree: with its leading tone, whatever the mode."""
    return Chord((tonic + 7) % 12, (tonic + 11) % 12, (tonic + 2) % 12)


def secondary_dominant(tonic: int) -> Chord:
    """V of V: the major triad on the second degree, whose third is the raised 4th (F♯ in C
    major) leading up into the dominant."""
    return Chord((tonic + 2) % 12, (tonic + 6) % 12, (tonic + 9) % 12)


def flat_submediant(tonic: int) -> Chord:
    """♭VI of a major key, borrowed from the parallel minor (A♭ major in C): a chromatic
    mediant, a major triad a third below the tonic that keeps the tonic's root as a common
    tone while the other two voices move by a semitone (E → E♭, G → A♭)."""
    return Chord((tonic + 8) % 12, tonic % 12, (tonic + 3) % 12)


def coloured(chord: Chord) -> Chord:
    """``chord`` with an added tone that rubs against none of its own (a film-score tonic that
    still rests): the ninth over a major triad, the eleventh over a minor one, where the ninth
    would sit a semitone from the minor third."""
    major = (chord.third - chord.root) % 12 == 4
    return replace(chord, added=(chord.root + (2 if major else 5)) % 12)


def is_major(chord: Chord) -> bool:
    """Whether ``chord`` is a major triad (with or without an added tone)."""
    return (chord.third - chord.root) % 12 == 4 and (chord.fifth - chord.root) % 12 == 7


def holds_pedal(chord: Chord, tonic: int, valence: float, cadence_role: str = "") -> bool:
    """Whether the bass holds the tonic under ``chord``: in a pedal mode, outside cadences,
    under a chord with no tone a semitone from the tonic."""
    if not valence_band(valence).pedal or cadence_role:
        return False
    return all((pc - tonic) % 12 not in (1, 11) for pc in chord.pitch_classes)


def sounds_like_close(before: Chord, after: Chord, bass_after: Collection[int]) -> bool:
    """Whether ``before`` → ``after`` is heard as dominant → tonic in some key: a major chord
    followed by a bass (any of ``bass_after``, the pitch classes that may sound lowest) a
    fifth below its root. On a downbeat that is an authentic close, whatever key the ear
    settles on (lydian's II after V, over the tonic pedal, is V–I in the home key)."""
    return is_major(before) and (before.root + 5) % 12 in bass_after


def suspensions(root: int, scale: Collection[int]) -> list[Chord]:
    """The suspended chords on ``root`` inside ``scale``: the sus4 (root, fourth, fifth) and
    the sus2, those whose tones the mode has. The suspended tone (kept in the ``third`` slot)
    resolves by step onto a third."""
    root %= 12
    if (root + 7) % 12 not in scale:
        return []
    return [
        Chord(root, (root + step) % 12, (root + 7) % 12)
        for step in (5, 2)
        if (root + step) % 12 in scale
    ]


def resolves_into(sus: Chord, chord: Chord) -> bool:
    """Whether the suspended tone of ``sus`` falls by a step onto a tone of ``chord`` (or is
    held into it as a common tone)."""
    return any((sus.third - pc) % 12 in (0, 1, 2) for pc in chord.pitch_classes)


def is_suspended(chord: Chord) -> bool:
    """Whether ``chord`` is a sus4 or sus2 chord (see :func:`suspended`)."""
    return (chord.third - chord.root) % 12 in (2, 5) and (chord.fifth - chord.root) % 12 == 7


def piece_length_ticks(timeline: EmotionTimeline) -> int:
    """Ticks covering exactly the timeline's duration at its grid's tempo."""
    if not timeline.steps or timeline.duration_s <= 0:
        raise InputError(
            "The emotion timeline is empty; give a clip or emotion file at least one step long."
        )
    return timeline.grid.length_ticks(timeline.duration_s)


def final_bar_index(length_ticks: int, fade_ticks: int = 0) -> int:
    """The bar on whose downbeat the final tonic arrives: the last one with at least half a
    bar left to ring (a shorter tail rings on from the bar before) and, when the piece fades
    out over its last ``fade_ticks``, a whole bar before the fade begins, so the ending is
    heard settled before it dies away (where the piece is long enough)."""
    last = (length_ticks - 1) // BAR
    last = last if last == 0 or length_ticks - last * BAR >= HALF_BAR else last - 1
    before_fade = (length_ticks - fade_ticks - BAR) // BAR
    return max(0, min(last, before_fade)) if fade_ticks and before_fade >= 1 else last


def rising_bars(arousal: Sequence[float]) -> set[int]:
    """Bars from which arousal still rises by :data:`RISE` within :data:`RISE_BARS` bars: the
    tension is building there, and no phrase closes."""
    last = len(arousal) - 1
    return {
        bar
        for bar in range(len(arousal))
        if max(arousal[min(last, bar + k)] for k in range(1, RISE_BARS + 1)) - arousal[bar] >= RISE
    }


@dataclass(frozen=True)
class _Bar:
    """The emotion, bands and key of one bar."""

    arousal: float
    valence: float
    colour: ValenceBand
    pace: ArousalBand
    tonic: int
    #: Chord changes per bar (1 or 2): the arousal band's, or the generator's own pacing.
    chords_per_bar: int = 1
    #: Arousal still rises ahead (see :func:`rising_bars`): no tonic arrives on a phrase's
    #: downbeat after a dominant, which would be heard as a close.
    rising: bool = False


def _bars(timeline: EmotionTimeline, bar_count: int, home: int) -> list[_Bar]:
    """Each bar's emotion (its first step's), bands and key.

    The home key has the mode most of the piece is in (a composer sees the whole scene before
    scoring it); a piece that opens in the other mode opens in home's relative key. A jump of
    valence across 0.5 by at least :data:`MODULATION_JUMP` moves between home and its relative
    (the relative minor of a bright home, the relative major of a dark one), so the music never
    wanders further than one step from home.
    """
    grid, count = timeline.grid, len(timeline.steps)
    steps = [timeline.steps[grid.step_of_tick(i * BAR, count)] for i in range(bar_count)]
    colours = [valence_band(step.valence) for step in steps]
    bright_home = 2 * sum(c.bright for c in colours) >= len(colours)
    relative = (home + (9 if bright_home else 3)) % 12
    tonic = home if colours[0].bright == bright_home else relative
    bars: list[_Bar] = []
    for step, colour in zip(steps, colours, strict=True):
        crossing = bool(bars) and colour.bright != bars[-1].colour.bright
        if crossing and abs(step.valence - bars[-1].valence) >= MODULATION_JUMP:
            tonic = relative if tonic == home else home
        bars.append(_Bar(step.arousal, step.valence, colour, arousal_band(step.arousal), tonic))
    return bars


def _bar_formulas(bar: int, phrase: Phrase, info: _Bar) -> list[list[tuple[int, str]]]:
    """Candidate chord slots of a bar, best first, each as (offset in ticks, function): "T"
    tonic, "D" cadential dominant, "P" predominant, "h" half-cadence dominant, "V" V of V, "L" ♭VI
    (a chromatic mediant), "x" the next chord of the progression.

    A dark key's major dominant takes only the bar's last beat, the harmonic rhythm of a
    hymn's cadence: held longer it would make the whole bar sound major. A phrase's opening
    bar may first try a chromatic mediant turning back to the tonic (see :func:`_opens_on_mediant`).
    """
    plain = _plain_formulas(bar, phrase, info)
    if not _opens_on_mediant(bar, phrase, info):
        return plain
    return [[(0, "L"), (HALF_BAR, "T")], [(0, "L"), (BEAT, "T")], *plain]


def _plain_formulas(bar: int, phrase: Phrase, info: _Bar) -> list[list[tuple[int, str]]]:
    """The formulas of :func:`_bar_formulas` built from the band's own chords and V of V."""
    first, last = phrase.first_bar, phrase.last_bar
    # A phrase after a half cadence in a rising section opens on the predominant, not the
    # tonic (V - IV, or V - iv in a dark key: the mode's own colour), so the build runs on
    # instead of resolving home.
    opening = ("d" if info.rising and bar else "T") if bar == first else "x"
    late = 3 * BEAT
    if bar == last and phrase.cadence == AUTHENTIC:
        if last > first or phrase.final:
            return [[(0, "T")]]
        return [[(0, "D"), (HALF_BAR, "T")]]
    if bar == last:  # half cadence
        lead_in = "P" if bar > first else "T"
        if info.colour.bright:
            applied = (
                [[(0, lead_in), (BEAT, "V"), (HALF_BAR, "h")]]
                if _takes_applied_dominant(phrase, info)
                else []
            )
            return [*applied, [(0, lead_in), (HALF_BAR, "h")], [(0, "T"), (HALF_BAR, "h")]]
        return [[(0, lead_in), (late, "h")], [(0, "T"), (late, "h")], [(0, lead_in)]]
    if bar == last - 1 and phrase.cadence == AUTHENTIC:
        if info.colour.bright and info.chords_per_bar == 1 and bar > first:
            return [[(0, "D")], [(0, opening), (HALF_BAR, "D")]]
        if info.colour.bright:
            return [[(0, opening), (HALF_BAR, "D")], [(0, "P"), (HALF_BAR, "D")]]
        lead_in = "P" if bar > first else opening  # iv-V-i: the predominant keeps it minor
        return [[(0, lead_in), (late, "D")], [(0, opening), (late, "D")], [(0, opening)]]
    pulsing = info.chords_per_bar == 2 or info.pace.pad_pulse_16ths
    if info.colour.mode in MODAL_TONIC_DOWNBEATS and opening == "x" and pulsing:
        # A mode other than major or minor is heard as its own tonic only with the tonic's
        # weight: where the harmony moves twice a bar or the pad pulses (a change on the half
        # bar adds no onsets to a busy texture), the tonic on the downbeat and the
        # mode's colour chord on the half bar (lydian's II, mixolydian's bVII, dorian's ii),
        # never a bar of colour chords alone, which a key finder hears as a key of its own.
        return [[(0, "T"), (HALF_BAR, "x")], [(0, opening), (HALF_BAR, "x")], [(0, opening)]]
    if info.chords_per_bar == 2:
        return [[(0, opening), (HALF_BAR, "x")], [(0, opening)]]
    return [[(0, opening)]]


def _takes_applied_dominant(phrase: Phrase, info: _Bar) -> bool:
    """Whether a half cadence closing ``phrase`` goes through V of V (IV - II - V: a beat of
    the predominant, a beat of II whose raised 4th leads up into the dominant's root; held
    half a bar, II - V makes a key finder hear the dominant's key). In a major key only
    (lydian has II of its own; in mixolydian, tried with II held half a bar, a key finder
    named the dominant's key in half the modal passages), where the music has some drive
    (calm music stays plain), in a phrase of more than one bar and every other period, the
    key drawn by the seed deciding which, so not every question is asked the same way."""
    return (
        info.colour.mode in SECONDARY_DOMINANT_MODES
        and info.arousal >= SECONDARY_DOMINANT_AROUSAL
        and phrase.first_bar < phrase.last_bar
        and (phrase.index // 2 + info.tonic) % 2 == 1
    )


def _opens_on_mediant(bar: int, phrase: Phrase, info: _Bar) -> bool:
    """Whether ``phrase`` opens on ♭VI turning back to the tonic (the film-score lift,
    I - ♭VI - I, after the previous phrase's close): in driven music in a major key (arousal
    at least :data:`MEDIANT_AROUSAL`), in one phrase of every :data:`MEDIANT_EVERY`, the key
    drawn by the seed deciding which. Never the piece's first phrase (the key is not yet
    heard), a rising phrase's predominant opening or a one-bar phrase. Lydian keeps its own
    colour (II over the pedal): under its raised-4th tune ♭VI tipped 3 bars in 7 to minor.
    III, the other major mediant, is heard as the relative minor's dominant (a key finder
    names that minor key), so it is left out."""
    return (
        bar == phrase.first_bar
        and bar > 0
        and not info.rising
        and phrase.last_bar > bar
        and info.arousal >= MEDIANT_AROUSAL
        and info.colour.mode == "ionian"
        and (phrase.index + info.tonic) % MEDIANT_EVERY == 0
    )


def sounds_in_mode(
    chords: Sequence[tuple[Chord, int]],
    scale: Sequence[int],
    bright: bool,
    drone: int | None = None,
) -> bool:
    """Whether chords held for the given ticks, with a tune in ``scale``, sound major (or
    minor) by a Krumhansl–Kessler key estimate, even when the tune dwells on the chords'
    thirds: the test every bar of the plan must pass so that the mode is heard bar by bar.
    ``drone`` is the pitch class a bass pedal holds under chords without a semitone from it."""
    histogram = np.zeros(12)
    for chord, ticks in chords:
        histogram[list(chord.pitch_classes)] += ticks / BEAT
        histogram[chord.third] += 0.5 * ticks / BEAT
        if drone is not None and all(
            (pc - drone) % 12 not in (1, 11) for pc in chord.pitch_classes
        ):
            histogram[drone] += ticks / BEAT
    histogram[list(scale)] += 0.3
    return (estimate_key(histogram).mode == "major") == bright


def _shadow_tonic(info: _Bar) -> Chord:
    """The triad, inside a bar's mode, on the tonic of the major (or minor) key with the same
    notes: C major in F lydian or G mixolydian, A minor in B phrygian or E dorian."""
    intervals = MODES[info.colour.mode]
    target = MODES["ionian" if info.colour.bright else "aeolian"]
    degree = next(
        d
        for d in range(len(intervals))
        if tuple((i - intervals[d]) % 12 for i in (*intervals[d:], *intervals[:d])) == target
    )
    return triad(info.tonic, info.colour.mode, degree)


def _chord_for(function: str, bar: _Bar, progression: tuple[int, ...], position: int) -> Chord:
    mode = bar.colour.mode
    if function == "T":
        return triad(bar.tonic, mode, 0)
    if function in ("D", "h"):
        return dominant(bar.tonic)
    if function == "P":
        return triad(bar.tonic, mode, bar.colour.predominant)
    if function == "d":
        return triad(bar.tonic, mode, bar.colour.predominant)
    if function == "V":
        return secondary_dominant(bar.tonic)
    if function == "L":
        return flat_submediant(bar.tonic)
    return triad(bar.tonic, mode, progression[position % len(progression)])


def _scale_under(chord: Chord, bar: _Bar) -> tuple[int, ...]:
    """Pitch classes the tune may use over ``chord``: the mode, or under a major dominant of a
    dark key, harmonic minor (a mode's own note a semitone from a chord tone would rub)."""
    if chord == dominant(bar.tonic):
        intervals = DOMINANT_SCALES[bar.colour.bright]
    elif bar.colour.bright and chord == secondary_dominant(bar.tonic):
        intervals = MODES["lydian"]  # the raised 4th is V of V's third
    elif bar.colour.bright and chord == flat_submediant(bar.tonic):
        intervals = MODES["aeolian"]  # ♭VI is borrowed from the parallel minor
    else:
        intervals = MODES[bar.colour.mode]
    return tuple((bar.tonic + i) % 12 for i in intervals)


def _snap_cuts(timeline: EmotionTimeline, length: int) -> list[tuple[int, bool]]:
    """Cuts as (tick snapped to the nearest beat, is a hit), inside the piece, one per beat.

    A hit is a cut across which the emotion moves by at least :data:`HIT_JUMP` (comparing the
    step holding the cut with its neighbours: the analysis cannot see finer than a step).
    """
    grid, count = timeline.grid, len(timeline.steps)
    snapped: dict[int, bool] = {}
    for cut in sorted(timeline.cuts_s):
        tick = round(grid.ticks_at(cut) / BEAT) * BEAT
        if not 0 < tick <= length - BEAT:
            continue
        index = grid.step_of_tick(round(grid.ticks_at(cut)), count)
        here = timeline.steps[index]
        jump = max(
            emotion_jump(here, other) for other in timeline.steps[max(0, index - 1) : index + 2]
        )
        snapped[tick] = snapped.get(tick, False) or jump >= HIT_JUMP
    return sorted(snapped.items())


@dataclass
class _Slot:
    """A chord slot of the plan while it is being built."""

    start: int
    function: str
    bar: int
    phrase: Phrase
    chord: Chord
    #: See :attr:`Segment.pedal` and :attr:`Segment.root_position`.
    pedal: bool | None = None
    root_position: bool = False
    #: The bar whose key the chord belongs to, when not its own: an approach chord that
    #: prepares the next bar's key (a pivot, the new dominant, a suspension into a hit).
    key_bar: int | None = None

    def role(self, final_bar: int) -> str:
        """The slot's part in its phrase's cadence (see :attr:`Segment.cadence_role`)."""
        phrase = self.phrase
        if self.function in ("D", "h") and self.bar >= phrase.last_bar - 1:
            return "dominant"
        if self.function in ("T", "c") and self.bar == phrase.last_bar:
            return "tonic" if phrase.cadence == AUTHENTIC else ""
        return ""


def _band_chords(info: _Bar) -> list[Chord]:
    """The chords of a bar's valence band, in the order its progressions first use them."""
    band = info.colour
    degrees = dict.fromkeys([*itertools.chain(*band.progressions), band.predominant])
    return [triad(info.tonic, band.mode, degree) for degree in degrees]


def _bass_under(slot: _Slot, chord: Chord, info: _Bar, final_bar: int) -> set[int]:
    """Pitch classes that may sound lowest under ``chord`` in ``slot``: the tonic over a
    pedal, else the root where the arousal band has a bass, else any chord tone (the pad's
    lowest voice)."""
    pedal = slot.pedal
    if pedal is None:
        pedal = holds_pedal(chord, info.tonic, info.valence, slot.role(final_bar))
    if pedal:
        return {info.tonic}
    return {chord.root} if info.pace.bass_16ths or slot.root_position else set(chord.pitch_classes)


def _major_over_bass(slot: _Slot, info: _Bar, final_bar: int) -> bool:
    """Whether ``slot`` sounds a major chord over its own root (a possible dominant)."""
    return is_major(slot.chord) and slot.chord.root in _bass_under(
        slot, slot.chord, info, final_bar
    )


def _key_scale(info: _Bar) -> tuple[int, ...]:
    """The pitch classes of a bar's mode on its tonic."""
    return tuple((info.tonic + i) % 12 for i in MODES[info.colour.mode])


def _approach(slots: list[_Slot], index: int, function: str, chord: Chord, key_bar: int) -> None:
    """Put ``chord`` (in the key of bar ``key_bar``) before ``slots[index]``: the slot before
    becomes the approach when it is at most half a bar long and not an authentic cadence's own
    chord (the harmonic rhythm stays the scene's: no extra change in a calm bar); else the
    approach takes its last beat."""
    before, tick = slots[index - 1], slots[index].start
    if tick - before.start <= HALF_BAR and before.function not in ("D", "T", "c"):
        slots[index - 1] = replace(
            before, function=function, chord=chord, pedal=False, key_bar=key_bar
        )
    elif tick - before.start > BEAT:
        slots.insert(
            index,
            _Slot(tick - BEAT, function, before.bar, before.phrase, chord, False, key_bar=key_bar),
        )


def _dominant_scale(info: _Bar) -> tuple[int, ...]:
    """The scale under a bar's key's major dominant (harmonic minor in a dark key)."""
    return tuple((info.tonic + i) % 12 for i in DOMINANT_SCALES[info.colour.bright])


def _suspensions_into(chord: Chord, roots: Sequence[tuple[int, Collection[int]]]) -> list[Chord]:
    """Suspended chords on each (root, scale) of ``roots`` that resolve into ``chord`` and
    move the bass there: a sus on ``chord``'s own root differs from it by one inner tone
    only, which a thin pad may not even sound."""
    return [
        sus
        for root, scale in roots
        for sus in suspensions(root, scale)
        if resolves_into(sus, chord) and sus.root != chord.root
    ]


def _prepare_changes(
    slots: list[_Slot],
    bars: Sequence[_Bar],
    hit_ticks: Collection[int],
    rising: Collection[int],
) -> None:
    """Approach chords on the beat before each change of key and each hit.

    A change of key is prepared by a pivot chord common to both keys: the new key's dominant
    where the old key has all its tones (V of C major is VII of A minor), else its
    predominant (ii of C is iv of A minor); failing both, by the new key's own dominant. A
    hit is approached by a suspended chord (see :func:`suspensions`) whose fourth, or second,
    resolves on the hit: the chord before suspended (a half cadence's one-beat dominant too:
    the question held in suspense into the cut); where the hit changes key, the pivot or the
    new dominant suspended. Each approach is the first candidate that leaves its bar in the
    bar's mode (see :func:`sounds_in_mode`). An authentic cadence's dominant before a change
    of key becomes the new key's dominant."""
    index = 1
    while index < len(slots):
        before, slot = slots[index - 1], slots[index]
        old, new = bars[before.bar], bars[slot.bar]
        modulates = old.tonic != new.tonic
        hit = slot.start in hit_ticks
        options: list[tuple[Chord, int]] = []
        short_dominant = before.function == "h" and slot.start - before.start == BEAT
        if modulates and before.function == "D":
            # A cadence's dominant before a change of key becomes the new key's: the close
            # confirms where the music arrives (V of C major, then A minor, would be bare).
            slots[index - 1] = replace(
                before, chord=dominant(new.tonic), key_bar=slot.bar, pedal=False
            )
        elif modulates:
            old_scale = set(_key_scale(old))
            pivots = [
                dominant(new.tonic),
                triad(new.tonic, new.colour.mode, new.colour.predominant),
            ]
            pivots.sort(key=lambda c: not set(c.pitch_classes) <= old_scale)
            if hit:
                # Into a hit, the pivot (or the new dominant) suspended, or the old key's chord
                # before (a relative key has all its tones).
                roots = [(p.root, (*_key_scale(new), *_dominant_scale(new))) for p in pivots]
                common = (before.chord.root, tuple(old_scale & set(_key_scale(new))))
                # Across a change of mode the old chord keeps its bar's colour best.
                roots.insert(0 if old.colour.bright != new.colour.bright else 2, common)
                pivots = _suspensions_into(slot.chord, roots) + pivots
            options = [(c, slot.bar) for c in pivots]
        elif hit:
            roots = [(before.chord.root, _key_scale(old))]
            if short_dominant:
                roots.insert(0, (before.chord.root, _dominant_scale(old)))
            if slot.bar not in rising:
                # The hit chord's own dominant, suspended (no leading tone: no close).
                roots.append((slot.chord.root + 7, _key_scale(new)))
            options = [(c, before.bar) for c in _suspensions_into(slot.chord, roots)]
        function = "s" if hit else "m"
        trials = []
        for approach, key_bar in options:
            if approach in (slot.chord, before.chord):
                continue
            trial = list(slots)
            _approach(trial, index, function, approach, key_bar)
            trials.append(trial)
            # The approach should leave its bar in the bar's own mode (see sounds_in_mode).
            if _bar_sounds_in_mode(trial, before.bar, old):
                break
        else:
            # The return home is prepared even where no pivot keeps the old bar's mode (it
            # must not be bare); another change of key or a hit goes without.
            trials = trials[:1] if modulates and slot.phrase.final else []
        if trials:
            index += len(trials[-1]) - len(slots)
            slots[:] = trials[-1]
        index += 1


def _bar_sounds_in_mode(slots: Sequence[_Slot], bar: int, info: _Bar) -> bool:
    """Whether the chords of ``bar`` among ``slots`` sound in the bar's mode, an approach
    chord (a pivot, a sus) counted twice: the tune leans on it as it leads into the change."""
    start, end = bar * BAR, (bar + 1) * BAR
    ends = [slot.start for slot in slots[1:]] + [end]
    chords = [
        (
            slot.chord,
            (2 if slot.function in ("m", "s") else 1) * (min(end, stop) - max(start, slot.start)),
        )
        for slot, stop in zip(slots, ends, strict=True)
        if slot.start < end and stop > start
    ]
    first = next(slot for slot, stop in zip(slots, ends, strict=True) if stop > start)
    drone = info.tonic if info.colour.pedal else None
    return sounds_in_mode(chords, _scale_under(first.chord, info), info.colour.bright, drone)


def _no_close_while_rising(
    slots: list[_Slot], bars: Sequence[_Bar], rising: Collection[int], final_bar: int
) -> None:
    """Remove every dominant → tonic motion onto a downbeat inside a rising section, in any
    key (see :func:`sounds_like_close`): the drone under the downbeat's chord gives way to
    its root; else the downbeat's chord, or the chord before it when free, becomes another
    of the band's. A cadence's own chords are left as the form placed them."""

    def closes(index: int, chord: Chord | None = None, drop_pedal: bool = False) -> bool:
        before, after = slots[index - 1], slots[index]
        probe = replace(after, chord=chord or after.chord)
        probe = replace(probe, pedal=False) if drop_pedal else probe
        if after.start % BAR or after.bar not in rising:
            return False
        info = bars[after.bar]
        bass = _bass_under(probe, probe.chord, info, final_bar)
        return _major_over_bass(before, bars[before.bar], final_bar) and sounds_like_close(
            before.chord, probe.chord, bass
        )

    def free(slot: _Slot) -> bool:
        return slot.function in ("x", "d", "T") and not slot.role(final_bar)

    for index in range(1, len(slots)):
        if not closes(index):
            continue
        slot, before = slots[index], slots[index - 1]
        if slot.pedal is None and not closes(index, drop_pedal=True):
            slots[index] = replace(slot, pedal=False)
            continue
        rooted = replace(
            slot, pedal=False if slot.pedal is None else slot.pedal, root_position=True
        )
        slots[index] = rooted
        if not closes(index):
            # Where no bass plays, the pad's lowest voice is the bass: on the root, not on
            # the tone a fifth below the chord before.
            continue
        slots[index] = slot
        following = slots[index + 1].chord if index + 1 < len(slots) else None
        if free(slot):
            options = [
                (c, drop)
                for c in _band_chords(bars[slot.bar])
                for drop in (False, True)
                if c not in (before.chord, following) and not closes(index, c, drop)
            ]
            if options:
                chord, drop = options[0]
                slots[index] = replace(slot, chord=chord, pedal=False if drop else slot.pedal)
                continue
        if free(before) and index > 1:
            earlier = slots[index - 2]
            for chord in _band_chords(bars[before.bar]):
                # (Never onto the root of the chord before: a sus there must move on.)
                if chord == slot.chord or chord.root == earlier.chord.root:
                    continue
                slots[index - 1] = replace(before, chord=chord)
                if not closes(index) and not closes(index - 1):
                    break
                slots[index - 1] = before


class _ProgressionWalk:
    """Chords of the progression ("x" slots) in order, never repeating the chord before."""

    def __init__(self, progressions: dict[tuple[int, str], tuple[int, ...]]) -> None:
        self.progressions = progressions
        self.position = 1

    def chord(
        self, function: str, info: _Bar, phrase: Phrase, avoid: tuple[Chord | None, ...]
    ) -> Chord:
        progression = self.progressions[phrase.index, info.colour.mode]
        chord = _chord_for(function, info, progression, self.position)
        if function != "x":
            return chord
        for _ in range(len(progression)):
            if chord not in avoid:
                break
            self.position += 1
            chord = _chord_for(function, info, progression, self.position)
        self.position += 1
        return chord


def _bar_chords(
    bar: int, phrase: Phrase, info: _Bar, previous: Chord | None, walk: _ProgressionWalk
) -> list[_Slot]:
    """The first of the bar's candidate formulas whose chords sound in the bar's mode."""
    chosen: list[_Slot] = []
    for formula in _bar_formulas(bar, phrase, info):
        saved = walk.position
        slots, before = [], previous
        for index, (offset, function) in enumerate(formula):
            following = formula[index + 1][1] if index + 1 < len(formula) else ""
            fixed = following in ("D", "P", "h", "T")
            after = _chord_for(following, info, (0,), 0) if fixed else None
            avoid: tuple[Chord | None, ...] = (before, after)
            if info.rising and before is not None and before.root == (info.tonic + 7) % 12:
                # No V - I inside a rising section, not even in passing: the walk goes on.
                avoid += (triad(info.tonic, info.colour.mode, 0),)
            if info.colour.mode in MODAL_TONIC_DOWNBEATS:
                # Next to a modal tonic, not the chord whose key shares the mode's notes
                # (lydian's V, mixolydian's IV, dorian's v, phrygian's iv): with it the key
                # finder hears that key, not the mode.
                avoid += (_shadow_tonic(info),)
            chord = walk.chord(function, info, phrase, avoid)
            slots.append(_Slot(bar * BAR + offset, function, bar, phrase, chord))
            before = chord
        spans = [b.start - a.start for a, b in itertools.pairwise(slots)]
        spans.append(BAR - (slots[-1].start - bar * BAR))
        chords = [(slot.chord, span) for slot, span in zip(slots, spans, strict=True)]
        scale = _scale_under(slots[0].chord, info)
        drone = info.tonic if info.colour.pedal else None
        if sounds_in_mode(chords, scale, info.colour.bright, drone):
            return slots
        if slots[0].function != "L":  # a colour chord only where it keeps the mode
            chosen = chosen or slots
        walk.position = saved
    return chosen


def plan_harmony(
    timeline: EmotionTimeline,
    rng: np.random.Generator,
    fade_ticks: int = 0,
    pace: Sequence[int] | None = None,
    progression_shift: int = 0,
) -> HarmonicPlan:
    """Cut the piece into chord segments that follow the phrases, the valence and the cuts.

    The tonic and each phrase's progression are drawn from ``rng``; the final tonic arrives a
    bar before a fade of ``fade_ticks`` (see :func:`final_bar_index`). ``pace`` gives the
    chord changes per bar for each arousal band (default: the band's own);
    ``progression_shift`` moves every drawn progression to the band's next one, so a
    generator with its own shift walks other chords for the same seed.
    """
    length = piece_length_ticks(timeline)
    final_bar = final_bar_index(length, fade_ticks)
    home = int(rng.integers(12))
    bars = _bars(timeline, final_bar + 1, home)
    # Rising is judged on every bar of the clip: a build that runs past the final bar still
    # builds in the bars before it.
    grid, count = timeline.grid, len(timeline.steps)
    every_bar = [
        timeline.steps[grid.step_of_tick(i * BAR, count)].arousal
        for i in range(max(final_bar + 1, -(-length // BAR)))
    ]
    rising = {bar for bar in rising_bars(every_bar) if bar <= final_bar}
    bars = [
        replace(
            info,
            rising=index in rising,
            chords_per_bar=(
                info.pace.chords_per_bar if pace is None else pace[AROUSAL_TABLE.index(info.pace)]
            ),
        )
        for index, info in enumerate(bars)
    ]
    phrases = plan_phrases(final_bar, rising)
    # The last phrase comes home: it closes on the tonic the piece began in, in the mode of
    # its own emotion (a dark ending of a bright piece turns to the parallel minor).
    for bar in phrases[-1].bars:
        bars[bar] = replace(bars[bar], tonic=home)
    progressions = {
        (phrase.index, band.mode): band.progressions[
            (int(rng.integers(len(band.progressions))) + progression_shift) % len(band.progressions)
        ]
        for phrase in phrases
        for band in sorted({bars[b].colour for b in phrase.bars}, key=lambda b: b.min_valence)
    }
    walk = _ProgressionWalk(progressions)
    slots: list[_Slot] = []
    for phrase in phrases:
        for bar in phrase.bars:
            info = bars[bar]
            if bar and (info.tonic, info.colour) != (bars[bar - 1].tonic, bars[bar - 1].colour):
                walk.position = 1  # a new mode or key is stated from its tonic
            previous = slots[-1].chord if slots else None
            slots.extend(_bar_chords(bar, phrase, info, previous, walk))
    cuts = _snap_cuts(timeline, length)
    cut_ticks = {tick for tick, _ in cuts}
    hit_ticks = {tick for tick, hit in cuts if hit}
    # A cut on a slot's start whose chord repeats the one before changes chord there, so every
    # cut is heard: the free chord of the two (a progression's) is redrawn.
    for index in range(1, len(slots)):
        slot, before = slots[index], slots[index - 1]
        if slot.start not in cut_ticks or slot.chord != before.chord:
            continue
        free = index if slot.function == "x" else index - 1 if before.function == "x" else None
        if free is not None:
            around = (slots[free - 1].chord if free else None, slots[free + 1].chord)
            chord = walk.chord("x", bars[slots[free].bar], slots[free].phrase, around)
            slots[free] = replace(slots[free], chord=chord)
    # A cut inside a slot splits it. The slot's chord keeps the part after the cut when it
    # leads somewhere (a cadence's dominant or predominant); a fresh chord of the progression
    # fills the other part. The final tonic takes an added colour tone after a cut (and back).
    for tick in sorted(cut_ticks - {slot.start for slot in slots}):
        index = max(i for i, slot in enumerate(slots) if slot.start < tick)
        slot = slots[index]
        info = bars[slot.bar]
        chord_before = slots[index - 1].chord if index else None
        after = slots[index + 1].chord if index + 1 < len(slots) else None
        if slot.function in ("T", "c") and slot.phrase.final and slot.bar == final_bar:
            # The final tonic stays: it alternates with its coloured form at each cut.
            tonic = triad(info.tonic, info.colour.mode, 0)
            function, chord = ("c", coloured(tonic)) if slot.function == "T" else ("T", tonic)
            slots.insert(index + 1, _Slot(tick, function, slot.bar, slot.phrase, chord))
        elif slot.function in ("D", "h", "P"):
            fresh = walk.chord("x", info, slot.phrase, (chord_before, slot.chord))
            slots.insert(index, _Slot(slot.start, "x", slot.bar, slot.phrase, fresh))
            slots[index + 1] = replace(slot, start=tick)
        else:
            fresh = walk.chord("x", info, slot.phrase, (slot.chord, after))
            slots.insert(index + 1, _Slot(tick, "x", slot.bar, slot.phrase, fresh))
    _prepare_changes(slots, bars, hit_ticks, rising)
    _no_close_while_rising(slots, bars, rising, final_bar)
    ends = [slot.start for slot in slots[1:]] + [length]
    segments = []
    for slot, end in zip(slots, ends, strict=True):
        info, phrase = bars[slot.bar], slot.phrase
        key = bars[slot.key_bar] if slot.key_bar is not None else info
        role = slot.role(final_bar)
        segments.append(
            Segment(
                start=slot.start,
                end=end,
                arousal=info.arousal,
                valence=info.valence,
                tonic=key.tonic,
                scale=_scale_under(slot.chord, key),
                chord=slot.chord,
                phrase=phrase,
                phrase_span=(phrase.first_bar * BAR, min(length, (phrase.last_bar + 1) * BAR)),
                at_cut=slot.start in cut_ticks,
                hit=slot.start in hit_ticks,
                cadence_role=role,
                pedal=slot.pedal,
                root_position=slot.root_position,
            )
        )
    return HarmonicPlan(length, tuple(segments), tuple(sorted(hit_ticks)))
