"""Outcome classification, per-second row aggregation, merging and live windows (no Locust run)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from harness.histogram import Histogram
from harness.load import mark_correct
from harness.load.aggregate import Aggregator, classify
from harness.load.live import live_document, read_live, write_atomic
from harness.load.rundir import resolve_run_dir
from harness.samples import histogram


@pytest.mark.parametrize(
    "status,exception,outcome",
    [
        (200, None, "ok"),
        (204, None, "ok"),
        (302, None, "ok"),
        (None, None, "ok"),
        (429, None, "rate_limited"),
        (429, RuntimeError("429"), "rate_limited"),
        (500, None, "error"),
        (404, None, "error"),
        (200, RuntimeError("bad body"), "error"),
        (0, TimeoutError("timed out"), "error"),
        (None, ConnectionRefusedError(), "error"),
    ],
)
def test_classify(status, exception, outcome):
    assert classify(status, exception) == outcome


def _request(agg: Aggregator, ms: float, start: float, name: str = "/v1/score", exception=None, context=None):
    agg.on_request(
        request_type="POST",
        name=name,
        response_time=ms,
        response=None,
        context=context or {},
        exception=exception,
        start_time=start,
    )


def test_requests_are_filed_by_second_endpoint_and_outcome():
    agg = Aggregator()
    _request(agg, 10, 100.2)
    _request(agg, 30, 100.9)
    _request(agg, 5, 101.0)
    _request(agg, 7, 100.5, exception=TimeoutError("slow"))
    rows = {(r["ts"], r["endpoint"], r["outcome"]): r for r in agg.take(1e12, 50)}
    ok = rows[(100, "POST /v1/score", "ok")]
    assert (ok["count"], ok["sum_ms"], ok["max_ms"]) == (2, 40.0, 30.0)
    assert histogram(ok).percentiles([50, 100]) == pytest.approx([10000, 30000], rel=0.004)
    assert rows[(101, "POST /v1/score", "ok")]["count"] == 1
    assert rows[(100, "POST /v1/score", "error")]["errors"] == {"TimeoutError: slow": 1}
    assert rows[(100, "*", "generator")]["offered"] == 3  # closed model: requests started


def test_intended_time_adds_schedule_lag_to_latency():
    agg = Aggregator(open_model=True)
    _request(agg, 10, start=200.5, context={"gameday.intended": 200.0})
    rows = agg.take(1e12, 50)
    request = next(r for r in rows if r["outcome"] == "ok")
    assert request["ts"] == 200 and request["sum_ms"] == pytest.approx(510.0)
    generator = next(r for r in rows if r["outcome"] == "generator")
    assert generator["lag_ms_max"] == pytest.approx(500.0)
    assert generator["behind"] is True
    assert generator["offered"] == 0  # open model: the schedule, not requests, counts offered


def test_correctness_counts_only_checked_ok_responses():
    agg = Aggregator()
    _request(agg, 1, 10.0, context={"gameday.correct": True})
    _request(agg, 1, 10.0, context={"gameday.correct": False})
    _request(agg, 1, 10.0)
    _request(agg, 1, 10.0, exception=ValueError("x"), context={"gameday.correct": True})
    ok = next(r for r in agg.take(1e12, 50) if r["outcome"] == "ok")
    assert (ok["count"], ok["checked"], ok["correct"]) == (3, 2, 1)


def test_errors_keep_the_most_frequent_messages():
    agg = Aggregator()
    for i in range(30):
        for _ in range(i):
            _request(agg, 1, 5.0, exception=RuntimeError(f"e{i}"))
    row = next(r for r in agg.take(1e12, 50) if r["outcome"] == "error")
    # 20 distinct messages are kept (e1..e20); e21..e29 and the tail fold into "(other)".
    assert row["errors"] == {
        "(other)": sum(range(21, 30)) + sum(range(1, 17)),
        "RuntimeError: e20": 20,
        "RuntimeError: e19": 19,
        "RuntimeError: e18": 18,
        "RuntimeError: e17": 17,
    }


def test_take_leaves_seconds_that_are_not_due():
    agg = Aggregator()
    _request(agg, 1, 10.0)
    _request(agg, 1, 12.0)
    assert {r["ts"] for r in agg.take(11, 50)} == {10}
    assert {r["ts"] for r in agg.take(13, 50)} == {12}


def test_merging_worker_rows_equals_recording_everything_in_one_process():
    rng = np.random.default_rng(7)
    latencies = rng.lognormal(3, 1, 4000)
    single, worker_a, worker_b, master = Aggregator(), Aggregator("a"), Aggregator("b"), Aggregator()
    for i, ms in enumerate(latencies):
        _request(single, ms, 50.0 + i % 3)
        _request(worker_a if i % 2 else worker_b, ms, 50.0 + i % 3)
    for row in worker_a.take(1e12, 50) + worker_b.take(1e12, 50):
        master.add_row(json.loads(json.dumps(row)))  # rows travel as JSON-able dicts
    merged = {(r["ts"], r["outcome"]): r for r in master.take(1e12, 50)}
    for row in single.take(1e12, 50):
        other = merged[(row["ts"], row["outcome"])]
        assert Histogram.decode(other["hist"]).counts == Histogram.decode(row["hist"]).counts
        assert other.get("count") == row.get("count") and other.get("offered") == row.get("offered")
        assert other.get("sum_ms", 0) == pytest.approx(row.get("sum_ms", 0))


def test_live_windows_count_only_their_seconds():
    agg = Aggregator()
    for second in range(100, 130):
        for _ in range(10):
            _request(agg, 20, second + 0.1)
        _request(agg, 20, second + 0.2, exception=RuntimeError("x") if second >= 125 else None)
    doc = live_document(agg.entries(), end=129, now=130.0)
    five, thirty = doc["windows"]["5s"]["overall"], doc["windows"]["30s"]["overall"]
    assert (five["requests"], five["errors"]) == (55, 5)
    assert five["error_rate"] == pytest.approx(5 / 55)
    assert thirty["throughput"] == pytest.approx(11.0)
    assert doc["windows"]["5s"]["endpoints"]["POST /v1/score"]["p99_ms"] == pytest.approx(20, rel=0.004)


def test_live_file_is_replaced_atomically(tmp_path):
    write_atomic(tmp_path / "live.json", {"ts": 1})
    write_atomic(tmp_path / "live.json", {"ts": 2})
    assert read_live(tmp_path) == {"ts": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["live.json"]


def test_adhoc_run_dir_is_named_for_utc_time(tmp_path):
    path = resolve_run_dir("", cwd=tmp_path, now=0)
    assert path == tmp_path / "reports" / "runs" / "19700101T000000Z-adhoc"
    assert (path / "samples").is_dir()


def test_mark_correct_refuses_a_response_without_catch_response():
    with pytest.raises(ValueError, match="catch_response=True"):
        mark_correct(object(), True)


def test_a_late_tick_closes_every_second_it_slept_through(tmp_path):
    """A starved Locust process can wake seconds late; each missed second still gets its generator row."""
    from locust.env import Environment

    from harness.load.plugin import Recorder

    env = Environment(user_classes=[])
    env.create_local_runner()
    env.parsed_options = None
    recorder = Recorder.__new__(Recorder)  # no ticker greenlet: the test drives tick() itself
    recorder.environment, recorder.role, recorder.schedule = env, "local", None
    recorder.running, recorder.closed, recorder.writer = True, None, None
    recorder.aggregator = __import__("harness.load.aggregate", fromlist=["Aggregator"]).Aggregator(
        worker=None, open_model=False
    )
    recorder.recent, recorder.missing, recorder.behind_ms = [], set(), 50.0
    recorder._flush = recorder._write_live = lambda *args, **kwargs: None  # keep every cell for the check
    recorder.tick(1000.05)
    recorder.tick(1003.40)  # slept through the ends of 1000, 1001 and 1002
    _, gens = recorder.aggregator.pop_before(10_000)
    assert sorted(ts for ts, _ in gens) == [999, 1000, 1001, 1002]


def test_master_notes_a_missing_worker_once_and_its_return(tmp_path):
    """worker_missing when Locust marks a worker missing (with the live count left), once; worker_back after."""
    from locust.env import Environment
    from locust.runners import STATE_MISSING, STATE_RUNNING, WorkerNode
    from support import free_port

    from harness.load.plugin import Recorder
    from harness.load.rundir import RunDirWriter, resolve_run_dir

    env = Environment(user_classes=[])
    runner = env.create_master_runner(master_bind_host="127.0.0.1", master_bind_port=free_port())
    try:
        recorder = Recorder.__new__(Recorder)  # no ticker greenlet: the test drives it
        recorder.environment, recorder.missing = env, set()
        recorder.writer = RunDirWriter(resolve_run_dir(str(tmp_path)))
        for name in ("w1", "w2"):
            runner.clients[name] = WorkerNode(name, state=STATE_RUNNING)
        runner.clients["w1"].state = STATE_MISSING
        recorder._note_missing_workers()
        recorder._note_missing_workers()  # still missing: no second event
        runner.clients["w1"].state = STATE_RUNNING
        recorder._note_missing_workers()
        recorder.writer.close()
    finally:
        runner.quit()
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert [(e["kind"], e["name"], e["detail"]["remaining"]) for e in events] == [
        ("worker-missing", "w1", 1),
        ("worker-back", "w1", 2),
    ]


def test_a_cpu_warning_flags_every_second_of_locusts_own_sampling_interval(monkeypatch):
    """Locust samples its CPU once per CPU_MONITOR_INTERVAL and warns about the whole interval."""
    from locust import runners

    from harness.load import plugin
    from harness.load.aggregate import Aggregator
    from harness.load.plugin import Recorder

    assert plugin.CPU_MONITOR_INTERVAL is runners.CPU_MONITOR_INTERVAL  # read from Locust, not hard-coded
    recorder = Recorder.__new__(Recorder)
    recorder.role, recorder._event = "local", lambda *args, **kwargs: None
    recorder.aggregator = Aggregator(worker=None, open_model=False)
    monkeypatch.setattr(plugin.time, "time", lambda: 2000.5)
    for interval in (runners.CPU_MONITOR_INTERVAL, 3.0):
        monkeypatch.setattr(plugin, "CPU_MONITOR_INTERVAL", interval)
        recorder.aggregator = Aggregator(worker=None, open_model=False)
        recorder.on_cpu_warning(cpu_usage=97.0)
        _, gens = recorder.aggregator.pop_before(10_000)
        flagged = sorted(ts for ts, cell in gens if cell.cpu_warning)
        assert flagged == list(range(2000 - int(interval) + 1, 2001))


def running_recorder(behind_ms: float):
    """A local-role Recorder keeping 100 req/s from t=1000 with no ticker greenlet, writer or
    live file: the test drives its tick and stop itself."""
    from locust.env import Environment

    from harness.load.aggregate import Aggregator
    from harness.load.plugin import Recorder
    from harness.load.pool import Pool
    from harness.load.schedule import Schedule

    env = Environment(user_classes=[])
    env.create_local_runner()
    recorder = Recorder.__new__(Recorder)
    recorder.environment, recorder.role, recorder.pool = env, "local", Pool()
    recorder.schedule = Schedule(lambda t: 100.0, 1000.0)
    recorder.running, recorder.closed, recorder.writer, recorder.schedule_end = True, None, None, None
    recorder.aggregator = Aggregator(worker=None, open_model=True)
    recorder.recent, recorder.missing, recorder.behind_ms = [], set(), behind_ms
    recorder._flush = recorder._write_live = lambda *args, **kwargs: None
    return recorder


def test_a_stop_before_the_last_tick_counts_each_offered_slot_in_its_own_second():
    """The test stops at 1002.02, before the tick that would close 1001 (due at 1002.05): 1001's
    slots are offered in 1001's row, not piled onto the partial last second (seen in the suite as
    a row with 100 requests sent and none offered)."""
    recorder = running_recorder(behind_ms=50.0)
    recorder.tick(1001.05)
    recorder.close_last(1002.02)
    _, gens = recorder.aggregator.pop_before(10_000)
    assert {ts: gen.offered for ts, gen in gens} == {1000: 100, 1001: 100, 1002: 2}  # due before 1002.02


def test_the_schedule_ends_when_the_stop_begins_so_the_users_slow_stop_is_not_backlog():
    """Locust fires test_stopping, takes its time to stop the users (long on a busy machine), then
    fires test_stop. Slots due in between are cut off, not late: seen in CI, a last second 318 ms
    "behind" at 100 req/s because its backlog was measured at test stop."""
    recorder = running_recorder(behind_ms=200.0)
    recorder.tick(1001.05)
    while recorder.schedule.next_due() < 1002.0:  # every slot before 1002.0 went out on time
        recorder.schedule.claim()
    recorder._end_schedule(1002.10)  # test_stopping
    recorder._end_schedule(1002.60)  # test_stop, half a second later
    _, gens = recorder.aggregator.pop_before(10_000)
    last = dict(gens)[1002]
    assert last.offered == 10 and last.backlog_ms == pytest.approx(100.0)  # due before 1002.10
    assert not last.to_row(1002, recorder.behind_ms, None)["behind"]
    assert recorder.schedule_end == 1002.10 and recorder.pool.schedule is None
