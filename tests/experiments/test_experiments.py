"""Every experiment passes `chaos validate`; every local one runs to `completed` against a real stack."""

from __future__ import annotations

import contextlib
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
from chaos.stack_support import faults_present, running_stack, stack_healthy, wait_until

from harness.run.chaos_driver import ChaosDriver

ROOT = Path(__file__).resolve().parents[2] / "experiments"
LOCAL = sorted(ROOT.glob("*.json")) + sorted(ROOT.glob("*.yaml"))
K8S = sorted((ROOT / "k8s").glob("*.json")) + sorted((ROOT / "k8s").glob("*.yaml"))
REQUIRED = [
    "kill-model-replica",
    "freeze-model-replica",
    "kill-scorer",
    "partition-kafka",
    "kafka-latency",
    "trip-breaker",
    "canary-rollout-under-replica-loss",
    "broker-restart",
]


def chaos_validate(path: Path) -> subprocess.CompletedProcess:
    chaos = Path(sys.executable).with_name("chaos")
    return subprocess.run(
        [str(chaos), "--no-version-check", "--no-log-file", "validate", str(path)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_every_required_scenario_exists_locally_and_for_kubernetes():
    assert {p.stem for p in LOCAL} >= set(REQUIRED)
    assert {p.stem for p in K8S} >= set(REQUIRED) - {"freeze-model-replica", "trip-breaker", "kafka-latency"}


@pytest.mark.parametrize("path", LOCAL + K8S, ids=lambda p: str(p.relative_to(ROOT)))
def test_experiment_passes_chaos_validate(path):
    result = chaos_validate(path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", LOCAL, ids=lambda p: p.name)
def test_local_experiment_has_hypothesis_pauses_rollbacks_and_the_control(path):
    doc = json.loads(path.read_text())
    assert doc["steady-state-hypothesis"]["probes"]
    assert any(a.get("pauses") for a in doc["method"])
    assert doc["rollbacks"]
    assert doc["controls"][0]["provider"]["module"] == "harness.chaos.control"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory, "t-experiments") as (config, _home):
        yield config


@contextlib.contextmanager
def score_traffic(config, per_second: float = 40):
    """Score requests at the gateway in a thread while the block runs: an experiment's method probes
    assert what its fault does to traffic (trip-breaker's breakers open only on failed calls, and on
    an idle stack it once 'completed' having tripped nothing). Inputs are fresh, or the gateway's
    cache answers and no call fails. Answers are not judged here."""
    import threading

    from chaoslib.exceptions import ActivityFailed

    from harness.chaos.httpjson import call
    from stack.model import example_features

    stop = threading.Event()
    rng = random.Random()  # fresh inputs: the gateway's cache would answer repeated ones itself

    def send() -> None:
        while not stop.wait(1 / per_second):
            with contextlib.suppress(ActivityFailed):  # a failed call is the fault at work
                call("POST", f"{config.url('gateway')}/v1/score", {"features": example_features(rng)}, timeout=2)

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)


@pytest.mark.slow
@pytest.mark.parametrize("path", LOCAL, ids=lambda p: p.name)
def test_local_experiment_completes_and_leaves_the_stack_healthy(path, stack, tmp_path):
    """Under score traffic, each runs as written: completed, and journal_status finds no failed activity
    and no method probe out of its tolerance."""
    driver = ChaosDriver(path, tmp_path / "run")
    with score_traffic(stack):
        driver.start()
        code = driver.wait(180)
    assert driver.status == "completed", (code, (tmp_path / "run" / "chaos.out").read_text()[-3000:])
    assert wait_until(lambda: stack_healthy(stack), 30), faults_present(stack)
