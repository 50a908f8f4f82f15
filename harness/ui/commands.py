"""`gameday ui`: an ad hoc game day in the Locust web UI (see harness/ui/__init__.py).

register(subparsers)   adds `ui` to the `gameday` command line
"""

from __future__ import annotations

import argparse

from harness.ui.launcher import UiOptions, launch


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `gameday ui` to the CLI's argparse subparsers."""
    ui = subparsers.add_parser(
        "ui",
        help="the Locust web UI with a Game day tab: live SLOs, chaos buttons, "
        "fault markers; every test is a run directory with a report",
    )
    ui.add_argument(
        "gameday",
        nargs="?",
        metavar="GAMEDAY.yaml",
        help="a game day whose target, profile, SLOs and guardrails to use",
    )
    ui.add_argument("--profile", help="or just a load profile, e.g. loadprofiles/inference.py (default SLOs)")
    ui.add_argument(
        "--target",
        default="local",
        choices=("local", "http"),
        help="local (default) starts or reuses the reference stack; http needs a game day with an http target",
    )
    ui.add_argument("--stack-name", default="default", help="local target: which stack to use or start")
    ui.add_argument("--base-port", type=int, help="local target: port block when the stack is started")
    ui.add_argument(
        "--defect",
        action="append",
        default=[],
        metavar="NAME",
        help="local target: start the stack with this defect switched on (repeatable)",
    )
    ui.add_argument("--web-host", default="127.0.0.1", help="where the web UI listens (default 127.0.0.1)")
    ui.add_argument("--web-port", type=int, default=8089, help="web UI port (default 8089)")
    ui.add_argument("--web-login", action="store_true", help="Locust's --web-login (needs an auth plugin)")
    ui.add_argument("--reports", default="reports/runs", help="where run directories go (default reports/runs)")
    ui.set_defaults(func=cmd_ui)


def cmd_ui(args: argparse.Namespace) -> int:
    options = UiOptions(
        gameday=args.gameday,
        profile=args.profile,
        target=args.target,
        stack_name=args.stack_name,
        base_port=args.base_port,
        defects=tuple(args.defect),
        web_host=args.web_host,
        web_port=args.web_port,
        web_login=args.web_login,
        reports=args.reports,
    )
    return launch(options, out=lambda line: print(line, flush=True))
