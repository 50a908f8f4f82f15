"""Running a game day: the orchestrator and its drivers (load, chaos) and the timeline."""
