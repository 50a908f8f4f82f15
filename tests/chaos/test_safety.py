"""Nothing left behind: SIGINT mid-method, kill -9 mid-partition, and `gameday cleanup` after a crash."""

from __future__ import annotations

import argparse
import json
import os
import signal
from pathlib import Path

import pytest
from chaos.stack_support import faults_present, running_stack, stack_healthy, wait_until

from harness.chaos import network, replicas
from harness.run import chaos_commands as commands
from harness.run.chaos_driver import ChaosDriver

pytestmark = pytest.mark.slow
CONTROLS = [{"name": "gameday", "provider": {"type": "python", "module": "harness.chaos.control"}}]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory, "t-safety") as (config, home):
        yield config, home


def act(name, module, func, args, pauses=None):
    a = {
        "type": "action",
        "name": name,
        "provider": {"type": "python", "module": f"harness.chaos.{module}", "func": func, "arguments": args},
    }
    if pauses:
        a["pauses"] = pauses
    return a


def partition_experiment(path: Path, ttl: float) -> Path:
    doc = {
        "title": "partition then wait",
        "description": "interrupt me",
        "controls": CONTROLS,
        "configuration": {"stack": {"type": "env", "key": "GAMEDAY_STACK_NAME", "default": "default"}},
        "method": [
            act("partition-kafka", "network", "partition", {"service": "kafka", "ttl": ttl}, pauses={"after": 60}),
            act("freeze-replica-1", "replicas", "pause_replica", {"replica": "replica-1", "ttl": ttl}),
        ],
        "rollbacks": [act("heal-kafka", "network", "heal", {"hop": "kafka"})],
    }
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture
def start_and_wait_for_fault(stack):
    """`start(path, run_dir)`: `chaos run` started on the experiment, once its fault is present;
    its process group is killed at teardown whatever the test did."""
    config, _ = stack
    started: list[ChaosDriver] = []

    def start(path: Path, run_dir: Path) -> ChaosDriver:
        driver = ChaosDriver(path, run_dir)
        started.append(driver)
        driver.start()
        assert wait_until(lambda: bool(faults_present(config)), 20), (run_dir / "chaos.out").read_text()
        return driver

    yield start
    for driver in started:
        driver.kill()


def test_sigint_mid_method_runs_rollbacks_and_leaves_the_stack_healthy(stack, tmp_path, start_and_wait_for_fault):
    config, _ = stack
    driver = start_and_wait_for_fault(partition_experiment(tmp_path / "e.json", ttl=120), tmp_path / "run")
    driver.interrupt()
    assert driver.wait(30) is not None
    journal = driver.journal()
    assert journal["status"] == "interrupted"
    assert [r["activity"]["name"] for r in journal["rollbacks"]] == ["heal-kafka"]
    assert journal["rollbacks"][0]["status"] == "succeeded"
    assert wait_until(lambda: stack_healthy(config), 15), faults_present(config)


def test_kill_9_mid_partition_heals_by_ttl(stack, tmp_path, start_and_wait_for_fault):
    config, _ = stack
    driver = start_and_wait_for_fault(partition_experiment(tmp_path / "e.json", ttl=8), tmp_path / "run")
    os.killpg(driver.pid, signal.SIGKILL)
    driver.wait(10)
    assert faults_present(config)  # nobody healed it ...
    assert wait_until(lambda: not faults_present(config), 40), faults_present(config)  # ... its TTL did


def test_cleanup_after_a_crash_removes_every_leftover(stack, capsys):
    config, _ = stack
    network.partition("scorer-kafka", ttl=300)
    network.add_latency("gateway-replica-2", ms=100, ttl=300)
    network.take_down("gateway-replica-3", ttl=300)
    replicas.pause_replica("replica-1", ttl=300)
    replicas.stop_replica("replica-2", ttl=300)
    from harness.chaos import gateway

    gateway.trip_breaker("replica-3", ttl=300)
    gateway.shift_canary(0.7)
    assert wait_until(lambda: len(faults_present(config)) >= 7, 30), faults_present(config)
    parser = argparse.ArgumentParser()
    commands.register(parser.add_subparsers())
    args = parser.parse_args(["cleanup", "--stack", config.name])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    for what in (
        "scorer-kafka: toxic",
        "gateway-replica-2: toxic",
        "gateway-replica-3: hop was down",
        "replica-1: was frozen",
        "replica-2: was stopped",
        "breaker replica-3: forced open",
        "canary weight was 0.7",
    ):
        assert what in out, out
    assert wait_until(lambda: stack_healthy(config), 20), faults_present(config)
    args.func(args)
    assert "nothing to remove" in capsys.readouterr().out
