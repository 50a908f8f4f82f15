"""The one duration grammar: `30s`, `2m`, `1500ms`, `1h`, `.5s`, or a bare number of seconds.

`parse_duration` is what every time goes through, in a game day spec and in the Locust
plugin's `--gameday-*` options alike (harness.load.options), so one grammar holds
everywhere:

    duration := number [unit]        number: 12, 1.5, .5, 5. (no sign, no exponent)
    unit     := ms | s | m | h       none means seconds

It imports nothing of gameday's (and no Locust), so every layer may use it.
"""

from __future__ import annotations

import math
import re

_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h)?\s*$")
_SCALE = {"ms": 1 / 1000, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(value: object) -> float:
    """Seconds in `value` (a non-negative number or a string such as "2m"); ValueError otherwise.

    The message quotes the bad value and says what would work, so loaders can pass it on as is.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as 30s, 2m or 1500ms, got {value!r}")
    if isinstance(value, (int, float)):
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"expected a non-negative duration, got {value!r}")
        return float(value)
    match = _DURATION.match(value) if isinstance(value, str) else None
    if not match:
        raise ValueError(f"cannot parse duration {value!r}; use e.g. 30s, 2m or 1500ms")
    number, unit = float(match.group(1)), match.group(2)
    return number / 1000 if unit == "ms" else number * _SCALE[unit]


def format_duration(seconds: float) -> str:
    """A short human form: 1500ms -> '1.5s', 90 -> '90s', 0.25 -> '250ms'."""
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    return f"{seconds:g}s"
