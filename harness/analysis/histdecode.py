"""Decode many encoded histograms at once into flat arrays (the format is `harness.histogram`'s).

    decode_raws(raws) -> (entries per histogram, buckets, counts)

`raws` are the bytes under each row's base64 (msgspec decodes the base64 while it
parses the line). Current rows are a version byte and LEB128 varints: all rows of a
chunk are joined into one byte array and decoded with a few numpy passes, with no
Python work per value. Counts keep their low 32 bits, as int32 (no second of one endpoint reaches 2**31
requests); every bucket is in 0..MAX_BUCKET. A histogram that does not decode, or
holds a bucket no value falls in, counts as empty, like a torn row.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from harness.histogram import VARINTS, bucket_of

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray]
MAX_BUCKET = bucket_of(2**64 - 1)
_VERSION = VARINTS[0]


def decode_raws(raws: Sequence[bytes]) -> Arrays:
    """(entries per histogram int64, buckets int32, counts int32); histogram i's entries come
    i-th, buckets ascending within it when it was written by `Histogram.encode`."""
    arrays = _decode_varints([raw if raw[:1] == VARINTS else b"" for raw in raws])
    impossible = _impossible_rows(*arrays)
    if len(impossible):
        return decode_raws([b"" if i in impossible else raw for i, raw in enumerate(raws)])
    return arrays


def _impossible_rows(lengths: np.ndarray, buckets: np.ndarray, counts: np.ndarray) -> set[int]:
    """Rows holding a bucket no value below 2**64 falls in: altered, so read as empty."""
    if not len(buckets) or (buckets.min() >= 0 and buckets.max() <= MAX_BUCKET):
        return set()
    wrong = (buckets < 0) | (buckets > MAX_BUCKET)
    return set(np.repeat(np.arange(len(lengths)), lengths)[wrong].tolist())


def _decode_varints(raws: list[bytes]) -> Arrays:
    sizes = np.fromiter(map(len, raws), dtype=np.int64, count=len(raws))
    data = np.frombuffer(b"".join(raws), dtype=np.uint8)
    more = np.flatnonzero(data >= 0x80)  # bytes followed by another of the same varint: few of them
    row_ends = np.cumsum(sizes)
    per_row = sizes - np.bincount(np.searchsorted(row_ends, more, side="right"), minlength=len(sizes))[: len(sizes)]
    bad = _malformed(data, sizes, row_ends, per_row)
    if bad.any():
        return _decode_varints([b"" if b else raw for raw, b in zip(raws, bad.tolist())])
    values = _varint_values(data, more, (row_ends - sizes)[sizes > 0])
    lengths = np.maximum(per_row - 1, 0) // 2  # each row: its version byte, then (delta, count) pairs
    return lengths, _running_buckets(values[0::2], lengths), np.ascontiguousarray(values[1::2]).view(np.int32)


def _malformed(data: np.ndarray, sizes: np.ndarray, row_ends: np.ndarray, per_row: np.ndarray) -> np.ndarray:
    """Rows ending inside a varint (it would swallow the next row's first) or holding half a pair."""
    present = sizes > 0
    bad = np.zeros(len(sizes), dtype=bool)
    bad[present] = (data[row_ends[present] - 1] >= 0x80) | (per_row[present] % 2 == 0)
    return bad


def _varint_values(data: np.ndarray, more: np.ndarray, skip: np.ndarray) -> np.ndarray:
    """The low 32 bits of every varint in `data` but the one-byte varints at `skip`, as uint32;
    `more` are the bytes that are not a varint's last. Nearly every varint is one byte and
    below 0x80 already, so all are read in one pass and the longer ones fixed up after."""
    first = np.ones(len(data), dtype=bool)  # a varint's first byte: the one before it was a last byte
    first[more + 1] = False
    first[skip] = False
    values = data[first].astype(np.uint32)
    follows = np.zeros(len(more), dtype=bool)
    follows[1:] = more[1:] - 1 == more[:-1]
    starts = more[~follows]  # first bytes of varints longer than one byte
    # A start's place among the values: its position less the bytes left out before it.
    at = starts - np.searchsorted(more, starts) - np.searchsorted(skip, starts)
    total = (data[starts] & 0x7F).astype(np.uint32)
    longer = np.arange(len(starts))
    # Byte k adds bits 7k..7k+6; only bytes 0..4 reach the low 32 bits (uint32 drops the rest).
    for k in range(1, 5):
        total[longer] |= (data[starts[longer] + k] & 0x7F).astype(np.uint32) << np.uint32(7 * k)
        longer = longer[data[starts[longer] + k] >= 0x80]
        if not len(longer):
            break
    values[at] = total
    return values


def _running_buckets(deltas: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Buckets from per-row deltas: a running sum minus the sum before each row. uint32
    arithmetic wraps, but the difference is exact because every bucket fits in 32 bits."""
    total = np.cumsum(deltas, dtype=np.uint32)
    ends = np.cumsum(lengths)
    before = np.zeros(len(lengths), dtype=np.uint32)
    if len(total):
        before[1:] = np.where(ends[:-1] > 0, total[np.maximum(ends[:-1] - 1, 0)], 0)
    return (total - np.repeat(before, lengths)).view(np.int32)


def entry_ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenated ranges [starts[i], starts[i] + lengths[i]) as one int64 index array."""
    offsets = np.cumsum(lengths) - lengths
    return np.repeat(starts - offsets, lengths) + np.arange(int(lengths.sum()), dtype=np.int64)
