"""Configuration of the RBM generators."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class RbmConfig:
    """Which model the RBM generators sample, and how."""

    model: str = ""
    gibbs_steps: int = 10
