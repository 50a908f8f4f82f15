"""Bulk decoding of encoded histograms equals `Histogram.decode` row by row."""

import base64
import random

import pytest

from harness.analysis.histdecode import decode_raws
from harness.histogram import Histogram


def random_hists(seed: int, n: int) -> list[Histogram]:
    """Empty ones, single values, wide ranges (multi-byte deltas) and huge counts (multi-byte varints)."""
    rng = random.Random(seed)
    hists = []
    for _ in range(n):
        hist = Histogram()
        hist.record_many(rng.randint(0, 2 ** rng.randint(1, 40)) for _ in range(rng.choice((0, 1, 5, 300))))
        if rng.random() < 0.2:
            hist.counts[rng.randint(0, 7000)] = rng.randint(1, 2**40)
        hists.append(Histogram(dict(hist.counts)))
    return hists


def rows_of(arrays) -> list[dict[int, int]]:
    lengths, buckets, counts = arrays
    out, start = [], 0
    for n in lengths.tolist():
        out.append(dict(zip(buckets[start : start + n].tolist(), counts[start : start + n].tolist())))
        start += n
    return out


def low_32_bits(counts: dict[int, int]) -> dict[int, int]:
    """What the int32 arrays keep of each count."""
    return {b: (c & 0xFFFFFFFF) - (1 << 32 if c & 0x80000000 else 0) for b, c in counts.items()}


def test_bulk_decoding_equals_decoding_each_row():
    hists = random_hists(seed=3, n=200)
    texts = [h.encode() for h in hists]
    got = rows_of(decode_raws([base64.b64decode(t) for t in texts]))
    assert got == [low_32_bits(Histogram.decode(t).counts) for t in texts]
    assert got == [low_32_bits(h.counts) for h in hists]


@pytest.mark.parametrize(
    "broken",
    [b"\x02\x05", b"\x02\x05\x81", b"\x02\xff\xff\xff\xff\x7f\x01", b"garbage"],
    ids=["half a pair", "ends inside a number", "impossible bucket", "neither encoding"],
)
def test_a_broken_row_reads_as_empty_and_its_neighbours_are_unharmed(broken):
    hists = random_hists(seed=4, n=6)
    raws = [base64.b64decode(h.encode()) for h in hists]
    raws[2] = broken
    got = rows_of(decode_raws(raws))
    assert got[2] == {}
    assert [row for i, row in enumerate(got) if i != 2] == [
        low_32_bits(h.counts) for i, h in enumerate(hists) if i != 2
    ]


def test_no_rows_give_empty_arrays():
    lengths, buckets, counts = decode_raws([])
    assert (len(lengths), len(buckets), len(counts)) == (0, 0, 0)
