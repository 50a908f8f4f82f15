"""Run the fault proxy: proxies from a stack config (or none) plus the HTTP API, until SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable

from aiohttp import web

from stack.errors import StackError
from stack.proxy.api import make_app
from stack.proxy.errors import ApiError
from stack.proxy.proxy import ProxyCollection

log = logging.getLogger("stack.proxy")


async def serve(
    host: str,
    port: int,
    default_ttl: float,
    hops: dict[str, tuple[str, str]] | None = None,
    upstream_allowed: Callable[[str], bool] | None = None,
    on_ready: Callable[[], None] | None = None,
    allow_pod_address: bool = False,
) -> None:
    """Create `hops` (name -> (listen, upstream)), serve the API on host:port until SIGTERM/SIGINT.

    `upstream_allowed(host)` admits non-loopback upstreams; `on_ready()` runs once everything listens;
    `allow_pod_address` lets hops bind any address and forward to names (a pod's sidecar).
    Raises StackError when a proxy or the API cannot listen; everything opened is closed again.
    """
    proxies = ProxyCollection(default_ttl, upstream_allowed, allow_pod_address)
    runner = web.AppRunner(make_app(proxies), access_log=None, handle_signals=False)
    await runner.setup()
    try:
        await _create_hops(proxies, hops or {})
        await _listen(runner, host, port)
        proxies.start_reaper()
        if on_ready is not None:
            on_ready()
        log.info(
            "fault proxy api on http://%s:%d with %d proxies, default toxic ttl %.0fs",
            host,
            port,
            len(proxies.proxies),
            default_ttl,
        )
        await _until_signalled()
        log.info("stopping fault proxy")
    finally:
        await proxies.close()
        await runner.cleanup()


async def _create_hops(proxies: ProxyCollection, hops: dict[str, tuple[str, str]]) -> None:
    for name, (listen, upstream) in hops.items():
        try:
            await proxies.create({"name": name, "listen": listen, "upstream": upstream})
        except ApiError as exc:
            raise StackError(f"fault proxy cannot create hop '{name}': {exc}") from None


async def _listen(runner: web.AppRunner, host: str, port: int) -> None:
    try:
        await web.TCPSite(runner, host, port, reuse_address=True).start()
    except OSError as exc:
        raise StackError(
            f"fault proxy api cannot listen on {host}:{port}: {exc.strerror}; "
            "free the port or choose another with --port"
        ) from None


async def _until_signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
