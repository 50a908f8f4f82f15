"""`gameday run`, `gameday validate` and `gameday calibrate`."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from harness import generator_capacity
from harness.errors import SpecError
from harness.run import orchestrator
from harness.run.calibrate import SKIP_FIRST_S, SKIP_LAST_S, calibrate
from harness.run.drivers import RunOptions, real_drivers
from harness.run.progress import Progress
from harness.spec.loader import load_gameday, load_gamedays
from harness.spec.models import GameDay
from harness.status import ExitCode


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = sub.add_parser("run", help="run a game day: load + chaos + SLO verdicts + reports")
    run.add_argument("gameday", help="a game day spec, e.g. gamedays/kill-model-replica.yaml")
    run.add_argument(
        "--defect",
        action="append",
        default=[],
        metavar="NAME",
        help="start the local stack with this defect switched on (repeatable)",
    )
    run.add_argument("--stack-name", help="local target: which stack to use or start (default: the spec's)")
    run.add_argument("--base-port", type=int, help="local target: port block when the stack is started")
    run.add_argument("--reports", default="reports/runs", help="where run directories go (default reports/runs)")
    run.add_argument(
        "--dry-run", action="store_true", help="print the plan (objects to create, experiments, SLOs) and touch nothing"
    )
    run.add_argument(
        "--notify",
        metavar="URL",
        help="POST a short JSON summary to this webhook at the end (a failure to post never changes the verdict)",
    )
    run.add_argument(
        "--allow-generator-bound",
        action="store_true",
        help="judge verdicts resting on seconds where Locust fell behind its schedule as usual "
        "(labelled generator-bound) instead of marking them inconclusive",
    )
    run.set_defaults(func=cmd_run)

    validate = sub.add_parser("validate", help="check game day specs; exit 2 listing every problem")
    validate.add_argument("gamedays", nargs="+", metavar="FILE")
    validate.add_argument(
        "--no-chaos-validate",
        action="store_true",
        help="skip the checks that start a child process (faster): `chaos validate` on the "
        "experiments, and importing the profile with Locust",
    )
    validate.set_defaults(func=cmd_validate)
    calibrate = sub.add_parser(
        "calibrate",
        help="measure the rate one Locust process keeps on schedule on this machine (1-3 min); "
        "validate and run then advise load.processes from it",
    )
    calibrate.add_argument("--seconds", type=float, default=10.0, help="length of each constant_rate run (default 10)")
    calibrate.add_argument("--steps", type=int, default=3, help="bisections after the first missed rate (default 3)")
    calibrate.set_defaults(func=cmd_calibrate)


def cmd_validate(args: argparse.Namespace) -> int:
    specs = load_gamedays(args.gamedays, check_experiments=not args.no_chaos_validate)
    for spec in specs:
        print(
            f"{spec.path}: ok ({len(spec.slos)} SLOs, {len(spec.chaos)} chaos block(s), "
            f"{spec.load.duration:g}s of {spec.load.shape})"
        )
        note = generator_capacity.advice(spec.load)
        if note:
            print(f"{spec.path}: note: {note}")
    return ExitCode.OK


def cmd_calibrate(args: argparse.Namespace) -> int:
    shortest = SKIP_FIRST_S + SKIP_LAST_S + 2  # two steady seconds to judge
    problems = []
    if not (math.isfinite(args.seconds) and args.seconds >= shortest):
        problems.append(f"--seconds {args.seconds:g}: must be a number of seconds, at least {shortest}")
    if args.steps < 0:
        problems.append(f"--steps {args.steps}: must be 0 or more")
    if problems:
        raise SpecError(problems)
    path = generator_capacity.calibration_path()
    rps = calibrate(args.seconds, args.steps, path, say=lambda line: print(line, flush=True))
    print(f"one Locust process keeps {rps} req/s on schedule here; written to {path}")
    return ExitCode.OK


def cmd_run(args: argparse.Namespace) -> int:
    gameday = load_gameday(args.gameday)
    if gameday.target.kind == "local" and args.defect:
        from stack.config import DEFECTS

        bad = [d for d in args.defect if d not in DEFECTS]
        if bad:
            raise SpecError([f"--defect '{d}': unknown defect (known: {', '.join(sorted(DEFECTS))})" for d in bad])
    if args.dry_run:
        return dry_run(gameday)
    if gameday.target.kind == "kubernetes":
        from harness.targets.kubernetes import check_allowed

        check_allowed(gameday.target)  # refused: exit 2, no run directory, nothing started
    # read once, before the run directory exists: a damaged calibration stops here (exit 2)
    capacity = generator_capacity.for_load(gameday.load)
    run_dir = orchestrator.new_run_dir(args.reports, gameday.name)
    progress = Progress(capacity=capacity)
    progress.line(f"game day '{gameday.name}' -> {run_dir}")
    note = generator_capacity.advice(gameday.load, capacity)
    if note:
        progress.line(f"note: {note}")
    options = RunOptions(stack_name=args.stack_name, base_port=args.base_port, defects=tuple(args.defect))
    orchestrator.run(
        gameday, run_dir, real_drivers(options), progress, allow_generator_bound=args.allow_generator_bound
    )
    return finish(run_dir, progress, notify=args.notify)


def dry_run(gameday: GameDay) -> int:
    """Print what `gameday run` would do; no directory, process, or cluster object is made."""
    import time

    from harness.targets.k8s.plan import plan_lines

    print("\n".join(plan_lines(gameday, "dry-run", time.time())))
    return ExitCode.OK


def finish(run_dir: Path, progress: Progress, notify: str | None = None) -> int:
    """Analyse the run directory, write every report, print the verdicts; return the exit code."""
    from harness.report import summary_line, verdict_table, write_reports
    from harness.report.commands import run_dir_warnings, write_reports_or_fail

    for warning in run_dir_warnings(run_dir):
        progress.line(f"warning: {warning}")
    written = write_reports_or_fail(run_dir, write_reports)
    progress.line(verdict_table(written.analysis))
    progress.line(summary_line(written.analysis))
    progress.line(f"report: {written.html}")
    if notify:
        from harness.report.notify import post_summary

        problem = post_summary(notify, written.analysis)
        if problem:
            progress.line(f"notify: {problem}")
    return written.exit_code
