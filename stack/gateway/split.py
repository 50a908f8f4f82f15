"""The weighted stable/canary split: which model version an uncached request goes to."""

from __future__ import annotations

import math
import random
from collections.abc import Callable

STABLE, CANARY = "stable", "canary"


def validate_weight(weight: object) -> float:
    """`weight` as a float in 0..1; raises ValueError quoting the bad value otherwise."""
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight):
        raise ValueError(f"canary_weight must be a number between 0 and 1, got {weight!r}")
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"canary_weight must be between 0 and 1, got {weight!r}")
    return float(weight)


class Split:
    """Sends a `canary_weight` share of choices to the canary; `rng` returns floats in [0, 1)."""

    def __init__(self, canary_weight: float, rng: Callable[[], float] = random.random) -> None:
        self.canary_weight = validate_weight(canary_weight)
        self._rng = rng

    def set_weight(self, weight: object) -> None:
        self.canary_weight = validate_weight(weight)

    def choose(self) -> str:
        """'canary' with probability canary_weight, else 'stable' (0 and 1 are exact)."""
        return CANARY if self._rng() < self.canary_weight else STABLE

    @staticmethod
    def other(version: str) -> str:
        return STABLE if version == CANARY else CANARY
