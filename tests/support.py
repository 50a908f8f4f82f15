"""Small helpers shared by tests: free ports and waiting for a listener."""

from __future__ import annotations

import os
import random
import socket
import time


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def free_base_port(span: int = 100) -> int:
    """A base port whose next `span` ports are all free (for a whole stack).

    Drawn below the kernel's ephemeral range (32768+), where outgoing connections
    would otherwise grab a stack's port between this check and its use, and from a
    slice of its own for each pytest-xdist worker, so parallel workers never pick
    overlapping blocks.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    slot = int(worker) % 8 if worker.isdigit() else 0
    low = 20000 + slot * 1500
    for _ in range(200):
        base = random.randrange(low, low + 1500 - span)
        if all(_is_free(base + i) for i in range(span)):
            return base
    raise RuntimeError("no free port range found")


def _is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def wait_for_port(port: int, timeout: float = 10.0, host: str = "127.0.0.1") -> None:
    """Block until something accepts TCP connections on `port`, or raise TimeoutError."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")


def eventually(condition, timeout: float = 30.0, what: str = "", every: float = 0.2):
    """Ask `condition` every `every` s until it returns something truthy, and return that; fail
    the test naming `what` after `timeout` s. The deadline is generous on purpose: a busy machine
    is slow, not wrong."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"not within {timeout}s: {what}")
        time.sleep(every)
