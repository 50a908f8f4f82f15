"""The tests' own port helpers: ports come from below the kernel's ephemeral range, where an
outgoing connection cannot take them between the pick and the bind."""

from __future__ import annotations

import socket
from pathlib import Path

import support


def ephemeral_low() -> int:
    return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])


def test_a_free_port_lies_below_the_ephemeral_range_in_this_workers_slice():
    ports = [support.free_port() for _ in range(50)]
    low = support.SINGLE_PORTS_LOW + support._worker_slot() * support.SINGLE_PORTS_PER_WORKER
    assert all(low <= p < low + support.SINGLE_PORTS_PER_WORKER for p in ports)
    assert max(ports) < ephemeral_low()


def test_ports_asked_for_in_a_row_differ_before_any_is_bound():
    ports = [support.free_port() for _ in range(3)]
    assert len(set(ports)) == 3


def test_a_port_something_listens_on_is_never_handed_out(monkeypatch):
    held = support.free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", held))
        sock.listen()
        # Start the walk on the held port: it must be skipped, not returned.
        low = support.SINGLE_PORTS_LOW + support._worker_slot() * support.SINGLE_PORTS_PER_WORKER
        monkeypatch.setattr(support, "_next_single", held - low)
        assert support.free_port() != held


def test_a_base_port_block_lies_below_the_ephemeral_range():
    base = support.free_base_port()
    assert base + 100 <= ephemeral_low()
