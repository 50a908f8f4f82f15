"""The issue's acceptance for the reference stack, on the real processes.

One stack per module, brought up and down with the real `gameday` CLI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import processes
import pytest
from support import free_base_port

from stack.config import TOPIC_OUT, StackConfig
from stack.model import check_response, example_features
from stack.supervise import marked_processes

pytestmark = pytest.mark.slow
GAMEDAY = [sys.executable, "-m", "harness.cli"]


def gameday(*args: str, home: Path, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "GAMEDAY_HOME": str(home)}
    result = processes.run([*GAMEDAY, *args], env=env, timeout=timeout)  # a timeout kills what it started
    if check and result.returncode != 0:
        raise AssertionError(f"gameday {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def request(method: str, url: str, body: dict | None = None, timeout: float = 5.0) -> tuple[int, dict, float]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.load(resp), time.perf_counter() - started
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}"), time.perf_counter() - started


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    home = tmp_path_factory.mktemp("gameday-home")
    base = free_base_port()
    gameday("stack", "up", "--name", "acc", "--base-port", str(base), home=home)
    config = StackConfig.load(home / "stacks" / "acc" / "stack.json")
    yield config, home
    gameday("stack", "down", "--name", "acc", home=home)


def test_score_requests_return_correct_scores(stack):
    config, _ = stack
    for i in range(100):
        body = {"features": example_features(i)}
        status, answer, _ = request("POST", f"{config.url('gateway')}/v1/score", body)
        assert status == 200
        assert check_response(body, answer), answer


def test_events_reach_scores_topic_without_loss(stack):
    config, _ = stack
    from confluent_kafka import Consumer

    consumer = Consumer(
        {
            "bootstrap.servers": f"127.0.0.1:{config.port('broker')}",
            "group.id": f"observer-{uuid.uuid4().hex}",
            "auto.offset.reset": "latest",
            "fetch.wait.max.ms": 10,
            "session.timeout.ms": 6000,
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([TOPIC_OUT])
    _wait_assigned(consumer)
    sent = set()
    for i in range(1000):
        status, answer, _ = request("POST", f"{config.url('gateway')}/v1/events", {"features": example_features(i)})
        assert status == 200, answer
        sent.add(answer["event_id"])
    seen = set()
    deadline = time.monotonic() + 30
    while not sent <= seen and time.monotonic() < deadline:
        for msg in consumer.consume(500, timeout=0.5):
            if not msg.error():
                seen.add(json.loads(msg.value())["event_id"])
    consumer.close()
    assert sent - seen == set(), f"{len(sent - seen)} of 1000 events lost"


def _wait_assigned(consumer) -> None:
    deadline = time.monotonic() + 20
    while not consumer.assignment() and time.monotonic() < deadline:
        consumer.poll(0.2)
    assert consumer.assignment(), "observer consumer got no partitions"
    # "latest" resolves lazily per partition; poll a little so later messages are not skipped
    for _ in range(5):
        consumer.poll(0.1)


def test_killed_replica_opens_breaker_and_comes_back(stack):
    config, home = stack
    gw = config.url("gateway")
    old_pid = _pid(home, "replica-2")
    gameday("stack", "signal", "--name", "acc", "replica-2", "KILL", home=home)
    killed_at = time.monotonic()
    opened, failures = False, 0
    while time.monotonic() - killed_at < 3:
        for i in range(20):
            status, _, _ = request("POST", f"{gw}/v1/score", {"features": example_features(1000 + i)})
            failures += status != 200
        breakers = request("GET", f"{gw}/admin/breakers")[1]
        opened = opened or _breaker(breakers, "replica-2") == "open"
    assert failures == 0, "the gateway failed requests while one replica was dead"
    # supervisord restarts it in about a second; the deadline only stops a wait for one that never comes
    back = _wait(lambda: _pid(home, "replica-2") not in (None, old_pid) and _replica_healthy(config, 2), 60)
    assert back, "replica-2 was not back within 60 s"


def _breaker(doc, name):
    items = doc.get("breakers", doc) if isinstance(doc, dict) else doc
    for item in items if isinstance(items, list) else [{"replica": k, **v} for k, v in items.items()]:
        if item.get("replica", item.get("name")) == name:
            return item["state"]
    raise AssertionError(f"no breaker for {name} in {doc}")


def _replica_healthy(config, index) -> bool:
    try:
        return request("GET", f"{config.url(f'replica_upstream_{index}')}/healthz", timeout=1)[0] == 200
    except OSError:
        return False


def _pid(home, name):
    doc = json.loads(gameday("stack", "status", "--name", "acc", "--json", home=home).stdout)
    proc = next(p for p in doc["processes"] if p["name"] == name)
    return proc["pid"] if proc["state"] == "RUNNING" else None


def _wait(predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_latency_toxic_shows_in_response_times_and_expires(stack):
    config, _ = stack
    gw, api = config.url("gateway"), config.url("proxy_api")
    body = {"features": example_features(7)}
    before = min(request("POST", f"{gw}/v1/score", body)[2] for _ in range(5))
    status, _, _ = request(
        "POST",
        f"{api}/proxies/client-gateway/toxics",
        {
            "name": "slow",
            "type": "latency",
            "stream": "downstream",
            "attributes": {"latency": 1500, "jitter": 0},
            "ttl": 6,
        },
    )
    assert status == 200
    during = min(request("POST", f"{gw}/v1/score", body)[2] for _ in range(2))
    assert during >= before + 1.4
    # the TTL, not a wait of the test's, removes it; then the gateway is as fast as before
    assert _wait(lambda: request("GET", f"{api}/proxies/client-gateway/toxics")[1] == [], 30)
    after = min(request("POST", f"{gw}/v1/score", body)[2] for _ in range(5))
    assert after < before + 0.75  # half the toxic's delay: no busy machine adds that to all five


def test_status_json_lists_processes_proxies_and_urls(stack):
    _, home = stack
    doc = json.loads(gameday("stack", "status", "--name", "acc", "--json", home=home).stdout)
    names = {p["name"] for p in doc["processes"]}
    assert {"gateway", "broker", "proxy", "replica-1", "replica-3", "scorer-1", "scorer-2"} <= names
    assert all(p["state"] == "RUNNING" and p["pid"] for p in doc["processes"])
    assert {p["name"] for p in doc["proxies"]} >= {
        "client-gateway",
        "gateway-kafka",
        "scorer-kafka",
        "gateway-replica-1",
    }
    assert doc["urls"]["gateway"].startswith("http://127.0.0.1:")


def test_openapi_describes_endpoints_with_examples(stack):
    config, _ = stack
    doc = request("GET", f"{config.url('gateway')}/openapi.json")[1]
    assert doc["openapi"].startswith("3.")
    for path in ("/v1/score", "/v1/events"):
        post = doc["paths"][path]["post"]
        assert "example" in json.dumps(post["requestBody"])


def test_two_stacks_run_side_by_side_and_down_leaves_nothing(tmp_path):
    home = tmp_path / "home"
    bases = [free_base_port(), None]
    gameday(
        "stack", "up", "--name", "one", "--base-port", str(bases[0]), "--replicas", "1", "--scorers", "1", home=home
    )
    try:
        bases[1] = free_base_port()
        gameday(
            "stack", "up", "--name", "two", "--base-port", str(bases[1]), "--replicas", "1", "--scorers", "1", home=home
        )
        for name in ("one", "two"):
            config = StackConfig.load(home / "stacks" / name / "stack.json")
            status, answer, _ = request("POST", f"{config.url('gateway')}/v1/score", {"features": example_features(3)})
            assert status == 200 and check_response({"features": example_features(3)}, answer)
    finally:
        for name in ("one", "two"):
            gameday("stack", "down", "--name", name, home=home, check=False)
    for name in ("one", "two"):
        assert marked_processes(home / "stacks" / name) == []


def test_failed_up_leaves_no_process_behind(tmp_path):
    home = tmp_path / "home"
    base = free_base_port()
    import socket

    blocker = socket.socket()
    blocker.bind(("127.0.0.1", base + 1))  # the gateway's port is taken
    blocker.listen()
    try:
        result = gameday("stack", "up", "--name", "busy", "--base-port", str(base), home=home, check=False)
    finally:
        blocker.close()
    assert result.returncode == 4
    assert "already in use" in result.stderr and "Traceback" not in result.stderr
    assert marked_processes(home / "stacks" / "busy") == []


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_interrupted_up_takes_down_what_it_started(tmp_path, sig):
    import signal

    home = tmp_path / "home"
    base = free_base_port()
    env = {**os.environ, "GAMEDAY_HOME": str(home)}
    proc = subprocess.Popen(
        [*GAMEDAY, "stack", "up", "--name", "cut", "--base-port", str(base)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # as from a script or in a shell's background: SIGINT arrives ignored, and must still stop it
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    state = home / "stacks" / "cut"
    assert _wait(lambda: len(marked_processes(state)) >= 3, 30), "stack processes never appeared"
    proc.send_signal(getattr(signal, sig))
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 3, out
    assert _wait(lambda: marked_processes(state) == [], 10), "processes left behind after an interrupted up"
