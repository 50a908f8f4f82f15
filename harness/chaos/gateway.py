"""Faults and release steps on the gateway: forced circuit breakers and the canary split.

A forced breaker carries the gateway's own TTL: when it runs out the breaker
starts over, closed. A canary weight given a `ttl` is put back to the stack's
configured weight by a detached reaper when the TTL runs out.
"""

from __future__ import annotations

import math
from typing import Any

from chaoslib.exceptions import ActivityFailed

from harness.chaos import DEFAULT_TTL_S, faults
from harness.chaos.httpjson import call
from harness.chaos.stackref import running_stack

CANARY_FAULT_ID = "canary-weight"


def trip_breaker(
    replica: str, ttl: float = DEFAULT_TTL_S, stack: str | None = None, configuration: dict[str, Any] | None = None
) -> dict:
    """Force the gateway's breaker for `replica` open for `ttl` seconds; returns the breaker."""
    config = running_stack(stack, configuration)
    if replica not in config.replica_names:
        raise ActivityFailed(f"unknown replica '{replica}'; this stack has: {', '.join(config.replica_names)}")
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or ttl <= 0:
        raise ActivityFailed(f"ttl: {ttl!r} must be a positive number of seconds")
    return call("POST", f"{config.url('gateway')}/admin/breakers/{replica}", {"state": "open", "ttl": ttl})


def reset_breakers(stack: str | None = None, configuration: dict[str, Any] | None = None) -> list[dict]:
    """Close every breaker with a clean failure count, dropping any forced state; returns them all."""
    config = running_stack(stack, configuration)
    return call("POST", f"{config.url('gateway')}/admin/breakers/reset", {})["breakers"]


def shift_canary(
    weight: float, ttl: float | None = None, stack: str | None = None, configuration: dict[str, Any] | None = None
) -> dict:
    """Send a `weight` share (0..1) of uncached score requests to the canary; returns the split.

    With `ttl`, the configured weight comes back after `ttl` seconds unless a
    later shift_canary replaced this one. Without it the weight stays, as a
    real rollout step would; `gameday cleanup` restores the configured weight.
    """
    config = running_stack(stack, configuration)
    if (
        isinstance(weight, bool)
        or not isinstance(weight, (int, float))
        or not math.isfinite(weight)
        or not 0 <= weight <= 1
    ):
        raise ActivityFailed(f"weight: {weight!r} must be a number between 0 and 1")
    split = call("POST", f"{config.url('gateway')}/admin/split", {"canary_weight": float(weight)})
    record = faults.read(config, CANARY_FAULT_ID)
    if record is not None:
        faults.stop_reaper(record)
        faults.remove(config, CANARY_FAULT_ID, record["token"])
    if ttl is not None and float(weight) != config.gateway.canary_weight:
        if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or ttl <= 0:
            raise ActivityFailed(f"ttl: {ttl!r} must be a positive number of seconds")
        faults.arm(config, CANARY_FAULT_ID, "split", str(config.gateway.canary_weight), ttl)
    return split


def restore_canary(stack: str | None = None, configuration: dict[str, Any] | None = None) -> dict:
    """Put the canary weight back to the stack's configured value (the rollback of shift_canary)."""
    config = running_stack(stack, configuration)
    return shift_canary(config.gateway.canary_weight, stack=config.name)
