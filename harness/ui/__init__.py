"""`gameday ui`: ad hoc game days in the Locust web UI.

    commands.py   `gameday ui` on the command line (register(subparsers))
    launcher.py   the orchestrator side: target up, Locust web UI child, clean shutdown
    session.py    the game day the UI session judges against (SLOs, the gameday.yaml it records)
    catalog.py    the experiments a user may start: the project's experiments/ folder only
    live_slos.py  live verdicts of the SLOs from live.json
    runner.py     one experiment at a time as a `chaos run` child, with its current activity
    extension.py  runs inside Locust: the Game day tab, its HTTP API, one run directory per test

Only extension.py imports locust; everything else is plain Python.
"""
