"""How an action finds the running stack it acts on.

The stack is named by the action's `stack` argument, else the experiment's
`configuration["stack"]`, else $GAMEDAY_STACK_NAME, else "default"; its config
is the `stack.json` that `gameday stack up` wrote under $GAMEDAY_HOME.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

from chaoslib.exceptions import ActivityFailed

from stack.config import StackConfig
from stack.errors import StackError
from stack.lifecycle import load_running
from stack.supervise import Supervisor

T = TypeVar("T")

STACK_ENV = "GAMEDAY_STACK_NAME"


def stack_name(stack: str | None = None, configuration: dict[str, Any] | None = None) -> str:
    """The stack name an action should use (see the module docstring for the order)."""
    if stack:
        return stack
    if configuration and configuration.get("stack"):
        return str(configuration["stack"])
    return os.environ.get(STACK_ENV) or "default"


def running_stack(stack: str | None = None, configuration: dict[str, Any] | None = None) -> StackConfig:
    """The StackConfig of the named stack; ActivityFailed when it was never started."""
    name = stack_name(stack, configuration)
    try:
        return load_running(name)
    except StackError as exc:
        raise ActivityFailed(f"stack '{name}': {exc}") from None


def supervisor(config: StackConfig) -> Supervisor:
    """A supervisord client for `config`; ActivityFailed when supervisord does not answer."""
    sup = Supervisor(config)
    if not sup.alive():
        raise ActivityFailed(
            f"stack '{config.name}' is not running (no supervisord on port "
            f"{config.port('supervisor')}); start it with `gameday stack up --name {config.name}`"
        )
    return sup


def supervisor_call(what: str, func: Callable[..., T], *args: Any) -> T:
    """Run a Supervisor method, turning its StackError into ActivityFailed that says `what` failed."""
    try:
        return func(*args)
    except StackError as exc:
        raise ActivityFailed(f"{what}: {exc}") from None
