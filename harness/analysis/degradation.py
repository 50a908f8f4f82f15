"""Degradation: the fault phase against the baseline, as canary analysis compares a canary to its baseline.

For each endpoint (and "*") and each metric (latency.p99, error_rate), the per-second
values of the baseline and fault windows are compared:

    baseline, fault   medians of the per-second values
    ratio             fault / baseline (None when the baseline median is 0)
    difference        fault - baseline
    p_value           one-sided Mann-Whitney U (scipy.stats.mannwhitneyu, alternative
                      "greater"): how likely fault seconds this much worse arise by chance.
                      None with fewer than 3 seconds on either side.
    significant       p_value < 0.05
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypedDict

import numpy as np
import pandas as pd
from scipy.stats import mannwhitneyu

from harness.analysis.phases import Window, second_mask

METRICS = ("latency.p99", "error_rate")
MIN_SECONDS = 3
ALPHA = 0.05


class Degradation(TypedDict):
    endpoint: str
    metric: str
    baseline: float | None
    fault: float | None
    ratio: float | None
    difference: float | None
    p_value: float | None
    n_baseline: int
    n_fault: int
    significant: bool


def degradation(
    per_second: pd.DataFrame, baseline: Sequence[Window], fault: Sequence[Window], metrics: Sequence[str] = METRICS
) -> list[Degradation]:
    """One entry per (endpoint, metric); empty when either phase is missing."""
    if per_second.empty or not baseline or not fault:
        return []
    ts = per_second["ts"].to_numpy()
    in_base, in_fault = second_mask(ts, baseline), second_mask(ts, fault)
    out = []
    for endpoint in sorted(per_second["endpoint"].unique()):
        rows = (per_second["endpoint"] == endpoint).to_numpy()
        for metric in metrics:
            values = per_second[metric].to_numpy(dtype=float)
            out.append(compare(endpoint, metric, values[rows & in_base], values[rows & in_fault]))
    return out


def compare(endpoint: str, metric: str, base: np.ndarray, fault: np.ndarray) -> Degradation:
    """The comparison of two per-second series (NaNs dropped)."""
    base, fault = base[~np.isnan(base)], fault[~np.isnan(fault)]
    b = float(np.median(base)) if len(base) else None
    f = float(np.median(fault)) if len(fault) else None
    p_value = None
    if len(base) >= MIN_SECONDS and len(fault) >= MIN_SECONDS:
        p = float(mannwhitneyu(fault, base, alternative="greater").pvalue)
        p_value = None if math.isnan(p) else p
    return Degradation(
        endpoint=endpoint,
        metric=metric,
        baseline=b,
        fault=f,
        ratio=(f / b) if (b and f is not None) else None,
        difference=(f - b) if (b is not None and f is not None) else None,
        p_value=p_value,
        n_baseline=int(len(base)),
        n_fault=int(len(fault)),
        significant=p_value is not None and p_value < ALPHA,
    )
