"""The variant dimension of the per-second cells (load.variant_header): recorded per response,
mergeable like every other cell, and never read when the game day names no header."""

from __future__ import annotations

import json

import pytest
from requests.structures import CaseInsensitiveDict

from harness.histogram import Histogram
from harness.load.aggregate import Aggregator
from harness.load.live import live_document


class Response:
    def __init__(self, status: int = 200, headers: dict | None = None) -> None:
        self.status_code = status
        self.headers = CaseInsensitiveDict(headers or {})


class Untouchable:
    """A response whose headers must never be read (the recorder without a variant header)."""

    status_code = 200

    @property
    def headers(self):
        raise AssertionError("read a header although no variant header was asked for")


def _request(agg: Aggregator, ms: float, start: float, response=None, exception=None) -> None:
    agg.on_request(
        request_type="POST",
        name="/v1/score",
        response_time=ms,
        response=response,
        context={},
        exception=exception,
        start_time=start,
    )


def test_without_a_variant_header_no_header_is_read_and_rows_carry_no_variant():
    agg = Aggregator()
    _request(agg, 5, 10.0, Untouchable())
    rows = [r for r in agg.take(1e12, 50) if r["outcome"] == "ok"]
    assert len(rows) == 1 and "variant" not in rows[0]


def test_each_response_is_filed_under_the_variant_its_header_names_case_insensitively():
    agg = Aggregator(variant_header="x-model-version")
    _request(agg, 5, 10.1, Response(headers={"X-Model-Version": "stable"}))
    _request(agg, 7, 10.2, Response(headers={"X-Model-Version": "stable"}))
    _request(agg, 60, 10.3, Response(headers={"x-model-version": "canary"}))
    _request(agg, 1, 10.4, Response(429))  # refused before a version was chosen
    _request(agg, 9, 10.5, None, exception=ConnectionRefusedError())  # no response at all
    rows = {(r["outcome"], r.get("variant")): r for r in agg.take(1e12, 50) if r["outcome"] != "generator"}
    assert set(rows) == {("ok", "stable"), ("ok", "canary"), ("rate_limited", ""), ("error", "")}
    assert rows[("ok", "stable")]["count"] == 2 and rows[("ok", "stable")]["sum_ms"] == pytest.approx(12.0)
    assert rows[("ok", "canary")]["max_ms"] == pytest.approx(60.0)


def test_worker_rows_with_variants_merge_into_what_one_process_records():
    single, a, b, master = (Aggregator(worker=w, variant_header="x-v") for w in (None, "a", "b", None))
    for i in range(600):
        response = Response(headers={"x-v": "canary" if i % 5 == 0 else "stable"})
        _request(single, 1 + i % 37, 50.0 + i % 3, response)
        _request(a if i % 2 else b, 1 + i % 37, 50.0 + i % 3, response)
    for row in a.take(1e12, 50) + b.take(1e12, 50):
        master.add_row(json.loads(json.dumps(row)))  # rows travel as JSON
    merged = {(r["ts"], r["outcome"], r.get("variant")): r for r in master.take(1e12, 50)}
    for row in single.take(1e12, 50):
        other = merged[(row["ts"], row["outcome"], row.get("variant"))]
        assert other.get("count") == row.get("count")
        assert Histogram.decode(other["hist"]).counts == Histogram.decode(row["hist"]).counts


def test_summing_every_variant_gives_the_aggregate_recorded_without_variants():
    plain, split = Aggregator(), Aggregator(variant_header="x-v")
    for i in range(300):
        response = Response(headers={"x-v": ("canary", "stable", "blue")[i % 3]})
        _request(plain, 2 + i % 11, 7.0, response)
        _request(split, 2 + i % 11, 7.0, response)
    whole = next(r for r in plain.take(1e12, 50) if r["outcome"] == "ok")
    parts = [r for r in split.take(1e12, 50) if r["outcome"] == "ok"]
    assert sorted(r["variant"] for r in parts) == ["blue", "canary", "stable"]
    summed = Histogram()
    for row in parts:
        summed.add(Histogram.decode(row["hist"]))
    assert sum(r["count"] for r in parts) == whole["count"]
    assert summed.counts == Histogram.decode(whole["hist"]).counts


def test_live_windows_add_up_every_variant():
    agg = Aggregator(variant_header="x-v")
    for second in range(100, 105):
        for variant in ("stable",) * 8 + ("canary",) * 2:
            _request(agg, 20, second + 0.1, Response(headers={"x-v": variant}))
    live = live_document(agg.entries(), end=104, now=105.0)
    assert live["windows"]["5s"]["overall"]["requests"] == 50
