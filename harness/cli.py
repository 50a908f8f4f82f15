"""The `gameday` command line.

Each subcommand is a small function; the only place that turns a GamedayError
into `TypeName: message` and an exit code is `main` (which also turns a stray
OSError, such as a full disk, into one line and exit 4: never a traceback).
"""

from __future__ import annotations

import argparse
import errno
import json
import signal
import sys
from types import FrameType
from typing import NoReturn

from harness.errors import GamedayError, SpecError
from harness.proc import default_sigint
from harness.status import ExitCode
from harness.targets import local


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return ExitCode.INVALID_INPUT
    # SIGTERM gets the same clean-up path as Ctrl-C: whatever was started is taken down. A command
    # started from a script (or in the background) inherits SIGINT ignored; every command's
    # documented stop is Ctrl-C, so Python's own handler goes back in first.
    default_sigint()
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        return args.func(args) or 0
    except GamedayError as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except OSError as exc:
        # A file or disk failure that no command turned into a GamedayError: still one line, exit 4.
        print(f"HarnessError: {_os_error(exc)}", file=sys.stderr)
        return ExitCode.ERROR


def _os_error(exc: OSError) -> str:
    where = f" ({exc.filename})" if exc.filename else ""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"the disk is full{where}: free space there and run the command again"
    return f"{exc.strerror or exc}{where}"


def _raise_interrupt(signum: int, frame: FrameType | None) -> NoReturn:
    raise KeyboardInterrupt


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gameday", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(title="commands")
    _add_stack(sub)
    from harness.report import commands as report_commands
    from harness.run import chaos_commands
    from harness.run import commands as run_commands
    from harness.ui import commands as ui_commands

    run_commands.register(sub)
    chaos_commands.register(sub)
    report_commands.register(sub)
    ui_commands.register(sub)
    return parser


def _add_stack(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    stack = sub.add_parser("stack", help="the reference stack (the default local target)")
    ssub = stack.add_subparsers(title="stack commands")

    up = ssub.add_parser("up", help="start the stack and return once every process is healthy")
    _stack_selector(up)
    up.add_argument(
        "--config",
        dest="config_file",
        help="a YAML stack config file: StackConfig's fields (stack/config.py), e.g. replicas: 2",
    )
    up.add_argument("--replicas", type=int, help="model replicas (default 3)")
    up.add_argument("--scorers", type=int, help="scorer consumers (default 2)")
    up.add_argument("--base-port", type=int, help="first port of the stack's port block (default 19100)")
    up.add_argument(
        "--port",
        action="append",
        default=[],
        metavar="NAME=PORT",
        help="override one port by name, e.g. gateway=8080 (repeatable)",
    )
    up.add_argument(
        "--defect",
        action="append",
        default=[],
        metavar="NAME",
        help="switch on a planted defect (repeatable); see `gameday stack defects`",
    )
    up.set_defaults(func=cmd_stack_up)

    down = ssub.add_parser("down", help="stop every process of the stack")
    _stack_selector(down)
    down.set_defaults(func=cmd_stack_down)

    status = ssub.add_parser("status", help="processes, pids, restarts, proxies and URLs")
    _stack_selector(status)
    status.add_argument("--json", action="store_true", help="one JSON document, for scripts")
    status.set_defaults(func=cmd_stack_status)

    defects = ssub.add_parser("defects", help="list the defect switches")
    defects.set_defaults(func=cmd_stack_defects)

    for verb, helptext in (
        ("start", "start a stopped process"),
        ("stop", "stop a process (it stays down)"),
        ("signal", "send a signal to a process"),
    ):
        p = ssub.add_parser(verb, help=helptext)
        _stack_selector(p)
        p.add_argument("process", help="process name, e.g. replica-1 (see `gameday stack status`)")
        if verb == "signal":
            p.add_argument("signal", help="signal name: KILL, TERM, STOP, CONT, ...")
        p.set_defaults(func=cmd_stack_process, verb=verb)


def _stack_selector(p: argparse.ArgumentParser) -> None:
    p.add_argument("--name", default="default", help="which stack (default: 'default')")


def cmd_stack_up(args: argparse.Namespace) -> int:
    config = local.resolve_config(
        name=args.name,
        config_file=args.config_file,
        replicas=args.replicas,
        scorers=args.scorers,
        base_port=args.base_port,
        ports=_parse_ports(args.port),
        defects=args.defect,
    )
    config = local.up(config, progress=_progress)
    print(local.describe(config))
    return ExitCode.OK


def cmd_stack_down(args: argparse.Namespace) -> int:
    local.down(args.name, progress=_progress)
    return ExitCode.OK


def cmd_stack_status(args: argparse.Namespace) -> int:
    doc = local.status(args.name)
    print(json.dumps(doc, indent=2) if args.json else local.format_status(doc))
    return ExitCode.OK


def cmd_stack_defects(args: argparse.Namespace) -> int:
    for name, text in local.defects().items():
        print(f"{name:<24} {text}")
    return ExitCode.OK


def cmd_stack_process(args: argparse.Namespace) -> int:
    local.control(args.name, args.verb, args.process, getattr(args, "signal", None))
    return ExitCode.OK


def _parse_ports(pairs: list[str]) -> dict[str, int]:
    ports, problems = {}, []
    for pair in pairs:
        name, _, value = pair.partition("=")
        if not value.isdigit():
            problems.append(f"--port '{pair}': expected NAME=PORT, e.g. gateway=8080")
            continue
        ports[name] = int(value)
    if problems:
        raise SpecError(problems)
    return ports


def _progress(message: str) -> None:
    print(message, flush=True)


if __name__ == "__main__":
    sys.exit(main())
