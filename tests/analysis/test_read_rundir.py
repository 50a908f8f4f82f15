import random

import numpy as np

from harness.analysis.hist import group_percentiles
from harness.analysis.rundir import decode_many, read_events, read_ledger, read_samples
from harness.load.histogram import Histogram
from rundir_factory import T0, event, generator_row, request_row, write_run


def test_decode_many_matches_histogram_decode_row_by_row():
    rng = random.Random(1)
    hists = []
    for size in (0, 5, 300, 1):
        hist = Histogram()
        hist.record_many(rng.randint(0, 5_000_000) for _ in range(size))
        hists.append(hist)
    rows, buckets, counts = decode_many([h.encode() for h in hists])
    for i, hist in enumerate(hists):
        assert dict(zip(buckets[rows == i].tolist(), counts[rows == i].tolist())) == hist.counts


def test_group_percentiles_equal_the_merged_histogram():
    rng = random.Random(2)
    hists = [Histogram() for _ in range(4)]
    for hist in hists:
        hist.record_many(rng.randint(0, 1_000_000) for _ in range(200))
    rows, buckets, counts = decode_many([h.encode() for h in hists])
    merged = Histogram()
    for hist in hists:
        merged.add(hist)
    ps = [50, 90, 99, 99.9, 100]
    got = group_percentiles(np.zeros_like(rows), buckets, counts, 1, ps)[0]
    assert list(got) == merged.percentiles(ps)


def test_torn_lines_are_skipped(tmp_path):
    run = write_run(tmp_path, [event(T0, "load-start")], [request_row(T0, [1.0])])
    with open(run / "events.jsonl", "a") as f:
        f.write('{"ts": 1, "sou')
    with open(run / "samples" / "samples.jsonl", "a") as f:
        f.write('{"ts": 1, "endp')
    assert len(read_events(run)) == 1
    assert len(read_samples(run).requests) == 1


def test_generator_rows_from_several_workers_merge_per_second(tmp_path):
    run = write_run(tmp_path, rows=[generator_row(T0, 5), generator_row(T0, 7, behind=True)])
    generator = read_samples(run).generator
    assert generator.to_dict("records") == [
        {"ts": T0, "offered": 12, "behind": True, "cpu_warning": False, "lag_ms_p99": 0.0, "users": 20}]


def test_ledger_keeps_first_delivery_and_counts_deliveries(tmp_path):
    run = write_run(tmp_path, produced=[("a", T0), ("b", T0 + 1)],
                    consumed=[("a", T0 + 2), ("a", T0 + 1.5), ("z", T0)])
    ledger = read_ledger(run)
    rows = ledger.events.sort_values("produced").to_dict("records")
    assert rows[0]["consumed"] == T0 + 1.5 and rows[0]["deliveries"] == 2
    assert np.isnan(rows[1]["consumed"]) and rows[1]["deliveries"] == 0
    assert ledger.unexpected == 1


def test_a_ledger_without_consumed_rows_reads_every_event_as_undelivered(tmp_path):
    from harness.analysis.rundir import read_ledger
    from harness.analysis.slis import event_slis
    from harness.analysis.phases import Window

    (tmp_path / "ledger").mkdir()
    (tmp_path / "ledger" / "produced.jsonl").write_text('{"id": "a", "ts": 10.0}\n{"id": "b", "ts": 11.0}\n')
    ledger = read_ledger(tmp_path)
    out = event_slis(ledger, [Window(0, 100)], deadline=200, percentiles=[99])
    assert out["events.produced"] == 2 and out["events.lost"] == 2


def test_old_zlib_rows_packing_more_buckets_than_bytes_are_read_whole(tmp_path):
    # zlib squeezes 5000 buckets of count 1 into a few dozen bytes: more entries than the file has bytes.
    from harness.load.histogram import encode_zlib

    dense = Histogram({bucket: 1 for bucket in range(5000)})
    rows = [{**request_row(T0 + s, [1.0]), "hist": encode_zlib(dense)} for s in range(3)]
    run = write_run(tmp_path, [event(T0, "load-start")], rows)
    samples = read_samples(run)
    assert (run / "samples" / "samples.jsonl").stat().st_size < 5000
    assert samples.hist_lengths.tolist() == [5000, 5000, 5000]
    assert samples.hist_bucket.tolist() == list(range(5000)) * 3
    assert set(samples.hist_count.tolist()) == {1}
