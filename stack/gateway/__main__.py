"""`python -m stack.gateway --config stack.json`: serve the gateway on the `gateway_upstream` port.

SIGTERM and SIGINT stop it cleanly: the listener closes, in-flight requests
finish (up to a few seconds), the Kafka producer flushes.
"""

from __future__ import annotations

import argparse
import logging
import sys

from aiohttp import web

from stack.config import StackConfig
from stack.errors import StackError
from stack.gateway.app import build_app

SHUTDOWN_TIMEOUT_S = 5.0


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM/SIGINT. Exit 0 on a clean stop, 2 on a bad config, 4 if it cannot listen."""
    args = _parse(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s gateway %(levelname)s %(name)s: %(message)s")
    try:
        config = _load(args.config)
    except StackError as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    port = config.port("gateway_upstream")
    logging.getLogger("stack.gateway").info(
        "listening on %s:%d (%d replicas, defects: %s)",
        config.host,
        port,
        config.replicas,
        ", ".join(config.defects) or "none",
    )
    try:
        app = build_app(config)
    except ValueError as exc:  # a tunable out of range, e.g. canary_weight
        print(f"StackError: {args.config}: {exc}", file=sys.stderr)
        return 2
    try:
        web.run_app(app, host=config.host, port=port, print=None, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT_S)
    except OSError as exc:
        print(
            f"StackError: the gateway cannot listen on {config.host}:{port}: {exc}; is another stack using that port?",
            file=sys.stderr,
        )
        return 4
    return 0


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m stack.gateway", description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="path of the stack.json written by `gameday stack up`")
    return parser.parse_args(argv)


def _load(path: str) -> StackConfig:
    # Not config.validate(): `gameday stack up` validated the whole stack, and a
    # gateway-only test may point replica_i at replica_upstream_i on purpose.
    return StackConfig.load(path)


if __name__ == "__main__":
    sys.exit(main())
