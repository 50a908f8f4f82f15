"""Network faults on the stack's hops, through its Toxiproxy-compatible fault proxy.

Hops are the proxy's names: `client-gateway`, `gateway-replica-I`,
`gateway-kafka`, `scorer-kafka`. Aliases name groups of hops: `kafka` (both
Kafka hops), `replicas` (every gateway-replica hop), `all`. Every toxic is
created with a `ttl`, so the proxy removes it by itself when the TTL runs out,
whether or not anyone calls `heal`.
"""

from __future__ import annotations

from typing import Any

from chaoslib.exceptions import ActivityFailed

from harness.chaos import DEFAULT_TTL_S
from harness.chaos.fault_hop import heal_one
from harness.chaos.httpjson import HttpStatusError, call
from harness.chaos.stackref import running_stack
from stack.config import StackConfig

TOXIC_PREFIX = "gameday"
STREAMS = ("upstream", "downstream")


def hops_for(config: StackConfig, service: str) -> list[str]:
    """The hop names that `service` (a hop name or an alias) stands for; ActivityFailed if unknown."""
    hops = list(config.proxies())
    aliases = {
        "kafka": ["gateway-kafka", "scorer-kafka"],
        "replicas": [h for h in hops if h.startswith("gateway-replica-")],
        "all": hops,
    }
    if service in aliases:
        return aliases[service]
    if service in hops:
        return [service]
    raise ActivityFailed(f"unknown hop '{service}'; known hops: {', '.join(hops)}; aliases: {', '.join(aliases)}")


def partition(
    service: str, ttl: float = DEFAULT_TTL_S, stack: str | None = None, configuration: dict[str, Any] | None = None
) -> list[str]:
    """Partition a hop (or alias, e.g. `kafka`) both ways: nothing gets through until it heals.

    Data is *held*, not dropped: a real partition loses packets, but TCP
    retransmits them once the network heals, so connections stall and then carry
    on. Toxiproxy's `timeout` toxic drops bytes from the middle of a stream
    instead, which breaks every open connection for good (a Kafka client then
    waits out its 60 s request timeout after the heal). Holding is done with a
    latency toxic longer than the TTL; heal or the TTL releases the held data.
    Returns the hops partitioned.
    """
    config = running_stack(stack, configuration)
    _check_number("ttl", ttl, positive=True)
    hops = hops_for(config, service)
    hold_ms = (ttl + 60) * 1000
    for hop in hops:
        for stream in STREAMS:
            _set_toxic(
                config,
                hop,
                "latency",
                stream,
                {"latency": hold_ms, "jitter": 0},
                ttl,
                name=f"{TOXIC_PREFIX}-partition-{stream}",
            )
    return hops


def add_latency(
    hop: str,
    ms: float,
    jitter: float = 0,
    ttl: float = DEFAULT_TTL_S,
    stream: str = "downstream",
    stack: str | None = None,
    configuration: dict[str, Any] | None = None,
) -> list[str]:
    """Delay every chunk on `hop` by `ms` +/- `jitter` milliseconds for `ttl` seconds."""
    config = running_stack(stack, configuration)
    _check_number("ms", ms)
    _check_number("jitter", jitter)
    hops = hops_for(config, hop)
    for name in hops:
        _set_toxic(config, name, "latency", _stream(stream), {"latency": ms, "jitter": jitter}, ttl)
    return hops


def reset_connections(
    hop: str,
    after_ms: float = 0,
    ttl: float = DEFAULT_TTL_S,
    stack: str | None = None,
    configuration: dict[str, Any] | None = None,
) -> list[str]:
    """Reset (TCP RST) every connection on `hop` `after_ms` after it carries data, for `ttl` seconds."""
    config = running_stack(stack, configuration)
    _check_number("after_ms", after_ms)
    hops = hops_for(config, hop)
    for name in hops:
        _set_toxic(config, name, "reset_peer", "downstream", {"timeout": after_ms}, ttl)
    return hops


def limit_bandwidth(
    hop: str,
    kbps: float,
    ttl: float = DEFAULT_TTL_S,
    stack: str | None = None,
    configuration: dict[str, Any] | None = None,
) -> list[str]:
    """Cap `hop` at `kbps` kilobytes per second (Toxiproxy's unit) both ways, for `ttl` seconds."""
    config = running_stack(stack, configuration)
    _check_number("kbps", kbps, positive=True)
    hops = hops_for(config, hop)
    for name in hops:
        for stream in STREAMS:
            _set_toxic(config, name, "bandwidth", stream, {"rate": kbps}, ttl)
    return hops


def take_down(
    hop: str, ttl: float = DEFAULT_TTL_S, stack: str | None = None, configuration: dict[str, Any] | None = None
) -> list[str]:
    """Disable `hop`: its listener closes and connections are refused; back up after `ttl` seconds."""
    config = running_stack(stack, configuration)
    _check_number("ttl", ttl, positive=True)
    hops = hops_for(config, hop)
    for name in hops:
        call("POST", f"{config.url('proxy_api')}/proxies/{name}", {"enabled": False, "ttl": ttl})
    return hops


def heal(hop: str = "all", stack: str | None = None, configuration: dict[str, Any] | None = None) -> list[str]:
    """Remove every toxic from `hop` (default: every hop) and enable it again; returns what was removed."""
    config = running_stack(stack, configuration)
    return [item for name in hops_for(config, hop) for item in heal_hop(config, name)]


def heal_hop(config: StackConfig, hop: str) -> list[str]:
    """Heal one hop; each removed fault is described as '<hop>: <what>'."""
    api = config.url("proxy_api")
    return heal_one(api, hop, call("GET", f"{api}/proxies/{hop}"))


# ---- helpers ---------------------------------------------------------------------
def _set_toxic(
    config: StackConfig, hop: str, kind: str, stream: str, attributes: dict, ttl: float, name: str | None = None
) -> None:
    """Create the toxic, or replace the attributes and TTL of ours if it is already there."""
    _check_number("ttl", ttl, positive=True)
    name = name or f"{TOXIC_PREFIX}-{kind}-{stream}"
    base = f"{config.url('proxy_api')}/proxies/{hop}/toxics"
    body = {"name": name, "type": kind, "stream": stream, "toxicity": 1.0, "attributes": attributes, "ttl": ttl}
    try:
        call("POST", base, body)
    except HttpStatusError as exc:
        if exc.status != 409:
            raise
        call("POST", f"{base}/{name}", {"attributes": attributes, "ttl": ttl})


def _stream(stream: str) -> str:
    if stream not in STREAMS:
        raise ActivityFailed(f"stream: '{stream}' must be 'upstream' or 'downstream'")
    return stream


def _check_number(field: str, value: Any, positive: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or value < 0 or (positive and value == 0):
        need = "a positive number" if positive else "a non-negative number"
        raise ActivityFailed(f"{field}: {value!r} must be {need}")
