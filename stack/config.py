"""The reference stack's configuration: ports, sizes, tunables and defect switches.

One `StackConfig` describes one running stack. `gameday stack up` resolves it
(defaults < config file < flags), writes it to `<state_dir>/stack.json`, and
every process of the stack reads that file, so all of them agree on ports.

Port map, relative to `base_port` (every port can be overridden by name):

    +0   proxy_api              Toxiproxy-compatible HTTP API of the fault proxy
    +1   gateway                public gateway address (proxy hop client-gateway)
    +2   gateway_upstream       the gateway's own listener
    +3   broker                 the Tansu broker; observers (ledger readers) use it directly
    +4   kafka_gateway          proxy hop gateway-kafka (what the gateway bootstraps to)
    +5   kafka_gateway_upstream Tansu proxy that advertises kafka_gateway
    +6   kafka_scorer           proxy hop scorer-kafka
    +7   kafka_scorer_upstream  Tansu proxy that advertises kafka_scorer
    +8   supervisor             supervisord's XML-RPC interface
    +9   lag_exporter           consumer-group lag as Prometheus metrics (stack.lag_exporter)
    +20+i replica i (1-based)   proxy hop gateway-replica-i
    +60+i replica i upstream    the replica's own listener

Why two Tansu proxies: a Kafka client connects to whatever address the broker
advertises in metadata, so a single advertised address would force the gateway
and the scorers through one hop. A `tansu proxy` rewrites metadata to its own
advertised address, which lets each client group have its own fault hop.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from stack.errors import StackError

DEFECTS = {
    "commit-before-produce": "scorer commits the input offset before its output is acknowledged; a crash loses events",
    "no-retry": "gateway does not retry a failed replica call on another replica",
    "breaker-never-recovers": "an open circuit breaker never half-opens, so a replica that comes back gets no traffic",
    "unbounded-queue": "gateway accepts every request under overload instead of shedding with 503",
    "canary-regression": "the canary replica answers about 50 ms slower and scores about 3% of inputs wrong",
    "scorer-no-rejoin": "a scorer whose group session timed out (cut off from the broker) unsubscribes for good "
    "and idles: once every scorer was cut off, the consumer lag never drains",
}

FIXED_PORTS = {
    "proxy_api": 0,
    "gateway": 1,
    "gateway_upstream": 2,
    "broker": 3,
    "kafka_gateway": 4,
    "kafka_gateway_upstream": 5,
    "kafka_scorer": 6,
    "kafka_scorer_upstream": 7,
    "supervisor": 8,
    "lag_exporter": 9,
}
REPLICA_PROXY_OFFSET = 20
REPLICA_UPSTREAM_OFFSET = 60
MAX_REPLICAS = 39

# Prometheus endpoints of the stack by name (a game day's `metrics: [{kind: scrape, target: NAME}]`),
# each the process's own listener, never a fault hop: the observer must not be part of the fault.
METRICS_ENDPOINTS = {"gateway": "gateway_upstream", "lag-exporter": "lag_exporter"}

TOPIC_IN = "transactions"
TOPIC_OUT = "scores"
TOPIC_PARTITIONS = 4
SCORER_GROUP = "scorer"


def default_state_root() -> str:
    """Where stacks keep their state: $GAMEDAY_HOME/stacks, else ~/.gameday/stacks.

    Absolute, so that chaos actions run from any directory find the same stack.
    """
    home = os.environ.get("GAMEDAY_HOME") or os.path.expanduser("~/.gameday")
    return os.path.join(os.path.abspath(home), "stacks")


@dataclass(frozen=True)
class GatewayTuning:
    """Resilience settings of the gateway; defaults suit a laptop-sized stack."""

    replica_timeout_s: float = 0.5
    breaker_failures: int = 3  # consecutive failures that open a breaker
    # open -> half-open after this long; longer than trip-breaker's 1 s of resets, so its
    # game day sees the cool-down *after* the heal, as a measured recovery of 2-3 s
    breaker_cooldown_s: float = 3.0
    rate_limit_rps: float = 1000.0  # token refill per client per second
    rate_limit_burst: float = 2000.0  # bucket size per client
    cache_size: int = 1024  # LRU entries
    max_inflight: int = 256  # beyond this, shed with 503 (unless unbounded-queue)
    canary_weight: float = 0.0  # share of uncached score requests sent to canary


@dataclass(frozen=True)
class StackConfig:
    name: str = "default"
    host: str = "127.0.0.1"
    base_port: int = 19100
    replicas: int = 3
    canary_replicas: int = 1  # the last N replicas serve the canary model
    scorers: int = 2
    defects: tuple[str, ...] = ()
    model_work: int = 4  # repetitions of the forward pass, sets per-request CPU cost
    toxic_ttl_s: float = 300.0  # TTL given to a toxic created without one
    gateway: GatewayTuning = field(default_factory=GatewayTuning)
    port_overrides: dict[str, int] = field(default_factory=dict)
    state_root: str = field(default_factory=lambda: default_state_root())

    # ---- derived -------------------------------------------------------
    def port(self, name: str) -> int:
        """The port called `name` in the module docstring's map."""
        if name in self.port_overrides:
            return self.port_overrides[name]
        if name in FIXED_PORTS:
            return self.base_port + FIXED_PORTS[name]
        kind, _, index = name.rpartition("_")
        if kind in ("replica", "replica_upstream") and index.isdigit():
            offset = REPLICA_PROXY_OFFSET if kind == "replica" else REPLICA_UPSTREAM_OFFSET
            return self.base_port + offset + int(index)
        raise StackError(f"unknown port name '{name}'")

    def url(self, port_name: str) -> str:
        return f"http://{self.host}:{self.port(port_name)}"

    def metrics_url(self, endpoint: str) -> str:
        """The /metrics URL of a METRICS_ENDPOINTS name."""
        return f"{self.url(METRICS_ENDPOINTS[endpoint])}/metrics"

    @property
    def state_dir(self) -> Path:
        return Path(self.state_root) / self.name

    @property
    def replica_names(self) -> list[str]:
        return [f"replica-{i}" for i in range(1, self.replicas + 1)]

    @property
    def scorer_names(self) -> list[str]:
        return [f"scorer-{i}" for i in range(1, self.scorers + 1)]

    def replica_version(self, index: int) -> str:
        """'canary' for the last `canary_replicas` replicas, else 'stable' (index is 1-based)."""
        return "canary" if index > self.replicas - self.canary_replicas else "stable"

    def port_names(self) -> list[str]:
        """Every port name this stack uses (see the module docstring's map)."""
        names = list(FIXED_PORTS)
        names += [f"replica_{i}" for i in range(1, self.replicas + 1)]
        names += [f"replica_upstream_{i}" for i in range(1, self.replicas + 1)]
        return names

    def has_defect(self, name: str) -> bool:
        return name in self.defects

    def proxies(self) -> dict[str, tuple[int, int]]:
        """Proxy hop name -> (listen port, upstream port)."""
        hops = {
            "client-gateway": (self.port("gateway"), self.port("gateway_upstream")),
            "gateway-kafka": (self.port("kafka_gateway"), self.port("kafka_gateway_upstream")),
            "scorer-kafka": (self.port("kafka_scorer"), self.port("kafka_scorer_upstream")),
        }
        for i in range(1, self.replicas + 1):
            hops[f"gateway-replica-{i}"] = (self.port(f"replica_{i}"), self.port(f"replica_upstream_{i}"))
        return hops

    def validate(self) -> list[str]:
        """Every problem with this config, as lowercase messages quoting the bad value."""
        problems = []
        if not 1 <= self.replicas <= MAX_REPLICAS:
            problems.append(f"replicas: {self.replicas!r} is not between 1 and {MAX_REPLICAS}")
        if not 0 <= self.canary_replicas < max(self.replicas, 1):
            problems.append(f"canary_replicas: {self.canary_replicas!r} must leave at least one stable replica")
        if self.scorers < 1:
            problems.append(f"scorers: {self.scorers!r} must be at least 1")
        for defect in self.defects:
            if defect not in DEFECTS:
                problems.append(f"defects: unknown defect '{defect}' (known: {', '.join(sorted(DEFECTS))})")
        if not 1024 <= self.base_port <= 65535 - 100:
            problems.append(f"base_port: {self.base_port!r} is out of range 1024..65435")
        if self.host not in ("127.0.0.1", "localhost", "::1"):
            problems.append(f"host: '{self.host}' is not a loopback address; the stack only binds loopback")
        for name, port in self.port_overrides.items():
            if name not in self.port_names():
                problems.append(f"port_overrides.{name}: unknown port name (known: {', '.join(self.port_names())})")
            elif not isinstance(port, int) or not 1 <= port <= 65535:
                problems.append(f"port_overrides.{name}: {port!r} is not a port number")
        ports = [self.port(n) for n in self.port_names()]
        if len(set(ports)) != len(ports):
            problems.append("port_overrides: two ports of the stack are the same; every port must differ")
        if not 0.0 <= self.gateway.canary_weight <= 1.0:
            problems.append(f"gateway.canary_weight: {self.gateway.canary_weight!r} is not between 0 and 1")
        return problems

    # ---- (de)serialisation ----------------------------------------------
    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict) -> StackConfig:
        data = dict(data)
        unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise StackError(f"unknown stack setting(s): {', '.join(sorted(unknown))}")
        gateway = data.pop("gateway", {}) or {}
        unknown = set(gateway) - {f.name for f in dataclasses.fields(GatewayTuning)}
        if unknown:
            raise StackError(f"unknown gateway setting(s): {', '.join(sorted(unknown))}")
        data["defects"] = tuple(data.get("defects", ()))
        return cls(gateway=GatewayTuning(**gateway), **data)

    @classmethod
    def load(cls, path: str | Path) -> StackConfig:
        """Read the `stack.json` that `gameday stack up` wrote."""
        try:
            return cls.from_dict(json.loads(Path(path).read_text()))
        except FileNotFoundError:
            raise StackError(f"no stack config at {path}; is the stack up? run `gameday stack up`") from None
        except (json.JSONDecodeError, TypeError) as exc:
            raise StackError(f"{path}: not a valid stack config: {exc}") from None
