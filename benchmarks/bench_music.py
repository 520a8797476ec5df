"""How the generators' music measures up, judged from their MIDI files by ``music_judge``.

Two tables:

* **Craft at one constant emotion** over 2 minutes (four emotions, the corners of the
  arousal/valence square, times two seeds): mean and range per generator, beside the 5–95%
  range of the same measures on real music from music21's corpus (Bach chorales and Essen
  folk songs; parsed and measured here, cached in ``benchmarks/_work/``).
* **Following random changing arcs**: 2 minutes whose emotion jumps every 1–6 bars (a cut at
  every change, valence at least 0.15 from neutral), many seeds; mode agreement of each bar
  and the Spearman correlation of onsets per bar with arousal, mean and worst.

The judge reads each score only as the MIDI file Moodscore writes (``core`` is used to
*make* the music, never to analyse it).

    .venv/bin/python benchmarks/bench_music.py [--arcs 16] [--corpus-size 60]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import logging
import math
import re
import sys
import time
from pathlib import Path

import mido
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import music_judge as judge
from _common import WORK, markdown_table
from random_arcs import random_arc

from core.config import Config
from core.generators import GENERATORS, get_composer
from core.music.instruments import PRESETS
from core.music.midi import to_midi_file
from core.timeline import EmotionTimeline, TimeGrid, read_emotion_file

log = logging.getLogger("bench_music")

SECONDS = 120.0
#: (arousal, valence) corners held for the whole piece in the constant-emotion table.
CONSTANT_EMOTIONS = ((0.2, 0.2), (0.2, 0.8), (0.8, 0.2), (0.8, 0.8))
CONSTANT_SEEDS = (0, 1)
#: Rows of the craft table: judge measure, label, format, and whether the corpora have it.
MEASURES = (
    ("bar_repeat_share", "bars literally repeating an earlier bar", "{:.0%}"),
    ("parallels_per_100_moves", "outer-voice parallel 5ths/8ves per 100 moves", "{:.1f}"),
    ("semitone_clash_share", "sounding 16ths with a semitone clash", "{:.0%}"),
    ("onbeat_nonchord_share", "on-beat melody notes outside the harmony", "{:.0%}"),
    ("ends_on_tonic", "pieces ending with the tonic in the bass", "{:.0%}"),
    ("pitch_class_entropy", "pitch-class entropy (bits)", "{:.2f}"),
    ("polyphony", "polyphony (sounding pitches)", "{:.1f}"),
    ("onsets_per_beat", "pitched onsets per beat", "{:.1f}"),
    ("pitch_range", "pitch range (semitones)", "{:.0f}"),
)
#: The arcs of issue 18 (one emotion step a bar), read from ``benchmarks/arcs/``.
ARCS_DIR = Path(__file__).resolve().parent / "arcs"
CUE_ARCS = ("thriller", "romcom", "constant_mid", "constant_high")
CUE_SEEDS = (1, 2)
#: Bars below this arousal (the mapping's calmest band) are calm; bars within CLIMAX_MARGIN of
#: the arc's highest arousal are its climax (on a constant arc every bar is both, so neither is
#: judged).
CALM_AROUSAL = 0.2
CLIMAX_MARGIN = 0.02
ESSEN_COLLECTIONS = ("essenFolksong/altdeu10", "essenFolksong/ballad10", "essenFolksong/kinder")


def piece_of(score) -> judge.Piece:
    """The judge's view of a score: its standard MIDI file, as written by Moodscore."""
    buffer = io.BytesIO()
    to_midi_file(score).save(file=buffer)
    buffer.seek(0)
    return judge.piece_from_midi(mido.MidiFile(file=buffer))


def compose(generator: str, arousal, valence, seed: int, cuts=()) -> judge.Piece:
    grid = TimeGrid()
    timeline = EmotionTimeline.from_values(arousal, valence, grid, SECONDS, tuple(cuts))
    return piece_of(get_composer(generator)(timeline, Config(), seed))


# --- corpus ----------------------------------------------------------------------------------


def _chorale_paths(count: int) -> list[Path]:
    from music21 import corpus

    chorales = sorted(
        (p for p in corpus.getComposer("bach") if re.fullmatch(r"bwv\d+\.\d+", Path(p).stem)),
        key=lambda p: Path(p).name,
    )
    stride = max(1, len(chorales) // count)
    return list(chorales[::stride][:count])


def _corpus_pieces(name: str, count: int):
    """Up to ``count`` judge pieces from a corpus, spread evenly over it."""
    from music21 import corpus

    if name == "bach":
        for path in _chorale_paths(count):
            yield judge.piece_from_music21(corpus.parse(path))
        return
    per_collection = math.ceil(count / len(ESSEN_COLLECTIONS))
    for collection in ESSEN_COLLECTIONS:
        scores = list(corpus.parse(collection).scores)
        stride = max(1, len(scores) // per_collection)
        for score in scores[::stride][:per_collection]:
            yield judge.piece_from_music21(score)


def corpus_ranges(count: int) -> dict[str, dict[str, list[float]]]:
    """5th and 95th percentile (and mean) of every craft measure per corpus; cached by the
    judge's source and the sample size so a changed judge re-measures."""
    digest = hashlib.sha256(Path(judge.__file__).read_bytes()).hexdigest()[:12]
    cache = WORK / f"corpus_ranges_{count}_{digest}.json"
    if cache.exists():
        return json.loads(cache.read_text())
    ranges = {}
    for name in ("bach", "essen"):
        started = time.perf_counter()
        values: dict[str, list[float]] = {key: [] for key, *_ in MEASURES}
        pieces = 0
        for piece in _corpus_pieces(name, count):
            pieces += 1
            for key, value in judge.craft(piece).items():
                if key in values and not math.isnan(value):
                    values[key].append(value)
        ranges[name] = {
            key: [float(np.percentile(v, 5)), float(np.percentile(v, 95)), float(np.mean(v))]
            for key, v in values.items()
            if v
        }
        ranges[name]["_pieces"] = [pieces, pieces, pieces]
        log.info("%s: %d pieces measured in %.0f s", name, pieces, time.perf_counter() - started)
    WORK.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(ranges, indent=1))
    return ranges


# --- generators ------------------------------------------------------------------------------


def constant_craft(generator: str) -> dict[str, list[float]]:
    """Every craft measure of 2-minute pieces at each constant emotion and seed."""
    steps = TimeGrid().step_count(SECONDS)
    values: dict[str, list[float]] = {key: [] for key, *_ in MEASURES}
    for arousal, valence in CONSTANT_EMOTIONS:
        for seed in CONSTANT_SEEDS:
            piece = compose(generator, [arousal] * steps, [valence] * steps, seed)
            for key, value in judge.craft(piece).items():
                if key in values:
                    values[key].append(value)
    return values


def random_arc_piece(generator: str, seed: int) -> tuple[judge.Piece, np.ndarray, np.ndarray]:
    """The generator's piece for random arc ``seed`` and the arc's arousal and valence per
    bar of that piece."""
    grid = TimeGrid()
    arousal, valence, cuts = random_arc(seed, SECONDS)
    piece = compose(generator, arousal, valence, seed, cuts)
    bar_s = piece.bar_ticks * piece.seconds_per_tick
    bars = min(piece.bar_count, math.floor(SECONDS / bar_s + 1e-9))
    step_of_bar = [min(len(arousal) - 1, int(b * bar_s / grid.step_s + 1e-9))
                   for b in range(bars)]  # fmt: skip
    return piece, arousal[step_of_bar], valence[step_of_bar]


def following(
    generator: str, arcs: int, extra: dict[str, list[float]] | None = None
) -> tuple[list[float], list[float]]:
    """Mode agreement and onset–arousal Spearman of each random arc (and, into ``extra``,
    the composer's measures that make sense on a cut-up arc: low-interval spacing, authentic
    cadences inside rising bars, out-of-range notes)."""
    agreements, correlations = [], []
    for seed in range(arcs):
        piece, arousal, valence = random_arc_piece(generator, seed)
        agreement, _ = judge.mode_agreement(piece, valence)
        density = judge.onsets_per_bar(piece)[: len(arousal)]
        agreements.append(agreement)
        correlations.append(judge.spearman(density, arousal))
        if extra is not None:
            rising = set(judge.rising_bars(list(arousal)))
            closes = rising & set(judge.authentic_cadence_bars(piece))
            extra.setdefault("spacing", []).append(judge.spacing_violation_share(piece))
            extra.setdefault("rising_authentic", []).append(float(len(closes)))
            extra.setdefault("out_of_range", []).append(
                float(sum(judge.out_of_range_notes(piece).values()))
            )
    return agreements, correlations


# --- cues: what a composer reads ------------------------------------------------------------


def arc_timeline(name: str) -> EmotionTimeline:
    """One of the :data:`CUE_ARCS` as a timeline (no cuts: the emotion moves by bars)."""
    return read_emotion_file(ARCS_DIR / f"{name}.emotions.txt")


def compose_cue(generator: str, timeline: EmotionTimeline, seed: int, preset: str = "piano"):
    """The judge's view of a generator's cue for ``timeline`` with ``preset``'s programs."""
    config = Config()
    config.music.preset = preset
    return piece_of(get_composer(generator)(timeline, config, seed))


def cue_measures(generator: str, arc: str, seed: int) -> dict[str, float]:
    """The composer's measures of one cue (piano preset; ranges over every preset)."""
    timeline = arc_timeline(arc)
    arousal = [step.arousal for step in timeline.steps]
    piece = compose_cue(generator, timeline, seed)
    per_bar = judge.polyphony_per_bar(piece)[: len(arousal)]
    calm = [p for p, a in zip(per_bar, arousal, strict=False) if a < CALM_AROUSAL]
    peak = max(arousal)
    climax = [p for p, a in zip(per_bar, arousal, strict=False) if a >= peak - CLIMAX_MARGIN]
    constant = max(arousal) - min(arousal) < 1e-6
    pitch, apex_bar, held = judge.apex(piece)
    rising = set(judge.rising_bars(arousal))
    out_of_range = 0
    for preset in PRESETS:
        out_of_range += sum(
            judge.out_of_range_notes(compose_cue(generator, timeline, seed, preset)).values()
        )
    parallels, moves = judge.outer_voice_parallels(piece)
    return {
        "chord_entropy": judge.chord_vocabulary_entropy(piece),
        "harmonic_rhythm": judge.harmonic_rhythm(piece),
        "calm_polyphony": max(calm) if calm and not constant else math.nan,
        "climax_polyphony": float(np.median(climax)) if climax and not constant else math.nan,
        "apex": float(pitch),
        "apex_held_beats": held,
        "apex_in_climax": float(arousal[min(apex_bar, len(arousal) - 1)] >= peak - CLIMAX_MARGIN),
        "spacing": judge.spacing_violation_share(piece),
        "out_of_range": float(out_of_range),
        "rising_authentic": float(len(rising & set(judge.authentic_cadence_bars(piece)))),
        "parallels": 100.0 * parallels / moves if moves else math.nan,
        "clash": judge.semitone_clash_share(piece),
    }


def generator_identity(arc: str, seed: int) -> dict[str, float]:
    """Scales-vs-Chords note identity of the pad and bass for one seed, and each generator's
    identity with its own next seed once the transposition is removed."""
    timeline = arc_timeline(arc)
    scales = compose_cue("scales", timeline, seed)
    chords = compose_cue("chords", timeline, seed)
    result = {
        f"{part.lower()}_identity": judge.note_identity(
            judge.part_notes(scales, part), judge.part_notes(chords, part)
        )
        for part in ("Harmony", "Bass")
    }
    for generator, piece in (("scales", scales), ("chords", chords)):
        other = compose_cue(generator, timeline, seed + 1)
        result[f"{generator}_seed_identity"] = judge.transposed_identity(piece, other)
    return result


CUE_COLUMNS = (
    ("chord_entropy", "chord entropy (bits)", "{:.2f}"),
    ("harmonic_rhythm", "chord changes / bar", "{:.2f}"),
    ("calm_polyphony", "voices, calm bars (max)", "{:.0f}"),
    ("climax_polyphony", "voices, climax (median)", "{:.0f}"),
    ("apex", "apex (MIDI)", "{:.0f}"),
    ("apex_held_beats", "apex held (beats)", "{:.2f}"),
    ("apex_in_climax", "apex in climax", "{:.0%}"),
    ("spacing", "16ths breaking low-interval limits", "{:.1%}"),
    ("out_of_range", "out-of-range notes (all presets)", "{:.0f}"),
    ("rising_authentic", "authentic cadences in rising bars", "{:.0f}"),
    ("parallels", "parallels / 100 moves", "{:.1f}"),
    ("clash", "semitone-clash 16ths", "{:.0%}"),
)


def cue_table() -> str:
    """The composer's measures per arc and generator, mean (min–max) over :data:`CUE_SEEDS`."""
    header = ["arc", "generator", *(label for _, label, _ in CUE_COLUMNS)]
    rows = []
    for arc in CUE_ARCS:
        for generator in ("scales", "chords"):
            measured = [cue_measures(generator, arc, seed) for seed in CUE_SEEDS]
            rows.append(
                [arc, generator]
                + [_summary([m[key] for m in measured], fmt) for key, _, fmt in CUE_COLUMNS]
            )
    return markdown_table(header, rows)


def identity_table() -> str:
    """Scales vs Chords for the same seed, and seed vs seed with the key removed."""
    header = ["arc", "pad identity", "bass identity", "scales seed↔seed+1", "chords seed↔seed+1"]
    rows = []
    for arc in CUE_ARCS:
        measured = [generator_identity(arc, seed) for seed in CUE_SEEDS]
        rows.append(
            [arc]
            + [
                _summary([m[key] for m in measured], "{:.0%}")
                for key in ("harmony_identity", "bass_identity", "scales_seed_identity",
                            "chords_seed_identity")
            ]
        )  # fmt: skip
    return markdown_table(header, rows)


# --- drama: transitions, phrase shapes, endings ------------------------------------------------

#: A change of arousal or valence this big between bars is a jump that wants a transition; one
#: under SMALL_CHANGE is a change that does not.
BIG_JUMP = 0.3
SMALL_CHANGE = 0.15
DRAMA_COLUMNS = (
    ("big_jumps", "big jumps (≥ 0.3)", "{:.0f}"),
    ("prepared", "led in (riser, fill or sus)", "{:.0%}"),
    ("riser", "riser", "{:.0%}"),
    ("fill", "fill", "{:.0%}"),
    ("sus", "sus chord", "{:.0%}"),
    ("small_led_in", "small changes (< 0.15) led in", "{:.0%}"),
    ("steady_led_in", "bars with no change led in (phrase-end fills)", "{:.0%}"),
    ("shape_repeat", "phrase velocity shape = the phrase before (constant arcs)", "{:.0%}"),
    ("fill_repeat", "phrase-end fill (last beat) = the phrase before (constant arcs)", "{:.0%}"),
    ("broadening", "onsets/bar, last 2 bars ÷ the 4 before (cue arcs)", "{:.2f}"),
)


def drama_measures(generator: str, arcs: int) -> dict[str, float]:
    """How ``generator`` leads into jumps on ``arcs`` random arcs, varies its phrases at a
    constant emotion and broadens its endings on the cue arcs."""
    kinds: list[str] = []
    small: list[str] = []
    steady: list[str] = []
    for seed in range(arcs):
        piece, arousal, valence = random_arc_piece(generator, seed)
        big = judge.jump_bars(arousal, valence, BIG_JUMP)
        changed = set(judge.jump_bars(arousal, valence, 0.01))
        quiet = sorted(changed - set(judge.jump_bars(arousal, valence, SMALL_CHANGE)))
        kinds += [judge.transition_before(piece, bar) for bar in big]
        small += [judge.transition_before(piece, bar) for bar in quiet]
        steady += [
            judge.transition_before(piece, bar)
            for bar in range(1, len(arousal))
            if bar not in changed
        ]
    shapes, fills, broadening = [], [], []
    for arc in CUE_ARCS:
        for seed in CUE_SEEDS:
            piece = compose_cue(generator, arc_timeline(arc), seed)
            broadening.append(judge.ending_broadening(piece))
            if arc.startswith("constant"):
                shapes.append(judge.shape_repeat_share(piece))
                fills.append(judge.repeat_share(judge.phrase_end_drums(piece)))
    led = [k for k in kinds if k]
    return {
        "big_jumps": float(len(kinds)),
        "prepared": len(led) / len(kinds) if kinds else math.nan,
        **{
            kind: kinds.count(kind) / len(kinds) if kinds else math.nan
            for kind in ("riser", "fill", "sus")
        },
        "small_led_in": sum(map(bool, small)) / len(small) if small else math.nan,
        "steady_led_in": sum(map(bool, steady)) / len(steady) if steady else math.nan,
        "shape_repeat": float(np.nanmean(shapes)),
        "fill_repeat": float(np.nanmean(fills)),
        "broadening": float(np.nanmean(broadening)),
    }


def drama_table(generators: list[str], arcs: int) -> str:
    """:func:`drama_measures` per generator."""
    rows = []
    for generator in generators:
        measured = drama_measures(generator, arcs)
        rows.append([generator] + [fmt.format(measured[key]) for key, _, fmt in DRAMA_COLUMNS])
    return markdown_table(["generator", *(label for _, label, _ in DRAMA_COLUMNS)], rows)


# --- audio: percussion and balance as a listener hears them ----------------------------------

#: What each General MIDI key names, per kit: the standard kit (bank 128, program 0 and its
#: relatives) and the Orchestra Kit (program 48), whose keys 41-53 are timpani tuned F2-F3.
STANDARD_KEYS = {
    35: "kick", 36: "kick", 37: "snare", 38: "snare", 40: "snare", 42: "cymbal", 44: "cymbal",
    46: "cymbal", 49: "cymbal", 51: "cymbal", 57: "cymbal", 41: "tom", 43: "tom", 45: "tom",
    47: "tom", 48: "tom", 50: "tom",
}  # fmt: skip
ORCHESTRA_KEYS = {35: "kick", 36: "kick", 38: "snare", 40: "snare", 55: "cymbal", 57: "cymbal",
                  59: "cymbal", **{key: "timpani" for key in range(41, 54)}}  # fmt: skip
ORCHESTRA_KIT = 48
AUDIO_RATE = 22050


def _render(
    score,
    seconds: float | None = None,
    soundfont: Path | None = None,
    volumes: dict[int, int] | None = None,
) -> np.ndarray:
    """``score`` rendered as a user would hear it, stereo: with ``soundfont``, or the one
    Moodscore finds; at ``volumes`` (CC 7 per channel) when given, else matched as a render
    matches it."""
    from core.music.soundfont import find_soundfont
    from core.music.synth import synthesize

    frames = int((seconds or score.duration_s) * AUDIO_RATE)
    font = soundfont or find_soundfont()
    blocks = synthesize(score, font, AUDIO_RATE, frames, volumes=volumes)
    return np.concatenate([block.copy() for block in blocks])  # blocks reuse one buffer


def drum_sound(key: int, program: int) -> tuple[str, float, float]:
    """How one kit key sounds: (class, spectral peak Hz, spectral centroid Hz), the class
    named by the spectrum alone (kick, tom, snare, cymbal; timpani when it rings at its
    key's own pitch)."""
    from core.music.score import Note, Score, Track

    score = Score(120.0, [Track("Percussion", program, 9, [Note(0, 480, key, 100)])], 960)
    audio = _render(score, 1.0).mean(axis=1)
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    freqs = np.fft.rfftfreq(len(audio), 1.0 / AUDIO_RATE)
    peak = float(freqs[1 + int(np.argmax(spectrum[1:]))])
    centroid = float((spectrum * freqs).sum() / max(spectrum.sum(), 1e-12))
    fundamental = 440.0 * 2 ** ((key - 69) / 12)
    # A timpano's strongest partial is its fundamental, its fifth above (1.5) or octave (2).
    tuned = any(abs(1200 * math.log2(peak / (fundamental * r))) < 60 for r in (1.0, 1.5, 2.0))
    # Thresholds from FluidR3_GM's and TimGM6mb's kits: cymbals and hats are bright and peak
    # high (a snare is bright but peaks low), kicks peak under 65 Hz, toms above.
    if centroid > 4600 or (centroid > 3000 and peak > 1000):
        kind = "cymbal"
    elif tuned and centroid < 2000 and peak > 80:
        kind = "timpani"
    elif peak < 65 and centroid < 1700:
        kind = "kick"
    elif centroid >= 1500:
        kind = "snare"
    else:
        kind = "tom"
    return kind, peak, centroid


def kit_table(seed: int = 1) -> str:
    """Per preset: the drum keys its cues play (thriller arc), each rendered alone and named
    by its spectrum, against the kit's own chart (the Orchestra Kit's keys 41-53 are timpani)
    and against the General MIDI drum-set name a part written for a drum set means."""
    rows = []
    for preset, programs in PRESETS.items():
        program = programs["percussion"]
        chart = ORCHESTRA_KEYS if program == ORCHESTRA_KIT else STANDARD_KEYS
        keys: set[int] = set()
        for generator in ("scales", "chords"):
            piece = compose_cue(generator, arc_timeline("thriller"), seed, preset)
            keys |= {n.pitch for n in piece.notes if n.drum}
        heard = {key: drum_sound(key, program)[0] for key in sorted(keys)}
        by_chart = [key for key in keys if chart.get(key) == heard[key]]
        by_gm = [key for key in keys if STANDARD_KEYS.get(key) == heard[key]]
        rows.append(
            [
                preset,
                str(program),
                " ".join(f"{key}:{heard[key]}" for key in sorted(keys)),
                f"{len(by_chart)}/{len(keys)}",
                f"{len(by_gm)}/{len(keys)}",
            ]
        )
    header = ["preset", "kit", "keys played: heard as", "as the kit's chart names",
              "as the GM drum-set name"]  # fmt: skip
    return markdown_table(header, rows)


def stem_balance(
    generator: str, preset: str, soundfont: Path | None = None, seed: int = 1
) -> tuple[float, float, float]:
    """Loudness (LU) of the tune's stem over the accompaniment's (pad and bass together) on
    the thriller arc, over the whole cue and over its climax bars, and of the tune over the
    drums (whole cue); stereo stems, BS.1770 by pyloudnorm."""
    import pyloudnorm

    from core.music.score import Score
    from core.music.soundfont import find_soundfont
    from core.music.synth import matched_volumes

    timeline = arc_timeline("thriller")
    config = Config()
    config.music.preset = preset
    score = get_composer(generator)(timeline, config, seed)
    drums = {t.name for t in score.tracks if t.channel == 9}
    accompaniment_names = {"Harmony", "Bass"}
    lead = {t.name for t in score.tracks} - drums - accompaniment_names

    font = soundfont or find_soundfont()
    volumes = matched_volumes(score, font)  # the mix's, as `--stems` renders each stem

    def stem(names: set[str]) -> np.ndarray:
        tracks = [t for t in score.tracks if t.name in names]
        part = Score(score.bpm, tracks, score.length_ticks)
        return _render(part, soundfont=font, volumes=volumes)

    tune, accompaniment, percussion = stem(lead), stem(accompaniment_names), stem(drums)
    meter = pyloudnorm.Meter(AUDIO_RATE)
    arousal = [step.arousal for step in timeline.steps]
    peak_bars = [b for b, a in enumerate(arousal) if a >= max(arousal) - CLIMAX_MARGIN]
    bar_frames = int(AUDIO_RATE * timeline.grid.step_s)
    climax = slice(peak_bars[0] * bar_frames, (peak_bars[-1] + 1) * bar_frames)
    whole = meter.integrated_loudness(tune) - meter.integrated_loudness(accompaniment)
    top = meter.integrated_loudness(tune[climax]) - meter.integrated_loudness(accompaniment[climax])
    over_drums = meter.integrated_loudness(tune) - meter.integrated_loudness(percussion)
    return whole, top, over_drums


def balance_table() -> str:
    """Tune over accompaniment and drums (LU) per SoundFont, generator and preset, thriller
    arc, seed 1."""
    from core.music.soundfont import BUNDLED_SOUNDFONT, find_soundfont

    fonts = dict.fromkeys((find_soundfont(), BUNDLED_SOUNDFONT))
    rows = []
    for font in fonts:
        for generator in ("scales", "chords"):
            for preset in ("piano", "strings", "orchestral", "electric"):
                whole, top, drums = stem_balance(generator, preset, font)
                rows.append(
                    [font.name, generator, preset, f"{whole:+.1f}", f"{top:+.1f}", f"{drums:+.1f}"]
                )
    header = [
        "SoundFont",
        "generator",
        "preset",
        "tune − pad & bass, whole cue (LU)",
        "at the climax (LU)",
        "tune − drums (LU)",
    ]
    return markdown_table(header, rows)


# --- tables ----------------------------------------------------------------------------------


def _summary(values: list[float], fmt: str) -> str:
    finite = [v for v in values if not math.isnan(v)]
    if not finite:
        return "–"
    low, high, mean = min(finite), max(finite), float(np.mean(finite))
    if low == high:
        return fmt.format(mean)
    return f"{fmt.format(mean)} ({fmt.format(low)}–{fmt.format(high)})"


def _corpus_cell(ranges: dict[str, list[float]], key: str, fmt: str) -> str:
    if key not in ranges:
        return "–"
    low, high, mean = ranges[key]
    if key == "ends_on_tonic":
        return fmt.format(mean)
    return f"{fmt.format(low)}–{fmt.format(high)}"


def _failed(generator: str, exc: Exception) -> str:
    """A generator that cannot compose is reported in its cell, not fatal to the table."""
    log.warning("%s failed: %r", generator, exc)
    return f"failed: {type(exc).__name__}"


def craft_table(generators: list[str], corpus: dict) -> str:
    crafted: dict[str, dict[str, list[float]] | str] = {}
    for generator in generators:
        try:
            crafted[generator] = constant_craft(generator)
        except Exception as exc:  # reported in the table
            crafted[generator] = _failed(generator, exc)
    header = ["measure (2 min, one emotion)", *generators, "Bach chorales 5–95%", "Essen 5–95%"]
    rows = []
    for key, label, fmt in MEASURES:
        row = [label]
        for generator in generators:
            values = crafted[generator]
            row.append(values if isinstance(values, str) else _summary(values[key], fmt))
        row += [_corpus_cell(corpus[name], key, fmt) for name in ("bach", "essen")]
        rows.append(row)
    return markdown_table(header, rows)


def following_table(generators: list[str], arcs: int) -> str:
    rows = []
    for generator in generators:
        extra: dict[str, list[float]] = {}
        try:
            agreements, correlations = following(generator, arcs, extra)
        except Exception as exc:  # reported in the table
            rows.append([generator, _failed(generator, exc), "–", "–", "–", "–", "–", "–"])
            continue
        rows.append(
            [
                generator,
                f"{np.nanmean(agreements):.3f}",
                f"{np.nanmin(agreements):.3f}",
                f"{np.nanmean(correlations):.2f}",
                f"{np.nanmin(correlations):.2f}",
                f"{np.nanmax(extra['spacing']):.1%}",
                f"{sum(extra['rising_authentic']):.0f}",
                f"{sum(extra['out_of_range']):.0f}",
            ]
        )
    header = [
        "generator",
        "mode agreement mean",
        "worst",
        "onsets~arousal Spearman mean",
        "worst",
        "spacing violations (worst arc)",
        "authentic cadences in rising bars (all arcs)",
        "out-of-range notes (all arcs)",
    ]
    return markdown_table(header, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arcs", type=int, default=16, help="random arcs per generator")
    parser.add_argument("--corpus-size", type=int, default=60, help="pieces per corpus")
    parser.add_argument("--generators", default=",".join(GENERATORS))
    parser.add_argument("--skip-cues", action="store_true", help="leave out the cue tables")
    parser.add_argument(
        "--skip-audio", action="store_true", help="leave out the rendered kit and balance tables"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    generators = [g.strip() for g in args.generators.split(",") if g.strip()]
    started = time.perf_counter()
    corpus = corpus_ranges(args.corpus_size)
    print(
        f"Judged from the MIDI files by `benchmarks/music_judge.py` (no generator code). "
        f"Constant emotion: {len(CONSTANT_EMOTIONS)} emotions × {len(CONSTANT_SEEDS)} seeds, "
        f"{SECONDS:g} s at 120 bpm; mean (min–max). Corpora: "
        f"{int(corpus['bach']['_pieces'][0])} Bach chorales, "
        f"{int(corpus['essen']['_pieces'][0])} Essen folk songs (monophonic: no harmony "
        "measures).\n"
    )
    print(craft_table(generators, corpus))
    print(
        f"\nRandom changing arcs: {args.arcs} seeds × {SECONDS:g} s, a new emotion (and a cut) "
        "every 1–6 bars, valence 0.05–0.35 or 0.65–0.95; mode by Krumhansl–Kessler per bar.\n"
    )
    print(following_table(generators, args.arcs))
    if not args.skip_cues:
        print(
            f"\nCues of issue 18 (`benchmarks/arcs/`), seeds {', '.join(map(str, CUE_SEEDS))}, "
            f"piano preset (ranges: every preset); calm bars: arousal < {CALM_AROUSAL}, climax: "
            "the arc's highest arousal.\n"
        )
        print(cue_table())
        print("\nNote identity, (onset 16th, pitch), share of the smaller part.\n")
        print(identity_table())
        print(
            f"\nDrama: transitions into jumps ({args.arcs} random arcs; the 2 beats before the"
            " jump's downbeat), phrase variety at a constant emotion (4-bar groups), endings.\n"
        )
        print(drama_table(generators, args.arcs))
    if not args.skip_audio:
        print("\nPercussion per preset: each key the cues play, rendered alone and named by its")
        print("spectrum (timpani: a partial within 60 cents of the key's pitch).\n")
        print(kit_table())
        print("\nBalance from rendered stems (thriller, seed 1).\n")
        print(balance_table())
    log.info("bench_music took %.0f s", time.perf_counter() - started)


if __name__ == "__main__":
    main()
