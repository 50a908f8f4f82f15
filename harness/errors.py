"""The one error tree of gameday. The CLI catches `GamedayError` once, prints
`TypeName: message` (no traceback) and exits with the error's `exit_code`.

    GamedayError                 base                              exit 4
    ├── SpecError                invalid input: spec, experiment,  exit 2
    │                            profile or flag; carries every problem
    ├── TargetError              the target failed: the stack did  exit 4
    │                            not start, is unreachable, ...
    ├── HarnessError             the harness itself failed         exit 4
    └── RunInterrupted           SIGINT/SIGTERM or guardrail abort exit 3

Exit codes (DESIGN.md): 0 all SLOs passed, 1 an SLO failed or had no data,
2 invalid input, 3 aborted or interrupted, 4 the target or the harness failed.
"""

from __future__ import annotations


class GamedayError(Exception):
    """Base of every error gameday raises on purpose."""

    exit_code = 4


class SpecError(GamedayError):
    """Invalid input. `problems` lists every one, each naming its file and YAML path."""

    exit_code = 2

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n  ".join([f"{len(self.problems)} problem(s):", *self.problems])
                         if len(self.problems) > 1 else self.problems[0])


class TargetError(GamedayError):
    """The system under test failed or could not be reached."""


class HarnessError(GamedayError):
    """gameday itself failed; the message says what to do next."""


class RunInterrupted(GamedayError):
    """The run was interrupted by a signal or aborted by a guardrail."""

    exit_code = 3
