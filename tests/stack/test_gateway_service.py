"""The gateway as a process, in front of real replica processes (no fault proxy: replica_i == replica_upstream_i)."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from support import free_base_port, wait_for_port

from stack.config import GatewayTuning, StackConfig
from stack.model import check_response, example_features

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: dict


def call(port: int, method: str, path: str, body=None, headers=None, timeout: float = 10.0) -> Reply:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        payload = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
        conn.request(method, path, body=payload, headers={"Content-Type": "application/json", **(headers or {})})
        resp = conn.getresponse()
        raw = resp.read()
        parsed = json.loads(raw) if resp.getheader("Content-Type", "").startswith("application/json") else raw.decode()
        return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, parsed)
    finally:
        conn.close()


class GatewayStack:
    """Replica processes and one gateway process built from one stack.json in tmp_path."""

    def __init__(
        self,
        tmp_path: Path,
        replicas: int = 3,
        canary_replicas: int = 1,
        defects: tuple[str, ...] = (),
        model_work: int = 1,
        ports: dict[str, int] | None = None,
        **tuning,
    ) -> None:
        base = free_base_port()
        overrides = {f"replica_{i}": base + 60 + i for i in range(1, replicas + 1)} | (ports or {})
        self.config = StackConfig(
            base_port=base,
            replicas=replicas,
            canary_replicas=canary_replicas,
            defects=defects,
            model_work=model_work,
            gateway=GatewayTuning(**tuning),
            port_overrides=overrides,
            state_root=str(tmp_path),
        )
        self.path = tmp_path / f"stack-{base}.json"
        self.path.write_text(self.config.to_json())
        self.logs = tmp_path
        self.replicas: dict[int, subprocess.Popen] = {}
        self.gateway: subprocess.Popen | None = None
        self.port = self.config.port("gateway_upstream")

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "ab")
        return subprocess.Popen([sys.executable, "-m", *args], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)

    def start_replica(self, i: int) -> None:
        self.replicas[i] = self._spawn(f"replica-{i}", ["stack.replica", "--config", str(self.path), "--index", str(i)])

    def start(self) -> GatewayStack:
        for i in range(1, self.config.replicas + 1):
            self.start_replica(i)
        self.gateway = self._spawn("gateway", ["stack.gateway", "--config", str(self.path)])
        for i in self.replicas:
            wait_for_port(self.config.port(f"replica_upstream_{i}"), timeout=20)
        wait_for_port(self.port, timeout=20)
        return self

    def kill_replica(self, i: int) -> None:
        self.replicas[i].send_signal(signal.SIGKILL)
        self.replicas[i].wait()

    def restart_replica(self, i: int) -> None:
        self.start_replica(i)
        wait_for_port(self.config.port(f"replica_upstream_{i}"), timeout=20)

    def score(self, features, headers=None) -> Reply:
        return call(self.port, "POST", "/v1/score", {"features": features}, headers)

    def breaker(self, replica: str) -> dict:
        breakers = call(self.port, "GET", "/admin/breakers").body["breakers"]
        return next(b for b in breakers if b["replica"] == replica)

    def close(self) -> None:
        for proc in [*self.replicas.values(), self.gateway]:
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One stack for tests that only read, or that put back what they change."""
    stack = GatewayStack(tmp_path_factory.mktemp("gateway")).start()
    yield stack
    stack.close()


def distinct_features(start: int, count: int) -> list[list[float]]:
    return [example_features(i) for i in range(start, start + count)]


# ---- scoring ---------------------------------------------------------------


def test_score_returns_the_models_score_and_replica_header(shared):
    for features in distinct_features(0, 12):
        reply = shared.score(features)
        assert reply.status == 200, reply.body
        assert check_response({"features": features}, reply.body)
        assert reply.headers["x-replica"] == reply.body["replica"]


def test_requests_are_spread_round_robin_over_stable_replicas(shared):
    replicas = {shared.score(f).body["replica"] for f in distinct_features(100, 6)}
    assert replicas == {"replica-1", "replica-2"}


def test_repeated_request_is_served_from_cache(shared):
    features = example_features(200)
    first, second = shared.score(features), shared.score(features)
    assert (first.body["cached"], second.body["cached"]) == (False, True)
    assert second.body["score"] == first.body["score"]
    assert call(shared.port, "GET", "/admin/cache").body["hits"] >= 1


def test_clearing_the_cache_empties_it(shared):
    shared.score(example_features(201))
    cleared = call(shared.port, "DELETE", "/admin/cache")
    assert cleared.status == 200 and cleared.body["size"] == 0
    assert shared.score(example_features(201)).body["cached"] is False


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b"",
        {"features": [1, 2]},
        {"features": "x"},
        {"nothing": 1},
        {"features": [1, 2, 3, 4, 5, 6, 7, True]},
        {"features": [1, 2, 3, 4, 5, 6, 7, 8], "client_id": 5},
    ],
)
def test_bad_score_body_is_a_json_400_quoting_the_problem(shared, body):
    reply = call(shared.port, "POST", "/v1/score", body)
    assert reply.status == 400
    assert reply.body["error"]


def test_unknown_route_is_a_json_404(shared):
    reply = call(shared.port, "GET", "/v2/nothing")
    assert reply.status == 404 and reply.body["status"] == 404


# ---- split -----------------------------------------------------------------


def versions_for(stack: GatewayStack, weight: float, start: int, count: int = 30) -> set[str]:
    assert call(stack.port, "POST", "/admin/split", {"canary_weight": weight}).status == 200
    return {stack.score(f).body["model_version"] for f in distinct_features(start, count)}


def test_split_weight_moves_traffic_between_versions(shared):
    try:
        assert versions_for(shared, 1.0, 300) == {"canary-v2"}
        assert versions_for(shared, 0.5, 400) == {"canary-v2", "stable-v1"}
        assert versions_for(shared, 0.0, 500) == {"stable-v1"}
    finally:
        call(shared.port, "POST", "/admin/split", {"canary_weight": 0.0})


def test_split_lists_replicas_per_version(shared):
    split = call(shared.port, "GET", "/admin/split").body
    assert split == {"canary_weight": 0.0, "stable": ["replica-1", "replica-2"], "canary": ["replica-3"]}


@pytest.mark.parametrize("weight", [1.5, -0.1, "half", None])
def test_split_rejects_weight_outside_0_to_1(shared, weight):
    reply = call(shared.port, "POST", "/admin/split", {"canary_weight": weight})
    assert reply.status == 400 and "canary_weight" in reply.body["error"]


# ---- admin, health, metrics, openapi ---------------------------------------


def test_forcing_every_breaker_open_fails_healthz_until_reset(shared):
    try:
        for name in shared.config.replica_names:
            assert call(shared.port, "POST", f"/admin/breakers/{name}", {"state": "open", "ttl": 60}).status == 200
        assert call(shared.port, "GET", "/healthz").status == 503
        reply = shared.score(example_features(600))
        assert reply.status == 503 and reply.headers["retry-after"] == "1"
    finally:
        call(shared.port, "POST", "/admin/breakers/reset")
    assert call(shared.port, "GET", "/healthz").body == {"status": "ok"}


def test_forced_breaker_state_reverts_after_ttl(shared):
    call(shared.port, "POST", "/admin/breakers/replica-1", {"state": "open", "ttl": 3})
    assert shared.breaker("replica-1")["state"] == "open"
    deadline = time.monotonic() + 30
    while shared.breaker("replica-1")["state"] != "closed" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert shared.breaker("replica-1")["state"] == "closed"


def test_replicas_lists_version_url_and_breaker(shared):
    replicas = call(shared.port, "GET", "/admin/replicas").body["replicas"]
    assert [(r["replica"], r["version"], r["breaker"]) for r in replicas] == [
        ("replica-1", "stable", "closed"),
        ("replica-2", "stable", "closed"),
        ("replica-3", "canary", "closed"),
    ]
    assert replicas[0]["url"] == shared.config.url("replica_1")


def test_metrics_parse_as_prometheus_text(shared):
    shared.score(example_features(700))
    reply = call(shared.port, "GET", "/metrics")
    families = {f.name: f for f in text_string_to_metric_families(reply.body)}
    routes = {s.labels["route"] for s in families["gateway_requests"].samples}
    assert "/v1/score" in routes
    assert {s.labels["replica"] for s in families["gateway_breaker_state"].samples} == set(shared.config.replica_names)
    for name in (
        "gateway_cache_hits",
        "gateway_cache_misses",
        "gateway_inflight_requests",
        "gateway_rate_limited",
        "gateway_retries",
        "gateway_request_duration_seconds",
    ):
        assert name in families


def test_openapi_describes_every_route_with_post_examples(shared):
    doc = call(shared.port, "GET", "/openapi.json").body
    assert doc["openapi"].startswith("3.")
    for path in (
        "/v1/score",
        "/v1/events",
        "/healthz",
        "/metrics",
        "/admin/breakers",
        "/admin/breakers/{replica}",
        "/admin/breakers/reset",
        "/admin/ratelimit",
        "/admin/cache",
        "/admin/split",
        "/admin/replicas",
    ):
        assert path in doc["paths"], path
    posts = [ops["post"] for ops in doc["paths"].values() if "post" in ops]
    assert all("example" in op["requestBody"]["content"]["application/json"] for op in posts)


def test_openapi_score_example_is_accepted(shared):
    doc = call(shared.port, "GET", "/openapi.json").body
    example = doc["paths"]["/v1/score"]["post"]["requestBody"]["content"]["application/json"]["example"]
    assert call(shared.port, "POST", "/v1/score", example).status == 200


# ---- breakers, retry and defects -------------------------------------------

FAST_BREAKER = dict(breaker_failures=2, breaker_cooldown_s=0.5, cache_size=0)


def score_many(stack: GatewayStack, start: int, count: int) -> list[Reply]:
    return [stack.score(f) for f in distinct_features(start, count)]


def test_killed_replica_opens_its_breaker_while_requests_succeed(make_stack):
    stack = make_stack(replicas=2, canary_replicas=0, **FAST_BREAKER)
    stack.kill_replica(1)
    replies = score_many(stack, 0, 10)
    assert [r.status for r in replies] == [200] * 10
    assert {r.body["replica"] for r in replies} == {"replica-2"}
    assert stack.breaker("replica-1")["state"] == "open"
    assert call(stack.port, "GET", "/admin/replicas").body["replicas"][0]["last_error"]


def test_breaker_closes_after_the_replica_comes_back(make_stack):
    stack = make_stack(replicas=2, canary_replicas=0, **FAST_BREAKER)
    stack.kill_replica(1)
    score_many(stack, 0, 4)
    stack.restart_replica(1)
    deadline, start = time.monotonic() + 30, 100
    while stack.breaker("replica-1")["state"] != "closed" and time.monotonic() < deadline:
        score_many(stack, start, 2)  # fresh inputs each time: cached answers would never try replica-1
        start += 2
        time.sleep(0.1)
    assert stack.breaker("replica-1")["state"] == "closed"
    assert "replica-1" in {r.body["replica"] for r in score_many(stack, 5000, 4)}


def test_no_retry_defect_lets_replica_failures_reach_clients(make_stack):
    stack = make_stack(replicas=2, canary_replicas=0, defects=("no-retry",), **FAST_BREAKER)
    stack.kill_replica(1)
    statuses = [r.status for r in score_many(stack, 0, 6)]
    assert 502 in statuses


def test_retry_is_counted_in_metrics(make_stack):
    stack = make_stack(replicas=2, canary_replicas=0, **FAST_BREAKER)
    stack.kill_replica(1)
    score_many(stack, 0, 4)
    families = {f.name: f for f in text_string_to_metric_families(call(stack.port, "GET", "/metrics").body)}
    assert families["gateway_retries"].samples[0].value >= 1


def test_breaker_never_recovers_defect_keeps_it_open(make_stack):
    stack = make_stack(replicas=2, canary_replicas=0, defects=("breaker-never-recovers",), **FAST_BREAKER)
    stack.kill_replica(1)
    score_many(stack, 0, 4)
    stack.restart_replica(1)
    time.sleep(1.0)  # two cooldowns
    replies = score_many(stack, 100, 6)
    assert stack.breaker("replica-1")["state"] == "open"
    assert {r.body["replica"] for r in replies} == {"replica-2"}


# ---- rate limit and shedding -----------------------------------------------


def test_client_over_its_rate_limit_gets_429_with_retry_after(make_stack):
    stack = make_stack(replicas=1, canary_replicas=0, rate_limit_rps=0.5, rate_limit_burst=2)
    statuses = [stack.score(example_features(i), {"X-Client-Id": "a"}).status for i in range(2)]
    refused = stack.score(example_features(3), {"X-Client-Id": "a"})
    assert statuses == [200, 200]
    assert refused.status == 429 and refused.body["error"]
    assert int(refused.headers["retry-after"]) >= 1
    assert stack.score(example_features(4), {"X-Client-Id": "b"}).status == 200


def test_admin_ratelimit_changes_the_limit(make_stack):
    stack = make_stack(replicas=1, canary_replicas=0, rate_limit_rps=0.5, rate_limit_burst=1)
    stack.score(example_features(0))
    assert stack.score(example_features(1)).status == 429
    assert call(stack.port, "POST", "/admin/ratelimit", {"rps": 1000, "burst": 1000}).status == 200
    assert call(stack.port, "GET", "/admin/ratelimit").body == {"rps": 1000.0, "burst": 1000.0}
    assert stack.score(example_features(2)).status == 200


def burst_of_requests(stack: GatewayStack, count: int) -> list[Reply]:
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(stack.score, distinct_features(0, count)))


SLOW = dict(replicas=1, canary_replicas=0, model_work=100, max_inflight=2, cache_size=0, replica_timeout_s=10.0)


def test_overload_beyond_max_inflight_is_shed_with_503(make_stack):
    replies = burst_of_requests(make_stack(**SLOW), 16)
    shed = [r for r in replies if r.status == 503]
    assert shed and all(r.headers["retry-after"] == "1" for r in shed)
    assert {r.status for r in replies} <= {200, 503}


def test_unbounded_queue_defect_accepts_every_request(make_stack):
    replies = burst_of_requests(make_stack(defects=("unbounded-queue",), **SLOW), 16)
    assert [r.status for r in replies] == [200] * 16


# ---- process ---------------------------------------------------------------


def test_sigterm_stops_the_gateway_cleanly(make_stack):
    stack = make_stack(replicas=1, canary_replicas=0)
    stack.gateway.send_signal(signal.SIGTERM)
    assert stack.gateway.wait(timeout=15) == 0


def test_missing_config_exits_2_with_a_message(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "stack.gateway", "--config", str(tmp_path / "none.json")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ},
    )
    assert proc.returncode == 2 and "StackError" in proc.stderr
