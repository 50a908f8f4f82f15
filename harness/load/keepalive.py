"""The keep-alive check of Locust's FastHttpUser connection pool, with poll() instead of select().

geventhttpclient (2.6.1, the newest; Locust's FastHttpUser uses it) checks an idle pooled
socket before reusing it: `ConnectionPool._is_socket_alive` asks select() whether it is
readable (a FIN or stray bytes) and reuses it only if not. select() refuses any file
descriptor >= 1024 (FD_SETSIZE) with ValueError, which the check reads as a dead
socket: it closes it and connects anew, for every request on every socket past the
1024th. An open-model pool of thousands of users crosses that line as soon as a slow
second draws a thousand members in (measured at 8,000 req/s: 21,034 of 70,693 requests
reconnected, 12,000 sockets in TIME_WAIT, and the generator fell ever further behind).

`install()` swaps in the same check made with poll(), which has no such limit; the
decision is unchanged (readable, error or hang-up: not reusable). It uses the process's
original poll, not gevent's: a zero-timeout poll never blocks, so it needs no hub.
"""

from __future__ import annotations

import select
from typing import Any

from gevent import monkey

_NOT_IDLE = select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP
_poll = monkey.get_original("select", "poll")


def socket_is_idle(sock: Any) -> bool:
    """True when `sock` is open and has nothing to read: a keep-alive socket fit for reuse."""
    if sock is None:
        return False
    try:
        fd = sock.fileno()
        if fd < 0:
            return False
        poller = _poll()
        poller.register(fd, _NOT_IDLE)
        return not poller.poll(0)
    except (OSError, ValueError):
        return False


def install() -> None:
    """Make geventhttpclient's pools use `socket_is_idle` (idempotent; a no-op if it has no such check)."""
    from geventhttpclient.connectionpool import ConnectionPool

    if hasattr(ConnectionPool, "_is_socket_alive"):
        # replacing geventhttpclient's method is the point (its check uses select(), see above)
        ConnectionPool._is_socket_alive = lambda self, sock: socket_is_idle(sock)  # type: ignore[method-assign]
