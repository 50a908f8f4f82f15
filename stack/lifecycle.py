"""Bring the whole stack up, report its status, and take it down.

`up` is a list of named steps: write config, start supervisord, wait for the
infrastructure (fault proxy, broker, Kafka proxies), create topics, start the
apps (replicas, gateway, scorers) and wait until each is healthy. If any step
fails, or the caller is interrupted, everything started so far is taken down
again, so a failed `up` leaves no process behind.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from stack import kafka
from stack.config import StackConfig
from stack.errors import NotRunningError, StackError
from stack.supervise import (
    Program,
    Spawn,
    Supervisor,
    marked_processes,
    programs,
    restart_counts,
    start_supervisord,
    supervisord_conf,
)

Progress = Callable[[str], None]


def config_path(state_dir: Path) -> Path:
    return state_dir / "stack.json"


def load_running(name: str = "default", state_root: str | None = None) -> StackConfig:
    """The config of the stack called `name` that `up` wrote, whether or not it still runs."""
    probe = StackConfig(name=name) if state_root is None else StackConfig(name=name, state_root=state_root)
    return StackConfig.load(config_path(probe.state_dir))


def up(
    config: StackConfig, progress: Progress = print, timeout_s: float = 90.0, spawn: Spawn | None = None
) -> StackConfig:
    """Start every process of `config` and return once all are healthy.

    `spawn` starts supervisord in the foreground, tied to the caller (see
    `start_supervisord`); without it supervisord daemonizes and the stack outlives
    the caller. Raises StackError (after tearing down what it started) if the config
    is invalid, the stack is already running, a port is taken, or a process does
    not become healthy within `timeout_s`.
    """
    problems = config.validate()
    if problems:
        raise StackError("invalid stack config:\n  " + "\n  ".join(problems))
    supervisor = Supervisor(config)
    if supervisor.alive():
        raise StackError(
            f"stack '{config.name}' is already running (supervisord on port "
            f"{config.port('supervisor')}); use `gameday stack down` or pick another --name"
        )
    _check_ports_free(config)
    path = _write_state(config)
    progs = programs(config, path)
    (config.state_dir / "supervisord.conf").write_text(supervisord_conf(config, progs))
    deadline = time.monotonic() + timeout_s
    try:
        start_supervisord(config.state_dir / "supervisord.conf", 15.0, supervisor, spawn)
        progress(f"supervisord up (pid {supervisor.pid()}), logs in {config.state_dir / 'logs'}")
        infra = [p for p in progs if p.autostart]
        _wait_ready(supervisor, infra, deadline, progress)
        kafka.ensure_topics(f"127.0.0.1:{config.port('broker')}", timeout=max(5.0, deadline - time.monotonic()))
        progress("kafka topics ready")
        apps = [p for p in progs if not p.autostart]
        for prog in apps:
            supervisor.start(prog.name, False)
        _wait_ready(supervisor, apps, deadline, progress)
    except BaseException:
        progress("start-up failed; taking down what was started")
        down(config, progress=lambda _msg: None)
        raise
    return config


def _write_state(config: StackConfig) -> Path:
    (config.state_dir / "logs").mkdir(parents=True, exist_ok=True)
    path = config_path(config.state_dir)
    path.write_text(config.to_json())
    return path


def _check_ports_free(config: StackConfig) -> None:
    taken = [f"{n}={config.port(n)}" for n in config.port_names() if _port_in_use(config.host, config.port(n))]
    if taken:
        raise StackError(
            f"port(s) already in use: {', '.join(taken)}; pick another --base-port or stop what holds them"
        )


def _port_in_use(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
        return False


def _wait_ready(supervisor: Supervisor, progs: list[Program], deadline: float, progress: Progress) -> None:
    pending = list(progs)
    while pending:
        for prog in list(pending):
            if _ready(supervisor, prog):
                pending.remove(prog)
                progress(f"  {prog.name:<22} ready")
        if pending and time.monotonic() > deadline:
            names = ", ".join(p.name for p in pending)
            raise StackError(f"not healthy in time: {names}; see logs in {supervisor.config.state_dir / 'logs'}")
        if pending:
            time.sleep(0.2)


def _ready(supervisor: Supervisor, prog: Program) -> bool:
    info = supervisor.process(prog.name)
    if info["statename"] == "FATAL":
        raise StackError(
            f"{prog.name} keeps crashing: {info.get('spawnerr') or 'see its log'} "
            f"({supervisor.config.state_dir / 'logs' / (prog.name + '.log')})"
        )
    if info["statename"] != "RUNNING":
        return False
    if prog.ready_url:
        return http_ok(prog.ready_url)
    if prog.ready_port:
        return tcp_open(supervisor.config.host, prog.ready_port)
    return True


def http_ok(url: str, timeout: float = 1.0) -> bool:
    """True when GET `url` answers 200 within `timeout`."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def tcp_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def down(config: StackConfig, progress: Progress = print, timeout_s: float = 20.0) -> list[str]:
    """Stop every process of the stack; return the names of what was running.

    Shuts supervisord down (which stops its programs), then kills any process
    that still carries the stack's marker, so nothing is left behind even after
    a crashed `up` or a wedged supervisord.
    """
    supervisor = Supervisor(config)
    stopped: list[str] = []
    if supervisor.alive():
        stopped = [p["name"] for p in supervisor.processes() if p["statename"] in ("RUNNING", "STARTING", "BACKOFF")]
        pid = supervisor.pid()
        try:
            supervisor.shutdown()
        except StackError:
            pass
        _wait_gone(pid, timeout_s)
    leftovers = marked_processes(config.state_dir)
    for proc in leftovers:
        try:
            proc.kill()
        except Exception:  # already gone
            pass
    if leftovers:
        progress(f"killed {len(leftovers)} leftover process(es)")
    _kill_stale_supervisord(config)
    progress(f"stack '{config.name}' is down" + (f" (stopped {len(stopped)} processes)" if stopped else ""))
    return stopped


def _wait_gone(pid: int | None, timeout_s: float) -> None:
    """Wait for supervisord to exit, SIGKILL it after `timeout_s`. psutil also reaps it when it
    is this process's child (a stack a run started), which a kill(pid, 0) poll would wait on forever."""
    import psutil

    if not pid:
        return
    try:
        proc = psutil.Process(pid)
        proc.wait(timeout_s)
    except psutil.NoSuchProcess:
        return
    except psutil.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def _kill_stale_supervisord(config: StackConfig) -> None:
    """Kill a supervisord of this stack that no longer answers XML-RPC."""
    pidfile = config.state_dir / "supervisord.pid"
    if not pidfile.exists():
        return
    try:
        pid = int(pidfile.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (ValueError, OSError):
        return
    if b"supervisord" in cmdline and str(config.state_dir).encode() in cmdline:
        os.kill(pid, signal.SIGKILL)


def status(config: StackConfig) -> dict:
    """One JSON-able document: processes (state, pid, restarts, uptime), proxies and URLs."""
    supervisor = Supervisor(config)
    if not supervisor.alive():
        raise NotRunningError(f"stack '{config.name}' is not running; start it with `gameday stack up`")
    restarts = restart_counts(config)
    procs = [
        {
            "name": p["name"],
            "state": p["statename"],
            "pid": p["pid"] or None,
            "restarts": restarts.get(p["name"], 0),
            "uptime_s": (p["now"] - p["start"]) if p["statename"] == "RUNNING" else 0,
        }
        for p in supervisor.processes()
    ]
    return {
        "name": config.name,
        "state_dir": str(config.state_dir),
        "defects": list(config.defects),
        "urls": endpoints(config),
        "processes": procs,
        "proxies": _proxies(config),
    }


def endpoints(config: StackConfig) -> dict[str, str]:
    return {
        "gateway": config.url("gateway"),
        "proxy_api": config.url("proxy_api"),
        "kafka_bootstrap": f"{config.host}:{config.port('broker')}",
        "supervisor": config.url("supervisor"),
    }


def _proxies(config: StackConfig) -> list[dict]:
    try:
        with urllib.request.urlopen(f"{config.url('proxy_api')}/proxies", timeout=2) as resp:
            data = json.load(resp)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return [{"error": f"proxy API unreachable: {exc}"}]
    return [
        {
            "name": name,
            "listen": p.get("listen"),
            "upstream": p.get("upstream"),
            "enabled": p.get("enabled"),
            "toxics": [t.get("name") for t in p.get("toxics", [])],
        }
        for name, p in sorted(data.items())
    ]
