"""Configuration of the RBM generators."""

from __future__ import annotations

from dataclasses import dataclass

from ..limits import ranged


@dataclass
class RbmConfig:
    """Which model the RBM generators sample, and how."""

    model: str = ""
    #: Gibbs steps per window (the seed's k was 10; with 10 a Feedback chain often keeps the
    #: previous bar's mode after a valence jump; 50, 100 and 200 measured alike).
    gibbs_steps: int = ranged(50, 1, 1000)
    #: Extra Gibbs steps for a chain that starts from noise (every RBM-Sampling window, the
    #: first RBM-Feedback window): ten steps from noise leave about twice the corpus's onsets.
    burn_in: int = ranged(190, 0, 10_000)
    #: Last Gibbs step mean-field: keep the notes above probability one half instead of
    #: sampling each note unit independently.
    mean_field: bool = True
    #: Conditioning strength for arousal: the model is clamped to ``0.5 + gain (arousal - 0.5)``
    #: (velocity still follows the timeline's arousal). 1 clamps the timeline's value; 1.25
    #: lifted RBM-Sampling's onsets-arousal Spearman on changing arcs from 0.54 to 0.62 (at
    #: 100 Gibbs steps).
    arousal_gain: float = ranged(1.25, 0.0, 4.0)
    #: Chains drawn per window at most: a window that repeats the previous one, has fewer than
    #: three pitch classes, sounds bare intervals or the other mode is re-drawn from fresh
    #: noise, and the least flawed draw is kept (1 = no re-draw). 6 over 4: full triads on
    #: 90% of the beats instead of 87-90%, worst piece 86% instead of 79%.
    candidates: int = ranged(6, 1, 16)
    #: Phrase plan: the last bar of each 4-bar phrase is steered to a cadence (V then I, or V
    #: in a half cadence) and the piece's last bar to the tonic chord.
    cadences: bool = True
    #: Log-odds taken from the other mode's degrees (E-flat, A-flat, B-flat in a major bar; E,
    #: A, B in a minor one, relative to the model's tonic C) while the chain samples: the key
    #: signature a composer writes in (0 = the model alone chooses; mode agreement 0.85-0.87
    #: at 0, 0.90-0.93 at 2 and 3, before the re-draw also judged the mode).
    mode_push: float = ranged(2.0, 0.0, 10.0)
    #: Semitones the model's own notes may span (a register window the chain samples in;
    #: 0 = the model's whole range).
    register_span: int = ranged(40, 0, 77)
    #: A bass from the model's harmony and, by arousal, the shared percussion; the model's
    #: highest voice on the preset's melody instrument, the rest on its harmony instrument.
    arrangement: bool = True
