"""Errors of the reference stack.

    StackError            anything that stops the stack from starting, answering or stopping
    └── NotRunningError   an operation needs a running stack and there is none

The harness wraps these as `harness.errors.TargetError` at its boundary, so the
stack package never depends on the harness.
"""


class StackError(Exception):
    """The stack could not do what was asked; the message says what to do next."""


class NotRunningError(StackError):
    """The stack (or the named process) is not running."""
