"""The vectorised analysis equals the straightforward one: merge `Histogram`s per group, ask each."""

import json
import random

import pytest
from rundir_factory import T0, request_row, timeline, write_run

from harness.analysis import latency
from harness.analysis.phases import phases, second_mask
from harness.analysis.rundir import read_events, read_ledger, read_samples
from harness.analysis.slis import Request, per_second, phase_slis
from harness.histogram import Histogram

PS = (50.0, 90.0, 95.0, 99.0, 99.9, 100.0)
ENDPOINTS = ("GET /a", "POST /b", "POST /c")


def random_rows(seed: int, seconds: int) -> list[dict]:
    """Rows of every outcome, two workers (so keys repeat), latencies spread over 0.1 ms .. 5 s."""
    rng = random.Random(seed)
    rows = []
    for s in range(seconds):
        for endpoint in ENDPOINTS:
            for outcome in ("ok", "error", "rate_limited"):
                for worker in ("w1", "w2"):
                    if rng.random() < 0.3:
                        continue
                    latencies = [rng.lognormvariate(3, 1.5) for _ in range(rng.randint(1, 60))]
                    rows.append(request_row(T0 + s, latencies, endpoint, outcome, worker=worker))
    rng.shuffle(rows)  # late worker rows arrive out of order
    return rows


def merged(rows: list[dict], keep) -> Histogram:
    out = Histogram()
    for row in rows:
        if keep(row):
            out.add(Histogram.decode(row["hist"]))
    return out


def expected_value(hist: Histogram, p: float) -> float | None:
    return None if not hist.counts else hist.percentile(p) / 1e6


@pytest.fixture(params=["dense", "sorted"])
def random_run(tmp_path, monkeypatch, request):
    """A run whose seconds are read a few at a time (blocks straddle phases), each block as a
    dense matrix or by sorting its entries: both ways must give the straightforward answers."""
    monkeypatch.setattr(latency, "BLOCK_CELLS", 3000)
    monkeypatch.setattr(latency, "DENSE_CELLS_PER_ENTRY", 10**9 if request.param == "dense" else 0)
    rows = random_rows(seed=7, seconds=40)
    run = write_run(tmp_path, timeline(load_s=40, warmup_s=5, faults=[(15, 25)]), rows)
    return run, rows


def test_phase_percentiles_and_apdex_equal_merged_histograms(random_run):
    run, rows = random_run
    windows = phases(read_events(run))
    table = phase_slis(read_samples(run), read_ledger(run), windows, Request(PS, apdex_ts=(0.05,)))
    for phase, phase_windows in windows.items():
        if not phase_windows:
            continue
        for endpoint in (*ENDPOINTS, "*"):

            def timed(row):
                inside = second_mask(__import__("numpy").array([row["ts"]]), phase_windows)[0]
                return inside and row["outcome"] != "rate_limited" and endpoint in ("*", row["endpoint"])

            hist = merged(rows, timed)
            got = table[phase].endpoints[endpoint]
            for p in PS:
                assert got[f"latency.p{p:g}"] == expected_value(hist, p), (phase, endpoint, p)
            ok = merged(rows, lambda r: timed(r) and r["outcome"] == "ok")
            sat = sum(c for b, c in ok.counts.items() if Histogram({b: 1}).percentile(100) <= 50_000)
            tol = sum(c for b, c in ok.counts.items() if Histogram({b: 1}).percentile(100) <= 200_000) - sat
            assert got["apdex(50ms)"] == pytest.approx((sat + tol / 2) / hist.total), (phase, endpoint)


def test_per_second_percentiles_equal_merged_histograms(random_run):
    run, rows = random_run
    series = per_second(read_samples(run), Request(PS))
    assert len(series) > 100
    for record in series.to_dict("records"):
        hist = merged(
            rows,
            lambda r: (
                r["ts"] == record["ts"]
                and r["outcome"] != "rate_limited"
                and record["endpoint"] in ("*", r["endpoint"])
            ),
        )
        for p in PS:
            value = record[f"latency.p{p:g}"]
            assert (None if value != value else value) == expected_value(hist, p), (record["ts"], p)


def test_lines_the_strict_decoder_refuses_are_read_as_json_would(tmp_path):
    good = request_row(T0, [10.0, 20.0])
    float_ts = {**request_row(T0 + 1, [30.0]), "ts": T0 + 1.7}
    bool_count = {**request_row(T0 + 2, [40.0]), "checked": True}
    run = write_run(tmp_path, rows=[good])
    with open(run / "samples" / "samples.jsonl", "a") as handle:
        # Two rows joined by a lone \r (a text-mode reader splits there too), then a torn line.
        handle.write(json.dumps(float_ts) + "\r" + json.dumps(bool_count) + "\n" + '{"ts": 5, "endp')
    samples = read_samples(run)
    assert samples.requests["ts"].tolist() == [T0, T0 + 1, T0 + 2]
    assert samples.requests["checked"].tolist() == [0, 0, 1]
    assert samples.hist_row.tolist() == [0, 0, 1, 2]
