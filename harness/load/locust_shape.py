"""The Locust side of the load shapes: `GamedayShape` and the spec it serves.

It reads the `--gameday-*` options (harness.load.options) into a ShapeSpec
(harness.load.shapes) once per test, so the shapes and the options stay free of Locust
and of each other's imports.
"""

from __future__ import annotations

import logging
from typing import Any

from locust import LoadTestShape

from harness.load.options import spec_from_options
from harness.load.shapes import ShapeSpec

logger = logging.getLogger(__name__)


class GamedayShape(LoadTestShape):
    """Serves the shape chosen by the `--gameday-*` options (see module docstring)."""

    use_common_options = False

    def reset_time(self) -> None:
        """A test starts (Locust's `start_shape`, before the first tick): read the options again."""
        super().reset_time()
        if self.runner is not None:
            refresh_spec(self.runner.environment)

    def tick(self) -> tuple[int, float] | None:
        spec = current_spec(self.runner.environment) if self.runner else None
        if spec is None:
            return None
        return spec.tick(self.get_run_time())


def current_spec(environment: Any) -> ShapeSpec | None:
    """The ShapeSpec for this Locust environment, parsed once from its options."""
    spec = getattr(environment, "_gameday_shape_spec", None)
    if spec is None and environment.parsed_options is not None:
        spec = spec_from_options(environment.parsed_options)
        environment._gameday_shape_spec = spec
    return spec


def refresh_spec(environment: Any) -> ShapeSpec | None:
    """Parse the options again (the web UI's form may have changed them); the spec that runs now.

    A bad value, or a switch between the open and the closed model (the user classes became
    members of the open model's pool when Locust started), keeps the last good spec and logs why.
    """
    old = current_spec(environment)
    try:
        new = spec_from_options(environment.parsed_options)
    except ValueError as exc:
        logger.error("gameday: %s; this test keeps the shape it had", exc)
        return old
    if old is not None and (new is None or new.is_open != old.is_open):
        logger.error(
            "gameday: the shape cannot change between the open model (a rate) and the closed one "
            "(users) once Locust runs; this test keeps %s. Restart Locust for %s",
            old.kind,
            new.kind if new else "no shape",
        )
        return old
    environment._gameday_shape_spec = new
    return new
