"""A user's ~15-line locustfile (examples/own-pipeline/locustfile.py, the one the README shows) records produced
events with record_event, and `gameday run` judges events.lost and events.e2e_latency.p99 against each kind of
sink: http, callable, Kafka (a real Tansu broker) and AMQP (a real RabbitMQ).

The ingest endpoint is tests/e2e/ingest_server.py, which puts each acknowledged id out on the sink's kind. A
pipeline that drops every tenth event must fail events.lost with exactly those events.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from e2e_support import ROOT, gameday, result_of, write_spec
from support import free_port, wait_for_port

from harness.samples import request_rows

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "stack"))  # tansu_support

pytestmark = pytest.mark.slow
HERE = Path(__file__).parent
LOCUSTFILE = ROOT / "examples" / "own-pipeline" / "locustfile.py"
SLOS = [
    {"sli": "events.lost", "phase": "run", "objective": "== 0"},
    {"sli": "events.e2e_latency.p99", "phase": "run", "objective": "< 2s"},
]


def test_the_example_locustfile_is_about_15_lines_and_the_one_the_readme_shows():
    code = LOCUSTFILE.read_text()
    assert len(code.strip().splitlines()) <= 17
    assert "record_event(self.environment, event_id" in code
    readme = (ROOT / "README.md").read_text()
    assert code.strip() in readme, "README.md no longer shows examples/own-pipeline/locustfile.py"


@pytest.fixture
def kafka():
    from tansu_support import running_broker

    from stack.kafka import ensure_topics

    with running_broker() as bootstrap:
        ensure_topics(bootstrap, ("events-out",), partitions=2)
        yield bootstrap


@pytest.fixture
def rabbit(tmp_path):
    from rabbitmq_support import RabbitMQ

    broker = RabbitMQ(tmp_path / "rabbit").start()
    yield broker
    broker.stop()


@pytest.fixture
def ingest(tmp_path):
    started = []

    def start(*args: str) -> str:
        port = free_port()
        started.append(
            subprocess.Popen(
                [
                    sys.executable,
                    str(HERE / "ingest_server.py"),
                    str(port),
                    *args,
                    "--acked",
                    str(tmp_path / "acked.txt"),
                ],
                start_new_session=True,
            )
        )
        wait_for_port(port, 30)
        return f"http://127.0.0.1:{port}"

    yield start
    for proc in started:
        proc.kill()
        proc.wait(10)


def run(
    tmp_path: Path,
    base_url: str,
    sink: dict,
    warmup: str = "2s",
    **load,
) -> tuple[subprocess.CompletedProcess, Path, dict]:
    spec = write_spec(
        tmp_path / "gd.yaml",
        name="record-event",
        target={"kind": "http", "base_url": base_url},
        load={
            "profile": str(LOCUSTFILE),
            "shape": "constant_rate",
            "rate": 10,
            "duration": "12s",
            "sink": sink,
            **load,
        },
        warmup=warmup,
        slos=SLOS,
    )
    # --allow-generator-bound: these runs are 9-12 s long, so one second of Locust behind schedule
    # on a busy machine (4 stacks on 2 cores) is over the 10% that makes a verdict inconclusive
    # (seen in a full local run). What is tested is the sink's delivery, every event counted;
    # the generator's own seconds are still flagged in the result.
    argv = ["run", str(spec), "--reports", str(tmp_path / "runs"), "--allow-generator-bound"]
    result = gameday(*argv, home=tmp_path, timeout=200)
    run_dir, doc = result_of(tmp_path / "runs")
    return result, run_dir, doc


def judged(result, doc) -> dict[str, dict]:
    assert result.returncode in (0, 1), result.stdout[-3000:] + result.stderr[-2000:]
    return {v["sli"]: v for v in doc["verdicts"]}


def assert_every_event_judged_delivered(result, run_dir: Path, doc: dict, slack: int = 0) -> None:
    verdicts = judged(result, doc)
    assert result.returncode == 0, verdicts
    assert verdicts["events.lost"]["observed"] == 0
    assert 0 < verdicts["events.e2e_latency.p99"]["observed"] < 2
    assert doc["ledger"]["produced"] > 80 and doc["ledger"]["delivered"] == doc["ledger"]["produced"], doc["ledger"]
    produced = [json.loads(line)["id"] for line in (run_dir / "ledger" / "produced.jsonl").read_text().splitlines()]
    acked = set((run_dir.parent.parent / "acked.txt").read_text().split())
    assert len(produced) == len(set(produced)) and set(produced) <= acked
    # every 2xx the profile saw (the plugin's own request record) is in the ledger, once
    answered = sum(
        r["count"] for r in request_rows(run_dir) if r["endpoint"] == "POST /events" and r["outcome"] == "ok"
    )
    assert abs(len(produced) - answered) <= slack, (len(produced), answered)


def test_http_sink(tmp_path, ingest):
    base = ingest("--out", "http")
    assert_every_event_judged_delivered(*run(tmp_path, base, {"kind": "http", "url": f"{base}/out"}))


def test_callable_sink(tmp_path, ingest, monkeypatch):
    tap = tmp_path / "out.txt"
    monkeypatch.setenv("GAMEDAY_TEST_TAP_FILE", str(tap))
    monkeypatch.setenv("PYTHONPATH", f"{HERE}:{ROOT}")
    base = ingest("--out", "file", "--file", str(tap))
    assert_every_event_judged_delivered(*run(tmp_path, base, {"kind": "callable", "callable": "ledger_taps:tail_ids"}))


def test_kafka_sink(tmp_path, ingest, kafka):
    base = ingest("--out", "kafka", "--bootstrap", kafka, "--topic", "events-out")
    assert_every_event_judged_delivered(
        *run(tmp_path, base, {"kind": "kafka", "bootstrap": kafka, "topic": "events-out"})
    )


def test_amqp_sink_with_two_load_processes(tmp_path, ingest, rabbit):
    """Two Locust worker processes: their ids reach the master, the single writer of produced.jsonl."""
    base = ingest("--out", "amqp", "--amqp", rabbit.url, "--exchange", "out")
    result, run_dir, doc = run(tmp_path, base, {"kind": "amqp", "url": rabbit.url, "exchange": "out"}, processes=2)
    # Measured: Locust's master can quit while its workers' pool users still send for a few seconds
    # (until their stop timeout): the ledger and the sample rows then each keep a different part of
    # that tail (ids are shipped every second, rows once their second is closed). At 10/s: 10.
    assert_every_event_judged_delivered(result, run_dir, doc, slack=10)
    assert sorted(p.name for p in (run_dir / "ledger").glob("produced*.jsonl")) == ["produced.jsonl"]


def test_a_pipeline_that_drops_every_tenth_event_fails_events_lost_with_exactly_those(tmp_path, ingest):
    base = ingest("--out", "http", "--drop-every", "10")
    # no warmup: the run phase holds every event but those of its first and last part-seconds
    # (phase windows shrink to whole seconds), so the dropped ones are counted inside its window
    result, run_dir, doc = run(tmp_path, base, {"kind": "http", "url": f"{base}/out"}, warmup="0s")
    verdicts = judged(result, doc)
    assert result.returncode == 1
    assert verdicts["events.lost"]["state"] == "fail"
    acked = (tmp_path / "acked.txt").read_text().split()
    dropped = {event_id for n, event_id in enumerate(acked, 1) if n % 10 == 0}
    [(start, end)] = doc["phases"]["run"]["windows"]
    records = [json.loads(line) for line in (run_dir / "ledger" / "produced.jsonl").read_text().splitlines()]
    in_run = {r["id"] for r in records if start <= r["ts"] < end}
    assert len(in_run) >= len(records) - 20  # only the part-seconds at either end are left out
    assert verdicts["events.lost"]["observed"] == len(dropped & in_run) > 5
