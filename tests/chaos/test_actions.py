"""Each local-stack action does what it says, and its undo (or its TTL) takes it back.

One real stack for the module; after every test `cleanup.clean` runs, so a
failing test does not leave a fault for the next one.
"""

from __future__ import annotations

import socket
import time

import pytest
from chaos.stack_support import (
    faults_present,
    get_json,
    running_stack,
    stack_healthy,
    wait_until,
)
from chaoslib.exceptions import ActivityFailed

from harness.chaos import broker, cleanup, faults, gateway, network, probes, replicas
from stack.supervise import Supervisor

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory, "t-actions") as (config, _home):
        yield config


@pytest.fixture(autouse=True)
def clean_after(stack):
    yield
    cleanup.clean(stack)
    assert wait_until(lambda: stack_healthy(stack), 20), faults_present(stack)


def pid(config, name):
    return Supervisor(config).process(name)["pid"]


def toxics(config, hop):
    return {(t["type"], t["stream"]) for t in get_json(f"{config.url('proxy_api')}/proxies/{hop}")["toxics"]}


def test_kill_replica_sigkills_and_supervisord_restarts_it(stack):
    before = pid(stack, "replica-2")
    assert replicas.kill_replica(replicas="replica-2") == ["replica-2"]
    assert wait_until(lambda: pid(stack, "replica-2") not in (0, before), 10)
    assert wait_until(lambda: probes.ready_replicas() == 3, 15)


def test_kill_replica_by_count_picks_distinct_replicas(stack):
    killed = replicas.kill_replica(count=2)
    assert len(set(killed)) == 2 and set(killed) <= set(stack.replica_names)


def test_kill_replica_refuses_an_unknown_replica(stack):
    with pytest.raises(ActivityFailed, match="unknown replica 'replica-9'"):
        replicas.kill_replica(replicas=["replica-9"])


def test_stop_replica_keeps_it_down_until_start_replica(stack):
    replicas.stop_replica("replica-1", ttl=60)
    time.sleep(1.5)
    assert Supervisor(stack).process("replica-1")["statename"] == "STOPPED"
    assert faults.read(stack, "stop-replica-1") is not None
    replicas.start_replica("replica-1")
    assert Supervisor(stack).process("replica-1")["statename"] == "RUNNING"
    assert faults.read(stack, "stop-replica-1") is None


def test_stopped_replica_is_started_by_its_ttl(stack):
    replicas.stop_replica("replica-1", ttl=3)
    assert Supervisor(stack).process("replica-1")["statename"] == "STOPPED"
    assert wait_until(lambda: Supervisor(stack).process("replica-1")["statename"] == "RUNNING", 30)
    assert faults.read(stack, "stop-replica-1") is None


def test_pause_replica_freezes_it_and_resume_replica_thaws_it(stack):
    replicas.pause_replica("replica-3", ttl=60)
    assert replicas.is_frozen(pid(stack, "replica-3"))
    assert probes.ready_replicas() == 2
    replicas.resume_replica("replica-3")
    assert not replicas.is_frozen(pid(stack, "replica-3"))
    assert wait_until(lambda: probes.ready_replicas() == 3, 5)


def test_paused_replica_is_resumed_by_its_ttl(stack):
    replicas.pause_replica("replica-3", ttl=3)
    assert replicas.is_frozen(pid(stack, "replica-3"))
    assert wait_until(lambda: not replicas.is_frozen(pid(stack, "replica-3")), 30)


def test_kill_scorer_restarts_a_consumer(stack):
    before = pid(stack, "scorer-1")
    replicas.kill_scorer(scorers="scorer-1")
    assert wait_until(lambda: pid(stack, "scorer-1") not in (0, before), 10)


def test_partition_kafka_cuts_both_kafka_hops_both_ways(stack):
    assert network.partition("kafka", ttl=60) == ["gateway-kafka", "scorer-kafka"]
    both = {("latency", "upstream"), ("latency", "downstream")}
    assert toxics(stack, "gateway-kafka") == both and toxics(stack, "scorer-kafka") == both
    network.heal("kafka")
    assert toxics(stack, "scorer-kafka") == set()


def test_partition_holds_data_and_an_open_connection_carries_on_after_heal(stack):
    """Like TCP across a real partition: a stall, then the same connection answers."""
    with socket.create_connection(("127.0.0.1", stack.port("gateway")), timeout=2) as sock:
        network.partition("client-gateway", ttl=60)
        sock.settimeout(1.0)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n")
        with pytest.raises(socket.timeout):
            sock.recv(1)
        network.heal("client-gateway")
        sock.settimeout(5.0)
        assert sock.recv(64).startswith(b"HTTP/1.1 200")


def test_partition_heals_by_itself_after_its_ttl(stack):
    network.partition("scorer-kafka", ttl=3)
    assert toxics(stack, "scorer-kafka")
    assert wait_until(lambda: not toxics(stack, "scorer-kafka"), 20)


def test_add_latency_slows_every_request_through_the_hop(stack):
    network.add_latency("client-gateway", ms=300, ttl=30)
    started = time.perf_counter()
    assert probes.gateway_healthy() is True  # 300 ms fits in the probe's 1 s
    elapsed = time.perf_counter() - started
    assert elapsed >= 0.3, elapsed


def test_add_latency_twice_replaces_the_first(stack):
    network.add_latency("gateway-replica-1", ms=50, ttl=30)
    network.add_latency("gateway-replica-1", ms=80, ttl=30)
    listed = get_json(f"{stack.url('proxy_api')}/proxies/gateway-replica-1")["toxics"]
    assert [t["attributes"]["latency"] for t in listed] == [80]


def test_reset_connections_and_limit_bandwidth_add_their_toxics_and_heal_removes_them(stack):
    network.reset_connections("gateway-replica-2", ttl=30)
    network.limit_bandwidth("gateway-replica-2", kbps=10, ttl=30)
    assert toxics(stack, "gateway-replica-2") == {
        ("reset_peer", "downstream"),
        ("bandwidth", "upstream"),
        ("bandwidth", "downstream"),
    }
    removed = network.heal("gateway-replica-2")
    assert len(removed) == 3 and toxics(stack, "gateway-replica-2") == set()


def test_take_down_refuses_connections_until_healed(stack):
    network.take_down("gateway-replica-1", ttl=30)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", stack.port("replica_1")), timeout=1).close()
    network.heal("gateway-replica-1")
    socket.create_connection(("127.0.0.1", stack.port("replica_1")), timeout=1).close()


def test_network_actions_refuse_unknown_hops_and_bad_numbers(stack):
    with pytest.raises(ActivityFailed, match="unknown hop 'kafak'"):
        network.partition("kafak")
    with pytest.raises(ActivityFailed, match="ms: -5"):
        network.add_latency("kafka", ms=-5)
    with pytest.raises(ActivityFailed, match="ttl: 0"):
        network.partition("kafka", ttl=0)


def test_trip_breaker_forces_it_open_and_reset_breakers_closes_it(stack):
    assert gateway.trip_breaker("replica-1", ttl=60)["state"] == "open"
    assert probes.breaker_state("replica-1") == "open"
    gateway.reset_breakers()
    assert probes.breaker_state("replica-1") == "closed"


def test_shift_canary_sets_the_weight_and_restore_canary_puts_it_back(stack):
    assert gateway.shift_canary(0.25)["canary_weight"] == 0.25
    assert gateway.restore_canary()["canary_weight"] == stack.gateway.canary_weight


def test_shifted_canary_weight_comes_back_after_its_ttl(stack):
    gateway.shift_canary(0.5, ttl=1.5)
    assert wait_until(lambda: get_json(f"{stack.url('gateway')}/admin/split")["canary_weight"] == 0.0, 8)


def test_shift_canary_refuses_a_weight_outside_0_to_1(stack):
    with pytest.raises(ActivityFailed, match="weight: 1.5"):
        gateway.shift_canary(1.5)


def test_kill_broker_brings_back_a_broker_with_topics(stack):
    before = pid(stack, "broker")
    assert broker.kill_broker(wait_s=20) == "broker"
    assert pid(stack, "broker") != before
    assert probes.consumer_lag() >= 0


def test_ensure_running_revives_stopped_and_frozen_processes(stack):
    replicas.stop_replica("replica-1", ttl=60)
    replicas.pause_replica("replica-2", ttl=60)
    assert sorted(replicas.ensure_running("replicas")) == ["replica-1", "replica-2"]
    assert faults.pending(stack) == []
