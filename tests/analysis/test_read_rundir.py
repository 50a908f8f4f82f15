import base64
import random

import numpy as np
from rundir_factory import T0, event, generator_row, request_row, write_run

from harness.analysis.hist import group_percentiles
from harness.analysis.histdecode import decode_raws
from harness.analysis.rundir import read_events, read_ledger, read_samples
from harness.histogram import Histogram


def decoded(hists: list[Histogram]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, bucket, count) arrays of `hists` as the reader decodes them in bulk."""
    lengths, buckets, counts = decode_raws([base64.b64decode(h.encode()) for h in hists])
    return np.repeat(np.arange(len(hists), dtype=np.int32), lengths), buckets, counts


def test_group_percentiles_equal_the_merged_histogram():
    rng = random.Random(2)
    hists = [Histogram() for _ in range(4)]
    for hist in hists:
        hist.record_many(rng.randint(0, 1_000_000) for _ in range(200))
    rows, buckets, counts = decoded(hists)
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
        {"ts": T0, "offered": 12, "behind": True, "cpu_warning": False, "lag_ms_p99": 0.0, "users": 20}
    ]


def test_ledger_keeps_first_delivery_and_counts_deliveries(tmp_path):
    run = write_run(tmp_path, produced=[("a", T0), ("b", T0 + 1)], consumed=[("a", T0 + 2), ("a", T0 + 1.5), ("z", T0)])
    ledger = read_ledger(run)
    rows = ledger.events.sort_values("produced").to_dict("records")
    assert rows[0]["consumed"] == T0 + 1.5 and rows[0]["deliveries"] == 2
    assert np.isnan(rows[1]["consumed"]) and rows[1]["deliveries"] == 0
    assert ledger.unexpected == 1


def test_a_ledger_without_consumed_rows_reads_every_event_as_undelivered(tmp_path):
    from harness.analysis.phases import Window
    from harness.analysis.rundir import read_ledger
    from harness.analysis.slis import event_slis

    (tmp_path / "ledger").mkdir()
    (tmp_path / "ledger" / "produced.jsonl").write_text('{"id": "a", "ts": 10.0}\n{"id": "b", "ts": 11.0}\n')
    ledger = read_ledger(tmp_path)
    out = event_slis(ledger, [Window(0, 100)], deadline=200, percentiles=[99])
    assert out["events.produced"] == 2 and out["events.lost"] == 2
