"""Every latency histogram the analysis needs, from one pass over the histogram entries.

    latency_tables(samples, phases, request) -> LatencyTables

The per-second series (each second x endpoint, and each second over all endpoints)
and the per-phase histograms are all sums of the same rows, so they are built
together. Rows are taken in time order, a block of seconds at a time (a few MB of
counts, so the work stays in cache): the block's ok and error entries go into one
dense (second, endpoint) x bucket matrix with a `bincount`; each second's percentiles
come from it, its sum over endpoints gives the all-endpoints series, and its
seconds are added into the phase matrix of their phase segment (the seconds that
belong to the same set of phases; phases overlap, run holds the others). A block
with few entries per bucket (a low rate over a wide latency range) is not made
dense: its percentiles come from a sort of its entries instead (`hist.group_percentiles`).

Apdex needs only how many ok values of each row lie at or under T and 4T: those
per-row counts are collected in the same pass, and any grouping of rows sums them.
Percentiles are nearest-rank over ok and error responses (`harness.analysis.slis`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from harness.analysis.hist import bucket_values, group_percentiles, matrix_percentiles
from harness.analysis.histdecode import MAX_BUCKET, entry_ranges
from harness.analysis.phases import Phases, second_mask
from harness.analysis.rundir import Samples

BLOCK_CELLS = 1 << 21  # counts per dense block (16 MB of float64)
DENSE_CELLS_PER_ENTRY = 4  # above this many cells per entry a sort is cheaper than a dense matrix


@dataclass(frozen=True)
class LatencyTables:
    """Histogram answers for the request rows of a `Samples`, values in microseconds.

    `endpoints` are the sorted endpoint names; `t0` the first second.
    `per_endpoint[(s - t0) * len(endpoints) + e]` holds the `ps` percentiles of second s,
    endpoint e; `per_second[s - t0]` those of all endpoints (NaN where nothing was timed).
    `phase_counts[g, e, k]` counts endpoint e's values in bucket `columns[k]` over the
    seconds of segment g; `segments[g]` has bit i set when those seconds are in phase
    `phases[i]`. `at_most[limit][row]` counts the row's values whose bucket value is <= limit.
    """

    endpoints: tuple[str, ...]
    t0: int
    ps: tuple[float, ...]
    per_endpoint: np.ndarray
    per_second: np.ndarray
    phases: tuple[str, ...]
    segments: np.ndarray
    phase_counts: np.ndarray
    columns: np.ndarray
    at_most: dict[float, np.ndarray]

    def phase_matrix(self, phase: str) -> np.ndarray:
        """[endpoints, columns] counts over the seconds of `phase`."""
        chosen = (self.segments >> self.phases.index(phase)) & 1 == 1
        return self.phase_counts[chosen].sum(axis=0)


@dataclass(frozen=True)
class _Rows:
    """Request rows in time order: second offset, endpoint code, timed/ok masks, and their entries."""

    second: np.ndarray
    code: np.ndarray
    timed: np.ndarray
    ok: np.ndarray
    starts: np.ndarray  # first entry of each row
    lengths: np.ndarray
    buckets: np.ndarray
    counts: np.ndarray
    order: np.ndarray | None  # row positions in `Samples.requests`, None when already in order


def latency_tables(
    samples: Samples, phases: Phases, ps: Sequence[float], limits: Sequence[float] = ()
) -> LatencyTables:
    """The LatencyTables of `samples` for `phases` (windows may be empty), percentiles `ps`
    and at-most counts for `limits` (microseconds)."""
    req = samples.requests
    codes, names = pd.factorize(req["endpoint"], sort=True)
    rows = _in_time_order(samples, codes)
    n_endpoints, ps = len(names), tuple(ps)
    t0 = int(req["ts"].min()) if len(req) else 0
    span = int(rows.second[-1]) + 1 if len(rows.second) else 0
    segments, segment_of = _segments(phases, t0, span)
    columns = _present(rows.buckets)
    out = LatencyTables(
        tuple(names),
        t0,
        ps,
        np.full((span * n_endpoints, len(ps)), np.nan),
        np.full((span, len(ps)), np.nan),
        tuple(phases),
        segments,
        np.zeros((len(segments), n_endpoints, len(columns)), dtype=np.int64),
        columns,
        {limit: np.zeros(len(req), dtype=np.int64) for limit in limits},
    )
    block = max(1, BLOCK_CELLS // max(1, n_endpoints * len(columns)))
    bounds = np.searchsorted(rows.second, np.arange(0, span + block, block))
    for first_second, (r0, r1) in zip(range(0, span, block), zip(bounds[:-1], bounds[1:])):
        if r1 > r0:
            _block(out, rows, slice(int(r0), int(r1)), first_second, min(block, span - first_second), segment_of)
    return out


def _in_time_order(samples: Samples, codes: np.ndarray) -> _Rows:
    """The rows sorted by second (stable); entries are moved along only when rows were out of order."""
    req = samples.requests
    ts = req["ts"].to_numpy()
    outcome = req["outcome"].to_numpy()
    ok = outcome == "ok"
    timed = ok | (outcome == "error")
    lengths = samples.hist_lengths
    starts = np.cumsum(lengths) - lengths
    buckets, counts, order = samples.hist_bucket, samples.hist_count, None
    if len(ts) and np.any(ts[1:] < ts[:-1]):  # late worker rows: sort, and move their entries too
        order = np.argsort(ts, kind="stable")
        where = entry_ranges(starts[order], lengths[order])
        buckets, counts = buckets[where], counts[where]
        ts, codes, ok, timed, lengths = ts[order], codes[order], ok[order], timed[order], lengths[order]
        starts = np.cumsum(lengths) - lengths
    second = ts - ts.min() if len(ts) else ts
    return _Rows(second, codes.astype(np.int64), timed, ok, starts, lengths, buckets, counts, order)


def _segments(phases: Phases, t0: int, span: int) -> tuple[np.ndarray, np.ndarray]:
    """(signature of each segment, segment of each second): bit i of a signature = in phase i."""
    seconds = np.arange(t0, t0 + span, dtype=np.int64)
    membership = np.zeros(span, dtype=np.int64)
    for bit, windows in enumerate(phases.values()):
        membership |= second_mask(seconds, windows).astype(np.int64) << bit
    segments, segment_of = np.unique(membership, return_inverse=True)
    return segments, segment_of.reshape(-1)


def _present(buckets: np.ndarray) -> np.ndarray:
    """The buckets present, ascending (buckets are 0..histdecode.MAX_BUCKET)."""
    seen = np.zeros(MAX_BUCKET + 1, dtype=bool)
    for start in range(0, len(buckets), BLOCK_CELLS):  # bincount copies its input to int64: a slice at a time
        seen[np.bincount(buckets[start : start + BLOCK_CELLS], minlength=MAX_BUCKET + 1) > 0] = True
    return np.flatnonzero(seen)


def _block(out: LatencyTables, rows: _Rows, r: slice, first: int, seconds: int, segment_of: np.ndarray) -> None:
    """Fill `out` for the rows `r`, which hold seconds first .. first + seconds - 1."""
    e0, e1 = int(rows.starts[r.start]), int(rows.starts[r.stop - 1] + rows.lengths[r.stop - 1])
    buckets, counts = rows.buckets[e0:e1], np.maximum(rows.counts[e0:e1], 0)
    _count_at_most(out, rows, r, buckets, counts)
    n_groups = seconds * len(out.endpoints)
    group = np.where(rows.timed[r], (rows.second[r] - first) * len(out.endpoints) + rows.code[r], -1)
    segments = segment_of[first : first + seconds]
    columns = _present(buckets)
    if n_groups * len(columns) <= DENSE_CELLS_PER_ENTRY * len(buckets):
        # Row by row, where its entries go in the matrix; 429s go to an extra group, dropped after.
        base = np.where(group >= 0, group, n_groups) * len(columns)
        key = np.repeat(base, rows.lengths[r]) + _index_of(columns, buckets)
        _dense_block(out, key, counts, columns, first, seconds, segments)
    else:
        groups = np.repeat(group, rows.lengths[r])
        keep = (groups >= 0) & (counts > 0)
        _sparse_block(out, groups[keep], buckets[keep], counts[keep], first, seconds, segments)


def _dense_block(
    out: LatencyTables,
    key: np.ndarray,
    counts: np.ndarray,
    columns: np.ndarray,
    first: int,
    seconds: int,
    segments: np.ndarray,
) -> None:
    """The block as one (second, endpoint) x column matrix; `key` is each entry's cell."""
    n_endpoints, width = len(out.endpoints), len(columns)
    n_groups = seconds * n_endpoints
    # float64 sums of integer counts are exact below 2**53.
    flat = np.bincount(key, weights=counts, minlength=(n_groups + 1) * width)[: n_groups * width]
    matrix = flat.reshape(seconds, n_endpoints, width)
    rows = slice(first * n_endpoints, (first + seconds) * n_endpoints)
    out.per_endpoint[rows] = matrix_percentiles(matrix.reshape(-1, width), columns, out.ps)
    out.per_second[first : first + seconds] = matrix_percentiles(matrix.sum(axis=1), columns, out.ps)
    at = np.searchsorted(out.columns, columns)
    present = np.unique(segments)
    for segment in present:
        chosen = matrix if len(present) == 1 else matrix[segments == segment]
        out.phase_counts[segment][:, at] += chosen.sum(axis=0).astype(np.int64)


def _sparse_block(
    out: LatencyTables,
    groups: np.ndarray,
    buckets: np.ndarray,
    counts: np.ndarray,
    first: int,
    seconds: int,
    segments: np.ndarray,
) -> None:
    n_endpoints, width = len(out.endpoints), len(out.columns)
    rows = slice(first * n_endpoints, (first + seconds) * n_endpoints)
    out.per_endpoint[rows] = group_percentiles(groups, buckets, counts, seconds * n_endpoints, out.ps)
    second = groups // n_endpoints
    out.per_second[first : first + seconds] = group_percentiles(second, buckets, counts, seconds, out.ps)
    key = (segments[second] * n_endpoints + groups % n_endpoints) * width + _index_of(out.columns, buckets)
    out.phase_counts.reshape(-1)[:] += np.bincount(key, weights=counts, minlength=out.phase_counts.size).astype(
        np.int64
    )


def _index_of(columns: np.ndarray, buckets: np.ndarray) -> np.ndarray:
    """Each bucket's position in `columns` (which holds them all, ascending), by table lookup."""
    table = np.zeros(int(columns[-1]) + 1 if len(columns) else 0, dtype=np.int64)
    table[columns] = np.arange(len(columns))
    return table[buckets]


def _count_at_most(out: LatencyTables, rows: _Rows, r: slice, buckets: np.ndarray, counts: np.ndarray) -> None:
    """Per ok row, its values whose bucket value is <= each limit (bucket values rise with the bucket);
    `counts` are >= 0."""
    if not out.at_most:
        return
    lengths = rows.lengths[r]
    filled = lengths > 0
    starts = (np.cumsum(lengths) - lengths)[filled]
    positions = np.arange(r.start, r.stop) if rows.order is None else rows.order[r]
    for limit, found in out.at_most.items():
        highest = int(np.searchsorted(_BUCKET_VALUES, limit, side="right")) - 1
        per_row = np.zeros(len(lengths), dtype=np.int64)
        if len(starts):
            # Empty rows are skipped: each sum then runs from a row's first entry to the next row's.
            per_row[filled] = np.add.reduceat(np.where(buckets <= highest, counts, 0), starts, dtype=np.int64)
        found[positions] = np.where(rows.ok[r], per_row, 0)


_BUCKET_VALUES = bucket_values(np.arange((64 << 7) + 256))  # every bucket of a value below 2**64
