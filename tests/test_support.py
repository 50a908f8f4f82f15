"""The tests' own port helpers: ports come from below the kernel's ephemeral range, where an
outgoing connection cannot take them between the pick and the bind."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
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


def test_every_workers_slices_lie_below_the_ephemeral_range_and_apart():
    singles_end = support.SINGLE_PORTS_LOW + support.WORKER_SLOTS * support.SINGLE_PORTS_PER_WORKER
    bases_end = support.BASE_PORTS_LOW + support.WORKER_SLOTS * support.BASE_PORTS_PER_WORKER
    assert singles_end <= support.BASE_PORTS_LOW and bases_end <= ephemeral_low()
    base = support.free_base_port()
    assert support.BASE_PORTS_LOW <= base and base + 100 <= bases_end


def test_a_ninth_worker_is_refused_rather_than_folded_onto_the_first(monkeypatch):
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw8")
    with pytest.raises(RuntimeError, match="run fewer"):
        support.free_port()
