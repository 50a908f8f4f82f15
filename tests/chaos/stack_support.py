"""A real local stack for chaos tests, started with the real `gameday stack up`, and checks on it.

Import as `from chaos.stack_support import ...` (tests/ is on sys.path).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import processes
import pytest
from support import free_base_port

from stack.config import StackConfig

GAMEDAY = [sys.executable, "-m", "harness.cli"]


def gameday(
    *args: str, home: Path, check: bool = True, timeout: float = 120, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run the real `gameday` CLI with GAMEDAY_HOME=home; on a timeout whatever it started is killed."""
    full_env = {**os.environ, **(env or {}), "GAMEDAY_HOME": str(home)}
    result = processes.run([*GAMEDAY, *args], env=full_env, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"gameday {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


@contextlib.contextmanager
def running_stack(tmp_path_factory, name: str) -> Iterator[tuple[StackConfig, Path]]:
    """Bring a stack up in a fresh GAMEDAY_HOME, point this process's env at it, and take it down after."""
    home = tmp_path_factory.mktemp("gameday-home")
    gameday("stack", "up", "--name", name, "--base-port", str(free_base_port()), home=home)
    config = StackConfig.load(home / "stacks" / name / "stack.json")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GAMEDAY_HOME", str(home))
        mp.setenv("GAMEDAY_STACK_NAME", name)
        mp.delenv("GAMEDAY_RUN_DIR", raising=False)
        try:
            yield config, home
        finally:
            gameday("stack", "down", "--name", name, home=home, check=False)


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.2) -> bool:
    """Poll `predicate` until it is true or `timeout` passes; returns its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.load(resp)


def faults_present(config: StackConfig) -> list[str]:
    """Every fault visible on the stack right now (empty on a healthy stack)."""
    from harness.chaos.replicas import is_frozen
    from stack.supervise import Supervisor

    found = []
    for name, proxy in get_json(f"{config.url('proxy_api')}/proxies").items():
        found += [f"{name}: toxic {t['name']}" for t in proxy["toxics"]]
        if not proxy["enabled"]:
            found.append(f"{name}: disabled")
    for info in Supervisor(config).processes():
        if info["statename"] != "RUNNING":
            found.append(f"{info['name']}: {info['statename']}")
        elif is_frozen(info["pid"]):
            found.append(f"{info['name']}: frozen")
    for breaker in get_json(f"{config.url('gateway')}/admin/breakers")["breakers"]:
        if breaker["forced"]:
            found.append(f"breaker {breaker['replica']}: forced {breaker['forced']}")
    weight = get_json(f"{config.url('gateway')}/admin/split")["canary_weight"]
    if weight != config.gateway.canary_weight:
        found.append(f"canary weight {weight}")
    return found


def stack_healthy(config: StackConfig) -> bool:
    """No fault present, the gateway answers, and every replica is ready."""
    from harness.chaos import probes

    return (
        not faults_present(config)
        and probes.gateway_healthy(config.name)
        and probes.ready_replicas(config.name) == config.replicas
    )
