"""The orchestrator: one game day from spec to verdict, as a list of named steps.

    prepare run dir ▶ target up ▶ metrics start ▶ sink start ▶ load start ▶ warmup ▶ baseline
      ▶ chaos blocks (guardrails watched every second) ▶ recovery ▶ load end
    finally: chaos interrupt (rollbacks) ▶ load stop ▶ sink stop ▶ metrics stop ▶ target down ▶ run-end
    then: analysis ▶ reports

Every step goes on the timeline. The teardown steps sit in `finally`, so a
failure, a guardrail abort, SIGINT or SIGTERM still rolls back the faults, stops
the load and the stack, and writes a report. Signals only set a flag that the
main loop checks every 200 ms, so teardown never runs inside a signal handler.

The orchestrator talks to the target, the load generator, the sink reader and Chaos
Toolkit through the protocols of harness.run.seams, made by a `Drivers`: real runs use
the targets and the Locust and `chaos run` children (harness.run.drivers), a unit test the
fakes of harness.run.fakes. Time comes from a `Clock` (harness.clock), so a unit test runs
a game day on a `ManualClock` without sleeping through it.
"""

from __future__ import annotations

import errno
import math
import os
import re
import shutil
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from types import FrameType
from typing import TypeVar

from harness.clock import SYSTEM, Clock, wait_until
from harness.errors import HarnessError, RunInterrupted, SpecError, TargetError
from harness.events import EventKind
from harness.files import disk_free, mount_point
from harness.load.child import LOAD_START_TIMEOUT_S
from harness.run import guardrail
from harness.run.chaos_driver import STATUS_NOTES, journal_status
from harness.run.progress import Progress
from harness.run.seams import ChaosRun, Drivers, LoadDriver, MetricsReader, RunContext, TargetRun
from harness.run.timeline import Timeline
from harness.spec.models import ChaosBlock, GameDay
from harness.status import RunStatus

T = TypeVar("T")

TICK_S = 0.2
ROLLBACK_WAIT_S = 120  # how long an interrupted `chaos run` gets to roll back before it is killed
SINK_GRACE_S = 5.0  # keep reading the pipeline's output this long after the load stops
# Below this much free space the run is stopped: a second of samples, the timeline's last
# events and the reports no longer fit, and a fault must not stay in place unrecorded.
DISK_FREE_MIN_BYTES = 256 * 1024


def new_run_dir(root: str | Path, name: str) -> Path:
    """reports/runs/<UTC timestamp>-<name>/ as an absolute path (children run in other
    directories), unique even for two runs in one second. The name is reduced to a slug:
    it comes from the spec, and `../` or `/` in it must not place the run elsewhere."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip(".-")[:64] or "gameday"
    base = Path(root).resolve() / f"{stamp}-{slug}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    try:
        path.mkdir(parents=True)
    except (NotADirectoryError, FileExistsError):
        raise SpecError(
            f"--reports {root}: a file is in the way of the run directory {path}; "
            "pass a directory (default reports/runs)"
        ) from None
    except OSError as exc:
        raise HarnessError(
            f"cannot create the run directory {path}: {exc.strerror or exc}"
            f"{_disk_hint(path.parent, exc)}; pass --reports on a writable disk"
        ) from None
    return path


def run(
    gameday: GameDay,
    run_dir: Path,
    drivers: Drivers,
    progress: Progress,
    allow_generator_bound: bool = False,
    clock: Clock = SYSTEM,
) -> RunStatus:
    """Run `gameday` into `run_dir`; return how it ended.

    Never raises for a failure of the target or of a child: the status says it,
    and the timeline and samples written so far stay on disk.
    """
    _copy_spec(gameday, run_dir)
    ctx = RunContext(gameday, run_dir, _open_timeline(run_dir, clock), progress, dict(os.environ), clock=clock)
    restore = _catch_signals(ctx)
    # recorded so that `gameday report` judges the directory the way this run was asked to
    ctx.timeline.emit(
        "harness",
        EventKind.RUN_START,
        gameday.name,
        run_dir=str(run_dir),
        pid=os.getpid(),
        allow_generator_bound=allow_generator_bound,
    )
    try:
        target = _step(ctx, "target-up", lambda: _target_up(ctx, drivers))
        if drivers.metrics is not None and gameday.metrics:
            _step(ctx, "metrics-start", partial(_metrics_start, ctx, drivers.metrics, target))
        _step(ctx, "sink-start", lambda: _sink_start(ctx, drivers, target))
        load = _step(ctx, "load-start", lambda: _load_start(ctx, drivers, target))
        _warmup(ctx)
        for block in gameday.chaos:
            _chaos_block(ctx, drivers, target, load, block)
        _until_load_end(ctx, load)
    except RunInterrupted as exc:
        ctx.status = RunStatus.ABORTED if ctx.stop_reason == "guardrail" else RunStatus.INTERRUPTED
        progress.line(f"run {ctx.status}: {exc}")
    except TargetError as exc:
        ctx.status = RunStatus.TARGET_FAILED
        ctx.timeline.emit("harness", EventKind.ERROR, "target", message=str(exc))
        progress.line(f"target failed: {exc}")
    except Exception as exc:  # noqa: BLE001 - a harness bug must still roll back and report
        ctx.status = RunStatus.CRASHED
        ctx.timeline.emit("harness", EventKind.ERROR, type(exc).__name__, message=str(exc))
        progress.line(f"harness error: {type(exc).__name__}: {exc}")
    finally:
        _teardown(ctx)
        restore()
    return ctx.status


def _step(ctx: RunContext, name: str, action: Callable[[], T]) -> T:
    _check_stop(ctx)
    ctx.progress.line(f"{name} ...")
    return action()


def _copy_spec(gameday: GameDay, run_dir: Path) -> None:
    try:
        shutil.copyfile(gameday.path, run_dir / "gameday.yaml")
    except OSError as exc:
        raise HarnessError(
            f"cannot copy the spec into {run_dir}: {exc.strerror or exc}{_disk_hint(run_dir, exc)}"
        ) from None


def _open_timeline(run_dir: Path, clock: Clock) -> Timeline:
    try:
        return Timeline(run_dir, clock)
    except OSError as exc:
        raise HarnessError(
            f"cannot create the timeline in {run_dir}: {exc.strerror or exc}{_disk_hint(run_dir, exc)}"
        ) from None


def _catch_signals(ctx: RunContext) -> Callable[[], None]:
    """SIGINT/SIGTERM set the stop flag; the loop turns it into RunInterrupted."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum: int, frame: FrameType | None) -> None:
        if not ctx.stop.is_set():
            ctx.stop_reason = signal.Signals(signum).name
            ctx.stop.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for signum, previous_handler in previous.items():
            signal.signal(signum, previous_handler)

    return restore


def _check_stop(ctx: RunContext) -> None:
    if ctx.stop.is_set():
        raise RunInterrupted(f"stopped by {ctx.stop_reason}")


Watch = Callable[[RunContext], None]


def _tick_until(
    ctx: RunContext,
    deadline: float = math.inf,
    going: Callable[[], bool] = lambda: True,
    watches: tuple[Watch, ...] = (),
) -> None:
    """Every TICK_S until `deadline` or until `going()` is false: check the stop flag, the disk and
    `watches` (each raises to end the run), and redraw the progress line."""
    while ctx.clock.now() < deadline and going():
        _check_stop(ctx)
        _watch_disk(ctx)
        for watch in watches:
            watch(ctx)
        ctx.progress.tick(ctx)
        ctx.clock.sleep(min(TICK_S, deadline - ctx.clock.now()))


def _sleep_until(ctx: RunContext, deadline: float) -> None:
    """Until `deadline`, watching the load child too."""
    _tick_until(ctx, deadline, watches=(_watch_load,))
    _check_stop(ctx)


# ---- steps ------------------------------------------------------------------------
# Each step that makes a handle stores it on the context (for the teardown) and returns it
# (for the steps after it), so no step reads a handle that may not exist yet.
def _target_up(ctx: RunContext, drivers: Drivers) -> TargetRun:
    target = ctx.target = drivers.target(ctx)
    target.up(ctx.progress.line)
    ctx.timeline.emit("target", EventKind.UP, target.describe(), **target.detail())
    return target


def _metrics_start(
    ctx: RunContext, make: Callable[[RunContext, TargetRun], MetricsReader | None], target: TargetRun
) -> None:
    metrics = ctx.metrics = make(ctx, target)
    if metrics is not None:
        metrics.start()
        ctx.timeline.emit("harness", EventKind.METRICS_START, metrics.describe())


def _sink_start(ctx: RunContext, drivers: Drivers, target: TargetRun) -> None:
    sink = ctx.sink = drivers.sink(ctx, target)
    if sink is not None:
        sink.start()
        ctx.timeline.emit("harness", EventKind.SINK_START, sink.describe())


def _load_start(ctx: RunContext, drivers: Drivers, target: TargetRun) -> LoadDriver:
    load = ctx.load = drivers.load(ctx, target)
    load.start()
    _wait_until_sending(ctx, load)
    ctx.load_started = ctx.clock.now()
    ctx.timeline.emit(
        "harness",
        EventKind.LOAD_START,
        ctx.gameday.load.profile,
        pid=load.pid,
        duration=ctx.gameday.load.duration,
    )
    return load


def _wait_until_sending(ctx: RunContext, load: LoadDriver) -> None:
    """Until the load generator has started its test. Locust takes 1-6 s to start (imports,
    forked workers connecting) on a busy machine; the warmup, every chaos `start_after`
    and Locust's own run time all count from its test start, so the timeline does too."""

    def sending() -> bool:
        if load.sending:
            return True
        _check_stop(ctx)
        _watch_load(ctx)
        return False

    if not wait_until(sending, LOAD_START_TIMEOUT_S, TICK_S / 4, ctx.clock):
        raise HarnessError(
            f"the load generator did not start its test within {LOAD_START_TIMEOUT_S:g}s; "
            f"see {ctx.run_dir / 'locust.log'}"
        )


def _warmup(ctx: RunContext) -> None:
    _sleep_until(ctx, ctx.load_started + ctx.gameday.warmup)
    ctx.timeline.emit("harness", EventKind.WARMUP_END, "", warmup=ctx.gameday.warmup)


def _chaos_block(ctx: RunContext, drivers: Drivers, target: TargetRun, load: LoadDriver, block: ChaosBlock) -> None:
    _sleep_until(ctx, ctx.load_started + block.start_after)
    chaos = ctx.chaos = drivers.chaos(ctx, target, block)
    chaos.start()
    ctx.timeline.emit("harness", EventKind.CHAOS_START, block.experiment, pid=chaos.pid)
    ctx.progress.line(f"chaos: {block.experiment} started")
    guard = partial(_watch_guardrails, load=load, chaos=chaos)
    _tick_until(ctx, going=lambda: chaos.running, watches=(_watch_load, guard))
    _chaos_end(ctx, chaos, block)


def _chaos_end(ctx: RunContext, chaos: ChaosRun, block: ChaosBlock) -> None:
    code = chaos.wait(0)
    journal = chaos.journal() or {}
    ctx.timeline.emit(
        "harness",
        EventKind.CHAOS_END,
        block.experiment,
        returncode=code,
        status=journal.get("status"),
        deviated=journal.get("deviated"),
    )
    status = journal_status(journal) if journal else None
    note = STATUS_NOTES.get(status or "")
    ctx.progress.line(f"chaos: {block.experiment} ended: {status or 'no journal'}" + (f" ({note})" if note else ""))
    ctx.chaos = None


def _until_load_end(ctx: RunContext, load: LoadDriver) -> None:
    _tick_until(ctx, ctx.load_started + ctx.gameday.load.duration, going=lambda: load.running)
    # the shape ends the test at `duration`; give Locust a moment to write its last second
    load.wait(10)


def _watch_load(ctx: RunContext) -> None:
    if ctx.load is not None and not ctx.load.running:
        code = ctx.load.returncode
        raise HarnessError(f"the load generator exited early (exit {code}); see {ctx.run_dir / 'locust.log'}")


def _watch_disk(ctx: RunContext) -> None:
    """HarnessError once the run directory's disk is full (or refused a timeline write): the run
    stops so that its faults are rolled back while there is nothing left to record them with."""
    refused = ctx.timeline.error
    free = disk_free(ctx.run_dir)
    if refused is None and (free is None or free >= DISK_FREE_MIN_BYTES):
        return
    raise HarnessError(disk_full_message(ctx.run_dir, free, refused))


def disk_full_message(run_dir: Path, free: int | None, refused: OSError | None) -> str:
    """What the user reads when the run directory's disk fills: where, how full, what to do."""
    why = (
        f"a write failed ({refused.strerror or refused})"
        if refused is not None
        else f"{(free or 0) // 1024} KiB free, under the {DISK_FREE_MIN_BYTES // 1024} KiB a run needs"
    )
    return (
        f"the disk is full: {why} on the filesystem mounted at {mount_point(run_dir)}, which holds "
        f"{run_dir}; the run is stopped and its faults rolled back. What was recorded so far stays there; "
        "free space (or pass --reports on a bigger disk) and run the game day again"
    )


def _disk_hint(run_dir: Path, exc: OSError) -> str:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f" (the disk mounted at {mount_point(run_dir)} is full; free space or pass --reports elsewhere)"
    return ""


def _watch_guardrails(ctx: RunContext, load: LoadDriver, chaos: ChaosRun) -> None:
    if not ctx.gameday.guardrails:
        return
    breach = guardrail.check(ctx.gameday.guardrails, load.live())
    if breach is None:
        return
    ctx.timeline.emit("guardrail", EventKind.ABORT, breach.guardrail.sli, **breach.event_detail())
    ctx.progress.line(f"guardrail: {breach.describe()}; aborting the chaos")
    ctx.stop_reason = "guardrail"
    chaos.interrupt()
    raise RunInterrupted(f"guardrail breached: {breach.describe()}")


# ---- teardown (always) --------------------------------------------------------------
def _teardown(ctx: RunContext) -> None:
    for name, action in (
        ("chaos-rollback", _stop_chaos),
        ("load-stop", _stop_load),
        ("sink-stop", _stop_sink),
        ("metrics-stop", _stop_metrics),
        ("target-down", _target_down),
    ):
        try:
            action(ctx)
        except Exception as exc:  # noqa: BLE001 - one failed teardown must not skip the others
            ctx.timeline.emit("harness", EventKind.ERROR, name, message=f"{type(exc).__name__}: {exc}")
            ctx.progress.line(f"{name} failed: {exc}")
            if ctx.status == RunStatus.COMPLETED:
                ctx.status = RunStatus.CRASHED
    ctx.timeline.emit("harness", EventKind.RUN_END, ctx.gameday.name, status=ctx.status)
    ctx.timeline.close()


def _stop_chaos(ctx: RunContext) -> None:
    if ctx.chaos is None:
        return
    if ctx.chaos.running:
        ctx.progress.line("chaos: interrupting; rollbacks run now")
        ctx.chaos.interrupt()
        if _wait_rolled_back(ctx, ctx.chaos) is None:
            ctx.chaos.kill()  # rollbacks hung: faults still expire by their TTL
            ctx.timeline.emit("harness", EventKind.ERROR, "chaos-rollback", message="rollbacks hung; killed chaos run")
    ctx.timeline.emit("harness", EventKind.CHAOS_ROLLBACK, "", returncode=ctx.chaos.wait(0))
    ctx.chaos = None


def _wait_rolled_back(ctx: RunContext, chaos: ChaosRun) -> int | None:
    """Up to ROLLBACK_WAIT_S for the interrupted `chaos run` to roll back and exit; its code, or None.

    A second at a time, so that an interrupt the child shows no sign of is sent once more
    (ChaosDriver.resend_unseen_interrupt, as the web UI's abort does): once, an abort went
    unseen and the child ran its method to the end, faults still on, until it finished."""
    for _ in range(ROLLBACK_WAIT_S):
        code = chaos.wait(1.0)
        if code is not None:
            return code
        if chaos.resend_unseen_interrupt(ctx.clock.now()):
            message = "chaos run showed no sign of the interrupt; SIGINT sent again"
            ctx.timeline.emit("harness", EventKind.ERROR, "chaos-rollback", message=message, signalled=chaos.signalled)
            ctx.progress.line(f"chaos: {message}")
    return chaos.wait(0)


def _stop_load(ctx: RunContext) -> None:
    if ctx.load is None:
        return
    code = ctx.load.stop()
    ctx.timeline.emit("harness", EventKind.LOAD_STOP, "", returncode=code)


def _stop_sink(ctx: RunContext) -> None:
    if ctx.sink is None:
        return
    if ctx.status == RunStatus.COMPLETED:
        ctx.clock.sleep(SINK_GRACE_S)  # events in flight through the pipeline still count
    ctx.sink.stop()
    ctx.timeline.emit("harness", EventKind.SINK_STOP, "")


def _stop_metrics(ctx: RunContext) -> None:
    if ctx.metrics is None:
        return
    done = ctx.metrics.stop()
    ctx.metrics = None
    ctx.timeline.emit("harness", EventKind.METRICS_STOP, "", sources=done)


def _target_down(ctx: RunContext) -> None:
    if ctx.target is None:
        return
    ctx.target.down()
    ctx.timeline.emit("target", EventKind.DOWN, ctx.target.describe())
