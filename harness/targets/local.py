"""The `local` target: the reference stack in stack/, started and stopped by gameday.

This is the boundary between the harness and the stack package: stack errors
become `TargetError` (or `SpecError` for bad settings) here and nowhere else.
"""

from __future__ import annotations

import dataclasses
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from harness.errors import SpecError, TargetError
from harness.proc import Child
from stack import lifecycle
from stack.config import DEFECTS, GatewayTuning, StackConfig
from stack.errors import StackError
from stack.supervise import Supervisor

SIGNALS = {"KILL", "TERM", "INT", "STOP", "CONT", "HUP", "USR1", "USR2", "QUIT"}


def resolve_config(
    name: str = "default",
    config_file: str | None = None,
    replicas: int | None = None,
    scorers: int | None = None,
    base_port: int | None = None,
    ports: dict[str, int] | None = None,
    defects: list[str] | None = None,
) -> StackConfig:
    """Defaults < YAML config file < flags. Raises SpecError listing every problem."""
    data = _read_config_file(config_file) if config_file else {}
    flags = {"replicas": replicas, "scorers": scorers, "base_port": base_port}
    data.update({k: v for k, v in flags.items() if v is not None})
    data["name"] = name
    if "canary_replicas" not in data and data.get("replicas", 3) < 2:
        data["canary_replicas"] = 0  # a single replica serves stable; there is no room for a canary
    if ports:
        data["port_overrides"] = {**data.get("port_overrides", {}), **ports}
    if defects:
        data["defects"] = sorted(set(data.get("defects", [])) | set(defects))
    source = config_file or "command line"
    try:
        config = StackConfig.from_dict(data)
    except (StackError, TypeError) as exc:
        raise SpecError(f"{source}: {exc}") from None
    problems = config.validate()
    if problems:
        raise SpecError([f"{source}: {p}" for p in problems])
    return config


def _read_config_file(path: str) -> dict:
    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except FileNotFoundError:
        raise SpecError(f"{path}: no such stack config file") from None
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise SpecError(f"{path}: a stack config must be a mapping, got {type(data).__name__}")
    if isinstance(data.get("gateway"), dict):
        allowed = {f.name for f in dataclasses.fields(GatewayTuning)}
        bad = sorted(set(data["gateway"]) - allowed)
        if bad:
            raise SpecError(
                [f"{path}: gateway.{b}: unknown setting (known: {', '.join(sorted(allowed))})" for b in bad]
            )
    return data


def up(config: StackConfig, progress: Callable[[str], None] = print, owned: bool = False) -> StackConfig:
    """Start the stack. `owned`: it belongs to this process (a run, a UI session), so its
    supervisord is this process's child and dies with it, by the parent-death signal, even on
    `kill -9`; otherwise (`gameday stack up`) it daemonizes and outlives the command."""
    try:
        return lifecycle.up(config, progress=progress, spawn=_spawn_owned if owned else None)
    except StackError as exc:
        raise TargetError(str(exc)) from None


def _spawn_owned(argv: list[str], cwd: Path) -> Child:
    # SIGTERM: supervisord's own shutdown, which stops every program (each of them also dies
    # with supervisord through stack.launch's parent-death signal).
    return Child.start(argv, parent_death=signal.SIGTERM, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def down(name: str = "default", progress: Callable[[str], None] = print) -> list[str]:
    config = _recorded_config(name)
    if config is None:
        progress(f"stack '{name}' was never started here; nothing to do")
        return []
    return lifecycle.down(config, progress=progress)


def status(name: str = "default") -> dict:
    config = _running_config(name)
    try:
        return lifecycle.status(config)
    except StackError as exc:
        raise TargetError(str(exc)) from None


def control(name: str, verb: str, process: str, signal: str | None = None) -> None:
    """Start, stop or signal one process of a running stack by name."""
    config = _running_config(name)
    supervisor = Supervisor(config)
    try:
        names = [p["name"] for p in supervisor.processes()]
        if process not in names:
            raise SpecError(f"unknown process '{process}' (known: {', '.join(names)})")
        if verb == "signal":
            sig = (signal or "").upper().removeprefix("SIG")
            if sig not in SIGNALS:
                raise SpecError(f"unknown signal '{signal}' (known: {', '.join(sorted(SIGNALS))})")
            supervisor.signal(process, sig)
        elif verb == "start":
            supervisor.start(process)
        else:
            supervisor.stop(process)
    except StackError as exc:
        raise TargetError(str(exc)) from None


def _running_config(name: str) -> StackConfig:
    """The config `up` recorded for stack `name`; TargetError if there is none."""
    try:
        return lifecycle.load_running(name)
    except StackError as exc:
        raise TargetError(str(exc)) from None


def _recorded_config(name: str) -> StackConfig | None:
    """The config `up` recorded for stack `name`, or None if it was never started here."""
    try:
        return lifecycle.load_running(name)
    except StackError:
        return None


def defects() -> dict[str, str]:
    return dict(DEFECTS)


def describe(config: StackConfig) -> str:
    urls = lifecycle.endpoints(config)
    lines = [f"stack '{config.name}' is up" + (f" with defects: {', '.join(config.defects)}" if config.defects else "")]
    lines += [f"  {k:<16} {v}" for k, v in urls.items()]
    lines.append(
        f"  {'try':<16} curl -s -XPOST {urls['gateway']}/v1/score "
        f"-d '{{\"features\": [0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8]}}'"
    )
    return "\n".join(lines)


def format_status(doc: dict) -> str:
    lines = [f"stack '{doc['name']}'  ({doc['state_dir']})"]
    if doc["defects"]:
        lines.append(f"defects: {', '.join(doc['defects'])}")
    lines += [f"  {k:<16} {v}" for k, v in doc["urls"].items()]
    lines.append(f"  {'PROCESS':<22} {'STATE':<9} {'PID':>7} {'RESTARTS':>8} {'UPTIME':>8}")
    for p in doc["processes"]:
        lines.append(f"  {p['name']:<22} {p['state']:<9} {p['pid'] or '-':>7} {p['restarts']:>8} {p['uptime_s']:>7}s")
    lines.append(f"  {'PROXY':<22} {'LISTEN':<18} {'UPSTREAM':<18} ENABLED TOXICS")
    for p in doc["proxies"]:
        if "error" in p:
            lines.append(f"  {p['error']}")
            continue
        lines.append(
            f"  {p['name']:<22} {p['listen']:<18} {p['upstream']:<18} {str(p['enabled']):<7} "
            f"{', '.join(p['toxics']) or '-'}"
        )
    return "\n".join(lines)


class LocalRun:
    """The local stack during one game day.

    If a stack called `name` is already running it is used as it is and left
    running (its defects must match); otherwise it is started with the game
    day's defects, owned by this process (it dies with it, see `up`), and taken
    down at the end.
    """

    def __init__(self, name: str, defects: tuple[str, ...], base_port: int | None = None):
        self.name, self.defects, self.base_port = name, tuple(sorted(set(defects))), base_port
        self.config: StackConfig | None = None
        self.started = False

    def up(self, say: Callable[[str], None] = print) -> None:
        running = _recorded_config(self.name)
        if running is not None and Supervisor(running).alive():
            if tuple(sorted(running.defects)) != self.defects:
                raise TargetError(
                    f"stack '{self.name}' is already running with defects {list(running.defects) or 'none'}, "
                    f"but this game day needs {list(self.defects) or 'none'}; run `gameday stack down "
                    f"--name {self.name}` first, or pass --stack-name to use another stack"
                )
            self.config = running
            return
        config = resolve_config(name=self.name, base_port=self.base_port, defects=list(self.defects))
        self.config = up(config, progress=lambda msg: say(f"  {msg}"), owned=True)
        self.started = True

    def down(self) -> None:
        if self.started and self.config is not None:
            lifecycle.down(self.config, progress=lambda _msg: None)

    @property
    def stack(self) -> StackConfig:
        """The running stack's config; TargetError before `up`."""
        if self.config is None:
            raise TargetError(f"stack '{self.name}' is not up yet")
        return self.config

    @property
    def host(self) -> str:
        return self.stack.url("gateway")

    def env(self) -> dict[str, str]:
        """What the chaos child needs to find this stack."""
        return {"GAMEDAY_STACK_NAME": self.name}

    def sink_argv(self) -> list[str]:
        """The data-flow sink reader: the `scores` topic, read straight from the broker (no fault hop)."""
        return ["--kind", "kafka", "--bootstrap", f"127.0.0.1:{self.stack.port('broker')}", "--topic", "scores"]

    def describe(self) -> str:
        return f"local stack '{self.name}'"

    def detail(self) -> dict[str, Any]:
        return {"gateway": self.host, "defects": list(self.stack.defects), "started_by_run": self.started}
