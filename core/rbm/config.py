"""Configuration of the RBM generators."""

from __future__ import annotations

from dataclasses import dataclass

from ..limits import ranged


@dataclass
class RbmConfig:
    """Which model the RBM generators sample, and how."""

    model: str = ""
    gibbs_steps: int = ranged(10, 1, 1000)
    #: Extra Gibbs steps for a chain that starts from noise (every RBM-Sampling window, the
    #: first RBM-Feedback window): ten steps from noise leave about twice the corpus's onsets.
    burn_in: int = ranged(190, 0, 10_000)
