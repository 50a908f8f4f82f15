"""Broker faults: kill the Kafka broker (supervisord restarts it) or restart it cleanly.

The broker is Tansu with in-memory storage: either fault loses every message
and committed offset it held. Clients reconnect by themselves; both actions
recreate the stack's topics once the broker is back, so producers do not fall
back to auto-created topics with another partition count.
"""

from __future__ import annotations

import time
from typing import Any

from chaoslib.exceptions import ActivityFailed

from harness.chaos.stackref import running_stack, supervisor, supervisor_call
from harness.clock import wait_until
from stack import kafka
from stack.config import StackConfig
from stack.errors import StackError
from stack.lifecycle import tcp_open
from stack.supervise import Supervisor

BROKER = "broker"


def kill_broker(wait_s: float = 20.0, stack: str | None = None, configuration: dict[str, Any] | None = None) -> str:
    """SIGKILL the broker, wait up to `wait_s` for supervisord to bring it back, recreate topics."""
    config = running_stack(stack, configuration)
    sup = supervisor(config)
    old_pid = sup.process(BROKER)["pid"]
    supervisor_call("kill broker", sup.signal, BROKER, "KILL")
    _wait_back(config, sup, old_pid, wait_s)
    return BROKER


def restart_broker(wait_s: float = 20.0, stack: str | None = None, configuration: dict[str, Any] | None = None) -> str:
    """Stop and start the broker through supervisord, wait until it accepts clients, recreate topics."""
    config = running_stack(stack, configuration)
    sup = supervisor(config)
    old_pid = sup.process(BROKER)["pid"]
    supervisor_call("stop broker", sup.stop, BROKER)
    supervisor_call("start broker", sup.start, BROKER)
    _wait_back(config, sup, old_pid, wait_s)
    return BROKER


def _wait_back(config: StackConfig, sup: Supervisor, old_pid: int, wait_s: float) -> None:
    deadline = time.monotonic() + wait_s
    port = config.port("broker")

    def back() -> bool:
        info = sup.process(BROKER)
        return info["statename"] == "RUNNING" and info["pid"] != old_pid and tcp_open(config.host, port)

    if not wait_until(back, wait_s, interval=0.2):
        raise ActivityFailed(
            f"broker did not come back within {wait_s}s; see {config.state_dir / 'logs' / 'broker.log'}"
        )
    try:
        kafka.ensure_topics(f"{config.host}:{port}", timeout=max(1.0, deadline - time.monotonic()))
    except StackError as exc:
        raise ActivityFailed(f"broker is back but its topics could not be recreated: {exc}") from None
