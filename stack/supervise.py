"""Run the stack's processes under supervisord, and talk to it over XML-RPC.

supervisord (a trusted process manager) does the supervision: it restarts a
process that dies, backs off when one crash-loops (startsecs/startretries), and
signals, stops and starts processes by name. This module only writes its config
and drives it. Every program is started through `stack.launch`, which ties the
program's life to supervisord's, and carries GAMEDAY_STACK=<state dir> in its
environment so `down` can find stragglers by that marker.
"""

from __future__ import annotations

import configparser
import os
import re
import sys
import time
import xmlrpc.client
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stack import kafka
from stack.config import StackConfig
from stack.errors import NotRunningError, StackError

MARKER_ENV = "GAMEDAY_STACK"


@dataclass(frozen=True)
class Program:
    """One supervised process: its name, its command, and how to tell it is ready."""

    name: str
    argv: tuple[str, ...]
    kind: str  # proxy | broker | kafka-proxy | replica | gateway | scorer | exporter
    ready_url: str | None = None  # an HTTP URL that answers 200 when ready
    ready_port: int | None = None  # else a TCP port that accepts connections
    autostart: bool = True  # infrastructure starts first; apps after topics exist
    stopwait_s: int = 5


def programs(config: StackConfig, config_path: Path) -> list[Program]:
    """Every process of the stack, infrastructure first."""
    py = (sys.executable, "-m")
    cfg = ("--config", str(config_path))
    progs = [
        Program("proxy", (*py, "stack.proxy", *cfg), "proxy", ready_url=f"{config.url('proxy_api')}/version"),
        Program(
            "broker", tuple(kafka.broker_command(config)), "broker", ready_port=config.port("broker"), stopwait_s=3
        ),
        Program(
            "kafka-proxy-gateway",
            tuple(kafka.tansu_proxy_command(config, "gateway")),
            "kafka-proxy",
            ready_port=config.port("kafka_gateway_upstream"),
            stopwait_s=3,
        ),
        Program(
            "kafka-proxy-scorer",
            tuple(kafka.tansu_proxy_command(config, "scorer")),
            "kafka-proxy",
            ready_port=config.port("kafka_scorer_upstream"),
            stopwait_s=3,
        ),
    ]
    for i, name in enumerate(config.replica_names, start=1):
        progs.append(
            Program(
                name,
                (*py, "stack.replica", *cfg, "--index", str(i)),
                "replica",
                ready_url=f"{config.url(f'replica_upstream_{i}')}/healthz",
                autostart=False,
            )
        )
    progs.append(
        Program(
            "gateway",
            (*py, "stack.gateway", *cfg),
            "gateway",
            ready_url=f"{config.url('gateway')}/healthz",
            autostart=False,
        )
    )
    for i, name in enumerate(config.scorer_names, start=1):
        progs.append(Program(name, (*py, "stack.scorer", *cfg, "--index", str(i)), "scorer", autostart=False))
    progs.append(
        Program(
            "lag-exporter",
            (*py, "stack.lag_exporter", *cfg),
            "exporter",
            ready_url=f"{config.url('lag_exporter')}/metrics",
            autostart=False,
        )
    )
    return progs


def supervisord_conf(config: StackConfig, progs: list[Program]) -> str:
    """The text of supervisord.conf for this stack."""
    state = config.state_dir
    ini = configparser.RawConfigParser()
    ini["inet_http_server"] = {"port": f"127.0.0.1:{config.port('supervisor')}"}
    ini["supervisord"] = {
        "logfile": str(state / "supervisord.log"),
        "pidfile": str(state / "supervisord.pid"),
        "childlogdir": str(state / "logs"),
        "directory": str(state),
        "logfile_maxbytes": "10MB",
        "loglevel": "info",
    }
    ini["rpcinterface:supervisor"] = {
        "supervisor.rpcinterface_factory": "supervisor.rpcinterface:make_main_rpcinterface",
    }
    ini["supervisorctl"] = {"serverurl": f"http://127.0.0.1:{config.port('supervisor')}"}
    # One BLAS thread per process: N replicas each spawning a thread per core would
    # fight over the cores and turn CPU saturation into scheduler noise.
    env = f'{MARKER_ENV}="{state}",PYTHONUNBUFFERED="1",OPENBLAS_NUM_THREADS="1",OMP_NUM_THREADS="1"'
    for prog in progs:
        ini[f"program:{prog.name}"] = {
            "command": " ".join(_quote(a) for a in (sys.executable, "-m", "stack.launch", "--", *prog.argv)),
            "autostart": str(prog.autostart).lower(),
            "autorestart": "true",
            # A process must stay up 1 s to count as started; faster deaths back off
            # 1 s, 2 s, 3 s... which is supervisord's crash-loop backoff.
            "startsecs": "1",
            "startretries": "20",
            "stopasgroup": "true",
            "killasgroup": "true",
            "stopwaitsecs": str(prog.stopwait_s),
            "redirect_stderr": "true",
            "stdout_logfile": str(state / "logs" / f"{prog.name}.log"),
            "stdout_logfile_maxbytes": "20MB",
            "environment": env,
        }
    lines = []
    for section in ini.sections():
        lines.append(f"[{section}]")
        lines += [f"{k}={v.replace('%', '%%')}" for k, v in ini[section].items()]
        lines.append("")
    return "\n".join(lines)


def _quote(arg: str) -> str:
    return f'"{arg}"' if re.search(r"\s", arg) else arg


class Supervisor:
    """A thin client of one stack's supervisord (XML-RPC over loopback HTTP)."""

    def __init__(self, config: StackConfig):
        self.config = config
        self._rpc = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{config.port('supervisor')}/RPC2")

    def _call(self, method: str, *args: Any) -> Any:
        try:
            return getattr(self._rpc.supervisor, method)(*args)
        except (ConnectionError, OSError) as exc:
            raise NotRunningError(
                f"stack '{self.config.name}' is not running (supervisord on port "
                f"{self.config.port('supervisor')}: {exc}); start it with `gameday stack up`"
            ) from None
        except xmlrpc.client.Fault as exc:
            raise StackError(f"supervisord refused {method}{args}: {exc.faultString}") from None

    def alive(self) -> bool:
        try:
            return self._call("getState")["statename"] == "RUNNING"
        except StackError:
            return False

    def processes(self) -> list[dict]:
        """supervisord's view of every process (name, statename, pid, start, ...)."""
        return self._call("getAllProcessInfo")

    def process(self, name: str) -> dict:
        return self._call("getProcessInfo", name)

    def start(self, name: str, wait: bool = True) -> None:
        self._call("startProcess", name, wait)

    def stop(self, name: str, wait: bool = True) -> None:
        self._call("stopProcess", name, wait)

    def signal(self, name: str, sig: str) -> None:
        """Send a signal by name ('KILL', 'STOP', 'CONT', 'TERM', ...) to a process."""
        self._call("signalProcess", name, sig)

    def shutdown(self) -> None:
        self._call("shutdown")

    def pid(self) -> int | None:
        try:
            return int(self._call("getPID"))
        except StackError:
            return None


def restart_counts(config: StackConfig) -> dict[str, int]:
    """How many times supervisord respawned each process, read from its log.

    supervisord keeps no counter, but logs every spawn; the first spawn of each
    process is its start, every later one a restart.
    """
    log = config.state_dir / "supervisord.log"
    counts: dict[str, int] = {}
    if not log.exists():
        return counts
    for match in re.finditer(r"spawned: '([^']+)'", log.read_text(errors="replace")):
        counts[match.group(1)] = counts.get(match.group(1), 0) + 1
    return {name: max(0, n - 1) for name, n in counts.items()}


Spawn = Callable[[list[str], Path], object]  # (argv, working directory) -> the started process


def start_supervisord(conf_path: Path, timeout_s: float, supervisor: Supervisor, spawn: Spawn | None = None) -> None:
    """Start supervisord and wait until it answers XML-RPC.

    Without `spawn` it daemonizes and outlives the caller (`gameday stack up`). With
    `spawn`, supervisord runs in the foreground as whatever `spawn(argv, cwd)` starts: the
    harness starts it as its own child with a parent-death signal, so a stack that a run
    started dies with the run even on `kill -9` (its programs die with supervisord through
    stack.launch)."""
    import subprocess

    argv = [sys.executable, "-m", "supervisor.supervisord", "-c", str(conf_path)]
    if spawn is not None:
        spawn([*argv, "--nodaemon"], conf_path.parent)  # the directory it would chdir to as a daemon
    else:
        result = subprocess.run(argv, capture_output=True, text=True)
        if result.returncode != 0:
            raise StackError(f"supervisord failed to start: {result.stderr.strip() or result.stdout.strip()}")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if supervisor.alive():
            return
        time.sleep(0.1)
    raise StackError(f"supervisord did not answer within {timeout_s}s; see {conf_path.parent / 'supervisord.log'}")


def marked_processes(state_dir: Path) -> list:
    """Live processes (psutil) whose environment carries this stack's marker."""
    import psutil

    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.environ().get(MARKER_ENV) == str(state_dir) and proc.pid != os.getpid():
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found
