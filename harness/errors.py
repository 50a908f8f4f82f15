"""The one error tree of gameday. The CLI catches `GamedayError` once, prints
`TypeName: message` (no traceback) and exits with the error's `exit_code`.

    GamedayError                 base                                 exit 4
    ├── SpecError                invalid input: spec, experiment,     exit 2
    │   │                        profile or flag; carries every problem
    │   ├── FileProblem          a file the spec names is missing, not a regular file, not UTF-8
    │   │                        (harness.spec.files; the loader adds the path and YAML key)
    │   ├── ProfileArgumentError a profile's own option refused by Locust's parser
    │   │                        (harness.load.profile_probe)
    │   ├── UnknownExperiment    `gameday ui` asked for an experiment not in experiments/
    │   │                        (harness.ui.catalog; the tab answers 400)
    │   └── SinkConfigError      a sink reader's settings (harness.load.sinks)
    ├── TargetError              the target failed: the stack did     exit 4
    │   │                        not start, is unreachable, ...
    │   ├── SinkSourceError      a user's sink callable raised (harness.load.sinks.function)
    │   ├── QueryError           the target's Prometheus could not answer (harness.metrics.promql)
    │   └── FetchFailed          a cluster Locust's files could not be copied (harness.targets.k8s)
    ├── HarnessError             the harness itself failed            exit 4
    ├── ExperimentBusy           `gameday ui`: an experiment is still running (the tab answers 409)
    └── RunInterrupted           SIGINT/SIGTERM or guardrail abort    exit 3

Exit codes are `harness.status.ExitCode`. Subclasses defined next to the code that raises
them are still drawn here, so this stays the whole tree.
"""

from __future__ import annotations

from harness.status import ExitCode


class GamedayError(Exception):
    """Base of every error gameday raises on purpose."""

    exit_code = ExitCode.ERROR


class SpecError(GamedayError):
    """Invalid input. `problems` lists every one, each naming its file and YAML path."""

    exit_code = ExitCode.INVALID_INPUT

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__(
            "\n  ".join([f"{len(self.problems)} problem(s):", *self.problems])
            if len(self.problems) > 1
            else self.problems[0]
        )


class TargetError(GamedayError):
    """The system under test failed or could not be reached."""


class HarnessError(GamedayError):
    """gameday itself failed; the message says what to do next."""


class RunInterrupted(GamedayError):
    """The run was interrupted by a signal or aborted by a guardrail."""

    exit_code = ExitCode.INTERRUPTED


class ExperimentBusy(GamedayError):
    """An experiment was asked to start while another one (or its rollbacks) still runs."""
