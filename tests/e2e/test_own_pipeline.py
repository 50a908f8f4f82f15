"""examples/own-pipeline end to end: a user's HTTP ingest -> RabbitMQ -> worker pipeline, its plain locustfile
with record_event, a stock-provider experiment (process kill + chaostoolkit-toxiproxy through `gameday proxy`)
and its game day, against a real RabbitMQ. Healthy, it passes; with the worker's planted defect
(ack-before-process) it fails on events.lost.

The shipped files run unchanged; the only differences in the spec the test runs are the addresses (free
ports instead of the shipped 8000 and 5672) and the profile/experiment paths made absolute, because the
copy lives in a temporary directory. `test_the_run_spec_differs_from_the_shipped_one_only_in_addresses`
holds it to that. The two game days are marked `shipped` as well: like gamedays/*.yaml they run as
shipped (20 events/s for 45 s, an e2e latency SLO), so they run in the shipped step, not beside the main
suite's four workers.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pika
import pytest
import requests
import yaml
from e2e_support import ROOT, gameday, result_of
from rabbitmq_support import RabbitMQ
from support import free_port, wait_for_port

pytestmark = pytest.mark.slow
EXAMPLE = ROOT / "examples" / "own-pipeline"


def run_spec(base_url: str, amqp_url: str) -> dict:
    doc = yaml.safe_load((EXAMPLE / "gameday.yaml").read_text())
    doc["target"]["base_url"] = base_url
    doc["load"]["sink"]["url"] = amqp_url
    doc["load"]["profile"] = str(EXAMPLE / doc["load"]["profile"])
    doc["chaos"]["experiment"] = str(EXAMPLE / doc["chaos"]["experiment"])
    return doc


def test_the_run_spec_differs_from_the_shipped_one_only_in_addresses():
    shipped = yaml.safe_load((EXAMPLE / "gameday.yaml").read_text())
    ran = run_spec("http://127.0.0.1:1", "amqp://guest:guest@127.0.0.1:2/%2F")
    for doc in (shipped, ran):
        doc["target"].pop("base_url"), doc["load"]["sink"].pop("url")
        doc["load"]["profile"] = Path(doc["load"]["profile"]).name
        doc["chaos"]["experiment"] = Path(doc["chaos"]["experiment"]).name
    assert ran == shipped


def start_group(argv: list[str], log: Path, env: dict | None = None) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=ROOT,
            env={**os.environ, **(env or {})},
        )


def kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(10)


@pytest.fixture
def rabbit(tmp_path):
    broker = RabbitMQ(tmp_path / "rabbit").start()
    yield broker
    broker.stop()


@pytest.fixture
def pipeline(rabbit, tmp_path, monkeypatch):
    """Start `gameday proxy` in front of RabbitMQ and the example pipeline; yields a function running the game day."""
    started: list[subprocess.Popen] = []
    home = tmp_path / "home"

    def run(defect: str | None = None):
        ingest, hop, api = free_port(), free_port(), free_port()
        pid_dir = tmp_path / "pids"
        started.append(
            start_group(
                [
                    sys.executable,
                    "-m",
                    "harness.cli",
                    "proxy",
                    "--listen",
                    f"127.0.0.1:{hop}",
                    "--upstream",
                    f"127.0.0.1:{rabbit.port}",
                    "--api",
                    f"127.0.0.1:{api}",
                    "--name",
                    "rabbit",
                ],
                tmp_path / "proxy.log",
                {"GAMEDAY_HOME": str(home)},
            )
        )
        wait_for_port(api, 30)
        argv = [
            sys.executable,
            str(EXAMPLE / "pipeline.py"),
            "--port",
            str(ingest),
            "--amqp",
            rabbit.url,
            "--worker-amqp",
            f"amqp://guest:guest@127.0.0.1:{hop}/%2F",
            "--pid-dir",
            str(pid_dir),
        ]
        started.append(start_group(argv + (["--defect", defect] if defect else []), tmp_path / "pipeline.log"))
        wait_for_port(ingest, 30)
        spec = tmp_path / "gameday.yaml"
        spec.write_text(yaml.safe_dump(run_spec(f"http://127.0.0.1:{ingest}", rabbit.url), sort_keys=False))
        monkeypatch.setenv("PIPELINE_PID_DIR", str(pid_dir))
        monkeypatch.setenv("PIPELINE_TOXIPROXY_PORT", str(api))
        result = gameday("run", str(spec), "--reports", str(tmp_path / "runs"), home=home, timeout=280)
        run_dir, doc = result_of(tmp_path / "runs")
        toxics = requests.get(f"http://127.0.0.1:{api}/proxies/rabbit", timeout=5).json()["toxics"]
        return result, run_dir, doc, toxics

    yield run
    for proc in reversed(started):
        kill_group(proc)


def verdict(doc: dict, sli: str) -> dict:
    return next(v for v in doc["verdicts"] if v["sli"] == sli)


def results_queue_depth(url: str) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    depth = connection.channel().queue_declare("results", passive=True).method.message_count
    connection.close()
    return depth


@pytest.mark.shipped
def test_healthy_pipeline_loses_nothing_through_two_worker_kills_and_a_rabbitmq_partition(pipeline, rabbit, tmp_path):
    result, run_dir, doc, toxics = pipeline()
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert {v["state"] for v in doc["verdicts"]} == {"pass"}, doc["verdicts"]
    assert verdict(doc, "events.lost")["observed"] == 0
    produced = doc["ledger"]["produced"]
    assert produced > 400, doc["ledger"]
    journal = json.loads((run_dir / "journal.json").read_text())
    assert journal["status"] == "completed"
    assert [(r["activity"]["name"], r["status"]) for r in journal["run"]] == [
        ("kill-worker", "succeeded"),
        ("kill-worker-again", "succeeded"),
        ("partition-worker-from-rabbitmq", "succeeded"),
    ]
    assert "restart 2" in (tmp_path / "pipeline.log").read_text(), "the worker was not killed twice"
    # the partition really held the worker's link for its 8 s: some events waited that long
    assert doc["slis"]["run"]["*"]["events.e2e_latency.max"] > 5.0
    assert toxics == [], "the rollback did not remove the partition"
    assert results_queue_depth(rabbit.url) >= produced, "the sink reader took results from the pipeline's queue"


@pytest.mark.shipped
def test_worker_that_acks_before_it_processes_fails_the_game_day_on_events_lost(pipeline):
    result, run_dir, doc, _ = pipeline(defect="ack-before-process")
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-2000:]
    lost = verdict(doc, "events.lost")
    assert lost["state"] == "fail" and lost["observed"] > 0, lost
    assert json.loads((run_dir / "journal.json").read_text())["status"] == "completed"
