"""`python -m stack.proxy`: the fault proxy server.

    python -m stack.proxy --config <state_dir>/stack.json   # the stack's hops, API on proxy_api
    python -m stack.proxy --host 127.0.0.1 --port 8474      # no proxies, like toxiproxy-server
    python -m stack.proxy --host 0.0.0.0 --allow-pod-address # in a pod: hops may bind the pod's
                                                            # address and forward to Service names

Exit codes: 0 after SIGTERM/SIGINT, 4 when it cannot start (a port is taken, bad config).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Callable

from stack.config import StackConfig
from stack.errors import StackError
from stack.proxy.server import serve

EXIT_FAILED = 4


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m stack.proxy", description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="stack.json written by `gameday stack up`; creates its proxy hops")
    parser.add_argument("--host", default=None, help="API host (default: the config's host, else 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="API port (default: the config's proxy_api, else 8474)")
    parser.add_argument(
        "--default-ttl",
        type=float,
        default=None,
        help="seconds a toxic or disable lasts when created without ttl (default: the config's toxic_ttl_s, else 300)",
    )
    parser.add_argument(
        "--allow-pod-address",
        action="store_true",
        help="let proxies listen on any address (0.0.0.0, a pod IP) and forward to DNS names such as "
        "Kubernetes Services; for a pod's sidecar only (default: loopback only)",
    )
    return parser.parse_args(argv)


def settings(args: argparse.Namespace) -> tuple[str, int, float, dict[str, tuple[str, str]]]:
    """(api host, api port, default ttl, hops) from the flags and the optional stack config."""
    if not args.config:
        return args.host or "127.0.0.1", args.port or 8474, args.default_ttl or 300.0, {}
    config = StackConfig.load(args.config)
    host = config.host
    hops = {name: (f"{host}:{listen}", f"{host}:{upstream}") for name, (listen, upstream) in config.proxies().items()}
    return (args.host or host, args.port or config.port("proxy_api"), args.default_ttl or config.toxic_ttl_s, hops)


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop when installed (about twice the proxy throughput), else asyncio's.

    GAMEDAY_PROXY_LOOP=asyncio forces the standard loop.
    """
    if os.environ.get("GAMEDAY_PROXY_LOOP") == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        args = parse_args(argv)
        host, port, ttl, hops = settings(args)
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(serve(host, port, ttl, hops, allow_pod_address=args.allow_pod_address))
    except StackError as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return 0


if __name__ == "__main__":
    sys.exit(main())
