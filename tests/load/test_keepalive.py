"""The pool's keep-alive check past file descriptor 1024 (harness.load.keepalive), on real sockets."""

from __future__ import annotations

import fcntl
import socket

import pytest
from geventhttpclient.connectionpool import ConnectionPool

from harness.load import keepalive


@pytest.fixture
def high_pair():
    """A connected socket pair whose first end has a file descriptor above 1024 (select's limit)."""
    a, b = socket.socketpair()
    high = socket.socket(fileno=fcntl.fcntl(a.fileno(), fcntl.F_DUPFD, 1500))
    a.close()
    yield high, b
    high.close()
    b.close()


def test_an_idle_socket_past_1024_is_fit_for_reuse(high_pair):
    high, _ = high_pair
    assert high.fileno() >= 1024
    assert keepalive.socket_is_idle(high)


def test_a_socket_with_bytes_waiting_or_a_closed_peer_is_not(high_pair):
    high, peer = high_pair
    peer.send(b"x")
    assert not keepalive.socket_is_idle(high)
    high.recv(1)
    peer.close()
    assert not keepalive.socket_is_idle(high)


def test_a_closed_or_missing_socket_is_not():
    a, b = socket.socketpair()
    a.close()
    b.close()
    assert not keepalive.socket_is_idle(a)
    assert not keepalive.socket_is_idle(None)


def test_installed_the_pool_keeps_a_socket_past_1024_that_its_own_check_threw_away(high_pair):
    high, _ = high_pair
    pool = ConnectionPool("127.0.0.1", 9, "127.0.0.1", 9, size=1)
    original = ConnectionPool._is_socket_alive
    try:
        assert original(pool, high) is False  # geventhttpclient 2.6.1: select() refuses fd >= 1024
        keepalive.install()
        assert pool._is_socket_alive(high) is True
    finally:
        ConnectionPool._is_socket_alive = original
