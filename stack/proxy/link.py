"""The data path: one proxied TCP connection, as two sockets and two pipes.

Built on asyncio Protocols so that, with no toxic in the way, a chunk goes from
`data_received` straight into the other socket's `write()` with no task switch
(the fast path). Only when a toxic holds data back does a pipe queue chunks,
each stamped with its arrival time, and start a writer task that releases them
when their delay is over (the slow path). Delays are measured from arrival, so
back-to-back chunks are pipelined rather than delayed one after another.

Toxics are pushed into live connections (`Connection.apply`), so adding or
removing one changes what happens to the very next chunk, and a removal wakes
any chunk that is waiting.
"""

from __future__ import annotations

import asyncio
import random
import socket
import struct
import time
from collections import deque
from typing import TYPE_CHECKING, cast

from stack.proxy.toxics import NO_EFFECTS, Effects, Toxic, effects_of

if TYPE_CHECKING:
    from stack.proxy.proxy import Proxy

HOLD_LIMIT = 1 << 20  # bytes a pipe may hold back before it stops reading its source
PACE_SLICE_S = 0.05  # bandwidth toxic writes this much time's worth of data at once
_LINGER_RST = struct.pack("ii", 1, 0)


class Side(asyncio.Protocol):
    """One socket of a proxied connection; reads feed `out`, writes come from the peer's pipe."""

    def __init__(self, conn: Connection, is_client: bool) -> None:
        self.conn = conn
        self.is_client = is_client
        self.transport: asyncio.Transport | None = None
        self.peer: Side
        self.out: Pipe
        self._pauses: set[str] = set()
        self._writable: asyncio.Future | None = None
        # uvloop may deliver client bytes before upstream is connected, despite pause_reading
        self._early: list[bytes | None] = []

    # ---- asyncio callbacks ---------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # a stream server's protocol gets a stream transport (uvloop's does not subclass asyncio's)
        self.transport = cast(asyncio.Transport, transport)
        if self.is_client:
            self.conn.client_connected()
        for data in self._early:
            self.write(data) if data is not None else self.write_eof()
        self._early.clear()

    def data_received(self, data: bytes) -> None:
        self.out.feed(data)

    def eof_received(self) -> bool:
        self.out.feed_eof()
        return True  # keep the socket open: the other direction may still be sending

    def connection_lost(self, exc: Exception | None) -> None:
        self.conn.close()

    def pause_writing(self) -> None:
        self._writable = asyncio.get_running_loop().create_future()
        self.peer.pause("peer-full")

    def resume_writing(self) -> None:
        if self._writable and not self._writable.done():
            self._writable.set_result(None)
        self._writable = None
        self.peer.resume("peer-full")

    # ---- used by pipes and the connection -------------------------------
    def pause(self, reason: str) -> None:
        """Stop reading this socket until every reason given has been resumed."""
        if not self._pauses and self.transport and not self.transport.is_closing():
            self.transport.pause_reading()
        self._pauses.add(reason)

    def resume(self, reason: str) -> None:
        if reason not in self._pauses:
            return
        self._pauses.discard(reason)
        if not self._pauses and self.transport and not self.transport.is_closing():
            self.transport.resume_reading()

    async def writable(self) -> None:
        """Return once this socket's write buffer is below its high-water mark."""
        if self._writable is not None:
            await self._writable

    def write(self, data: bytes) -> None:
        if self.transport is None:
            self._early.append(data)
        elif not self.transport.is_closing():
            self.transport.write(data)

    def write_eof(self) -> None:
        if self.transport is None:
            self._early.append(None)
        elif not self.transport.is_closing() and self.transport.can_write_eof():
            self.transport.write_eof()

    def shut(self, how: str) -> None:
        """Close this socket: 'close' flushes then FIN, 'abort' drops buffers, 'reset' sends RST."""
        if self.transport is None or self.transport.is_closing() and how == "close":
            return
        if how == "reset":
            sock = self.transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
        if how == "close":
            self.transport.close()
        else:
            self.transport.abort()
        if self._writable and not self._writable.done():
            self._writable.set_result(None)


class Pipe:
    """One direction of a connection: reads from `src`, writes to `dst`, applies `effects`."""

    def __init__(self, src: Side, dst: Side, stream: str) -> None:
        self.src, self.dst, self.stream = src, dst, stream
        self.effects: Effects = NO_EFFECTS
        self.done = False  # EOF has been passed on
        self._held: deque[tuple[float, bytes | None, float]] = deque()  # (arrival, data or EOF, jitter draw)
        self._held_bytes = 0
        self._writer: asyncio.Task | None = None
        self._changed = asyncio.Event()
        self._next_send = 0.0

    def feed(self, data: bytes) -> None:
        """Forward `data` now (fast path) or hold it for the writer task."""
        if not self._held and not self.effects.holds_data:
            self.dst.write(data)
            return
        if self.effects.blackhole:
            return  # a timeout toxic swallows the data
        self._hold(data)
        self._held_bytes += len(data)
        if self._held_bytes > HOLD_LIMIT:
            self.src.pause("held")

    def feed_eof(self) -> None:
        if not self._held and not self.effects.slow_close_s:
            self._pass_eof()
        else:
            self._hold(None)

    def set_effects(self, effects: Effects) -> None:
        self.effects = effects
        self._changed.set()
        if effects.blackhole:
            self._drop_held_data()

    def stop(self) -> None:
        if self._writer is not None:
            self._writer.cancel()

    # ---- slow path ---------------------------------------------------------
    def _hold(self, data: bytes | None) -> None:
        self._held.append((time.monotonic(), data, random.uniform(-1.0, 1.0)))
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._write_held())

    async def _write_held(self) -> None:
        try:
            while self._held:
                await self._release_head()
        finally:
            self._writer = None

    async def _release_head(self) -> None:
        arrival, data, draw = self._held[0]
        fx = self.effects
        if data is None:
            if not await self._woken_before(arrival + fx.slow_close_s):
                self._held.popleft()
                self._pass_eof()
            return
        if fx.blackhole:
            self._drop_held_data()
            return
        if await self._woken_before(arrival + max(0.0, fx.latency_s + draw * fx.jitter_s)):
            return  # toxics changed while waiting: look again
        if fx.rate_bps and await self._woken_before(self._next_send):
            return
        self._send_head(fx)
        await self.dst.writable()

    def _send_head(self, fx: Effects) -> None:
        arrival, data, draw = self._held[0]
        assert data is not None
        piece = data
        if fx.rate_bps:
            piece = data[: max(1, int(fx.rate_bps * PACE_SLICE_S))]
            self._next_send = max(self._next_send, time.monotonic()) + len(piece) / fx.rate_bps
        if len(piece) < len(data):
            self._held[0] = (arrival, data[len(piece) :], draw)
        else:
            self._held.popleft()
        self.dst.write(piece)
        self._release_bytes(len(piece))

    async def _woken_before(self, when: float) -> bool:
        """Sleep until monotonic `when`; True if the toxics changed first."""
        if when <= time.monotonic():
            return False
        self._changed.clear()
        # uvloop's timers count from the loop's cached clock, so one can fire up to a loop
        # iteration early: sleep again until `when` has really passed, or a latency is short.
        while (delay := when - time.monotonic()) > 0:
            try:
                await asyncio.wait_for(self._changed.wait(), delay)
                return True
            except TimeoutError:
                continue
        return False

    def _drop_held_data(self) -> None:
        eof = [item for item in self._held if item[1] is None]
        self._held = deque(eof)
        self._release_bytes(self._held_bytes)

    def _release_bytes(self, count: int) -> None:
        self._held_bytes = max(0, self._held_bytes - count)
        if self._held_bytes <= HOLD_LIMIT // 2:
            self.src.resume("held")

    def _pass_eof(self) -> None:
        self.dst.write_eof()
        self.done = True
        self.src.conn.pipe_done()


class Connection:
    """A client connection and its upstream connection, joined by two pipes."""

    def __init__(self, proxy: Proxy) -> None:
        self.proxy = proxy
        self.client = Side(self, is_client=True)
        self.upstream = Side(self, is_client=False)
        self.client.peer, self.upstream.peer = self.upstream, self.client
        self.up = Pipe(self.client, self.upstream, "upstream")
        self.down = Pipe(self.upstream, self.client, "downstream")
        self.client.out, self.upstream.out = self.up, self.down
        self.started = time.monotonic()
        self.closed = False
        self._rolls: dict[tuple[int, float], bool] = {}
        self._timers: list[asyncio.TimerHandle] = []

    def client_connected(self) -> None:
        """Called when the listener accepts: hold the client's bytes until upstream answers."""
        self.client.pause("connecting")
        self.proxy.connections.add(self)
        self.apply(self.proxy.active_toxics())  # before any byte can arrive
        asyncio.get_running_loop().create_task(self._connect_upstream())

    async def _connect_upstream(self) -> None:
        host, port = self.proxy.upstream
        try:
            await asyncio.get_running_loop().create_connection(lambda: self.upstream, host, port)
        except OSError:
            self.close()  # as Toxiproxy: an unreachable upstream closes the client connection
            return
        if self.closed:
            self.upstream.shut("close")
            return
        self.client.resume("connecting")

    def apply(self, toxics: list[Toxic]) -> None:
        """Make `toxics` the ones acting on this connection, from the next chunk on."""
        if self.closed:
            return
        hit = [t for t in toxics if self._applies(t)]
        self.up.set_effects(effects_of([t for t in hit if t.stream == "upstream"]))
        self.down.set_effects(effects_of([t for t in hit if t.stream == "downstream"]))
        self._arm_timers(hit)

    def _applies(self, toxic: Toxic) -> bool:
        """Toxicity is drawn once per connection and toxic, as Toxiproxy does per link."""
        key = (toxic.uid, toxic.toxicity)
        if key not in self._rolls:
            self._rolls[key] = random.random() < toxic.toxicity
        return self._rolls[key]

    def _arm_timers(self, toxics: list[Toxic]) -> None:
        for timer in self._timers:
            timer.cancel()
        loop = asyncio.get_running_loop()
        self._timers = []
        for toxic in toxics:
            if toxic.type not in ("timeout", "reset_peer"):
                continue
            if toxic.type == "timeout" and toxic.attr("timeout") == 0:
                continue  # timeout 0: swallow data forever, never close
            when = max(self.started, toxic.started) + toxic.attr("timeout") / 1000
            how = "reset" if toxic.type == "reset_peer" else "close"
            # call_later, not call_at: uvloop's loop.time() is not time.monotonic()
            self._timers.append(loop.call_later(max(0.0, when - time.monotonic()), self.close, how))

    def pipe_done(self) -> None:
        if self.up.done and self.down.done:
            self.close()

    def close(self, how: str = "close") -> None:
        """Close both sockets ('close', 'abort' or 'reset'); safe to call more than once."""
        if self.closed:
            return
        self.closed = True
        for timer in self._timers:
            timer.cancel()
        self.up.stop()
        self.down.stop()
        self.client.shut(how)
        self.upstream.shut(how)
        self.proxy.connections.discard(self)
