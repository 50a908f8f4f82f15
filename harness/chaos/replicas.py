"""Process faults on model replicas and scorers: kill, stop/start, pause/resume.

A killed process (SIGKILL) is restarted by supervisord within about a second,
as a crashed pod would be. A stopped one stays down, and a paused one
(SIGSTOP) keeps its sockets open but answers nothing, which callers see as
timeouts rather than refused connections. Stops and pauses carry a TTL: a
detached reaper starts or resumes the process when it runs out.
"""

from __future__ import annotations

import random
from typing import Any

from chaoslib.exceptions import ActivityFailed

from harness.chaos import DEFAULT_TTL_S, faults
from harness.chaos.stackref import running_stack, supervisor, supervisor_call
from stack.config import StackConfig
from stack.errors import StackError
from stack.supervise import Supervisor

Names = list[str] | str | None


def kill_replica(
    replicas: Names = None,
    count: int = 1,
    version: str | None = None,
    stack: str | None = None,
    configuration: dict[str, Any] | None = None,
) -> list[str]:
    """SIGKILL the named replicas, or `count` replicas chosen at random; returns the names killed.

    `version` ('stable' or 'canary') limits the random choice to replicas serving that
    model version, e.g. to be sure the victim is taking traffic while the canary weight is 0.
    """
    config = running_stack(stack, configuration)
    return _kill(config, _pick(_serving(config, version), replicas, count, "replica"))


def _serving(config: StackConfig, version: str | None) -> list[str]:
    if version is None:
        return config.replica_names
    if version not in ("stable", "canary"):
        raise ActivityFailed(f"version: '{version}' must be 'stable' or 'canary'")
    names = [name for i, name in enumerate(config.replica_names, start=1) if config.replica_version(i) == version]
    if not names:
        raise ActivityFailed(f"this stack has no {version} replica")
    return names


def kill_scorer(
    scorers: Names = None, count: int = 1, stack: str | None = None, configuration: dict[str, Any] | None = None
) -> list[str]:
    """SIGKILL the named scorers (Kafka consumers), or `count` at random; returns the names killed."""
    config = running_stack(stack, configuration)
    return _kill(config, _pick(config.scorer_names, scorers, count, "scorer"))


def stop_replica(
    replica: str, ttl: float = DEFAULT_TTL_S, stack: str | None = None, configuration: dict[str, Any] | None = None
) -> str:
    """Stop a replica (it stays down); it is started again after `ttl` seconds at the latest."""
    config = running_stack(stack, configuration)
    name = _one(config.replica_names, replica, "replica")
    _check_ttl(ttl)
    sup = supervisor(config)
    faults.arm(config, f"stop-{name}", "start", name, ttl)
    supervisor_call(f"stop {name}", sup.stop, name)
    return name


def start_replica(replica: str, stack: str | None = None, configuration: dict[str, Any] | None = None) -> str:
    """Start a stopped replica and wait until supervisord sees it running (no-op if it runs)."""
    config = running_stack(stack, configuration)
    name = _one(config.replica_names, replica, "replica")
    sup = supervisor(config)
    start_if_down(sup, name)
    _disarm(config, f"stop-{name}")
    return name


def pause_replica(
    replica: str, ttl: float = DEFAULT_TTL_S, stack: str | None = None, configuration: dict[str, Any] | None = None
) -> str:
    """Freeze a replica with SIGSTOP; it is resumed (SIGCONT) after `ttl` seconds at the latest."""
    config = running_stack(stack, configuration)
    name = _one(config.replica_names, replica, "replica")
    _check_ttl(ttl)
    sup = supervisor(config)
    faults.arm(config, f"pause-{name}", "cont", name, ttl)
    supervisor_call(f"pause {name}", sup.signal, name, "STOP")
    return name


def resume_replica(replica: str, stack: str | None = None, configuration: dict[str, Any] | None = None) -> str:
    """Resume a frozen replica with SIGCONT (harmless if it is not frozen)."""
    config = running_stack(stack, configuration)
    name = _one(config.replica_names, replica, "replica")
    supervisor_call(f"resume {name}", supervisor(config).signal, name, "CONT")
    _disarm(config, f"pause-{name}")
    return name


# ---- helpers ---------------------------------------------------------------------
def _kill(config: StackConfig, names: list[str]) -> list[str]:
    sup = supervisor(config)
    for name in names:
        supervisor_call(f"kill {name}", sup.signal, name, "KILL")
    return names


def _pick(known: list[str], names: Names, count: int, kind: str) -> list[str]:
    if names:
        chosen = [names] if isinstance(names, str) else list(names)
        return [_one(known, n, kind) for n in chosen]
    if not isinstance(count, int) or not 1 <= count <= len(known):
        raise ActivityFailed(f"count: {count!r} must be between 1 and the number of {kind}s ({len(known)})")
    return sorted(random.sample(known, count))


def _one(known: list[str], name: str, kind: str) -> str:
    if name not in known:
        raise ActivityFailed(f"unknown {kind} '{name}'; this stack has: {', '.join(known)}")
    return name


def _check_ttl(ttl: float) -> None:
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or ttl <= 0:
        raise ActivityFailed(f"ttl: {ttl!r} must be a positive number of seconds")


def _disarm(config: StackConfig, fault_id: str) -> None:
    record = faults.read(config, fault_id)
    if record is not None:
        faults.stop_reaper(record)
        faults.remove(config, fault_id, record["token"])


def ensure_running(
    processes: str = "all", stack: str | None = None, configuration: dict[str, Any] | None = None
) -> list[str]:
    """Start and resume whatever of `processes` is down or frozen; returns what it fixed.

    `processes` is 'replicas', 'scorers', 'all', or one process name such as
    'broker'. Pending expiries of the processes it fixes are withdrawn. Meant
    for rollbacks: it is a no-op on a healthy stack.
    """
    config = running_stack(stack, configuration)
    sup = supervisor(config)
    infos = {p["name"]: p for p in supervisor_call("list processes", sup.processes)}
    groups = {"replicas": config.replica_names, "scorers": config.scorer_names, "all": list(infos)}
    names = groups.get(processes) or ([processes] if processes in infos else None)
    if names is None:
        raise ActivityFailed(
            f"processes: unknown '{processes}'; use replicas, scorers, all or one of: {', '.join(infos)}"
        )
    return [name for name in names if _revive(config, sup, infos[name])]


def _revive(config: StackConfig, sup: Supervisor, info: dict) -> bool:
    name = info["name"]
    _disarm(config, f"stop-{name}")
    _disarm(config, f"pause-{name}")
    if info["statename"] in ("STOPPED", "FATAL"):
        return start_if_down(sup, name)
    if info["statename"] == "RUNNING" and is_frozen(info["pid"]):
        supervisor_call(f"resume {name}", sup.signal, name, "CONT")
        return True
    return False


def is_frozen(pid: int) -> bool:
    """True when process `pid` is stopped by a signal (SIGSTOP)."""
    import psutil

    try:
        return psutil.Process(pid).status() == psutil.STATUS_STOPPED
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def start_if_down(sup: Supervisor, name: str, wait: bool = True) -> bool:
    """Start `name` unless supervisord already runs or restarts it; True if this call started it."""
    if sup.process(name)["statename"] in ("RUNNING", "STARTING", "BACKOFF"):
        return False
    try:
        sup.start(name, wait)
    except StackError as exc:
        if "ALREADY_STARTED" in str(exc):
            return False
        raise ActivityFailed(f"start {name}: {exc}") from None
    return True
