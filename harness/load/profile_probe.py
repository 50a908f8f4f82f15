"""The child side of the profile check (harness.spec.profile_check): import a locustfile as Locust does.

Started as `python -c "import locust; from harness.load.profile_probe import main; main()" RESULT ARGS...`
so that locust (and gevent's monkey-patching) comes first, exactly as in `python -m locust`.
ARGS are the Locust arguments the run will use. It imports every `-f` file with Locust's
own loader, looks for User classes, parses ARGS with Locust's full parser (built after
the imports, so the profile's own options are known) and writes a ProbeResult to RESULT.
Nothing runs: no `init` event fires, so the plugin creates no run directory.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path
from typing import NoReturn, TypedDict

from harness.errors import SpecError


class ProbeProblem(TypedDict):
    kind: str  # syntax | import | no-users | option
    file: str
    line: int | None
    message: str
    option: str | None


class ProbeResult(TypedDict):
    users: list[str]
    problems: list[ProbeProblem]
    custom_options: list[str]


class ProfileArgumentError(SpecError):
    """Locust's parser refused an option given to the profile (caught here and reported as a problem)."""


def main() -> None:
    result_path, args = sys.argv[1], sys.argv[2:]
    sys.argv = ["locust", *args]  # a locustfile may read sys.argv at import, as under `locust`
    result = probe(args)
    Path(result_path).write_text(json.dumps(result), encoding="utf-8")


def probe(args: list[str]) -> ProbeResult:
    """What Locust would say about `args` before starting any user."""
    problems: list[ProbeProblem] = []
    users: dict[str, object] = {}
    for file in _locustfiles(args):
        found = _import(file, problems)
        users.update(found or {})
    if not problems and not users:
        problems.append(
            _problem(
                "no-users",
                _locustfiles(args)[-1],
                None,
                "defines no Locust User class; add a class deriving from locust.HttpUser or "
                "FastHttpUser with at least one @task",
            )
        )
    custom: list[str] = []
    if not problems:
        custom = _check_arguments(args, problems)
    return ProbeResult(users=sorted(users), problems=problems, custom_options=custom)


def _locustfiles(args: list[str]) -> list[str]:
    value = args[args.index("-f") + 1]
    return [part for part in value.split(",") if part]


def _import(file: str, problems: list[ProbeProblem]) -> dict | None:
    from locust.util.load_locustfile import load_locustfile

    try:
        users, _shapes = load_locustfile(file)
        return users
    except SyntaxError as exc:
        problems.append(_problem("syntax", exc.filename or file, exc.lineno, f"SyntaxError: {exc.msg}"))
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - whatever a locustfile raises at import is the finding
        problems.append(_problem("import", file, _line_in(exc, file), f"{type(exc).__name__}: {exc}"))
    return None


def _line_in(exc: BaseException, file: str) -> int | None:
    """The line of `file` that was running when `exc` was raised (the innermost frame in it)."""
    target = str(Path(file).resolve())
    lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if str(Path(f.filename).resolve()) == target]
    return lines[-1] if lines else None


def _check_arguments(args: list[str], problems: list[ProbeProblem]) -> list[str]:
    """Parse `args` with Locust's full parser; report unknown options and bad values. The custom options."""
    from locust.argument_parser import (
        get_empty_argument_parser,
        get_parser,
        setup_parser_arguments,
    )

    parser = get_parser()

    def error(message: str) -> NoReturn:
        raise ProfileArgumentError(message)

    # Locust builds the parser (configargparse), so its error() is replaced on the instance: it must
    # raise here, not print usage and exit; argparse's exit_on_error=False does not cover every error
    parser.error = error  # type: ignore[method-assign]
    profile = _locustfiles(args)[-1]
    try:
        _, unknown = parser.parse_known_args(args)
    except ProfileArgumentError as exc:
        problems.append(_problem("option", profile, None, str(exc), _option_in(str(exc))))
        unknown = []
    for arg in unknown:
        if arg.startswith("-"):
            option = arg.split("=", 1)[0]
            problems.append(_problem("option", profile, None, f"unrecognized option {option}", option))
    base = get_empty_argument_parser()
    setup_parser_arguments(base)
    known = {o for action in base._actions for o in action.option_strings}
    return sorted(
        o
        for action in parser._actions
        for o in action.option_strings
        if o.startswith("--") and o not in known and not o.startswith("--gameday-")
    )


def _option_in(message: str) -> str | None:
    """`--score-weight` from argparse's `argument --score-weight: invalid int value: 'x'`."""
    words = [w.rstrip(":,").split("/")[0] for w in message.split()]
    return next((w for w in words if w.startswith("--")), None)


def _problem(kind: str, file: str, line: int | None, message: str, option: str | None = None) -> ProbeProblem:
    return ProbeProblem(kind=kind, file=file, line=line, message=message, option=option)
