"""Guardrails: abort the chaos when a live SLI crosses a line.

The load plugin rewrites live.json every second with the last 5 s and 30 s of
load. A guardrail reads the window closest to its own `window` (5 s for
windows under ~17 s, else 30 s) and breaches when `abort_if` holds on it. The
SLI is in the units the objective grammar normalises to (seconds, fractions,
requests per second), so `abort_if: "> 50%"` on error_rate compares 0.5.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.spec.models import Guardrail

# live SLI name -> (field of the live Stats, scale into the objective's units)
LIVE_FIELDS = {
    "error_rate": ("error_rate", 1.0),
    "rate_limited": ("rate_limited_rate", 1.0),
    "throughput": ("throughput", 1.0),
    "latency.p50": ("p50_ms", 0.001),
    "latency.p95": ("p95_ms", 0.001),
    "latency.p99": ("p99_ms", 0.001),
}
LIVE_SLIS = (*LIVE_FIELDS, "availability")


@dataclass(frozen=True)
class Breach:
    guardrail: Guardrail
    observed: float
    window_end: int

    def describe(self) -> str:
        g = self.guardrail
        where = f"[{g.endpoint}]" if g.endpoint else ""
        return f"{g.sli}{where} = {self.observed:.4g} over the last {g.window:g}s ({g.abort_if.text})"

    def event_detail(self) -> dict[str, Any]:
        """The detail of the `abort` event a breach writes to the timeline (a run's and the UI's alike)."""
        g = self.guardrail
        return {
            "observed": self.observed,
            "abort_if": g.abort_if.text,
            "window": g.window,
            "window_end": self.window_end,
        }


def live_value(live: Mapping[str, Any], sli: str, window_s: float, endpoint: str | None = None) -> float | None:
    """The live value of `sli` over the window closest to `window_s`; None without data."""
    windows = live.get("windows") or {}
    key = "5s" if window_s < 17.5 else "30s"
    win = windows.get(key) or {}
    stats = (win.get("endpoints") or {}).get(endpoint) if endpoint else win.get("overall")
    if not stats or not stats.get("requests"):
        return None
    if sli == "availability":
        return stats["ok"] / stats["requests"]
    field, scale = LIVE_FIELDS[sli]
    value = stats.get(field)
    return None if value is None else value * scale


def check(guardrails: tuple[Guardrail, ...], live: Mapping[str, Any] | None) -> Breach | None:
    """The first guardrail whose abort condition holds on `live`, or None."""
    if not live:
        return None
    for g in guardrails:
        value = live_value(live, g.sli, g.window, g.endpoint)
        if value is not None and g.abort_if.holds(value):
            return Breach(g, value, int(live.get("window_end", 0)))
    return None
