"""`gameday compare RUN_A RUN_B`: is run B (the candidate) a regression against run A (the reference)?

As in canary analysis (Kayenta's Mann-Whitney judge), every metric is compared per
phase on its per-second series, all endpoints together:

    metrics   latency.p50, latency.p99 (ms), error_rate (%), and e2e.p99 (ms, Kafka
              end-to-end, by production second) when both runs have a ledger
    phases    baseline, fault, recovery: each phase of A against the same phase of B
    change    median(B) - median(A), and the ratio median(B) / median(A)
    p_value   one-sided Mann-Whitney U, alternative "B greater than A" (higher is worse
              for every metric here); None with fewer than MIN_SECONDS seconds on a side

Thresholds (THRESHOLDS, documented in docs/reports.md):

    fail       p < 0.01  and B worse by more than 25%  and by more than the metric's floor
    marginal   p < 0.05  and B worse by more than 10%  and by more than the floor
    pass       otherwise (including no data on either side: nothing to judge)

    floors     latency 5 ms, error rate 1 percentage point, e2e latency 5 ms, so that
               a jump from 0.1% to 0.3% errors or from 2 ms to 3 ms is not a regression

An SLO that passed in A and did not pass in B is a `fail` too. The overall score is
fail if any row fails, marginal if any is marginal, else pass; `score` is the share of
rows that passed (marginal counts half), 0..100, as canary tools print it.
`gameday compare` exits 1 on fail and 0 otherwise, so a release pipeline can gate on it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import mannwhitneyu

from harness.analysis.phases import second_mask
from harness.analysis.result import Analysis, result_document
from harness.analysis.slis import ALL
from harness.report.charts import event_seconds
from harness.report.summary import experiment_rows
from harness.status import ExitCode

PASS, MARGINAL, FAIL = "pass", "marginal", "fail"
PHASES = ("baseline", "fault", "recovery")
MIN_SECONDS = 3


@dataclass(frozen=True)
class Threshold:
    """Fail/marginal limits of one metric: significance, relative worsening, and an absolute floor."""

    fail_p: float = 0.01
    fail_ratio: float = 1.25
    marginal_p: float = 0.05
    marginal_ratio: float = 1.10
    floor: float = 5.0


THRESHOLDS = {
    "latency.p50": Threshold(floor=5.0),
    "latency.p99": Threshold(floor=5.0),
    "error_rate": Threshold(floor=1.0),
    "e2e.p99": Threshold(floor=5.0),
}
UNITS = {"latency.p50": "ms", "latency.p99": "ms", "error_rate": "%", "e2e.p99": "ms"}


@dataclass(frozen=True)
class MetricComparison:
    phase: str
    metric: str
    unit: str
    median_a: float | None
    median_b: float | None
    change: float | None
    ratio: float | None
    p_value: float | None
    n_a: int
    n_b: int
    score: str
    why: str


@dataclass(frozen=True)
class SloChange:
    slo: str
    state_a: str
    state_b: str
    observed_a: str
    observed_b: str
    score: str


@dataclass(frozen=True)
class Comparison:
    name_a: str
    name_b: str
    dir_a: str
    dir_b: str
    metrics: tuple[MetricComparison, ...]
    slos: tuple[SloChange, ...]

    @property
    def rows(self) -> list[str]:
        return [m.score for m in self.metrics] + [s.score for s in self.slos]

    @property
    def verdict(self) -> str:
        rows = self.rows
        return FAIL if FAIL in rows else MARGINAL if MARGINAL in rows else PASS

    @property
    def score(self) -> float:
        rows = self.rows
        return (
            100.0
            if not rows
            else 100.0 * sum(1.0 if r == PASS else 0.5 if r == MARGINAL else 0.0 for r in rows) / len(rows)
        )

    @property
    def exit_code(self) -> int:
        return ExitCode.FAILED if self.verdict == FAIL else ExitCode.OK


def compare(a: Analysis, b: Analysis) -> Comparison:
    """Compare two Analyses (A the reference, B the candidate); see the module docstring."""
    series_a, series_b = phase_series(a), phase_series(b)
    metrics = [
        judge_metric(
            phase, metric, series_a.get((phase, metric), np.array([])), series_b.get((phase, metric), np.array([]))
        )
        for phase in PHASES
        for metric in THRESHOLDS
        if (phase, metric) in series_a or (phase, metric) in series_b
    ]
    return Comparison(_name(a), _name(b), a.run_dir, b.run_dir, tuple(metrics), tuple(slo_changes(a, b)))


def _name(analysis: Analysis) -> str:
    return analysis.gameday.name if analysis.gameday else "(unnamed)"


def phase_series(analysis: Analysis) -> dict[tuple[str, str], np.ndarray]:
    """(phase, metric) -> the per-second values of that metric in that phase (NaN dropped)."""
    rows = analysis.per_second
    rows = rows[rows["endpoint"] == ALL] if "endpoint" in rows else rows
    load_end = max((w.end for w in analysis.phases.get("run", ())), default=math.inf)
    events = event_seconds(analysis.ledger.events, load_end)
    out = {}
    for phase in PHASES:
        windows = analysis.phases.get(phase, ())
        if not windows:
            continue
        mask = second_mask(rows["ts"].to_numpy(), windows) if len(rows) else np.zeros(0, bool)
        for metric, scale in (("latency.p50", 1000.0), ("latency.p99", 1000.0), ("error_rate", 100.0)):
            if metric in rows:
                out[(phase, metric)] = _finite(rows.loc[mask, metric].to_numpy(dtype=float) * scale)
        if not events.empty:
            out[(phase, "e2e.p99")] = _finite(
                events["e2e.p99"].to_numpy(dtype=float)[second_mask(events.index.to_numpy(), windows)]
            )
    return out


def _finite(values: np.ndarray) -> np.ndarray:
    return values[~np.isnan(values)]


def judge_metric(phase: str, metric: str, a: np.ndarray, b: np.ndarray) -> MetricComparison:
    """One row of the comparison: medians, change, one-sided Mann-Whitney U and the pass/marginal/fail score."""
    med_a = float(np.median(a)) if len(a) else None
    med_b = float(np.median(b)) if len(b) else None
    change: float | None = None
    ratio: float | None = None
    if med_a is not None and med_b is not None:
        change = med_b - med_a
        ratio = med_b / med_a if med_a > 0 else None
    p_value = None
    if len(a) >= MIN_SECONDS and len(b) >= MIN_SECONDS:
        p = float(mannwhitneyu(b, a, alternative="greater").pvalue)
        p_value = None if math.isnan(p) else p
    score, why = _score(THRESHOLDS[metric], med_a, change, p_value)
    return MetricComparison(
        phase, metric, UNITS[metric], med_a, med_b, change, ratio, p_value, len(a), len(b), score, why
    )


def _score(limits: Threshold, med_a: float | None, change: float | None, p_value: float | None) -> tuple[str, str]:
    if med_a is None or change is None or p_value is None:
        return PASS, "not enough seconds on both sides to judge"
    worse_by = (med_a + change) / med_a if med_a > 0 else (math.inf if change > 0 else 1.0)
    if change <= limits.floor:
        return PASS, f"change within the {limits.floor:g} floor"
    if p_value < limits.fail_p and worse_by > limits.fail_ratio:
        return FAIL, f"worse by more than {limits.fail_ratio - 1:.0%} with p < {limits.fail_p:g}"
    if p_value < limits.marginal_p and worse_by > limits.marginal_ratio:
        return MARGINAL, f"worse by more than {limits.marginal_ratio - 1:.0%} with p < {limits.marginal_p:g}"
    return PASS, "no significant worsening"


def slo_changes(a: Analysis, b: Analysis) -> list[SloChange]:
    """Each SLO (by label) present in both runs, then each experiment check (by block and file: B's
    experiment that never injected its fault makes a milder run, not a better one); one that passed
    in A but not in B scores fail."""
    doc_a, doc_b = result_document(a), result_document(b)
    verdicts_a = {v["slo"]: v for v in [*doc_a["verdicts"], *experiment_rows(doc_a)]}
    out = []
    for v in [*doc_b["verdicts"], *experiment_rows(doc_b)]:
        old = verdicts_a.get(v["slo"])
        if old is None:
            continue
        score = FAIL if old["state"] == "pass" and v["state"] != "pass" else PASS
        out.append(SloChange(v["slo"], old["state"], v["state"], old["observed_text"], v["observed_text"], score))
    return out


def overlay_data(a: Analysis, b: Analysis) -> dict[str, Any]:
    """Chart data of both runs on one axis of seconds since each run's load start (A's phases shaded)."""
    frames, phases = {}, []
    for tag, analysis in (("a", a), ("b", b)):
        rows = analysis.per_second
        rows = rows[rows["endpoint"] == ALL] if "endpoint" in rows else rows
        start = _load_start(analysis)
        if start is None or rows.empty:
            continue
        rel = (rows["ts"] - math.floor(start)).astype(int)
        frames[f"{tag}.p99"] = pd.Series(rows["latency.p99"].to_numpy(float) * 1000, index=rel)
        frames[f"{tag}.error_rate"] = pd.Series(rows["error_rate"].to_numpy(float) * 100, index=rel)
        if tag == "a":
            phases = [
                {"name": n, "start": w.start - start, "end": w.end - start}
                for n in ("warmup", "baseline", "fault", "recovery")
                for w in analysis.phases.get(n, ())
            ]
    frame = pd.DataFrame(frames).sort_index() if frames else pd.DataFrame()
    if not frame.empty:
        frame = frame.reindex(range(int(frame.index.min()), int(frame.index.max()) + 1))
    return {
        "t": [float(t) for t in frame.index],
        "t0": 0,
        "xlabel": "seconds since load start",
        "series": {c: [None if math.isnan(v) else round(float(v), 3) for v in frame[c]] for c in frame.columns},
        "phases": phases,
        "markers": [],
    }


def _load_start(analysis: Analysis) -> float | None:
    windows = analysis.phases.get("warmup") or analysis.phases.get("run") or ()
    return windows[0].start if windows else None
