"""Vectorised histogram maths over flat (group, bucket, count) arrays, as `rundir.Samples` holds them.

Same bucket layout and nearest-rank percentile definition as
`harness.histogram` (its module docstring), computed for many groups at once:
merging rows is just giving them the same group id.

Two shapes, one lookup:

    group_percentiles   many groups, few entries each: sort the entries by (group,
                        bucket). Each row's buckets are already ascending, so a stable
                        sort only merges short runs, near linear. With few groups it
                        uses the dense form below instead.
    matrix_percentiles  a dense groups x buckets matrix of counts (`harness.analysis.latency`
                        builds them a block of seconds at a time).

Either way the counts end up in (group, bucket) order, so one running sum over
all of them answers every percentile of every group with one `searchsorted`:
the p-th percentile of group g is the first entry whose running sum reaches the
sum before g plus ceil(total_g * p / 100).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt


def bucket_values(buckets: np.ndarray) -> np.ndarray:
    """Representative value (bucket midpoint) of each bucket index, as float64."""
    buckets = np.asarray(buckets, dtype=np.int64)
    shift = np.maximum((buckets >> 7) - 1, 0)
    top = buckets - (shift << 7)
    wide = (top << shift).astype(np.float64) + ((np.left_shift(1, shift) - 1) / 2.0)
    return np.where(buckets < 256, buckets.astype(np.float64), wide)


def group_percentiles(
    groups: np.ndarray, buckets: np.ndarray, counts: np.ndarray, n_groups: int, ps: Sequence[float]
) -> np.ndarray:
    """Array [n_groups, len(ps)] of nearest-rank percentiles per group; NaN for an empty group.

    Entries with a negative group or a count <= 0 are left out.
    """
    keep = (counts > 0) & (groups >= 0)
    if not keep.any():
        return np.full((n_groups, len(ps)), np.nan)
    groups, buckets, counts = groups[keep], buckets[keep], counts[keep]
    del keep
    index, columns = _dense(buckets)
    if n_groups * len(columns) <= len(buckets):
        # Few groups (a series per second over all endpoints): a dense matrix is smaller than the entries.
        return matrix_percentiles(_bincount_matrix(groups, index, counts, n_groups, len(columns)), columns, ps)
    del index  # from here on, arrays of every entry are freed as soon as they are used up
    sizes = np.bincount(groups, minlength=n_groups)
    width = int(columns[-1]) + 1
    key_type: type[np.int32 | np.int64] = np.int32 if n_groups * width < 2**31 else np.int64
    key: npt.NDArray[np.int32 | np.int64] = groups.astype(key_type)
    del groups
    key *= key_type(width)
    key += buckets
    order = np.argsort(key, kind="stable")
    del key
    buckets = buckets[order]
    cumulative = np.cumsum(counts[order], dtype=np.int64)
    del order, counts
    return _lookup(buckets, cumulative, sizes, ps)


def _bincount_matrix(
    groups: np.ndarray, index: np.ndarray, counts: np.ndarray, n_groups: int, width: int
) -> np.ndarray:
    dense = np.bincount(groups.astype(np.int64) * width + index, weights=counts, minlength=n_groups * width)
    # float64 sums of integer counts are exact below 2**53.
    return dense.astype(np.int64).reshape(n_groups, width)


def matrix_percentiles(matrix: np.ndarray, columns: np.ndarray, ps: Sequence[float]) -> np.ndarray:
    """Array [rows, len(ps)] of nearest-rank percentiles of each row of `matrix`, whose column k
    counts bucket `columns[k]` (ascending); NaN for an empty row."""
    n_groups, width = matrix.shape
    out = np.full((n_groups, len(ps)), np.nan)
    if width == 0:
        return out
    present, positions = _positions(np.cumsum(matrix.ravel()), np.full(n_groups, width), ps)
    out[present] = bucket_values(columns[positions % width])
    return out


def _dense(buckets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(dense index of each bucket, the buckets present in ascending order)."""
    if not len(buckets):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    present = np.zeros(int(buckets.max()) + 1, dtype=bool)
    present[buckets] = True
    dense = (np.cumsum(present) - 1).astype(np.int32)
    return dense[buckets], np.flatnonzero(present)


def _lookup(buckets: np.ndarray, cumulative: np.ndarray, sizes: np.ndarray, ps: Sequence[float]) -> np.ndarray:
    """Percentiles from counts sorted by (group, bucket): `buckets` and the running sum of their
    counts, and how many entries each group has, in group order."""
    out = np.full((len(sizes), len(ps)), np.nan)
    present, positions = _positions(cumulative, sizes, ps)
    out[present] = bucket_values(buckets[positions])
    return out


def _positions(cumulative: np.ndarray, sizes: np.ndarray, ps: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """(groups holding values, [those groups, len(ps)] entry index of each percentile), for a running
    sum of counts over entries sorted by (group, bucket) and each group's number of entries."""
    ends = np.cumsum(sizes)
    last = cumulative[np.maximum(ends - 1, 0)] if len(cumulative) else np.zeros(len(sizes), np.int64)
    before = np.where(ends - sizes > 0, cumulative[np.maximum(ends - sizes - 1, 0)], 0)
    totals = np.where(sizes > 0, last - before, 0)
    present = totals > 0
    totals, before = totals[present], before[present]
    positions = np.empty((len(totals), len(ps)), dtype=np.int64)
    for j, p in enumerate(ps):
        # Same float arithmetic as Histogram.percentiles (ceil(total * (p / 100))), so both agree;
        # clipped to the total so p = 100 (or rounding above it) is the group's largest value.
        ranks = np.minimum(np.maximum(1.0, np.ceil(totals * (p / 100.0))), totals).astype(np.int64)
        positions[:, j] = np.searchsorted(cumulative, before + ranks, side="left")
    return present, positions
