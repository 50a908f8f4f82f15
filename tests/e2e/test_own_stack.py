"""How most users meet gameday: their own web app, their own plain locustfile, stock Chaos Toolkit providers.

The app is pypiserver (a third-party WSGI app from PyPI) under gunicorn with two
workers, started by the test. The locustfile does not import the harness; the
experiment kills one gunicorn worker with a `process` provider and checks health
with an `http` probe. gunicorn's master replaces the worker.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from e2e_support import gameday, result_of, write_spec
from support import free_port, wait_for_port

pytestmark = pytest.mark.slow

LOCUSTFILE = """
from locust import FastHttpUser, constant, task


class Visitor(FastHttpUser):
    wait_time = constant(0.5)

    @task(3)
    def simple_index(self):
        self.client.get("/simple/")

    @task(1)
    def health(self):
        self.client.get("/health")
"""


def experiment(base_url: str, pidfile: Path) -> dict:
    kill_one_worker = f"kill -9 $(pgrep -P $(cat {pidfile}) | head -n 1)"
    health = {
        "type": "probe",
        "name": "app-answers-health",
        "tolerance": 200,
        "provider": {"type": "http", "url": f"{base_url}/health", "timeout": 3},
    }
    return {
        "version": "1.0.0",
        "title": "A gunicorn worker killed under load is replaced",
        "description": "Stock providers only: process and http.",
        "steady-state-hypothesis": {"title": "the app answers", "probes": [health]},
        "method": [
            {
                "type": "action",
                "name": "kill-one-gunicorn-worker",
                "provider": {"type": "process", "path": "sh", "arguments": ["-c", kill_one_worker]},
                "pauses": {"after": 5},
            },
            health,
        ],
        "rollbacks": [],
    }


@pytest.fixture
def app(tmp_path):
    port, pidfile, root = free_port(), tmp_path / "gunicorn.pid", tmp_path / "packages"
    root.mkdir()
    gunicorn = Path(sys.executable).with_name("gunicorn")
    proc = subprocess.Popen(
        [
            str(gunicorn),
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{port}",
            "--pid",
            str(pidfile),
            "--graceful-timeout",
            "1",
            f"pypiserver:app(roots=['{root}'])",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port, 20)
    while not pidfile.exists():
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}", pidfile
    proc.terminate()
    proc.wait(10)


def workers(pidfile: Path) -> set[int]:
    out = subprocess.run(["pgrep", "-P", pidfile.read_text().strip()], capture_output=True, text=True).stdout
    return {int(pid) for pid in out.split()}


def test_plain_locustfile_and_stock_providers_against_a_third_party_app(app, tmp_path):
    base_url, pidfile = app
    before = workers(pidfile)
    profile = tmp_path / "locustfile.py"
    profile.write_text(LOCUSTFILE)
    exp = tmp_path / "kill-worker.json"
    exp.write_text(json.dumps(experiment(base_url, pidfile)))
    spec = write_spec(
        tmp_path / "gd.yaml",
        name="pypiserver-worker-loss",
        target={"kind": "http", "base_url": base_url},
        load={"profile": str(profile), "shape": "constant_rate", "rate": 30, "duration": "25s"},
        chaos={"experiment": str(exp), "start_after": "8s"},
        warmup="3s",
        slos=[
            {"sli": "availability", "phase": "baseline", "objective": ">= 99%"},
            {"sli": "availability", "phase": "run", "objective": ">= 95%"},
            {"sli": "latency.p99", "endpoint": "GET /simple/", "phase": "baseline", "objective": "< 500ms"},
        ],
    )
    result = gameday("run", str(spec), "--reports", str(tmp_path / "runs"), home=tmp_path)
    run_dir, doc = result_of(tmp_path / "runs")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert {v["state"] for v in doc["verdicts"]} == {"pass"}
    journal = json.loads((run_dir / "journal.json").read_text())
    assert journal["status"] == "completed"
    assert journal["run"][0]["activity"]["name"] == "kill-one-gunicorn-worker"
    assert workers(pidfile) != before, "no gunicorn worker was replaced"


def test_correctness_slo_on_a_profile_without_checks_fails_validation(tmp_path):
    profile = tmp_path / "locustfile.py"
    profile.write_text(LOCUSTFILE)
    spec = write_spec(
        tmp_path / "gd.yaml",
        name="x",
        target={"kind": "http", "base_url": "http://127.0.0.1:9"},
        load={"profile": str(profile), "shape": "constant_rate", "rate": 5, "duration": "10s"},
        slos=[{"sli": "correctness", "phase": "run", "objective": ">= 99%"}],
    )
    result = gameday("validate", str(spec), home=tmp_path)
    assert result.returncode == 2
    assert "correctness" in result.stderr and "Traceback" not in result.stderr
