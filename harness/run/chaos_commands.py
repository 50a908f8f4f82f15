"""`gameday chaos run` and `gameday cleanup`: thin commands over the chaos driver and cleanup.

`register(subparsers)` adds both, and `gameday proxy` (harness.chaos.fault_hop), to the
`gameday` parser; harness/cli.py calls it. `gameday cleanup` heals every running
`gameday proxy` too.
"""

from __future__ import annotations

import argparse
import os
import re
import time
from pathlib import Path

from chaoslib.exceptions import ActivityFailed

from harness.chaos import fault_hop
from harness.chaos.cleanup import clean
from harness.chaos.stackref import STACK_ENV, running_stack, supervisor
from harness.errors import GamedayError, RunInterrupted, SpecError, TargetError
from harness.run.chaos_driver import ChaosDriver
from harness.status import ExitCode
from stack.config import StackConfig

# `chaos run` journal status -> gameday exit code (harness.status.ExitCode)
EXIT_CODES = {
    "completed": ExitCode.OK,
    "deviated": ExitCode.FAILED,
    "not-run": ExitCode.FAILED,  # the steady state did not hold before the method: nothing was injected
    "activity-failed": ExitCode.FAILED,  # Chaos Toolkit says completed (harness.run.chaos_driver.journal_status)
    "failed": ExitCode.FAILED,
    "aborted": ExitCode.INTERRUPTED,
    "interrupted": ExitCode.INTERRUPTED,
}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `chaos run` and `cleanup` to the `gameday` subparsers."""
    chaos = subparsers.add_parser("chaos", help="run one Chaos Toolkit experiment against a stack")
    csub = chaos.add_subparsers(title="chaos commands")
    run = csub.add_parser("run", help="run EXPERIMENT with `chaos run`, rollbacks always, timeline attached")
    run.add_argument("experiment", help="a Chaos Toolkit experiment file, e.g. experiments/kill-model-replica.json")
    run.add_argument("--target", default="local", choices=["local"], help="where to run it (only 'local' for now)")
    run.add_argument("--stack", default=None, help=f"which local stack (default: ${STACK_ENV} or 'default')")
    run.add_argument(
        "--run-dir",
        default=None,
        help="where journal.json, chaos.log and events.jsonl go (default: reports/runs/<UTC>-<name>)",
    )
    run.set_defaults(func=cmd_chaos_run)

    cleanup = subparsers.add_parser(
        "cleanup", help="remove every fault still present on a stack and on every running `gameday proxy`"
    )
    cleanup.add_argument("--stack", default=None, help=f"which local stack (default: ${STACK_ENV} or 'default')")
    cleanup.add_argument(
        "--kubernetes",
        action="store_true",
        help="instead: delete expired objects gameday made in a cluster (see docs/kubernetes.md)",
    )
    cleanup.add_argument("--context", help="with --kubernetes: the kubeconfig context (must be allowed)")
    cleanup.add_argument(
        "--namespace",
        action="append",
        default=[],
        metavar="NS",
        help="with --kubernetes: a namespace to clean (repeatable)",
    )
    cleanup.set_defaults(func=cmd_cleanup)

    fault_hop.register_command(subparsers)


def default_run_dir(experiment: Path) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    return Path("reports") / "runs" / f"{stamp}-{re.sub(r'[^A-Za-z0-9_.-]', '-', experiment.stem)}"


def cmd_chaos_run(args: argparse.Namespace) -> int:

    experiment = Path(args.experiment)
    if not experiment.is_file():
        raise SpecError(
            f"experiment: '{experiment}' is not a file; pass a path such as experiments/kill-model-replica.json"
        )
    stack = _stack_config(args.stack)
    run_dir = Path(args.run_dir) if args.run_dir else default_run_dir(experiment)
    driver = ChaosDriver(experiment, run_dir, env={**os.environ, STACK_ENV: stack.name})
    driver.start()
    print(f"chaos run {experiment} against stack '{stack.name}' (pid {driver.pid}); run dir {run_dir}", flush=True)
    try:
        driver.wait()
    except KeyboardInterrupt:
        print("interrupted: stopping the method and running the rollbacks...", flush=True)
        driver.interrupt()
        driver.wait()
    return _report(driver, run_dir)


def _report(driver: ChaosDriver, run_dir: Path) -> int:
    status = driver.status
    if status is None:
        raise GamedayError(f"chaos run exited {driver.returncode} without a journal; see {run_dir / 'chaos.out'}")
    print(f"experiment ended: {status} (journal {run_dir / 'journal.json'})")
    if status == "interrupted":
        raise RunInterrupted(f"experiment interrupted; rollbacks ran (journal {run_dir / 'journal.json'})")
    return EXIT_CODES.get(status, ExitCode.ERROR)


def cmd_cleanup(args: argparse.Namespace) -> int:
    if args.kubernetes:
        return _cleanup_kubernetes(args)
    proxies = fault_hop.registered()
    removed, failed = fault_hop.clean_all()
    for line in removed:
        print(f"removed  {line}")
    if proxies:
        print(f"gameday proxies: {len(proxies)} running, {len(removed)} fault(s) removed")
    # Without --stack, a machine that runs only `gameday proxy` hops has no stack to clean.
    if args.stack is not None or not proxies or _stack_running(None):
        _cleanup_stack(args.stack)
    if failed:
        raise TargetError("cleanup incomplete: " + "; ".join(failed))
    return ExitCode.OK


def _cleanup_stack(name: str | None) -> None:
    from stack.errors import StackError

    config = _stack_config(name)
    try:
        removed = clean(config)
    except (ActivityFailed, StackError) as exc:
        raise TargetError(f"cleanup of stack '{config.name}' incomplete: {exc}") from None
    for line in removed:
        print(f"removed  {line}")
    print(
        f"stack '{config.name}': {len(removed)} fault(s) removed"
        if removed
        else f"stack '{config.name}': no fault found, nothing to remove"
    )


def _stack_running(name: str | None) -> bool:
    try:
        _stack_config(name)
    except TargetError:
        return False
    return True


def _cleanup_kubernetes(args: argparse.Namespace) -> int:
    if not args.context or not args.namespace:
        raise SpecError("cleanup --kubernetes needs --context and at least one --namespace")
    # loaded on use: the kubernetes client takes a second to import
    from harness.targets.k8s.cleanup import cleanup_kubernetes

    removed = cleanup_kubernetes(args.context, args.namespace)
    for line in removed:
        print(f"removed  {line}")
    print(f"{len(removed)} expired object(s) removed" if removed else "no expired gameday object found")
    return ExitCode.OK


def _stack_config(name: str | None) -> StackConfig:

    try:
        config = running_stack(name)
        supervisor(config)
    except ActivityFailed as exc:
        raise TargetError(str(exc)) from None
    return config
