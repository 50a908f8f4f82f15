"""Vectorised histogram maths over the flat (group, bucket, count) arrays of `rundir.Samples`.

Same bucket layout and nearest-rank percentile definition as
`harness.load.histogram` (its module docstring), computed for many groups at once:
merging rows is just giving them the same group id.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np


def bucket_values(buckets: np.ndarray) -> np.ndarray:
    """Representative value (bucket midpoint) of each bucket index, as float64."""
    buckets = np.asarray(buckets, dtype=np.int64)
    shift = np.maximum((buckets >> 7) - 1, 0)
    top = buckets - (shift << 7)
    wide = (top << shift).astype(np.float64) + ((np.left_shift(1, shift) - 1) / 2.0)
    return np.where(buckets < 256, buckets.astype(np.float64), wide)


def group_percentiles(groups: np.ndarray, buckets: np.ndarray, counts: np.ndarray, n_groups: int,
                      ps: Sequence[float]) -> np.ndarray:
    """Array [n_groups, len(ps)] of nearest-rank percentiles per group; NaN for an empty group."""
    out = np.full((n_groups, len(ps)), np.nan)
    keep = counts > 0
    groups, buckets, counts = groups[keep], buckets[keep], counts[keep]
    if len(groups) == 0:
        return out
    order = np.lexsort((buckets, groups))
    groups, buckets, counts = groups[order], buckets[order], counts[order]
    cumulative = np.cumsum(counts)
    totals = np.bincount(groups, weights=counts, minlength=n_groups).astype(np.int64)
    starts = np.searchsorted(groups, np.arange(n_groups), side="left")
    before = np.where(starts > 0, cumulative[np.maximum(starts - 1, 0)], 0)
    present = totals > 0
    values = bucket_values(buckets)
    for j, p in enumerate(ps):
        # Same float arithmetic as Histogram.percentiles, so both agree exactly.
        ranks = np.maximum(1, np.array([math.ceil(t * (p / 100.0)) for t in totals[present]], dtype=np.int64))
        positions = np.searchsorted(cumulative, before[present] + ranks, side="left")
        out[present, j] = values[positions]
    return out


def group_count_at_most(groups: np.ndarray, buckets: np.ndarray, counts: np.ndarray, n_groups: int,
                        limit: float) -> np.ndarray:
    """Per group, how many values have a representative value <= `limit` (same units as the histogram)."""
    weights = np.where(bucket_values(buckets) <= limit, counts, 0)
    return np.bincount(groups, weights=weights, minlength=n_groups).astype(np.int64)
