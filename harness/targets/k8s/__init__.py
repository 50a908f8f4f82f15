"""Kubernetes mode: allow-list checks, the objects the harness creates, cluster Locust, cleanup.

Only the orchestrator process imports this package (it imports the `kubernetes`
client, which must never be imported before locust in a process that has both).
"""
