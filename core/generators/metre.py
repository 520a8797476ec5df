"""The metre every deterministic generator counts in: 4/4 on the shared time grid (ticks)."""

from __future__ import annotations

from ..timeline import TimeGrid

BAR = TimeGrid.ticks_per_bar
BEAT = TimeGrid.ticks_per_beat
HALF_BAR = BAR // 2
SIXTEENTH = TimeGrid.ticks_per_timestep
