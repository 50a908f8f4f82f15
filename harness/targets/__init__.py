"""Targets: the systems a game day runs against (local, http, kubernetes)."""
