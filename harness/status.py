"""The closed sets every part of gameday shares: how a run ended, and the exit code it gives.

    RunStatus   completed | aborted | interrupted | target-failed | crashed
                (the orchestrator writes it as `run-end` detail `status`)
    ExitCode    0 OK              every SLO passed (a command that judges nothing: it did its work)
                1 FAILED          an SLO failed, had no data or was inconclusive, or an
                                  experiment did not run as written
                2 INVALID_INPUT   a spec, experiment, profile or flag is wrong (before any run)
                3 INTERRUPTED     aborted by a guardrail, or stopped by SIGINT/SIGTERM
                4 ERROR           the target or the harness failed

Both are str / int subclasses, so they are written to JSON, compared with what older run
directories hold and returned from `main()` as they are. Nothing here imports anything
of gameday's, so every layer may use it.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class RunStatus(StrEnum):
    """How a run ended (harness.analysis.status reads it back from the timeline)."""

    COMPLETED = "completed"
    ABORTED = "aborted"
    INTERRUPTED = "interrupted"
    TARGET_FAILED = "target-failed"
    CRASHED = "crashed"


class ExitCode(IntEnum):
    """The exit code of every `gameday` command (see the module docstring)."""

    OK = 0
    FAILED = 1
    INVALID_INPUT = 2
    INTERRUPTED = 3
    ERROR = 4
