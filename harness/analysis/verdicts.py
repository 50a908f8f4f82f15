"""SLO verdicts: pass, fail, no-data or inconclusive, each with what was observed and the window that shows it.

No-data is a failure: a phase that did not happen, an endpoint with no requests,
correctness without checked responses, events.* with no events produced in the
phase, recovery_time without a fault. `recovery_time` over several faults is the
worst one; a fault that never recovered makes it infinite ("never"). When no fault
had any impact, recovery_time passes with the outcome "no impact observed"
(harness.analysis.recovery), never a bare 0 s.

**Inconclusive** (a failure too, exit 1): more than 10% of the verdict's seconds were
generator-bound (the load generator behind schedule, CPU-bound, or short of a
worker), so what was measured is the generator, not the target: every pass, and every
failure the generator could cause (latency, throughput, recovery). A failure of what the
target answered (errors, 429s, wrong bodies, lost events: ANSWER_SLIS) stands. The reason says so
and how to fix it. With `allow_generator_bound` such a verdict is judged as usual and
only labelled generator-bound in its evidence.

SLOs scoped to a variant, comparisons of two variants and SLOs on the target's own
metrics are judged by harness.analysis.variants, .canary and .metric_slis; `judge`
takes their verdicts in `judged` and applies the same rule to them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.analysis.phases import Window
from harness.analysis.recovery import CONSECUTIVE_S, NO_IMPACT, Recovery
from harness.analysis.slis import ALL, PhaseSlis, sli_column
from harness.spec.models import Slo

PASS, FAIL, NO_DATA, INCONCLUSIVE = "pass", "fail", "no-data", "inconclusive"
STATES = (PASS, FAIL, NO_DATA, INCONCLUSIVE)
GENERATOR_ADVICE = (
    "the load generator, not the target, fell behind: {bound} of {seconds} seconds were "
    "generator-bound (Locust behind its schedule, CPU-bound or short of a worker), so this "
    "verdict would measure Locust; give it more processes (load.processes) or lower the rate, "
    "or pass --allow-generator-bound to judge anyway. (A target that stops answering holds every "
    "pool member and puts the schedule behind too: then its availability verdict fails.)"
)


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
    note: str = ""  # recovery_time: "no-impact" when no fault moved the SLIs
    detail: Mapping[str, Any] | None = None  # comparisons and metric SLOs: what the number rests on

    @property
    def passed(self) -> bool:
        return self.state == PASS


def judge(
    slos: Sequence[Slo],
    table: dict[str, PhaseSlis],
    recoveries: Sequence[Recovery],
    allow_generator_bound: bool = False,
    judged: Mapping[int, Verdict] | None = None,
) -> list[Verdict]:
    """One Verdict per SLO, in spec order; `judged[i]` is the verdict of `slos[i]` made elsewhere."""
    judged = judged or {}
    verdicts = [
        judged[i]
        if i in judged
        else _recovery_verdict(slo, table, recoveries)
        if slo.sli == "recovery_time"
        else _verdict(slo, table)
        for i, slo in enumerate(slos)
    ]
    return verdicts if allow_generator_bound else [_trusted(v) for v in verdicts]


# What the target answered, which a late generator cannot make worse: a failure on these
# stands even in a generator-bound window (a hanging target exhausts the open model's pool
# and so puts the generator behind its schedule itself; its errors are still its own).
# A pass on them is inconclusive all the same: the target did not get the load asked for.
ANSWER_SLIS = frozenset(
    {"availability", "error_rate", "rate_limited", "correctness", "events.lost", "events.duplicated"}
)


def _trusted(verdict: Verdict) -> Verdict:
    """`verdict`, or inconclusive when its window was generator-bound and the generator could
    have produced it (a pass; or a failure of latency, throughput, recovery...)."""
    evidence = verdict.evidence
    if not evidence.generator_bound or verdict.state == NO_DATA:
        return verdict
    if verdict.state == FAIL and verdict.slo.sli in ANSWER_SLIS:
        return verdict
    reason = GENERATOR_ADVICE.format(bound=evidence.generator_bound_seconds, seconds=evidence.seconds)
    return Verdict(verdict.slo, INCONCLUSIVE, verdict.observed, evidence, reason, verdict.note, verdict.detail)


def verdict_on(slo: Slo, table: dict[str, PhaseSlis]) -> Verdict:
    """The verdict of a request SLO on the SLIs in `table` (the run's, or one variant's)."""
    return _verdict(slo, table)


def evidence_of(phase: PhaseSlis | None, samples: int) -> Evidence:
    """The evidence of a verdict resting on `phase` and `samples` samples."""
    return _evidence(phase, samples)


def _verdict(slo: Slo, table: dict[str, PhaseSlis]) -> Verdict:
    phase = table.get(slo.phase)
    if phase is None:
        return Verdict(slo, NO_DATA, None, _evidence(None, 0), f"phase {slo.phase!r} did not happen")
    endpoint = slo.endpoint or ALL
    values = phase.endpoints.get(endpoint)
    if values is None:
        return Verdict(slo, NO_DATA, None, _evidence(phase, 0), f"no requests to {endpoint!r} during {slo.phase}")
    samples = int(values.get("events.produced" if slo.sli.startswith("events.") else "requests") or 0)
    observed = values.get(sli_column(slo))
    evidence = _evidence(phase, samples)
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
    impacted = [r for r in recoveries if r.outcome != NO_IMPACT]
    if not impacted:
        return Verdict(
            slo, PASS, 0.0, evidence, "the SLIs never left their baseline band: nothing to recover from", NO_IMPACT
        )
    observed = max(math.inf if r.seconds is None else r.seconds for r in impacted)
    reason = _never_reason(impacted) if math.isinf(observed) else ""
    return Verdict(slo, PASS if slo.objective.holds(observed) else FAIL, observed, evidence, reason)


def _never_reason(recoveries: Sequence[Recovery]) -> str:
    short = [
        r
        for r in recoveries
        if r.seconds is None and (r.recovery_window is None or r.recovery_window.length < CONSECUTIVE_S)
    ]
    if short:
        return (
            f"the load ended less than {CONSECUTIVE_S} s after the fault was removed, too soon to show a "
            "recovery: lengthen the load after the fault"
        )
    return (
        f"never recovered before the load ended: no {CONSECUTIVE_S} s in a row met every recovery criterion "
        "(see the recovery table)"
    )


def _evidence(phase: PhaseSlis | None, samples: int) -> Evidence:
    if phase is None:
        return Evidence((), 0, samples, 0, False)
    return Evidence(phase.windows, phase.seconds, samples, phase.generator_bound_seconds, phase.generator_bound)
