"""The canary judge: one variant against another, for each comparison SLO.

    judge_comparison(slo, variants, table) -> Verdict

`{sli: latency.p99, compare: {variant: canary, against: stable}, objective: "ratio < 1.2"}`
is judged by this decision rule:

1. **Data.** Each variant needs at least MIN_SECONDS seconds with a value of the SLI in
   the phase; with fewer the verdict is no-data (a failure): a canary that got almost no
   traffic has not been judged, and must not pass for it.
2. **Effect.** Each variant's SLI over the whole phase (pooled, exactly as any SLO's SLI:
   the p99 of all the canary's requests in the phase) gives `observed`: the ratio
   (variant / against) or the difference (variant - against).
3. **Effect-size floor.** If `observed` meets the objective, the verdict is pass: the
   objective's margin *is* the floor, the largest regression the release may carry
   (`ratio < 1.2`: up to 20% slower). A smaller difference never fails, however
   significant: with enough traffic, 1% slower is significant and still not a regression
   anyone asked to block.
4. **Significance.** If `observed` breaks the objective, a one-sided Mann-Whitney U test
   (scipy.stats.mannwhitneyu) over the two variants' *per-second* values of the SLI in the
   phase asks whether the variant is worse in the direction the objective forbids
   (`<`/`<=`: greater values; `>`/`>=`: smaller ones). p < ALPHA fails; otherwise the
   verdict is pass, saying the difference was not significant: a few unlucky seconds
   (one GC pause in the canary's p99) do not fail a release.

So a fail needs both a difference beyond the margin and per-second evidence that it is
systematic. The test is over seconds, not requests: requests within one second share
the machine's state, seconds are closer to independent samples (Kayenta's
Mann-Whitney classifier works on metric data points the same way). A second's latency
percentile of a variant with few requests is nearer its maximum, so at unequal traffic
the small variant's per-second p99 is biased *low*: the test is then conservative against
a small canary, never eager to fail it. The pooled `observed` has no such bias.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.stats import mannwhitneyu

from harness.analysis.phases import second_mask
from harness.analysis.slis import ALL, PhaseSlis, sli_column
from harness.analysis.variants import VariantSlis
from harness.analysis.verdicts import FAIL, NO_DATA, PASS, Evidence, Verdict, evidence_of
from harness.spec.models import Compare, Slo

MIN_SECONDS = 5
ALPHA = 0.05


def judge_comparison(slo: Slo, variants: dict[str, VariantSlis], table: dict[str, PhaseSlis]) -> Verdict:
    """The verdict of a comparison SLO (see the module docstring); `table` is the run's own SLIs (evidence)."""
    compare = slo.compare
    assert compare is not None
    phase = table.get(slo.phase)
    missing = [name for name in (compare.variant, compare.against) if name not in variants]
    if phase is None or missing:
        reason = (
            f"phase {slo.phase!r} did not happen"
            if phase is None
            else f"no response was answered by variant {missing[0]!r} (variants seen: {', '.join(variants) or 'none'})"
        )
        return Verdict(slo, NO_DATA, None, evidence_of(phase, 0), reason)
    mine, theirs = (_side(slo, variants[name]) for name in (compare.variant, compare.against))
    evidence = evidence_of(phase, mine.requests + theirs.requests)
    short = [
        (name, side)
        for name, side in ((compare.variant, mine), (compare.against, theirs))
        if side.value is None or len(side.seconds) < MIN_SECONDS
    ]
    if short:
        name, side = short[0]
        return Verdict(
            slo,
            NO_DATA,
            None,
            evidence,
            f"variant {name!r} has {len(side.seconds)} seconds with {slo.sli} during {slo.phase}; "
            f"judging it needs at least {MIN_SECONDS}",
        )
    return _decide(slo, compare, mine, theirs, evidence)


class _Side:
    """One variant in the phase: its pooled SLI, its per-second values, its request count."""

    def __init__(self, value: float | None, seconds: npt.NDArray[np.float64], requests: int) -> None:
        self.value, self.seconds, self.requests = value, seconds, requests


def _side(slo: Slo, variant: VariantSlis) -> _Side:
    column, endpoint = sli_column(slo), slo.endpoint or ALL
    table = variant.phases.get(slo.phase)
    values = table.endpoints.get(endpoint, {}) if table is not None else {}
    frame = variant.per_second
    seconds: npt.NDArray[np.float64] = np.zeros(0)
    if table is not None and not frame.empty and column in frame:
        rows = frame[(frame["endpoint"] == endpoint).to_numpy() & second_mask(frame["ts"].to_numpy(), table.windows)]
        seconds = pd.to_numeric(rows[column], errors="coerce").dropna().to_numpy(dtype=float)
    return _Side(values.get(column), seconds, int(values.get("requests") or 0))


def _decide(slo: Slo, compare: Compare, mine: _Side, theirs: _Side, evidence: Evidence) -> Verdict:
    # judge_comparison returned no-data for a side without a value
    assert mine.value is not None and theirs.value is not None
    objective = slo.objective
    observed = _measure(compare.measure, mine.value, theirs.value)
    worse: Literal["greater", "less"] = "greater" if objective.op in ("<", "<=") else "less"
    p_value = float(mannwhitneyu(mine.seconds, theirs.seconds, alternative=worse).pvalue)
    p_value = 1.0 if math.isnan(p_value) else p_value  # identical constant samples: no evidence at all
    holds = objective.holds(observed)
    detail = _detail(compare, mine, theirs, p_value, worse)
    if holds:
        return Verdict(slo, PASS, observed, evidence, "", "", detail)
    if p_value < ALPHA:
        return Verdict(
            slo,
            FAIL,
            observed,
            evidence,
            f"{compare.variant} is worse than {compare.against} beyond the objective, and consistently: "
            f"one-sided Mann-Whitney U over {len(mine.seconds)} + {len(theirs.seconds)} seconds, "
            f"p = {p_value:.2g} < {ALPHA}",
            "",
            detail,
        )
    return Verdict(
        slo,
        PASS,
        observed,
        evidence,
        f"{compare.measure} {_fmt(observed)} breaks {objective.text!r}, but the per-second values do not "
        f"show {compare.variant} {'higher' if worse == 'greater' else 'lower'} than {compare.against} "
        f"(one-sided Mann-Whitney U, p = {p_value:.2g} >= {ALPHA}): not a significant regression",
        "",
        detail,
    )


def _measure(measure: str, mine: float, theirs: float) -> float:
    if measure == "difference":
        return mine - theirs
    if theirs == 0:
        return 1.0 if mine == 0 else math.inf
    return mine / theirs


def _fmt(value: float) -> str:
    return "infinite" if math.isinf(value) else f"{value:.3g}"


def _detail(compare: Compare, mine: _Side, theirs: _Side, p_value: float, worse: str) -> dict[str, Any]:
    return {
        "variant": compare.variant,
        "against": compare.against,
        "measure": compare.measure,
        "variant_value": mine.value,
        "against_value": theirs.value,
        "variant_seconds": int(len(mine.seconds)),
        "against_seconds": int(len(theirs.seconds)),
        "variant_median": float(np.median(mine.seconds)),
        "against_median": float(np.median(theirs.seconds)),
        "variant_requests": mine.requests,
        "against_requests": theirs.requests,
        "alternative": worse,
        "p_value": p_value,
        "alpha": ALPHA,
        "significant": p_value < ALPHA,
    }
