"""`gameday cleanup`: remove every fault still present on a local stack, and say what it was.

It heals every hop (toxics and disabled hops), resumes frozen processes,
starts stopped ones, resets forced breakers, puts the canary weight back to
the stack's configured value, and withdraws every pending reaper. It is safe
to run at any time; on a stack with no fault it removes nothing.
"""

from __future__ import annotations

from harness.chaos import faults
from harness.chaos.httpjson import call
from harness.chaos.network import heal_hop
from harness.chaos.replicas import is_frozen, start_if_down
from stack.config import StackConfig
from stack.supervise import Supervisor

# States supervisord will not leave by itself (EXITED and BACKOFF are restarts in progress).
NOT_RUNNING = ("STOPPED", "FATAL")


def clean(config: StackConfig) -> list[str]:
    """Undo every fault on the running stack `config`; one line per thing removed.

    Raises ActivityFailed (with what was already removed undone) when a part of
    the stack does not answer.
    """
    removed = _withdraw_reapers(config)
    removed += _heal_proxy(config)
    removed += _processes(config)
    removed += _breakers(config)
    removed += _canary(config)
    return removed


def _withdraw_reapers(config: StackConfig) -> list[str]:
    removed = []
    for record in faults.pending(config):
        faults.stop_reaper(record)
        faults.remove(config, record["id"], record["token"])
        removed.append(f"pending expiry '{record['id']}' ({record['undo']} {record['target']}) withdrawn")
    return removed


def _heal_proxy(config: StackConfig) -> list[str]:
    return [item for hop in config.proxies() for item in heal_hop(config, hop)]


def _processes(config: StackConfig) -> list[str]:
    sup = Supervisor(config)
    removed = []
    for info in sup.processes():
        name = info["name"]
        if info["statename"] == "RUNNING" and is_frozen(info["pid"]):
            sup.signal(name, "CONT")
            removed.append(f"{name}: was frozen (SIGSTOP), resumed")
        elif info["statename"] in NOT_RUNNING:
            if not start_if_down(sup, name):
                continue
            removed.append(f"{name}: was {info['statename'].lower()}, started")
    return removed


def _breakers(config: StackConfig) -> list[str]:
    breakers = call("GET", f"{config.url('gateway')}/admin/breakers")["breakers"]
    forced = [b for b in breakers if b.get("forced")]
    if forced:
        call("POST", f"{config.url('gateway')}/admin/breakers/reset", {})
    return [f"breaker {b['replica']}: forced {b['forced']}, reset" for b in forced]


def _canary(config: StackConfig) -> list[str]:
    current = call("GET", f"{config.url('gateway')}/admin/split")["canary_weight"]
    wanted = config.gateway.canary_weight
    if current == wanted:
        return []
    call("POST", f"{config.url('gateway')}/admin/split", {"canary_weight": wanted})
    return [f"canary weight was {current}, set back to {wanted}"]
