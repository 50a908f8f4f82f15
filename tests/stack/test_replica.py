"""stack.replica over real HTTP: a subprocess per test, on a free port."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import psutil
import pytest
from support import free_port, wait_for_port

from stack import model
from stack.config import StackConfig


@contextmanager
def running_replica(*args: str) -> Iterator[subprocess.Popen]:
    """A replica started with `args`; killed on exit if the test did not stop it."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "stack.replica", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)


@contextmanager
def replica_on_free_port(version: str = "stable", *extra: str) -> Iterator[str]:
    """Base URL of a replica started with --port and --version."""
    port = free_port()
    with running_replica("--port", str(port), "--version", version, *extra):
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def stable_url() -> Iterator[str]:
    """One stable replica (index 3) shared by the tests that only read from it."""
    with replica_on_free_port("stable", "--index", "3") as url:
        yield url


def post(url: str, body: bytes, timeout: float = 10) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def get(url: str, timeout: float = 10) -> tuple[int, dict]:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, json.loads(response.read())


def post_features(url: str, features: list[float], timeout: float = 10) -> tuple[int, dict]:
    return post(f"{url}/score", json.dumps({"features": features}).encode(), timeout)


def test_score_returns_the_models_score_version_and_replica_name(stable_url):
    features = model.example_features(1)
    status, body = post_features(stable_url, features)
    assert status == 200
    assert body == {"score": model.load("stable").score(features), "model_version": "stable-v1", "replica": "replica-3"}
    assert model.check_response({"features": features}, body)


def test_canary_replica_serves_the_canary_version():
    features = model.example_features(2)
    with replica_on_free_port("canary") as url:
        _, body = post_features(url, features)
    assert body["model_version"] == "canary-v2"
    assert model.check_response({"features": features}, body)


def test_invalid_json_is_400_with_an_error_message(stable_url):
    status, body = post(f"{stable_url}/score", b"{not json")
    assert status == 400
    assert "not valid JSON" in body["error"]


def test_undecodable_bytes_are_400_not_500(stable_url):
    status, body = post(f"{stable_url}/score", b'{"features": "\xff\xfe"}')
    assert status == 400
    assert "error" in body


def test_wrong_feature_count_is_400_naming_the_expected_count(stable_url):
    status, body = post_features(stable_url, [1.0, 2.0])
    assert status == 400
    assert "must have 8 numbers" in body["error"]


def test_healthz_reports_replica_version_and_work():
    with replica_on_free_port("canary", "--index", "2", "--work", "3") as url:
        status, body = get(f"{url}/healthz")
    assert status == 200
    assert body == {"status": "ok", "replica": "replica-2", "model_version": "canary-v2", "work": 3}


def test_sigterm_stops_the_replica_with_exit_code_zero():
    port = free_port()
    with running_replica("--port", str(port), "--version", "stable") as proc:
        wait_for_port(port)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


def test_config_mode_takes_port_and_version_from_the_stack_config(tmp_path):
    port = free_port()
    config = StackConfig(replicas=2, canary_replicas=1, model_work=2, port_overrides={"replica_upstream_2": port})
    path = tmp_path / "stack.json"
    path.write_text(config.to_json())
    with running_replica("--config", str(path), "--index", "2"):
        wait_for_port(port)
        _, body = get(f"http://127.0.0.1:{port}/healthz")
    assert body == {"status": "ok", "replica": "replica-2", "model_version": "canary-v2", "work": 2}


def test_missing_config_exits_2_and_says_what_to_do():
    with running_replica("--config", "/nonexistent/stack.json") as proc:
        _, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 2
    assert "StackError: no stack config at /nonexistent/stack.json" in stderr
    assert "gameday stack up" in stderr


def test_index_outside_the_stack_exits_2(tmp_path):
    path = tmp_path / "stack.json"
    path.write_text(StackConfig(replicas=2).to_json())
    with running_replica("--config", str(path), "--index", "5") as proc:
        _, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 2
    assert "--index 5 is out of range" in stderr


def test_busy_port_exits_4_naming_the_port():
    port = free_port()
    with running_replica("--port", str(port), "--version", "stable"):
        wait_for_port(port)
        with running_replica("--port", str(port), "--version", "stable") as second:
            _, stderr = second.communicate(timeout=10)
    assert second.returncode == 4
    assert f"cannot listen on 127.0.0.1:{port}" in stderr


def test_model_compute_blocks_the_event_loop():
    """The design wants a CPU-bound replica: while a heavy score runs, even /healthz waits
    behind it. A thread-pool offload would answer /healthz while the score still computes.

    Judged in the replica's own CPU time, not wall-clock time, so a fast or a busy machine
    gives the same answer: /healthz is sent once the replica has burned some CPU on the
    score, and must not come back before (nearly) all of the score's CPU was burned."""
    features = model.example_features(0)
    work = passes_costing(1.5, features)
    port = free_port()
    with running_replica("--port", str(port), "--version", "stable", "--work", str(work)) as proc:
        wait_for_port(port)
        url, replica = f"http://127.0.0.1:{port}", psutil.Process(proc.pid)
        start = cpu_of(replica)
        worker = threading.Thread(target=post_features, args=(url, features, 300))
        worker.start()
        assert wait_for(lambda: cpu_of(replica) - start > 0.1, 60), "the replica never started computing"
        sent = cpu_of(replica) - start
        get(f"{url}/healthz", timeout=300)
        answered = cpu_of(replica) - start
        worker.join(300)
        total = cpu_of(replica) - start
    assert sent < 0.5 * total, f"/healthz was sent too late to tell ({sent:.2f} of {total:.2f} s CPU)"
    assert answered >= 0.9 * total, (
        f"/healthz answered after {answered:.2f} s of the score's {total:.2f} s CPU: the loop was free"
    )


def passes_costing(cpu_s: float, features: list[float]) -> int:
    """Forward passes that cost about `cpu_s` seconds of CPU here (measured in this process's CPU
    time, which a busy machine does not inflate)."""
    scorer, passes = model.load("stable"), 200
    scorer.score(features)  # builds the weights, which the replica does before serving
    begin = time.process_time()
    scorer.score(features, passes)
    per_pass = max((time.process_time() - begin) / passes, 1e-6)
    return max(passes, int(cpu_s / per_pass))


def cpu_of(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return times.user + times.system


def wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()
