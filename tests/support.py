"""Small helpers shared by tests: free ports and waiting for a listener."""

from __future__ import annotations

import os
import random
import socket
import time

# Each pytest-xdist worker draws from slices of its own, all below the kernel's ephemeral range
# (32768+). A port the OS picks (bind to port 0) lies in that range, where any outgoing
# connection on the machine can take it between the pick and the server's bind: CI lost a
# RabbitMQ broker that way (eaddrinuse on a port free_port had just returned).
WORKER_SLOTS = 8
SINGLE_PORTS_LOW, SINGLE_PORTS_PER_WORKER = 10000, 1000  # free_port: 10000-17999
BASE_PORTS_LOW, BASE_PORTS_PER_WORKER = 20000, 1500  # free_base_port: 20000-31999
_next_single: int | None = None


def _worker_slot() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    slot = int(worker) if worker.isdigit() else 0
    if slot >= WORKER_SLOTS:  # folding it onto another worker's slices would bring the race back
        raise RuntimeError(f"tests/support.py has port slices for {WORKER_SLOTS} xdist workers; run fewer (-n)")
    return slot


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now, from this worker's slice.

    The slice is walked in turn from a random start, so one process never hands out the same
    port twice in a row (a fixture that asks for three ports before it binds any gets three),
    and a port comes round again only after the rest of the slice.
    """
    global _next_single
    low = SINGLE_PORTS_LOW + _worker_slot() * SINGLE_PORTS_PER_WORKER
    if _next_single is None:
        _next_single = random.randrange(SINGLE_PORTS_PER_WORKER)
    for _ in range(SINGLE_PORTS_PER_WORKER):
        port = low + _next_single
        _next_single = (_next_single + 1) % SINGLE_PORTS_PER_WORKER
        if _is_free(port):
            return port
    raise RuntimeError(f"no free port in {low}-{low + SINGLE_PORTS_PER_WORKER - 1}")


def free_base_port(span: int = 100) -> int:
    """A base port whose next `span` ports are all free (for a whole stack), from this worker's
    slice (so parallel workers never pick overlapping blocks)."""
    low = BASE_PORTS_LOW + _worker_slot() * BASE_PORTS_PER_WORKER
    for _ in range(200):
        base = random.randrange(low, low + BASE_PORTS_PER_WORKER - span)
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
