"""Vectorised histogram maths over the flat (group, bucket, count) arrays of `rundir.Samples`.

Same bucket layout and nearest-rank percentile definition as
`harness.load.histogram` (its module docstring), computed for many groups at once:
merging rows is just giving them the same group id.

How, without sorting millions of entries: bucket indexes are small integers (under
~3,500 for any latency below an hour in microseconds), so the buckets present are
renumbered densely, and each chunk of groups becomes a dense groups x buckets
matrix built with one `bincount`; a cumulative sum along the buckets then gives
every percentile by a vectorised search. Chunks keep that matrix near 4 M cells.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

CHUNK_CELLS = 4_000_000


def bucket_values(buckets: np.ndarray) -> np.ndarray:
    """Representative value (bucket midpoint) of each bucket index, as float64."""
    buckets = np.asarray(buckets, dtype=np.int64)
    shift = np.maximum((buckets >> 7) - 1, 0)
    top = buckets - (shift << 7)
    wide = (top << shift).astype(np.float64) + ((np.left_shift(1, shift) - 1) / 2.0)
    return np.where(buckets < 256, buckets.astype(np.float64), wide)


def _dense_buckets(buckets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(dense index of each bucket, value of each dense index), in bucket order."""
    present = np.zeros(int(buckets.max()) + 1, dtype=bool)
    present[buckets] = True
    dense = np.cumsum(present) - 1
    return dense[buckets], bucket_values(np.flatnonzero(present))


def group_percentiles(groups: np.ndarray, buckets: np.ndarray, counts: np.ndarray, n_groups: int,
                      ps: Sequence[float]) -> np.ndarray:
    """Array [n_groups, len(ps)] of nearest-rank percentiles per group; NaN for an empty group."""
    out = np.full((n_groups, len(ps)), np.nan)
    keep = (counts > 0) & (groups >= 0)
    if not keep.any():
        return out
    groups, counts = groups[keep], counts[keep]
    index, values = _dense_buckets(buckets[keep])
    width = len(values)
    per_chunk = max(1, CHUNK_CELLS // width)
    chunk_of = groups // per_chunk
    order = np.argsort(chunk_of, kind="stable")
    bounds = np.searchsorted(chunk_of[order], np.arange((n_groups + per_chunk - 1) // per_chunk + 1))
    for chunk in range(len(bounds) - 1):
        sel = order[bounds[chunk]:bounds[chunk + 1]]
        if len(sel):
            first = chunk * per_chunk
            size = min(per_chunk, n_groups - first)
            out[first:first + size] = _chunk_percentiles(groups[sel] - first, index[sel], counts[sel], size,
                                                         width, values, ps)
    return out


def _chunk_percentiles(groups, index, counts, size, width, values, ps) -> np.ndarray:
    dense = np.bincount(groups * width + index, weights=counts, minlength=size * width).reshape(size, width)
    cumulative = np.cumsum(dense, axis=1)
    totals = cumulative[:, -1]
    out = np.full((size, len(ps)), np.nan)
    present = totals > 0
    cumulative, totals = cumulative[present], totals[present]
    for j, p in enumerate(ps):
        # Same float arithmetic as Histogram.percentiles (ceil(total * (p / 100))), so both agree.
        ranks = np.maximum(1.0, np.ceil(totals * (p / 100.0)))
        out[present, j] = values[(cumulative >= ranks[:, None]).argmax(axis=1)]
    return out


def group_count_at_most(groups: np.ndarray, buckets: np.ndarray, counts: np.ndarray, n_groups: int,
                        limit: float) -> np.ndarray:
    """Per group, how many values have a representative value <= `limit` (same units as the histogram)."""
    keep = groups >= 0
    if not keep.any():
        return np.zeros(n_groups, dtype=np.int64)
    index, values = _dense_buckets(buckets[keep])
    weights = np.where(values[index] <= limit, counts[keep], 0)
    return np.bincount(groups[keep], weights=weights, minlength=n_groups).astype(np.int64)
