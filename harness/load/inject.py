"""Activate gameday recording for a locustfile you do not own.

    locust -f harness/load/inject.py,your_locustfile.py --gameday-run-dir RUN_DIR ...

Locust accepts a comma-separated list of locustfiles and imports each; importing
this one registers the plugin's options and listeners. When a shape is asked for
(--gameday-shape or GAMEDAY_SHAPE) it also exposes `GamedayShape`, so the game day
spec's shape drives the run; otherwise Locust's own -u/-r/-t apply.
"""

import harness.load.plugin  # noqa: F401  (registers options and listeners)
from harness.load.shapes import shape_requested

if shape_requested():
    from harness.load.locust_shape import GamedayShape  # noqa: F401
