"""Probes for steady-state hypotheses: health, readiness, breakers, consumer lag, live SLIs.

Each returns a plain value that a Chaos Toolkit tolerance can judge: a bool
(`tolerance: true`), a number (`tolerance: {type: range, range: [0, 100]}`) or
a string (`tolerance: "closed"`).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from chaoslib.exceptions import ActivityFailed

from harness.chaos.httpjson import call
from harness.chaos.stackref import running_stack, supervisor
from stack.config import SCORER_GROUP, TOPIC_IN
from stack.lifecycle import http_ok

RUN_DIR_ENV = "GAMEDAY_RUN_DIR"
LIVE_FILE = "live.json"
LIVE_MAX_AGE_S = 5.0
# A health check gets this many tries, as a Kubernetes probe's failureThreshold gives: one answer
# lost on a busy machine is not an unhealthy service, three in a row are. Since gameday fails an
# experiment whose hypothesis or method probe is not met (harness.analysis.experiment_checks), a
# single late answer would otherwise fail a healthy game day.
HEALTH_TRIES = 3


def answers(url: str, timeout: float, tries: int = HEALTH_TRIES) -> bool:
    """True as soon as `url` answers 200 within `timeout`, in up to `tries` tries."""
    return any(http_ok(url, timeout=timeout) for _ in range(tries))


def gateway_healthy(stack: str | None = None, configuration: dict[str, Any] | None = None) -> bool:
    """True when the gateway's /healthz answers 200 within a second (through the client hop), in one
    of HEALTH_TRIES tries."""
    config = running_stack(stack, configuration)
    return answers(f"{config.url('gateway')}/healthz", timeout=1.0)


def ready_replicas(stack: str | None = None, configuration: dict[str, Any] | None = None) -> int:
    """How many replicas supervisord runs and whose own /healthz answers within half a second (in one
    of HEALTH_TRIES tries).

    A frozen (SIGSTOP) replica is running for supervisord but does not answer,
    so it does not count.
    """
    config = running_stack(stack, configuration)
    states = {p["name"]: p["statename"] for p in supervisor(config).processes()}
    return sum(
        1
        for i, name in enumerate(config.replica_names, start=1)
        if states.get(name) == "RUNNING" and answers(f"{config.url(f'replica_upstream_{i}')}/healthz", timeout=0.5)
    )


def replicas_ready(
    min: int | None = None, stack: str | None = None, configuration: dict[str, Any] | None = None
) -> bool:
    """True when at least `min` replicas are ready (default: all of them)."""
    config = running_stack(stack, configuration)
    wanted = config.replicas if min is None else min
    if isinstance(wanted, bool) or not isinstance(wanted, int) or not 0 <= wanted <= config.replicas:
        raise ActivityFailed(f"min: {min!r} must be an integer between 0 and {config.replicas}")
    return ready_replicas(config.name) >= wanted


def breaker_state(replica: str, stack: str | None = None, configuration: dict[str, Any] | None = None) -> str:
    """The gateway's breaker state for `replica`: 'closed', 'open' or 'half_open'."""
    config = running_stack(stack, configuration)
    breakers = call("GET", f"{config.url('gateway')}/admin/breakers")["breakers"]
    for breaker in breakers:
        if breaker["replica"] == replica:
            return breaker["state"]
    raise ActivityFailed(f"unknown replica '{replica}'; the gateway has: {', '.join(b['replica'] for b in breakers)}")


def consumer_lag(
    group: str = SCORER_GROUP,
    topic: str = TOPIC_IN,
    stack: str | None = None,
    configuration: dict[str, Any] | None = None,
) -> int:
    """Messages of `topic` not yet committed by consumer `group`, summed over partitions.

    Read straight from the broker (not through a fault hop). Looking up a
    group's committed offsets does not join the group, so this disturbs nothing.
    """
    from confluent_kafka import Consumer, KafkaException, TopicPartition

    config = running_stack(stack, configuration)
    consumer = Consumer(
        {
            "bootstrap.servers": f"{config.host}:{config.port('broker')}",
            "group.id": group,
            "enable.auto.commit": False,
            "socket.connection.setup.timeout.ms": 3000,
        }
    )
    try:
        partitions = consumer.list_topics(topic, timeout=5).topics[topic].partitions
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        committed = {tp.partition: tp.offset for tp in consumer.committed(tps, timeout=5)}
        lag = 0
        for tp in tps:
            low, high = consumer.get_watermark_offsets(tp, timeout=5)
            done = committed[tp.partition] if committed[tp.partition] >= 0 else low
            lag += max(0, high - done)
        return lag
    except KafkaException as exc:
        raise ActivityFailed(f"consumer lag of '{group}' on '{topic}': {exc}") from None
    finally:
        consumer.close()


def live_sli(
    name: str,
    window: str = "5s",
    endpoint: str | None = None,
    run_dir: str | None = None,
    max_age_s: float = LIVE_MAX_AGE_S,
) -> float | None:
    """The live SLI `name` over `window` ('5s' or '30s'): a key of harness.load.live's Stats, such as
    'p99_ms' (or just 'p99'), 'error_rate', 'throughput', 'requests'.

    Read from `<run_dir>/live.json` (run_dir defaults to $GAMEDAY_RUN_DIR), which
    the load plugin rewrites every second. `endpoint` picks one endpoint such as
    'POST /v1/score'; without it the overall figure is returned. Latencies are
    in milliseconds. Returns None when the window has no samples (or no requests) yet. Raises
    ActivityFailed when there is no run directory, no live.json, or it is older
    than `max_age_s` (no load is running, so there is nothing to judge).
    """
    data = _read_live(run_dir, max_age_s)
    windows = data.get("windows", {})
    if window not in windows:
        raise ActivityFailed(f"window: '{window}' is not in live.json (has: {', '.join(windows) or 'none'})")
    scope = windows[window]
    stats = scope.get("overall", {}) if endpoint is None else scope.get("endpoints", {}).get(endpoint)
    if stats is None:
        return None
    key = name if name in stats else f"{name}_ms"  # 'p99' is short for live.json's 'p99_ms'
    if key not in stats:
        raise ActivityFailed(f"name: unknown live SLI '{name}' (known: {', '.join(sorted(stats))})")
    return stats[key]


def _read_live(run_dir: str | None, max_age_s: float) -> dict:
    folder = run_dir or os.environ.get(RUN_DIR_ENV)
    if not folder:
        raise ActivityFailed(
            f"live_sli needs a run directory: pass run_dir or set ${RUN_DIR_ENV} "
            "(gameday run sets it); is load running?"
        )
    path = Path(folder) / LIVE_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ActivityFailed(f"{path} does not exist; is the load generator running with this run dir?") from None
    except json.JSONDecodeError as exc:
        raise ActivityFailed(f"{path}: not valid JSON ({exc})") from None
    age = time.time() - float(data.get("ts", 0))
    if age > max_age_s:
        raise ActivityFailed(f"{path} is {age:.0f}s old (limit {max_age_s}s); the load generator has stopped")
    return data
