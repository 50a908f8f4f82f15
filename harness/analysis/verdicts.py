"""SLO verdicts: pass, fail or no-data, each with what was observed and the window that shows it.

No-data is a failure (DESIGN.md): a phase that did not happen, an endpoint with no
requests, correctness without checked responses, events.* with no events produced
in the phase, recovery_time without a fault. `recovery_time` over several faults
is the worst one; a fault that never recovered makes it infinite ("never").

Every verdict's evidence says whether its window was generator-bound (more than
10% of its seconds had the load generator behind schedule or CPU-bound), so a
reader blames the generator, not the target, for such a window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from harness.analysis.phases import Window
from harness.analysis.recovery import Recovery
from harness.analysis.slis import ALL, PhaseSlis, apdex_name
from harness.spec.models import Slo

PASS, FAIL, NO_DATA = "pass", "fail", "no-data"


@dataclass(frozen=True)
class Evidence:
    """The windows a verdict was judged on; `samples` is requests (events for events.*, faults for recovery_time)."""

    windows: tuple[Window, ...]
    seconds: int
    samples: int
    generator_bound_seconds: int
    generator_bound: bool

    @property
    def start(self) -> float | None:
        return self.windows[0].start if self.windows else None

    @property
    def end(self) -> float | None:
        return self.windows[-1].end if self.windows else None


@dataclass(frozen=True)
class Verdict:
    slo: Slo
    state: str
    observed: float | None
    evidence: Evidence
    reason: str = ""

    @property
    def passed(self) -> bool:
        return self.state == PASS


def judge(slos: Sequence[Slo], table: dict[str, PhaseSlis], recoveries: Sequence[Recovery]) -> list[Verdict]:
    """One Verdict per SLO, in spec order."""
    return [_recovery_verdict(slo, table, recoveries) if slo.sli == "recovery_time" else _verdict(slo, table)
            for slo in slos]


def _verdict(slo: Slo, table: dict[str, PhaseSlis]) -> Verdict:
    phase = table.get(slo.phase)
    if phase is None:
        return Verdict(slo, NO_DATA, None, _evidence(None, 0), f"phase {slo.phase!r} did not happen")
    endpoint = slo.endpoint or ALL
    values = phase.endpoints.get(endpoint)
    if values is None:
        return Verdict(slo, NO_DATA, None, _evidence(phase, 0), f"no requests to {endpoint!r} during {slo.phase}")
    samples = (values.get("events.produced") or 0) if slo.sli.startswith("events.") else values.get("requests", 0)
    observed = values.get(apdex_name(slo.apdex_t) if slo.apdex_t is not None else slo.sli)
    evidence = _evidence(phase, int(samples))
    if observed is None or not samples:
        return Verdict(slo, NO_DATA, None, evidence, _no_data_reason(slo, samples))
    return Verdict(slo, PASS if slo.objective.holds(observed) else FAIL, observed, evidence)


def _no_data_reason(slo: Slo, samples: int) -> str:
    if slo.sli.startswith("events."):
        return f"no events produced during {slo.phase}"
    if slo.sli == "correctness":
        return "no responses were checked for correctness"
    return f"no data for {slo.sli} during {slo.phase}" if samples else f"no requests during {slo.phase}"


def _recovery_verdict(slo: Slo, table: dict[str, PhaseSlis], recoveries: Sequence[Recovery]) -> Verdict:
    phase = table.get("recovery")
    evidence = _evidence(phase, len(recoveries))
    if not recoveries:
        return Verdict(slo, NO_DATA, None, evidence, "no fault was injected, so there is nothing to recover from")
    observed = max(math.inf if r.seconds is None else r.seconds for r in recoveries)
    reason = "never recovered before the load ended" if math.isinf(observed) else ""
    return Verdict(slo, PASS if slo.objective.holds(observed) else FAIL, observed, evidence, reason)


def _evidence(phase: PhaseSlis | None, samples: int) -> Evidence:
    if phase is None:
        return Evidence((), 0, samples, 0, False)
    return Evidence(phase.windows, phase.seconds, samples, phase.generator_bound_seconds, phase.generator_bound)
