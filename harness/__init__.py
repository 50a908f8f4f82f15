"""gameday: the harness package."""
