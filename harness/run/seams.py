"""The orchestrator's seams: what a run asks of its target, load generator, sink reader, chaos
runs and metrics reader, and the state its steps share.

    TargetRun       the system under test during one run (harness.targets: LocalRun, HttpRun, KubernetesRun)
    LoadDriver      the load generator (LocustDriver here, ClusterLocust in the cluster)
    SinkDriver      the reader of the pipeline's output (drivers.SinkReader)
    ChaosRun        one chaos block's experiment (ChaosDriver: a `chaos run` child)
    MetricsReader   the metrics sources' reader (MetricsDriver)
    Drivers         the factories a run makes them with; RunContext what its steps share

The protocols are structural: an implementation does not import them (the targets sit in a
lower layer than this package), and mypy checks each one where `real_drivers` returns it.
The test doubles in harness.run.fakes implement the same protocols and are checked the same
way, so a fake cannot drift from what it stands in for.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from harness.clock import SYSTEM, Clock
from harness.run.progress import Progress
from harness.run.timeline import Timeline
from harness.spec.models import ChaosBlock, GameDay
from harness.status import RunStatus

Say = Callable[[str], None]  # where a step reports what it is doing (the progress log)


class TargetRun(Protocol):
    """The system under test, from `up` (before the load starts) to `down` (after it stopped)."""

    @property
    def host(self) -> str: ...  # the base URL the load generator sends to (valid after `up`)
    def up(self, say: Say) -> None: ...  # TargetError if it cannot be brought up or reached
    def down(self) -> None: ...  # stops only what `up` started
    def env(self) -> dict[str, str]: ...  # for the Locust and chaos children: how to find this target
    def sink_argv(self) -> list[str] | None: ...  # the default sink reader's options; None: no default
    def describe(self) -> str: ...
    def detail(self) -> dict[str, Any]: ...  # the `up` event's detail


class LoadDriver(Protocol):
    """The load generator of one run."""

    @property
    def pid(self) -> int | None: ...  # None where it is no local process (the cluster's Locust)
    def start(self) -> None: ...
    @property
    def running(self) -> bool: ...
    @property
    def sending(self) -> bool: ...  # the generator has started its test (requests are going out)
    @property
    def returncode(self) -> int | None: ...
    def wait(self, timeout: float | None = None) -> int | None: ...  # the exit code; None if still running
    def stop(self, timeout: float = 15.0) -> int | None: ...  # stops it, keeping what it recorded
    def live(self) -> Mapping[str, Any] | None: ...  # the last live.json (harness.load.live.LiveDoc)


class SinkDriver(Protocol):
    """The reader of what the target's pipeline produced (the data-flow ledger's other end)."""

    def start(self) -> None: ...  # TargetError if it cannot read
    def stop(self) -> None: ...
    def describe(self) -> str: ...


class ChaosRun(Protocol):
    """One chaos block's experiment, from `start` until it ended (or was interrupted and rolled back)."""

    @property
    def pid(self) -> int | None: ...
    def start(self) -> None: ...
    @property
    def running(self) -> bool: ...
    def wait(self, timeout: float | None = None) -> int | None: ...  # the exit code; None if still running
    def interrupt(self) -> None: ...  # stop the method and play the rollbacks; only the first call counts
    def resend_unseen_interrupt(self, now: float) -> bool: ...  # SIGINT again, once, if the first went unseen
    @property
    def signalled(self) -> bool: ...  # whether the last SIGINT reached a process group
    def kill(self) -> None: ...  # the last resort when rollbacks hang (faults expire by their TTL)
    def journal(self) -> dict[str, Any] | None: ...  # the Chaos Toolkit journal, once written


class MetricsReader(Protocol):
    """The reader of the game day's metrics sources, from just after `up` to just before `down`."""

    def start(self) -> None: ...
    def stop(self) -> dict[str, object]: ...  # what was read, for the `metrics-stop` event
    def describe(self) -> str: ...


@dataclass
class RunContext:
    """What the steps share while a run is going. The handles are None until their step made
    them (and again once torn down), so a teardown step can tell what there is to stop."""

    gameday: GameDay
    run_dir: Path
    timeline: Timeline
    progress: Progress
    env: dict[str, str]
    target: TargetRun | None = None
    load: LoadDriver | None = None
    sink: SinkDriver | None = None
    chaos: ChaosRun | None = None
    metrics: MetricsReader | None = None  # the metrics sources' reader, when the spec has any
    load_started: float = 0.0
    status: RunStatus = RunStatus.COMPLETED
    stop: threading.Event = field(default_factory=threading.Event)
    stop_reason: str = ""
    clock: Clock = SYSTEM


@dataclass(frozen=True)
class Drivers:
    """Factories for the children of a run (harness.run.drivers.real_drivers); tests pass fakes
    (harness.run.fakes). Each is called once its step comes, with the target already up."""

    target: Callable[[RunContext], TargetRun]
    load: Callable[[RunContext, TargetRun], LoadDriver]
    sink: Callable[[RunContext, TargetRun], SinkDriver | None]  # None: nothing reads the pipeline's output
    chaos: Callable[[RunContext, TargetRun, ChaosBlock], ChaosRun]
    metrics: Callable[[RunContext, TargetRun], MetricsReader | None] | None = None  # None: no metrics sources
